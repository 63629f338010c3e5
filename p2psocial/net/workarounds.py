"""The py-libp2p 0.8.1 internals we reach into, each for a measured reason, in one place.

Rules:
- Only what libp2p's interfaces (`IHost`, `INetworkService`) do not offer is here; each
  function says what goes wrong without it. They are no-ops if the internal is missing, so a
  libp2p upgrade degrades to the documented problem instead of a crash (the pin to 0.8.1 and
  the tests catch the change).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import trio
from libp2p.abc import IHost, IMuxedConn
from libp2p.kad_dht.kad_dht import KadDHT
from libp2p.metrics.swarm import SwarmEvent
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

logger = logging.getLogger(__name__)

REFUSAL_LOG_SECONDS = 60.0  # refused inbound connections are logged at most this often
CLOSED_POLL_SECONDS = 1.0   # for a muxer without an `event_closed` to wait on
_CLOSE_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


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


async def forget_closed_connections(host: IHost, peer: ID) -> int:
    """Drop `peer`'s connections that are closed but still listed by the swarm, and notify
    their disconnection (so PeerDisconnected follows); returns how many were dropped.

    libp2p's SwarmConn.close() marks the connection closed FIRST and removes it from the
    swarm's table LAST (after the muxer's close, which writes a yamux GO_AWAY under the write
    lock). A close cut off in between (a timeout around a close stuck behind a write on a dead
    connection) left a closed connection listed for good: every later close returns at once
    ("already closed"), `connect()` finds the peer connected and does not dial, `new_stream`
    fails with "No valid connections available", and no disconnection is ever notified
    (bench/relay_soak.py: a node lost its relay for good that way). A close still under way
    in another task may notify once more; the notifees take that.
    """
    swarm: Any = host.get_network()
    dead = [conn for conn in swarm.get_connections(peer) if conn.is_closed]
    if not dead:
        return 0
    remove = getattr(swarm, "remove_conn", None)
    notify = getattr(swarm, "notify_disconnected", None)
    if remove is None or notify is None:
        logger.warning("libp2p's swarm has no remove_conn / notify_disconnected: a closed "
                       "connection stays listed")
        return 0
    for conn in dead:
        remove(conn)  # synchronous: the table is right even if the notice below is cut off
    logger.info("dropped %d closed connection(s) to %s that libp2p still listed",
                len(dead), peer)
    for conn in dead:
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSED_POLL_SECONDS):
            await notify(conn)
    return len(dead)


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
    The swarm still tells the stopped connector of every disconnection, and only its own loop
    ever forgot one: a time per peer that ever left was kept for good (a relay's followers
    coming and going), so the connector is told nothing any more.
    """
    connector = getattr(host.get_network(), "auto_connector", None)
    if connector is None:
        logger.warning("libp2p has no Swarm.auto_connector to stop")
        return
    await connector.stop()
    connector.record_disconnect = _ignore_disconnect
    getattr(connector, "_recent_disconnects", {}).clear()


def _ignore_disconnect(peer: ID) -> None:
    """What a stopped auto-connector does with a disconnection: nothing."""


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


# ---- inbound connection slots ------------------------------------------------------------------


@dataclass(slots=True)
class _Upgraded:
    """Set by the swarm's inbound upgrade, read by the inbound handler that started it."""

    event: trio.Event = field(default_factory=trio.Event)
    conn: IMuxedConn | None = None


_UPGRADING: ContextVar[_Upgraded | None] = ContextVar("p2psocial_inbound_upgrade", default=None)


def inbound_limiter(host: IHost) -> trio.CapacityLimiter | None:
    """The swarm's limiter of inbound connections open at once (None if libp2p has none)."""
    limiter = getattr(host.get_network(), "_inbound_limiter", None)
    return limiter if isinstance(limiter, trio.CapacityLimiter) else None


