"""Keepalive: notice a connection that died silently, and close it.

Rules:
- A pulled cable, a lost Wi-Fi or an expired NAT mapping drops packets without telling either
  end: TCP retransmits for many minutes and every stream on the connection just waits. So
  every connected peer is pinged (libp2p's `/ipfs/ping/1.0.0`, which every libp2p node
  serves) every `interval` seconds over one long-lived ping stream. A ping not answered within
  `timeout` seconds, or FAILURES pings in a row that fail, mark the connection dead: it is
  closed (`close(peer)`), its streams end, PeerDisconnected follows, and whoever wants the
  peer redials it.
- How long a peer may stay quiet before it is pinged: `interval` if every connection to it
  is relayed (the kernel cannot see the far end of a circuit), `direct_interval` (long) if
  one is a direct TCP connection, whose death the kernel finds by itself (tcp_keepalive.py:
  probes that wake no process); a ping there only catches a peer process that froze.
- A ping goes only to a connection gone quiet: when nothing at all was heard on it (any
  stream: sync, gossip, the peer's own pings, see activity.py) for that long. Bytes
  that arrive prove the connection alive as well as a pong would; on a relay, whose members
  ping it, this halves the pings, and a busy connection is never pinged. A dead connection
  is closed within 2 x its interval + timeout of the last bytes it carried (a direct one
  sooner by the kernel's keepalive).
- One task per connected peer, each ping under its own deadline: a dead peer never holds up
  the pings of another.
- A peer that does not serve ping is left alone (its connection gets no liveness check).
- A ping never dials: `new_stream` would open a new connection to a peer whose connection
  just closed (and a dial cut off by the host stopping leaked its socket).
- `on_peer_event` is a ConnectionWatcher listener: it starts and stops the per-peer tasks and
  returns at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
from libp2p.abc import IHost, INetStream
from libp2p.exceptions import BaseLibp2pError
from libp2p.host.ping import ID as PING_PROTOCOL
from libp2p.host.ping import perform_ping_roundtrip

from p2psocial.net.activity import last_heard
from p2psocial.net.addresses import is_relayed, peer_id
from p2psocial.net.connections import PeerConnected, PeerDisconnected, PeerEvent
from p2psocial.net.errors import causes_text

logger = logging.getLogger(__name__)

FAILURES = 2  # pings in a row that fail (not time out) before the connection is closed

# What a ping on a broken stream or connection may raise.
_BROKEN = (BaseLibp2pError, trio.BrokenResourceError, trio.ClosedResourceError, OSError,
           ValueError)


class Keepalive:
    """Pings every connected peer and closes the connections that stop answering."""

    def __init__(self, lp: IHost, *, interval: float, timeout: float,
                 close: Callable[[str], Awaitable[None]],
                 direct_interval: float | None = None) -> None:
        self._lp = lp
        self.interval = interval
        self.direct_interval = interval if direct_interval is None else direct_interval
        self.timeout = timeout
        self._close = close
        self._nursery: trio.Nursery | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self.closed = 0  # connections closed because they stopped answering
        self.pings = 0   # pings sent (a connection that carries traffic is not pinged)

    @asynccontextmanager
    async def running(self, nursery: trio.Nursery) -> AsyncIterator[Keepalive]:
        """Watch peers (those connected now and those that connect) while the block runs."""
        self._nursery = nursery
        for pid, conns in list(self._lp.get_network().connections.items()):
            if conns:
                self._watch(str(pid))
        try:
            yield self
        finally:
            self._nursery = None
            for scope in self._scopes.values():
                scope.cancel()
            self._scopes.clear()

    def on_peer_event(self, event: PeerEvent) -> None:
        """Start watching a peer that connected; stop watching one that disconnected."""
        if isinstance(event, PeerConnected):
            self._watch(event.peer)
        elif isinstance(event, PeerDisconnected):
            scope = self._scopes.pop(event.peer, None)
            if scope is not None:
                scope.cancel()

    def watched(self) -> set[str]:
        """The peers being pinged now."""
        return set(self._scopes)

    def _watch(self, peer: str) -> None:
        if self._nursery is None or peer in self._scopes:
            return
        scope = self._scopes[peer] = trio.CancelScope()
        self._nursery.start_soon(self._keep, peer, scope, name=f"keepalive {peer[-8:]}")

    async def _keep(self, peer: str, scope: trio.CancelScope) -> None:
        try:
            with scope:
                reason = await self._ping_until_dead(peer)
                if reason is None:
                    return
                logger.info("closing the connection to %s: %s", peer, reason)
                self.closed += 1
                with trio.CancelScope(shield=True):
                    await self._close(peer)
        finally:
            if self._scopes.get(peer) is scope:
                del self._scopes[peer]

    async def _ping_until_dead(self, peer: str) -> str | None:
        """Ping until the connection is found dead (why) or the peer serves no ping (None)."""
        pid = peer_id(peer)
        stream: INetStream | None = None
        failures = 0
        try:
            while True:
                await trio.sleep(self._interval_for(pid))
                while (quiet := self._quiet_for(pid)) < (wait := self._interval_for(pid)):
                    await trio.sleep(wait - quiet)  # heard lately: alive
                try:
                    with trio.fail_after(self.timeout):
                        if stream is None:
                            if not self._lp.get_network().get_connections(pid):
                                return None  # gone: a ping must never dial it again
                            stream = await self._lp.new_stream(pid, [PING_PROTOCOL])
                        self.pings += 1
                        await perform_ping_roundtrip(stream)
                    failures = 0
                    continue
                except trio.TooSlowError:
                    return f"no answer to a ping within {self.timeout:g} s"
                except _BROKEN as exc:
                    if "not supported" in causes_text(exc):
                        logger.debug("%s does not serve ping: no liveness check", peer)
                        return None
                    failures += 1
                    if failures >= FAILURES:
                        return f"{failures} pings in a row failed ({exc!r})"
                await _reset(stream)
                stream = None
        finally:
            if stream is not None:
                await _reset(stream)

    def _interval_for(self, pid: Any) -> float:
        """`direct_interval` if a connection to the peer is direct, else `interval`."""
        for conn in self._lp.get_network().get_connections(pid):
            addrs = _transport_addrs(conn)
            if addrs and not any(is_relayed(a) for a in addrs):
                return self.direct_interval
        return self.interval

    def _quiet_for(self, pid: Any) -> float:
        """Seconds since anything was heard on a connection to the peer (inf: never)."""
        stamps = [stamp for conn in self._lp.get_network().get_connections(pid)
                  if (stamp := last_heard(conn)) is not None]
        return time.monotonic() - max(stamps) if stamps else math.inf


def _transport_addrs(conn: Any) -> list[str]:
    try:
        return [str(a) for a in conn.get_transport_addresses()]
    except (BaseLibp2pError, OSError, AttributeError):
        return []


async def _reset(stream: INetStream | None) -> None:
    if stream is None:
        return
    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
        try:
            await stream.reset()
        except _BROKEN as exc:
            logger.debug("resetting a ping stream failed: %r", exc)
