"""HostRuntime: the life of one libp2p host: build, listen, start its services, stop in order.

Rules:
- Built in `serve()` (not before: no I/O until then), run once. Order of start: listen (and
  check every configured address really listens: libp2p only logs a failed listen), stop
  libp2p's auto-connector, start gossip, the DHT, circuit relay, the keepalive (pings every
  connected peer and closes dead connections: keepalive.py) and mDNS, report `started`.
- Order of stop: the libp2p host is closed FIRST, while none of its tasks is cancelled, and only
  then are the contexts left (services, our helper tasks, `host.run()`). Cancelling a running
  libp2p host leaks its TCP sockets as ResourceWarnings (measured 7 times in 10, even with a
  shielded `close()` in a `finally`).
- So libp2p runs inside a shielded cancel scope. A cancel of `serve()` from outside (what
  `bridge.stop()` does) becomes the same orderly stop as `aclose()`, bounded by
  `shutdown_timeout`; only after that is the shielded scope cancelled hard.
- Errors raised inside libp2p's contexts come out of nurseries as ExceptionGroups; a group that
  holds a single NetError (e.g. ListenFailed) is re-raised as that error.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import trio
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError

from p2psocial.core.errors import NetError
from p2psocial.core.identity import Identity
from p2psocial.net import workarounds
from p2psocial.net.addresses import PeerInfo, expand_wildcards, parse_multiaddr, peer_id
from p2psocial.net.build import build_libp2p_host
from p2psocial.net.config import DhtMode, HostConfig
from p2psocial.net.connections import ConnectionWatcher
from p2psocial.net.departed import DepartedPeers
from p2psocial.net.dht import Dht
from p2psocial.net.errors import HostClosed, ListenFailed
from p2psocial.net.gossip import Gossip
from p2psocial.net.keepalive import Keepalive
from p2psocial.net.mdns import MdnsWatcher
from p2psocial.net.relay import CircuitRelay

logger = logging.getLogger(__name__)

LibStreamHandler = Callable[[INetStream], Awaitable[None]]


class State(enum.Enum):
    """Where a host is in its life."""

    NEW = "not started"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    CLOSED = "closed"


class HostRuntime:
    """Owns the libp2p host and its services while they run."""

    def __init__(self, identity: Identity, config: HostConfig, *,
                 handlers: Mapping[str, LibStreamHandler],
                 on_lan_peer: Callable[[PeerInfo], None],
                 on_running: Callable[[trio.Nursery], None]) -> None:
        self._identity = identity
        self._config = config
        self._handlers = handlers          # read at build time
        self._on_lan_peer = on_lan_peer    # a peer found by mDNS (called in trio)
        self._on_running = on_running      # once running: start background work in the nursery
        self.state = State.NEW
        self.lp: IHost | None = None
        self.watcher: ConnectionWatcher | None = None
        self.gossip: Gossip | None = None
        self.dht: Dht | None = None
        self.mdns: MdnsWatcher | None = None
        self.relay: CircuitRelay | None = None
        self.keepalive: Keepalive | None = None
        self.departed: DepartedPeers | None = None
        self.nursery: trio.Nursery | None = None
        self._listening = False
        self._stop_requested = trio.Event()
        self._stopped = trio.Event()

    def is_lan_peer(self, peer: str) -> bool:
        """True if mDNS found `peer`."""
        return self.mdns is not None and self.mdns.is_lan_peer(peer)

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run until `aclose()` or cancelled; `task_status.started()` once running."""
        if self.state is not State.NEW:
            raise HostClosed("a host serves once: make a new Host to restart")
        self.state = State.STARTING
        shield = trio.CancelScope(shield=True)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self._run_shielded, shield)
                task_status.started()
                try:
                    await self._stopped.wait()
                finally:
                    # Cancelled from outside? Stop in order all the same (bounded), then hard.
                    self._stop_requested.set()
                    with trio.CancelScope(shield=True), \
                            trio.move_on_after(self._config.shutdown_timeout + 1.0):
                        await self._stopped.wait()
                    shield.cancel()
        except BaseExceptionGroup as group:
            failure = sole_exception(group)
            if not isinstance(failure, NetError):
                raise
        else:
            return
        raise failure

    async def aclose(self) -> None:
        """Ask for the orderly stop and wait (bounded) until `serve()` has finished."""
        if self.state is State.NEW:
            self.state = State.CLOSED
            await trio.lowlevel.checkpoint()
            return
        self._stop_requested.set()
        with trio.move_on_after(self._config.shutdown_timeout + 1.0):
            await self._stopped.wait()

    async def _run_shielded(self, shield: trio.CancelScope, *,
                            task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with shield:
                await self._run(task_status)
        finally:
            self.state = State.CLOSED
            self.nursery = None
            self._stopped.set()

    async def _run(self, task_status: Any) -> None:
        lp = self.lp = build_libp2p_host(self._identity, self._config)
        self._build_services(lp)
        async with AsyncExitStack() as stack:
            try:
                nursery = await self._start(lp, stack)
                self.state = State.RUNNING
                self._on_running(nursery)
                task_status.started()
                await self._stop_requested.wait()
            finally:
                self.state = State.STOPPING
                await self._close_libp2p(lp)

    def _build_services(self, lp: IHost) -> None:
        config = self._config
        self.watcher = ConnectionWatcher(lp.get_network(), self.is_lan_peer)
        lp.get_network().register_notifee(self.watcher)
        for protocol, handler in self._handlers.items():
            lp.set_stream_handler(TProtocol(protocol), handler)
        if config.enable_gossip:
            self.gossip = Gossip(lp, heartbeat=config.gossip_heartbeat,
                                 queue_size=config.gossip_queue_size,
                                 publish_timeout=config.publish_timeout)
        if config.dht_mode is not DhtMode.OFF:
            self.dht = Dht(lp, config.dht_mode, timeout=config.dht_timeout)
            self.watcher.add_listener(self.dht.on_peer_event)
        self.relay = CircuitRelay(lp, config)
        self.watcher.add_listener(self.relay.on_peer_event)
        self.keepalive = Keepalive(lp, interval=config.ping_interval,
                                   timeout=config.ping_timeout, close=self.close_peer,
                                   direct_interval=config.direct_ping_interval)
        self.watcher.add_listener(self.keepalive.on_peer_event)
        dht = self.dht
        self.departed = DepartedPeers(lp, config.forget_peer_seconds,
                                      keep=lambda peer: dht is not None and dht.holds(peer))
        self.watcher.add_listener(self.departed.on_peer_event)
        if config.enable_mdns:
            self.mdns = MdnsWatcher(self._identity.handle, self._on_lan_peer)

    async def _start(self, lp: IHost, stack: AsyncExitStack) -> trio.Nursery:
        listen = [parse_multiaddr(a) for a in self._config.listen_addrs]
        try:
            await stack.enter_async_context(lp.run(listen_addrs=listen))
            self._listening = True
        except (BaseLibp2pError, OSError) as exc:
            raise ListenFailed(f"could not listen on {list(self._config.listen_addrs)}: "
                               f"{exc}") from exc
        if len(lp.get_transport_addrs()) < len(listen):
            raise ListenFailed(f"could not listen on all of {list(self._config.listen_addrs)} "
                               f"(listening on {[str(a) for a in lp.get_transport_addrs()]})")
        if not self._config.auto_connect:
            await workarounds.stop_auto_connector(lp)
        nursery = self.nursery = await stack.enter_async_context(trio.open_nursery())
        stack.callback(nursery.cancel_scope.cancel)  # on exit, once the services stopped
        if self.gossip is not None:
            await stack.enter_async_context(self.gossip.running(nursery))
        if self.dht is not None:
            await stack.enter_async_context(self.dht.running(nursery))
        if self.relay is not None:
            await stack.enter_async_context(self.relay.running(nursery))
        if self.keepalive is not None:
            await stack.enter_async_context(self.keepalive.running(nursery))
        if self.departed is not None:
            await stack.enter_async_context(self.departed.running(nursery))
        if self.mdns is not None:
            stack.push_async_callback(self.mdns.stop)
            self.mdns.start(lp, dialable_addrs(lp), nursery)
        return nursery

    async def close_peer(self, peer: str) -> None:
        """Close every connection to `peer`: in order (GO_AWAY) if that finishes within
        `close_timeout`, else at the layer below the muxer (a write stuck on a dead
        connection holds the muxer's write lock). No-op if not connected."""
        lp = self.lp
        if lp is None:
            return
        pid = peer_id(peer)
        # The connections open now, each closed by itself: libp2p's `close_peer` ends by
        # dropping the peer's whole entry from the table, with a connection the peer
        # redialled meanwhile (never closed, never notified, no longer listed).
        closing = lp.get_network().get_connections(pid)
        with trio.move_on_after(self._config.close_timeout):
            for conn in closing:
                try:
                    await conn.close()
                except (BaseLibp2pError, OSError) as exc:
                    logger.debug("disconnecting %s failed: %r", peer, exc)
        stuck = [conn for conn in lp.get_network().get_connections(pid) if conn in closing]
        if stuck:
            logger.info("the connection to %s did not close in order: aborting it", peer)
            with trio.move_on_after(self._config.close_timeout):
                await abort_connections(stuck, peer)
        # A close cut off above (or by the abort) marked its connection closed but left it
        # listed: drop it, or the peer counts as connected for good (workarounds.py).
        await workarounds.forget_closed_connections(lp, pid)

    async def _close_libp2p(self, lp: IHost) -> None:
        if self.watcher is not None:
            self.watcher.close()
        if not self._listening:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(self._config.shutdown_timeout):
            try:
                await lp.close()
            except (BaseLibp2pError, OSError) as exc:
                logger.warning("closing the libp2p host failed: %r", exc)


async def abort_connections(conns: Sequence[INetConn], peer: str) -> None:
    """Close `conns` (to `peer`) at the secured (Noise over TCP) layer, under the muxer.

    The orderly close (`SwarmConn.close`) first writes a yamux GO_AWAY under the
    connection's write lock; while a write is stuck on a dead connection (its TCP buffer
    full) that never returns. Closing the layer below ends the stuck write and the muxer's
    read loop. The swarm does NOT drop a connection whose own close was cut off (it counts
    as closed already): the caller then calls workarounds.forget_closed_connections.
    (A libp2p internal, like those in workarounds.py: no-op if `secured_conn` is missing.)
    """
    for conn in conns:
        secured = getattr(conn.muxed_conn, "secured_conn", None)
        if secured is None:
            logger.warning("libp2p's muxed connection has no secured_conn to close")
            continue
        try:
            await secured.close()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("aborting a connection to %s: %r", peer, exc)


def dialable_addrs(lp: IHost) -> list[str]:
    """The host's transport addresses, wildcards expanded (no /p2p/ part)."""
    return expand_wildcards(str(a) for a in lp.get_transport_addrs())


def sole_exception(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    """The exception if `group` (nested or not) holds exactly one, and it is an Exception."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    if len(leaves) == 1 and isinstance(leaves[0], Exception):
        return leaves[0]
    return None
