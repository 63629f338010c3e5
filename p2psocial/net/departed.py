"""Departed peers: what libp2p keeps of a peer is forgotten some time after it left.

Rules:
- libp2p's peerstore keeps an entry per peer it ever met (addresses, public key, protocols,
  metadata, signed record), and py-libp2p 0.8.1 never starts its own cleanup: a relay whose
  followers come and go for weeks grew by one entry for every peer that ever connected.
- A peer that disconnected `forget_after` seconds ago (600 s by default, the time go-libp2p
  keeps the addresses of a peer that left) and has not come back is removed from the
  peerstore, unless `keep(peer)` says otherwise (the DHT's routing table: it dials those
  peers at their peerstore addresses). A dial to a full address adds what it needs again.
- Only peers that left within that time are remembered here (one time each); the sweep runs
  every `forget_after / 2` seconds, at most every 60 s.
- Meanwhile a departed peer keeps only what a redial needs: its addresses and public key.
  Its protocols, metadata, signed peer record and the record's cached check
  (peer_records.py) go as it leaves (identify brings them back when it returns): a relay
  with followers arriving ~1/s holds ~600 departed peers at any time. A peer `keep` names
  (the DHT dials and queries it) keeps its whole entry.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError

from p2psocial.net import peer_records, tasks
from p2psocial.net.connections import PeerConnected, PeerDisconnected, PeerEvent

logger = logging.getLogger(__name__)


class DepartedPeers:
    """Forgets the peerstore entries of peers that left and stayed away."""

    def __init__(self, lp: IHost, forget_after: float, keep: Callable[[ID], bool]) -> None:
        self._lp = lp
        self._forget_after = forget_after
        self._keep = keep
        self._left: dict[str, float] = {}

    @property
    def remembered(self) -> int:
        """Peers that left and are not forgotten yet."""
        return len(self._left)

    def on_peer_event(self, event: PeerEvent) -> None:
        """A connection listener (ConnectionWatcher): note departures and returns."""
        if isinstance(event, PeerDisconnected):
            self._left[event.peer] = trio.current_time()
            self._strip(ID.from_base58(event.peer))
        elif isinstance(event, PeerConnected):
            self._left.pop(event.peer, None)

    def _strip(self, pid: ID) -> None:
        """Keep of a peer that just left only its addresses and key (see the rules)."""
        if self._lp.get_network().get_connections(pid) or self._keep(pid):
            return
        store = self._lp.get_peerstore()
        store.clear_protocol_data(pid)
        store.clear_metadata(pid)
        store.clear_metrics(pid)
        record_map = getattr(store, "peer_record_map", None)  # py-libp2p 0.8.1's PeerStore
        if record_map is not None:
            record_map.pop(pid, None)
        peer_records.forget(pid)

    @asynccontextmanager
    async def running(self, nursery: trio.Nursery) -> AsyncIterator[DepartedPeers]:
        """Sweep in `nursery` while the block runs."""
        tasks.spawn(nursery, "forget departed peers", self._sweep_every,
                    min(60.0, self._forget_after / 2))
        yield self

    async def _sweep_every(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            self.sweep()

    def sweep(self) -> None:
        """Forget every peer that left `forget_after` seconds ago or more."""
        cutoff = trio.current_time() - self._forget_after
        network, store = self._lp.get_network(), self._lp.get_peerstore()
        for peer, when in list(self._left.items()):
            if when > cutoff:
                continue
            del self._left[peer]
            pid = ID.from_base58(peer)
            if network.get_connections(pid) or self._keep(pid):
                continue
            with contextlib.suppress(PeerStoreError):
                store.clear_peerdata(pid)
            logger.debug("forgot %s (left over %.0f s ago)", peer, self._forget_after)