def release_inbound_slots(host: IHost) -> None:
    """Give an inbound connection's slot back when that connection closes (call before the
    host listens).

    The swarm admits inbound connections through a CapacityLimiter (max_connections −
    min_connections = 250 slots), but after a successful upgrade its handler waits for the
    whole swarm to stop before it releases the slot (and ends its task): after ~250 inbound
    connections in a node's lifetime every new one was closed at once, silently. Here the
    swarm's own handler still does the work (gate, upgrade, registration); our handler holds
    the same slot only until the connection closes, then cancels the swarm's wait. The limit
    stays a bound on connections open at once. Refusals are logged (at most once a minute).
    Pre-multiplexed transports (QUIC, which we do not enable) skip the upgrade we watch and
    keep libp2p's behaviour.
    """
    swarm: Any = host.get_network()
    inner = getattr(swarm, "_do_handle_inbound_connection", None)
    upgrade = getattr(swarm, "upgrade_inbound_raw_conn", None)
    limiter = inbound_limiter(host)
    if inner is None or upgrade is None or limiter is None \
            or not hasattr(swarm, "_handle_inbound_connection"):
        logger.warning("libp2p's swarm changed: inbound connection slots may never be freed")
        return
    swarm.upgrade_inbound_raw_conn = _reporting_upgrade(upgrade)
    swarm._handle_inbound_connection = _InboundHandler(inner, limiter)


def _reporting_upgrade(upgrade: Callable[..., Awaitable[IMuxedConn]]
                       ) -> Callable[..., Awaitable[IMuxedConn]]:
    async def upgrade_and_report(raw_conn: Any, maddr: Any) -> IMuxedConn:
        conn = await upgrade(raw_conn, maddr)
        watch = _UPGRADING.get()
        if watch is not None:  # an inbound handler of ours waits for it
            watch.conn = conn
            watch.event.set()
        return conn

    return upgrade_and_report


class _InboundHandler:
    """The swarm's `_handle_inbound_connection`, with the slot held only while the connection
    is open."""

    def __init__(self, inner: Callable[..., Awaitable[None]],
                 limiter: trio.CapacityLimiter) -> None:
        self._inner = inner
        self._limiter = limiter
        self._refused = 0
        self._logged_at = float("-inf")

    async def __call__(self, read_write_closer: Any, maddr: Any) -> None:
        try:
            self._limiter.acquire_nowait()
        except trio.WouldBlock:
            self._note_refusal()
            with trio.move_on_after(CLOSED_POLL_SECONDS), contextlib.suppress(*_CLOSE_ERRORS):
                await read_write_closer.close()
            return
        try:
            await self._serve(read_write_closer, maddr)
        finally:
            self._limiter.release()

    async def _serve(self, read_write_closer: Any, maddr: Any) -> None:
        watch = _Upgraded()
        _UPGRADING.set(watch)  # this task's context; the swarm's handler below inherits it
        async with trio.open_nursery() as nursery:

            async def swarm_handler() -> None:
                try:
                    await self._inner(read_write_closer, maddr, SwarmEvent())
                finally:  # it failed, or the swarm stopped: nothing left to wait for
                    nursery.cancel_scope.cancel()

            nursery.start_soon(swarm_handler)
            await watch.event.wait()
            assert watch.conn is not None
            await _closed(watch.conn)
            nursery.cancel_scope.cancel()  # the swarm's handler waits for the swarm to stop

    def _note_refusal(self) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._logged_at >= REFUSAL_LOG_SECONDS:
            logger.warning("refused %d inbound connection(s): %d are open, the limit",
                           self._refused, int(self._limiter.total_tokens))
            self._refused = 0
            self._logged_at = now


async def _closed(conn: IMuxedConn) -> None:
    """Return once `conn` is closed."""
    event = getattr(conn, "event_closed", None)
    if isinstance(event, trio.Event):
        await event.wait()
        return
    while not conn.is_closed:
        await trio.sleep(CLOSED_POLL_SECONDS)



class _QueuePerPeer(dict[Any, Any]):
    """Pubsub's outbound queue per peer, closing a queue that another one replaces."""

    def __setitem__(self, peer: Any, queue: Any) -> None:
        old = self.get(peer)
        super().__setitem__(peer, queue)
        if old is not None and old is not queue:
            old.close()  # its sending task ends, as when the peer leaves


def close_replaced_pubsub_queues(pubsub: Any) -> None:
    """Make pubsub close a peer's outbound queue when a new registration replaces it.

    Pubsub registers a connected peer from two tasks at once (the new-peer handler and the
    retry a stream failure schedules; it calls that safe). Both open a stream; the second
    registration replaces the first one's queue, whose sending task then waits on it forever,
    with the tasks that started it (3-4 trio tasks). A relay under follower churn kept ~0.5
    trio tasks per follower connection that way (bench/relay_soak.py).
    """
    queues = getattr(pubsub, "peer_queues", None)
    if not isinstance(queues, dict):
        logger.warning("libp2p's Pubsub has no peer_queues dict: a peer registered twice "
                       "keeps a sending task for good")
        return
    pubsub.peer_queues = _QueuePerPeer(queues)
