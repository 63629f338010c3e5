"""The py-libp2p 0.8.1 internals we reach into, each for a measured reason, in one place.

Rules:
- Only what libp2p's interfaces (`IHost`, `INetworkService`) do not offer is here; each
  function says what goes wrong without it. They are no-ops if the internal is missing, so a
  libp2p upgrade degrades to the documented problem instead of a crash (the pin to 0.8.1 and
  the tests catch the change).
"""

from __future__ import annotations

import logging

import trio
from libp2p.abc import IHost
from libp2p.kad_dht.kad_dht import KadDHT
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

logger = logging.getLogger(__name__)


def unblock_peer(host: IHost, peer: ID) -> None:
    """Forget a failed dial before dialling `peer` again.

    When every address of a peer fails, the swarm refuses to dial it for 60 s ("recently failed
    all addresses (negative cache)"), so a peer that restarts is never redialled in that time.
    """
    unblock = getattr(host.get_network(), "unblock_peer", None)
    if unblock is None:
        logger.warning("libp2p has no Swarm.unblock_peer: failed peers stay blocked for 60 s")
        return
    unblock(peer)


def prefer_addrs(host: IHost, info: PeerInfo) -> None:
    """Make the addresses a dial names the only ones the swarm tries.

    The swarm dials at most one address per transport class (its "smart address selection"),
    taking the first in the peerstore: after a peer restarts on a new port, its stale TCP
    address shadows the new one and every dial fails with "connection refused".
    """
    if not info.addrs:
        return
    store = host.get_peerstore()
    clear = getattr(store, "clear_addrs", None)
    if clear is None:
        logger.warning("libp2p's peerstore has no clear_addrs: stale addresses may be dialled")
        return
    clear(info.peer_id)


async def stop_auto_connector(host: IHost) -> None:
    """Stop the swarm's auto-connector (call once the host runs).

    With fewer than ~150 connections it redials every peer in the peerstore every 10-30 s and
    on each disconnect, so `disconnect()` is undone and the node dials peers it never chose.
    """
    connector = getattr(host.get_network(), "auto_connector", None)
    if connector is None:
        logger.warning("libp2p has no Swarm.auto_connector to stop")
        return
    await connector.stop()


async def find_providers(kad: KadDHT, key: bytes, *, per_peer_timeout: float) -> list[PeerInfo]:
    """Providers of `key` from our own store AND the DHT servers closest to it.

    `KadDHT.find_providers` returns the local provider store alone whenever it holds any record
    for the key (and it caches every provider it finds there), so a node that once found one
    holder of a feed never sees a new one until the records expire. Here we look up the k
    closest servers (where `provide` stores records) and ask each of them, concurrently, each
    under `per_peer_timeout`. Results may repeat; the caller merges them.
    """
    store = kad.provider_store
    found: list[PeerInfo] = list(store.get_providers(key))
    closest = await kad.peer_routing.find_closest_peers_network(key)

    async def ask(peer: ID) -> None:
        with trio.move_on_after(per_peer_timeout):
            providers, _closer = await store._get_providers_from_peer_with_closers(peer, key)
            found.extend(providers)

    async with trio.open_nursery() as nursery:
        for peer in closest:
            if peer != kad.local_peer_id:
                nursery.start_soon(ask, peer)
    return found
