"""Reachability (an AutoNAT-like check): ask a directly connected peer to dial us back.

Rules (the wire format is docs/protocol.md, "Reachability check", rules R1-R6):
- The client opens `/p2psocial/reach/1` to a peer it is connected to directly (not through
  a relay), sends its TCP listen port as 2 bytes big-endian and half-closes. The server
  opens a NEW TCP connection to that port on the IP address it sees the request coming from
  (never another IP: it cannot be used to make it dial third parties), within DIAL_SECONDS,
  closes it at once, and answers one status byte followed by the address it observed
  (UTF-8 multiaddr, at most 200 bytes), then closes.
- Status: REACHABLE (1) the new connection was accepted; UNREACHABLE (0) it was refused,
  dropped or timed out (a NAT or a firewall drops unasked connections); REFUSED (2) the
  server will not check (the request came through a relay, or too many checks run at once).
- A fresh connection is the point: libp2p's own AutoNAT v1 server (py-libp2p 0.8.1,
  host/autonat) dials back with `host.connect`, which returns the connection the request
  came on, so it reports every client as public.
- The verdict from one server is PUBLIC or PRIVATE (UNKNOWN when it refused or failed). The
  server's observed address tells the client its public IP (its NAT's).
- A server runs at most MAX_CHECKS checks at once, one per client, and at most
  DIALBACKS_PER_MINUTE per client in any 60 s; more get REFUSED. A client's malformed or
  excess requests are logged once per QUIET_SECONDS, not once each.
- `ReachabilityWatch` (a node's service) asks its directly connected peers, one after the
  other until one gives a verdict, as soon as it has any and then every RECHECK_SECONDS;
  `current` is the latest verdict (UNKNOWN until one comes).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

import trio

from p2psocial.core.errors import NetError
from p2psocial.net.addresses import Route
from p2psocial.net.channel import Channel
from p2psocial.net.host import Host

logger = logging.getLogger(__name__)

PROTOCOL = "/p2psocial/reach/1"
DIAL_SECONDS = 3.0
MAX_CHECKS = 8
DIALBACKS_PER_MINUTE = 10   # R5: checks one peer may have in any 60 s
QUIET_SECONDS = 300.0       # a peer's repeated bad or excess requests: one line per this
MAX_OBSERVED = 200
RECHECK_SECONDS = 300.0
RETRY_SECONDS = 5.0

UNREACHABLE, REACHABLE, REFUSED = 0, 1, 2


class Reachability(enum.Enum):
    """What one dial-back says about us."""

    PUBLIC = "public"      # a new connection from outside reached our listen port
    PRIVATE = "private"    # it did not: behind NAT or a firewall
    UNKNOWN = "unknown"    # not checked (refused, failed, no direct peer)


@dataclass(frozen=True, slots=True)
class ReachResult:
    """The verdict and the address the server saw our request come from ("" if none)."""

    kind: Reachability
    observed: str


def encode_request(port: int) -> bytes:
    """R2: the client's TCP listen port, 2 bytes big-endian."""
    if not 0 < port < 65536:
        raise ValueError(f"not a TCP port: {port}")
    return port.to_bytes(2, "big")


def decode_request(data: bytes) -> int:
    """The port of a request; ValueError if it is not exactly 2 bytes naming a port."""
    if len(data) != 2 or int.from_bytes(data, "big") == 0:
        raise ValueError("a reach request is 2 bytes: a non-zero port")
    return int.from_bytes(data, "big")


def encode_response(status: int, observed: str) -> bytes:
    """R4: one status byte, then the observed address (UTF-8, at most 200 bytes)."""
    text = observed.encode()
    if status not in (UNREACHABLE, REACHABLE, REFUSED) or len(text) > MAX_OBSERVED:
        raise ValueError("bad reach response")
    return bytes([status]) + text


def decode_response(data: bytes) -> tuple[int, str]:
    """(status, observed address); ValueError if malformed."""
    if not data or data[0] not in (UNREACHABLE, REACHABLE, REFUSED) \
            or len(data) > 1 + MAX_OBSERVED:
        raise ValueError("malformed reach response")
    return data[0], data[1:].decode()


