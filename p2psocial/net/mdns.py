"""mDNS: peers found on the local network, with zeroconf's blocking work kept off trio's thread.

Rules (measured on py-libp2p 0.8.1):
- We run libp2p's MDNSDiscovery ourselves instead of `new_host(enable_mDNS=True)`, because
  libp2p's own start registers the service with zeroconf's *blocking* `register_service`
  (probing: ~1-1.5 s) on the trio thread, and stops with a blocking unregister: under the
  runtime bridge that freezes the asyncio loop (the UI) too. Here both run in a worker thread
  (`trio.to_thread.run_sync`), and the announcement runs in the background so `serve()`
  reports started without waiting for it.
- libp2p reports a found peer by calling the handlers of the process-wide `peerDiscovery`
  singleton from zeroconf's browser thread. Our handler only does
  `trio_token.run_sync_soon(...)`; in trio the peer is recorded, queued on every receiver, and
  given to `on_found` (the host auto-dials it). The handler is registered BEFORE the browser
  starts: zeroconf reports each service once, and a peer announced during our start-up would
  otherwise be missed for good.
- The singleton is shared by every host in the process, so a handler also hears what the other
  local hosts found. Our own PeerID is ignored; the rest is on our LAN too.
- Announces the host's listen addresses with wildcards expanded (libp2p would announce
  `/ip4/0.0.0.0/…`, which a peer on the LAN would dial as its own machine). A host listening
  on 127.0.0.1 only is only reachable from the same machine.
- Found within ~1-3 s on one machine (multicast loops back through its interface); across
  network namespaces in 0.3-2 s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import trio
from libp2p.abc import IHost
from libp2p.discovery.events.peerDiscovery import peerDiscovery
from libp2p.discovery.mdns.mdns import MDNSDiscovery, create_mdns_discovery
from libp2p.peer.peerinfo import PeerInfo as LibPeerInfo

from p2psocial.net import tasks
from p2psocial.net.addresses import PeerInfo, from_libp2p
from p2psocial.net.queue import DropOldestQueue

logger = logging.getLogger(__name__)


class MdnsWatcher:
    """Announces one host on the LAN and reports the peers found there, in trio."""

    def __init__(self, my_peer: str, on_found: Callable[[PeerInfo], None]) -> None:
        self._me = my_peer
        self._on_found = on_found
        self._found: dict[str, PeerInfo] = {}
        self._receivers: list[DropOldestQueue[PeerInfo]] = []
        self._token: trio.lowlevel.TrioToken | None = None
        self._discovery: MDNSDiscovery | None = None
        self._announced = trio.Event()

    def start(self, host: IHost, addrs: list[str], nursery: trio.Nursery) -> None:
        """Listen for peers now; announce `host` at `addrs` (transport addresses, wildcards
        expanded) from a task in `nursery`. Call from trio, once the host listens."""
        self._token = trio.lowlevel.current_trio_token()
        peerDiscovery.register_peer_discovered_handler(self._from_zeroconf)
        port = next((int(a.split("/")[4]) for a in addrs if "/tcp/" in a), 0)
        discovery = self._discovery = create_mdns_discovery(
            host.get_network(), port=port, listen_addrs=addrs)
        tasks.spawn(nursery, "mDNS announce", self._announce, discovery)

    async def stop(self) -> None:
        """Stop announcing and listening (in a worker thread), end every receiver."""
        peerDiscovery.unregister_peer_discovered_handler(self._from_zeroconf)
        self._token = None
        discovery, self._discovery = self._discovery, None
        if discovery is not None:
            with trio.CancelScope(shield=True):
                await self._announced.wait()
                await trio.to_thread.run_sync(discovery.stop)
        for queue in self._receivers:
            queue.close()
        self._receivers.clear()

    async def _announce(self, discovery: MDNSDiscovery) -> None:
        try:
            await trio.to_thread.run_sync(discovery.broadcaster.register)  # ~1-1.5 s, blocking
        finally:
            self._announced.set()

    def is_lan_peer(self, peer: str) -> bool:
        """True if mDNS found `peer`."""
        return peer in self._found

    def found(self) -> list[PeerInfo]:
        """Every peer found so far, with its latest addresses."""
        return list(self._found.values())

    def open_receiver(self, max_items: int) -> DropOldestQueue[PeerInfo]:
        """A queue of peers found from now on (each time mDNS reports one)."""
        queue: DropOldestQueue[PeerInfo] = DropOldestQueue(max_items)
        self._receivers.append(queue)
        return queue

    def _from_zeroconf(self, info: LibPeerInfo) -> None:
        """Runs on zeroconf's thread: hand over to trio and return."""
        token = self._token
        if token is None:
            return
        with contextlib.suppress(trio.RunFinishedError):  # trio already ended: drop it
            token.run_sync_soon(self._found_in_trio, info)

    def _found_in_trio(self, info: LibPeerInfo) -> None:
        if self._token is None:
            return
        peer = from_libp2p(info)
        if peer.peer == self._me or not peer.addrs:
            return
        self._found[peer.peer] = peer
        for queue in self._receivers:
            queue.put_nowait(peer)
        try:
            self._on_found(peer)
        except Exception:
            logger.exception("the mDNS callback failed for %s", peer.peer)
