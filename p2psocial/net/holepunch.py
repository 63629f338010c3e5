"""Hole punching: upgrade a relayed connection to a direct one (DCUtR), and name each route.

Rules:
- DCUtR is py-libp2p 0.8.1's (`relay/circuit_v2/dcutr.py`, protocol `/libp2p/dcutr`): both
  sides exchange the addresses they are seen at (identify's observed address, with the
  port predicted as our listen port), then dial each other at once FROM their listen port
  (its TCP listener and dials set SO_REUSEPORT), so that each NAT sees an outgoing
  connection to the very address the other side's packets come from (TCP simultaneous
  open). A port-preserving NAT lets that through; a symmetric NAT (a new random port per
  destination) does not, and the relayed connection simply stays in use.
- `upgrade(peer)` makes one attempt (libp2p runs up to three dial rounds of ≤ 5 s) and
  returns whether a direct connection now exists; it never raises for network trouble.
  libp2p also drives an attempt by itself every 2 s to each peer reached only through a
  relay, at most three times per peer while it stays connected.
- `serve()` runs it as a service beside the Host (a node's replicator starts it).
- `route(peer)` names how we reach a connected peer: "lan" (found by mDNS), "hole-punched"
  (a direct connection made while the peer was reachable only through a relay), "direct",
  "relayed", or "" (not connected). A watcher samples connections every WATCH_SECONDS to
  tell a hole-punched direct connection from one dialled directly; it looks again at a
  peer's addresses only when that peer's set of connections changed (on a relay with
  hundreds of members, re-reading every address twice a second was a steady cost).
- `on_direct(peer)`, if set, is called (in trio; it must return at once) when a peer that
  was reachable only through a relay gains a direct connection.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.exceptions import BaseLibp2pError
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from libp2p.tools.anyio_service import background_trio_service

from p2psocial.net.addresses import Route, is_relayed, peer_id
from p2psocial.net.host import Host

logger = logging.getLogger(__name__)

WATCH_SECONDS = 0.5
DIRECT, HOLE_PUNCHED, RELAYED, LAN = "direct", "hole-punched", "relayed", "lan"


def _conn_addrs(conn: object) -> list[str]:
    try:
        return [str(a) for a in conn.get_transport_addresses()]  # type: ignore[attr-defined]
    except (BaseLibp2pError, OSError, AttributeError):
        return []


class HolePuncher:
    """DCUtR for one running Host, and the route of each connected peer."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._relayed_only: set[str] = set()   # peers seen reachable only through a relay
        self._punched: set[str] = set()        # ... that then got a direct connection
        self._dcutr: DCUtRProtocol | None = None
        self._judged: dict[Any, tuple[object, ...]] = {}  # peer ID -> the connections judged
        self.on_direct: Callable[[str], object] | None = None

    def _lp(self) -> IHost:
        # Host has no public accessor for its libp2p host; hole punching needs the swarm.
        return self._host._require_running()

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve DCUtR as a service (`nursery.start`) until cancelled or the host stops."""
        async with self.running():
            task_status.started()
            while self._host.running:
                await trio.sleep(WATCH_SECONDS)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[HolePuncher]:
        """Serve DCUtR and watch routes for the duration of the block."""
        self._dcutr = DCUtRProtocol(self._lp())
        async with background_trio_service(self._dcutr), trio.open_nursery() as nursery:
            await self._dcutr.event_started.wait()
            nursery.start_soon(self._watch)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    async def upgrade(self, peer: str) -> bool:
        """One hole-punching attempt to `peer` (connected through a relay); True if a direct
        connection exists afterwards."""
        if self._dcutr is None:
            raise RuntimeError("HolePuncher.running() first")
        self._sample()
        try:
            await self._dcutr.initiate_hole_punch(peer_id(peer))
        except (BaseLibp2pError, OSError) as exc:
            logger.info("hole punching to %s failed: %s", peer[-8:], exc)
        self._sample()
        return self.route(peer) in (DIRECT, HOLE_PUNCHED, LAN)

    def route(self, peer: str) -> str:
        """How we reach `peer` now: lan / hole-punched / direct / relayed, "" if not at all
        (also "" once the host stopped)."""
        if not self._host.running:
            return ""
        self._sample_peer(peer)
        kinds = {p.route for p in self._host.connected_peers() if p.peer == peer}
        conns = self._lp().get_network().get_connections(peer_id(peer))
        direct = any(not any(is_relayed(a) for a in _conn_addrs(c)) for c in conns)
        if direct:
            if Route.LAN in kinds:
                return LAN
            return HOLE_PUNCHED if peer in self._punched else DIRECT
        return RELAYED if conns else ""

    def direct_addr(self, peer: str) -> str:
        """The remote address of a direct connection to `peer` ("" if none)."""
        for conn in self._lp().get_network().get_connections(peer_id(peer)):
            addrs = _conn_addrs(conn)
            if addrs and not any(is_relayed(a) for a in addrs):
                return addrs[0]
        return ""

    def _sample(self) -> None:
        """Judge the peers whose connections changed since the last sample."""
        judged: dict[Any, tuple[object, ...]] = {}
        for pid, conns in list(self._lp().get_network().connections.items()):
            now = judged[pid] = tuple(conns)
            if self._judged.get(pid) != now:
                self._judge(str(pid), list(conns))
        for pid in self._judged.keys() - judged.keys():
            self._judge(str(pid), [])
        self._judged = judged

    def _sample_peer(self, peer: str) -> None:
        self._judge(peer, self._lp().get_network().get_connections(peer_id(peer)))

    def _judge(self, peer: str, conns: list[Any]) -> None:
        if not conns:
            self._relayed_only.discard(peer)
            self._punched.discard(peer)
            return
        relayed = [all(is_relayed(a) for a in _conn_addrs(c)) for c in conns]
        if all(relayed):
            self._relayed_only.add(peer)
            self._punched.discard(peer)
        elif peer in self._relayed_only:
            if peer not in self._punched and self.on_direct is not None:
                self.on_direct(peer)
            self._punched.add(peer)

    async def _watch(self) -> None:
        while self._host.running:
            self._sample()
            await trio.sleep(WATCH_SECONDS)