async def _read_all(channel: Channel, limit: int) -> bytes:
    data = b""
    while len(data) <= limit:
        chunk = await channel.receive_some(limit + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    raise ValueError("message too long")


def _ip_of(addr: str) -> str | None:
    parts = addr.split("/")
    if len(parts) > 2 and parts[1] in ("ip4", "ip6"):
        return parts[2]
    return None


def _tcp_port(host: Host) -> int | None:
    for addr in host.listen_addrs():
        parts = addr.split("/")
        if "tcp" in parts and "p2p-circuit" not in parts:
            return int(parts[parts.index("tcp") + 1])
    return None


class DialbackServer:
    """The server side of the check for one host (see the module rules)."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._limit = trio.CapacityLimiter(MAX_CHECKS)
        self._busy: set[str] = set()
        self._recent: dict[str, list[float]] = {}  # peer -> times of its checks, last minute
        self._told: dict[tuple[str, str], float] = {}  # (peer, kind) -> when last logged

    def _note(self, peer: str, kind: str, message: str) -> None:
        """Log one line per peer and kind per QUIET_SECONDS (a flood is one line)."""
        now = trio.current_time()
        if now - self._told.get((peer, kind), -QUIET_SECONDS) >= QUIET_SECONDS:
            if len(self._told) > 4096:
                self._told.clear()
            self._told[(peer, kind)] = now
            logger.info("reach check from %s: %s", peer, message)

    def _over_budget(self, peer: str) -> bool:
        """R5: more than DIALBACKS_PER_MINUTE checks from `peer` in the last minute."""
        now = trio.current_time()
        if len(self._recent) > 4096:
            self._recent = {p: t for p, t in self._recent.items() if t and now - t[-1] < 60}
        times = [t for t in self._recent.get(peer, []) if now - t < 60]
        self._recent[peer] = times
        if len(times) >= DIALBACKS_PER_MINUTE:
            self._note(peer, "flood", f"more than {DIALBACKS_PER_MINUTE} a minute: refused "
                                      "(further requests are refused without a line)")
            return True
        times.append(now)
        return False

    async def handle(self, channel: Channel) -> None:
        """One request: dial back, answer, close."""
        route = {p.peer: p for p in self._host.connected_peers()}.get(channel.peer)
        try:
            port = decode_request(await _read_all(channel, 2))
        except ValueError as exc:
            self._note(channel.peer, "bad", str(exc))
            await channel.reset()
            return
        observed = route.remote_addr if route is not None else ""
        ip = _ip_of(observed)
        if route is None or route.route is Route.RELAYED or ip is None \
                or channel.peer in self._busy or self._over_budget(channel.peer):
            await channel.send_all(encode_response(REFUSED, observed[:MAX_OBSERVED]))
            return
        try:
            self._limit.acquire_nowait()
        except trio.WouldBlock:
            await channel.send_all(encode_response(REFUSED, observed[:MAX_OBSERVED]))
            return
        self._busy.add(channel.peer)
        try:
            status = await self._dial(ip, port)
        finally:
            self._busy.discard(channel.peer)
            self._limit.release()
        await channel.send_all(encode_response(status, observed[:MAX_OBSERVED]))

    @staticmethod
    async def _dial(ip: str, port: int) -> int:
        with trio.move_on_after(DIAL_SECONDS):
            try:
                stream = await trio.open_tcp_stream(ip, port)
            except OSError:
                return UNREACHABLE
            await stream.aclose()
            return REACHABLE
        return UNREACHABLE


def serve_dialback(host: Host) -> DialbackServer:
    """Answer reach checks on `host` (a relay or any public node); returns the server."""
    server = DialbackServer(host)
    host.set_stream_handler(PROTOCOL, server.handle)
    return server


async def check_reachability(host: Host, server: str) -> ReachResult:
    """Ask `server` (a handle we are directly connected to) to dial us back.

    Never raises for network trouble: UNKNOWN says the check could not be made.
    """
    port = _tcp_port(host)
    if port is None:
        return ReachResult(Reachability.UNKNOWN, "")
    try:
        channel = await host.open_stream(server, PROTOCOL)
        async with channel:
            channel.read_timeout = DIAL_SECONDS + 5.0
            await channel.send_all(encode_request(port))
            await channel.send_eof()
            status, observed = decode_response(await _read_all(channel, 1 + MAX_OBSERVED))
    except (NetError, ValueError) as exc:
        logger.debug("reachability check through %s failed: %s", server[-8:], exc)
        return ReachResult(Reachability.UNKNOWN, "")
    kind = {REACHABLE: Reachability.PUBLIC, UNREACHABLE: Reachability.PRIVATE}.get(
        status, Reachability.UNKNOWN)
    return ReachResult(kind, observed)


class ReachabilityWatch:
    """Keeps `current` up to date for a running host (see the module rules)."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self.current = ReachResult(Reachability.UNKNOWN, "")

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled or the host stops."""
        task_status.started()
        while self._host.running:
            result = await self.check_once()
            if result.kind is not Reachability.UNKNOWN:
                self.current = result
            await trio.sleep(RECHECK_SECONDS if result.kind is not Reachability.UNKNOWN
                             else RETRY_SECONDS)

    async def check_once(self) -> ReachResult:
        """Ask the directly connected peers in turn; the first verdict (else UNKNOWN)."""
        if not self._host.running:
            return ReachResult(Reachability.UNKNOWN, "")
        for peer in self._host.connected_peers():
            if peer.route is Route.DIRECT:
                result = await check_reachability(self._host, peer.peer)
                if result.kind is not Reachability.UNKNOWN:
                    return result
        return ReachResult(Reachability.UNKNOWN, "")
