"""Kademlia DHT: find a peer's addresses by its handle, and who holds a feed (provider records).

Rules:
- Client mode queries only; server mode also answers queries and stores records for others
  (relays and public nodes). libp2p's random walk is off; the routing table fills from the
  peers we connect to (added once identify says they serve the DHT) and from lookups.
- Provider key of a feed (the DHT key format that works in py-libp2p 0.8.1): the sha2-256
  multihash of `b"/p2psocial/feed/" + feed_key`, i.e. `0x12 0x20 || sha256(...)`, 34 bytes.
  It is handed to libp2p as lowercase hex, which libp2p's key parser reads as a CIDv0 and
  turns back into exactly those 34 bytes (the same key as the CIDv1 `bafkrei…` of the same
  bytes). Arbitrary strings are NOT safe keys: libp2p tries each string as a CID, then as hex,
  then as UTF-8, so one string can name a different key than intended.
- `find_providers` asks our own store and the k DHT servers closest to the key (libp2p's own
  returns its local store alone once that holds any record: see workarounds.py). Results
  repeat (once per server that holds the record): they are merged by peer. Our own PeerID is
  left out.
- Every operation runs under `timeout`; a timeout raises Timeout, libp2p errors raise
  DiscoveryError. Finding nothing returns None or [].
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import trio
from libp2p.abc import IHost, IPeerStore
from libp2p.exceptions import BaseLibp2pError
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.peer.id import ID
from libp2p.tools.anyio_service import background_trio_service

from p2psocial.net import tasks, workarounds
from p2psocial.net.addresses import PeerInfo, from_libp2p, merge, peer_id
from p2psocial.net.config import DhtMode
from p2psocial.net.connections import PeerConnected, PeerEvent
from p2psocial.net.errors import DiscoveryError, HostClosed, Timeout

logger = logging.getLogger(__name__)

FEED_KEY_BYTES = 32
_FEED_DOMAIN = b"/p2psocial/feed/"
_SHA2_256 = b"\x12\x20"  # multihash code 0x12 (sha2-256), length 32
_IDENTIFY_WAIT = 2.0     # how long to wait for identify before adding a new peer


def feed_provider_key(feed_key: bytes) -> bytes:
    """The 34-byte multihash under which holders of the feed `feed_key` are announced."""
    if len(feed_key) != FEED_KEY_BYTES:
        raise ValueError(f"a feed key is {FEED_KEY_BYTES} bytes, not {len(feed_key)}")
    return _SHA2_256 + hashlib.sha256(_FEED_DOMAIN + feed_key).digest()


class Dht:
    """One host's Kademlia DHT."""

    def __init__(self, host: IHost, mode: DhtMode, *, timeout: float) -> None:
        if mode is DhtMode.OFF:
            raise ValueError("a Dht needs mode CLIENT or SERVER")
        self._host = host
        self._mode = mode
        self._timeout = timeout
        lib_mode = DHTMode.SERVER if mode is DhtMode.SERVER else DHTMode.CLIENT
        self._kad = KadDHT(host, lib_mode, enable_random_walk=False)
        self._nursery: trio.Nursery | None = None

    @property
    def mode(self) -> DhtMode:
        """CLIENT or SERVER."""
        return self._mode

    @asynccontextmanager
    async def running(self, nursery: trio.Nursery) -> AsyncIterator[Dht]:
        """Run the DHT service; helper tasks live in `nursery`."""
        async with background_trio_service(self._kad):
            self._nursery = nursery
            try:
                yield self
            finally:
                self._nursery = None

    def on_peer_event(self, event: PeerEvent) -> None:
        """Connection listener: consider each newly connected peer for the routing table."""
        if isinstance(event, PeerConnected) and self._nursery is not None:
            tasks.spawn(self._nursery, f"routing table add {event.peer}",
                        self._add_when_identified, event.peer)

    def routing_table_size(self) -> int:
        """Peers in the routing table."""
        return self._kad.get_routing_table_size()

    def holds(self, peer: ID) -> bool:
        """True if `peer` is in the routing table (whose peers are dialled by peerstore)."""
        return bool(self._kad.routing_table.peer_in_table(peer))

    async def add_peer(self, peer: str) -> bool:
        """Add a connected (or known) peer to the routing table if it serves the DHT."""
        self._require_running()
        target = peer_id(peer)
        with _guard(f"adding {peer} to the routing table", self._timeout):
            return await self._kad.add_peer(target)

    async def refresh(self) -> None:
        """Look ourselves up (and random keys per bucket) to fill the routing table."""
        self._require_running()
        with _guard("refreshing the routing table", self._timeout):
            await self._kad.refresh_routing_table()

    async def find_peer(self, peer: str) -> PeerInfo | None:
        """The addresses of `peer`, from the routing table, the peerstore or the network."""
        self._require_running()
        target = peer_id(peer)
        with _guard(f"finding {peer}", self._timeout):
            found = await self._kad.find_peer(target)
        if found is None or not found.addrs:
            return None
        return from_libp2p(found)

    async def provide(self, feed_key: bytes) -> bool:
        """Announce that we hold the feed `feed_key`. True if a DHT server took the record."""
        self._require_running()
        key = feed_provider_key(feed_key).hex()
        with _guard("announcing a feed", self._timeout):
            return await self._kad.provide(key)

    async def find_providers(self, feed_key: bytes, count: int = 20) -> list[PeerInfo]:
        """Peers (other than us) that announced they hold the feed `feed_key`, merged by peer."""
        self._require_running()
        with _guard("finding feed holders", self._timeout):
            found = await workarounds.find_providers(
                self._kad, feed_provider_key(feed_key), per_peer_timeout=self._timeout / 2)
        me = str(self._host.get_id())
        holders = [p for p in merge(from_libp2p(f) for f in found) if p.peer != me]
        return holders[:count]

    def _require_running(self) -> None:
        if self._nursery is None:
            raise HostClosed("the DHT is not running")

    async def _add_when_identified(self, peer: str) -> None:
        pid = peer_id(peer)
        store = self._host.get_peerstore()
        with trio.move_on_after(_IDENTIFY_WAIT):
            while not _has_protocols(store, pid):
                await trio.sleep(0.05)
        try:
            added = await self._kad.add_peer(pid)
        except BaseLibp2pError as exc:
            logger.debug("could not add %s to the routing table: %r", peer, exc)
            return
        logger.debug("routing table %s %s", "added" if added else "skipped", peer)


def _has_protocols(store: IPeerStore, pid: ID) -> bool:
    try:
        return bool(store.get_protocols(pid))
    except (BaseLibp2pError, KeyError):
        return False


@contextmanager
def _guard(what: str, timeout: float) -> Iterator[None]:
    """Run a DHT call under `timeout`; translate trio's timeout and libp2p's errors."""
    try:
        with trio.fail_after(timeout):
            yield
    except trio.TooSlowError as exc:
        raise Timeout(f"{what} took over {timeout} s") from exc
    except BaseLibp2pError as exc:
        raise DiscoveryError(f"{what} failed: {exc}") from exc
