"""Host: a user's libp2p node as a trio service: connections, streams, gossip and discovery.

Rules:
- The Identity's Ed25519 key is the host key: `host.handle` is the user's handle (PeerID).
- `Host(identity, config)` does no I/O. `serve()` is a service: it builds the libp2p host
  (Noise only, yamux only, one connection per peer: see build.py), listens, starts gossip, the
  DHT and mDNS as configured (service.py), reports `task_status.started(host)`, dials the
  bootstrap peers in the background, and runs until `aclose()`. A Host serves once; restart =
  a new Host with the same identity.
- Stop with `aclose()` (from any trio task) or by cancelling `serve()`: either way libp2p is
  closed before it is cancelled, so no socket leaks (service.py has the order and why).
- Every call is bounded by a HostConfig timeout and raises only p2psocial errors (errors.py).
- `dial` always clears libp2p's 60 s negative dial cache for the peer first, so a peer that
  restarted is redialled at once (workarounds.py).
- Every connected peer that went quiet is pinged (keepalive.py); a connection that stops
  carrying anything (dropped packets, no reset) is closed within
  `2 x ping_interval + ping_timeout` seconds of the last bytes it carried, and
  `disconnect` closes even a connection whose writes are stuck.
- Stream handlers get a Channel; the host closes it when the handler returns. A handler that
  raises is logged (NetError at DEBUG, anything else with its traceback) and never takes the
  connection down.
- Relayed addresses (`…/p2p/<relay>/p2p-circuit/p2p/<peer>`) are dialled through the circuit
  relay transport (relay.py), after a direct connection to the relay; a target with both
  kinds of address tries the direct ones first. `reserve(relay)` asks a relay for a
  reservation so that others can reach us through it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError

from p2psocial.core.errors import NetError
from p2psocial.core.identity import Identity
from p2psocial.net import tasks, workarounds
from p2psocial.net.addresses import (
    ConnectedPeer,
    PeerInfo,
    is_relayed,
    parse_peer_addr,
    peer_id,
    to_libp2p,
)
from p2psocial.net.channel import Channel
from p2psocial.net.config import HostConfig
from p2psocial.net.connections import PeerEvent, describe
from p2psocial.net.dht import Dht
from p2psocial.net.errors import (
    AddressError,
    DialFailed,
    DialTimeout,
    HostClosed,
    ProtocolNotSupported,
    StreamOpenFailed,
    StreamOpenTimeout,
    causes_text,
)
from p2psocial.net.gossip import Gossip
from p2psocial.net.mdns import MdnsWatcher
from p2psocial.net.queue import DropOldestQueue
from p2psocial.net.relay import CircuitRelay
from p2psocial.net.service import (
    HostRuntime,
    LibStreamHandler,
    State,
    dialable_addrs,
    sole_exception,
)

logger = logging.getLogger(__name__)

StreamHandler = Callable[[Channel], Awaitable[None]]


class Host:
    """A running libp2p node for one identity. See the module docstring for the rules."""

    def __init__(self, identity: Identity, config: HostConfig | None = None) -> None:
        self._identity = identity
        self.config = config or HostConfig()
        self._handlers: dict[str, LibStreamHandler] = {}
        self._rt = HostRuntime(identity, self.config, handlers=self._handlers,
                               on_lan_peer=self._on_lan_peer, on_running=self._on_running)

    # -- identity and state ------------------------------------------------------------------

    @property
    def handle(self) -> str:
        """Our handle: the PeerID of the identity's key."""
        return self._identity.handle

    @property
    def peer_id(self) -> str:
        """Same as `handle`."""
        return self._identity.handle

    @property
    def running(self) -> bool:
        """True between `started` and `aclose()`."""
        return self._rt.state is State.RUNNING

    def __repr__(self) -> str:
        return f"<Host {self.handle} {self._rt.state.value}>"

    # -- lifecycle -----------------------------------------------------------------------------

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run the host until `aclose()` (or cancelled); `task_status.started(self)` once it
        listens and its services run.

        Raises:
            HostClosed: this Host already served.
            ListenFailed: it could not listen on every configured address (e.g. port taken).
        """
        await self._rt.serve(task_status=_ReportAs(task_status, self))

    async def aclose(self) -> None:
        """Stop in order (libp2p closed before anything is cancelled); wait until stopped."""
        await self._rt.aclose()

    # -- addresses and connections -------------------------------------------------------------

    def listen_addrs(self) -> list[str]:
        """Full addresses (with `/p2p/<handle>`) other nodes can dial us at.

        A wildcard listen address (0.0.0.0) is listed once per local interface.
        """
        return [f"{addr}/p2p/{self.handle}" for addr in dialable_addrs(self._require_running())]

    def known_addrs(self, peer: str) -> list[str]:
        """Addresses of `peer` in the peerstore (from dials, identify, mDNS, the DHT)."""
        store = self._require_running().get_peerstore()
        try:
            return [str(a) for a in store.addrs(peer_id(peer))]
        except KeyError:  # libp2p's PeerStoreError: a peer it never heard of
            return []

    def connected_peers(self) -> list[ConnectedPeer]:
        """One entry per connected peer: remote address, route (direct/relayed/LAN), direction."""
        network = self._require_running().get_network()
        return [describe(live[0], lan=self._rt.is_lan_peer(str(pid)))
                for pid, conns in list(network.connections.items())
                if (live := [c for c in conns if not c.is_closed])]

    def is_connected(self, peer: str) -> bool:
        """True if there is a live connection to `peer` (a closed one libp2p still lists,
        see workarounds.forget_closed_connections, does not count)."""
        conns = self._require_running().get_network().get_connections(peer_id(peer))
        return any(not conn.is_closed for conn in conns)

    def events(self) -> DropOldestQueue[PeerEvent]:
        """A new queue of PeerConnected / PeerDisconnected from now on (drop-oldest when full)."""
        self._require_running()
        assert self._rt.watcher is not None
        return self._rt.watcher.open_receiver(self.config.event_queue_size)

    async def dial(self, target: str | PeerInfo) -> ConnectedPeer:
        """Connect to a peer (no-op if connected) and describe the connection.

        `target` is a full address (`…/p2p/<peer>`), a PeerInfo, or a bare handle (then the
        addresses already in the peerstore are used).

        Raises:
            AddressError: `target` cannot be parsed, or is ourselves.
            DialTimeout: no connection within `dial_timeout`.
            DialFailed: every address failed (refused, unreachable, handshake failed).
        """
        lp = self._require_running()
        info = _parse_target(target)
        if info.peer == self.handle:
            raise AddressError("a host cannot dial itself")
        relayed = [a for a in info.addrs if is_relayed(a)]
        if relayed:
            direct = PeerInfo(info.peer, tuple(a for a in info.addrs if not is_relayed(a)))
            return await self._dial_relayed(direct, relayed)
        lp_info = to_libp2p(info)
        await workarounds.forget_closed_connections(lp, lp_info.peer_id)  # else: no dial
        workarounds.unblock_peer(lp, lp_info.peer_id)
        workarounds.prefer_addrs(lp, lp_info)
        try:
            with trio.fail_after(self.config.dial_timeout):
                await lp.connect(lp_info)
        except trio.TooSlowError as exc:
            raise DialTimeout(f"no connection to {info.peer} within "
                              f"{self.config.dial_timeout} s") from exc
        except (BaseLibp2pError, OSError) as exc:
            raise DialFailed(f"could not connect to {info.peer}: {exc}") from exc
        conns = lp.get_network().get_connections(lp_info.peer_id)
        if not conns:
            raise DialFailed(f"the connection to {info.peer} closed at once")
        return describe(conns[0], lan=self._rt.is_lan_peer(info.peer))

    async def _dial_relayed(self, direct: PeerInfo, relayed: Sequence[str]) -> ConnectedPeer:
        lp = self._require_running()
        await workarounds.forget_closed_connections(lp, peer_id(direct.peer))
        if lp.get_network().get_connections(peer_id(direct.peer)):
            return self._describe(direct.peer)
        failures: list[str] = []
        if direct.addrs:
            try:
                return await self.dial(direct)
            except DialFailed as exc:
                failures.append(str(exc))
        relay = self._relay()
        for addr in relayed:
            relay_addr = addr.split("/p2p-circuit", 1)[0]
            try:
                await self.dial(relay_addr)
                await relay.dial(f"{addr}/p2p/{direct.peer}", direct.peer)
            except DialFailed as exc:
                failures.append(str(exc))
                continue
            return self._describe(direct.peer)
        raise DialFailed("; ".join(failures) or f"no address to reach {direct.peer}")

    def _describe(self, peer: str) -> ConnectedPeer:
        conns = self._require_running().get_network().get_connections(peer_id(peer))
        if not conns:
            raise DialFailed(f"the connection to {peer} closed at once")
        return describe(conns[0], lan=self._rt.is_lan_peer(peer))

    async def reserve(self, relay: str) -> float:
        """Ask the relay `relay` (a full address or a connected peer's handle) for a circuit
        reservation, dialling it first if needed; returns when it expires (unix seconds).

        Raises:
            DialFailed: the relay cannot be reached.
            ReservationRefused: it refused (not a relay, its policy, or it is full).
        """
        info = _parse_target(relay)
        if not self.is_connected(info.peer):
            await self.dial(info)
        return await self._relay().reserve(info.peer)

    def relay_reservations(self) -> dict[str, float]:
        """On a relay: the peers holding a reservation here, with their expiry."""
        return self._relay().reservations()

    def set_relay_admission(self, admission: Callable[[str], bool] | None) -> None:
        """On a relay: who may hold a reservation (None: anyone). A peer refused later loses
        its reservation at its next refresh; call `drop_reservation` to end it at once."""
        self._relay().admission = admission

    def drop_reservation(self, peer: str) -> None:
        """On a relay: free `peer`'s reservation now."""
        self._relay().drop_reservation(peer)

    def _relay(self) -> CircuitRelay:
        self._require_running()
        if self._rt.relay is None:
            raise HostClosed("circuit relay is not running")
        return self._rt.relay

    def circuit_data_limit(self, relay: str) -> int | None:
        """The bytes `relay` said (in its reservation answer) it lets through each circuit to
        us: 0 for no limit, None if it has not said (no reservation there)."""
        if not self.running or self._rt.relay is None:
            return None
        return self._rt.relay.circuit_bytes.get(relay)

    async def disconnect(self, peer: str) -> None:
        """Close every connection to `peer` (its streams end), even a dead one whose writes
        are stuck. No-op if not connected."""
        self._require_running()
        peer_id(peer)
        await self._rt.close_peer(peer)

    async def bootstrap(self, peers: Sequence[str] | None = None) -> list[str]:
        """Dial bootstrap peers (default: the configured ones) at once; seed the DHT with them.

        Returns the handles that connected; failures are logged, not raised.
        """
        self._require_running()
        addrs = list(self.config.bootstrap_peers if peers is None else peers)
        connected: list[str] = []

        async def one(addr: str) -> None:
            try:
                connected.append((await self.dial(addr)).peer)
            except NetError as exc:
                logger.info("bootstrap peer %s: %s", addr, exc)

        async with trio.open_nursery() as nursery:
            for addr in addrs:
                nursery.start_soon(one, addr)
        dht = self._rt.dht
        if dht is not None and connected:
            try:
                for peer in connected:
                    await dht.add_peer(peer)
                await dht.refresh()
            except NetError as exc:
                logger.info("seeding the DHT after bootstrap: %s", exc)
        return connected

    # -- streams ----------------------------------------------------------------------------

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None:
        """Serve `protocol`: each inbound stream runs `await handler(channel)`."""
        _check_protocol(protocol)
        wrapped = self._handlers[protocol] = self._wrap(handler)
        if self._rt.lp is not None and self.running:
            self._rt.lp.set_stream_handler(TProtocol(protocol), wrapped)

    def remove_stream_handler(self, protocol: str) -> None:
        """Stop serving `protocol` (streams already open keep running)."""
        self._handlers.pop(protocol, None)
        if self._rt.lp is not None and self.running:
            self._rt.lp.remove_stream_handler(TProtocol(protocol))

    async def open_stream(self, peer: str, protocol: str | Sequence[str]) -> Channel:
        """A Channel to `peer` on `protocol`, dialling first if not connected. Several
        protocols: the first the peer serves, in the order given (`Channel.protocol` says
        which).

        Raises:
            DialFailed: not connected and the dial failed.
            ProtocolNotSupported: the peer does not serve `protocol`.
            StreamOpenTimeout: dial and negotiation took over `stream_open_timeout`.
            StreamOpenFailed: any other failure to open the stream.
        """
        lp = self._require_running()
        protocols = [protocol] if isinstance(protocol, str) else list(protocol)
        if not protocols:
            raise AddressError("no protocol id to open a stream on")
        for one in protocols:
            _check_protocol(one)
        protocol = " or ".join(protocols)
        pid = peer_id(peer)
        try:
            with trio.fail_after(self.config.stream_open_timeout):
                await workarounds.forget_closed_connections(lp, pid)  # else: "no valid conn"
                if not lp.get_network().get_connections(pid):
                    await self.dial(peer)
                stream = await lp.new_stream(pid, [TProtocol(p) for p in protocols])
        except trio.TooSlowError as exc:
            raise StreamOpenTimeout(f"no {protocol} stream to {peer} within "
                                    f"{self.config.stream_open_timeout} s") from exc
        except (BaseLibp2pError, OSError) as exc:
            if "not supported" in causes_text(exc):
                raise ProtocolNotSupported(f"{peer} does not serve {protocol}") from exc
            # A connection closed meanwhile and still listed: drop it, so a retry redials.
            await workarounds.forget_closed_connections(lp, pid)
            raise StreamOpenFailed(f"no {protocol} stream to {peer}: {exc}") from exc
        return self._channel(stream)

    # -- services ---------------------------------------------------------------------------

    @property
    def gossip(self) -> Gossip:
        """Gossipsub publish/subscribe. Raises HostClosed if not running or disabled."""
        self._require_running()
        if self._rt.gossip is None:
            raise HostClosed("gossip is disabled in this host's config")
        return self._rt.gossip

    @property
    def dht(self) -> Dht:
        """The Kademlia DHT. Raises HostClosed if not running or `dht_mode` is OFF."""
        self._require_running()
        if self._rt.dht is None:
            raise HostClosed("the DHT is off in this host's config")
        return self._rt.dht

    @property
    def mdns(self) -> MdnsWatcher:
        """Peers found on the LAN. Raises HostClosed if not running or mDNS is disabled."""
        self._require_running()
        if self._rt.mdns is None:
            raise HostClosed("mDNS is disabled in this host's config")
        return self._rt.mdns

    # -- internals --------------------------------------------------------------------------

    def _require_running(self) -> IHost:
        if not self.running or self._rt.lp is None:
            raise HostClosed(f"{self!r} is not running")
        return self._rt.lp

    def _channel(self, stream: INetStream) -> Channel:
        return Channel(stream, read_timeout=self.config.read_timeout,
                       write_timeout=self.config.write_timeout,
                       close_timeout=self.config.close_timeout)

    def _wrap(self, handler: StreamHandler) -> Callable[[INetStream], Awaitable[None]]:
        async def on_stream(stream: INetStream) -> None:
            channel = self._channel(stream)
            try:
                await handler(channel)
            except NetError as exc:
                logger.debug("%s handler for %s ended: %r", channel.protocol, channel.peer, exc)
            except Exception:
                logger.exception("%s handler for %s failed", channel.protocol, channel.peer)
            finally:
                await channel.aclose()

        return on_stream

    def _on_running(self, nursery: trio.Nursery) -> None:
        if self._rt.mdns is not None:  # peers found while we were starting
            for info in self._rt.mdns.found():
                self._on_lan_peer(info)
        if self.config.bootstrap_peers:
            tasks.spawn(nursery, "bootstrap", self._bootstrap_quietly)

    def _on_lan_peer(self, info: PeerInfo) -> None:
        nursery = self._rt.nursery
        if (self.config.mdns_auto_dial and nursery is not None and self.running
                and not self.is_connected(info.peer)):
            tasks.spawn(nursery, f"dialling LAN peer {info.peer}", self.dial, info)

    async def _bootstrap_quietly(self) -> None:
        connected = await self.bootstrap()
        logger.info("bootstrap: connected to %d of %d peers", len(connected),
                    len(self.config.bootstrap_peers))


@asynccontextmanager
async def open_host(identity: Identity, config: HostConfig | None = None) -> AsyncIterator[Host]:
    """Run a Host for the duration of the block; on exit it is closed before it is cancelled.

    A single exception from the block or from start-up (e.g. ListenFailed) leaves as itself,
    not wrapped in an ExceptionGroup.
    """
    host = Host(identity, config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(host.serve)
            try:
                yield host
            finally:
                with trio.CancelScope(shield=True):
                    await host.aclose()
    except BaseExceptionGroup as group:
        # Our nursery is an implementation detail: a single error leaves as itself.
        failure = sole_exception(group)
        if failure is None:
            raise
    else:
        return
    raise failure


class _ReportAs:
    """A task status that reports a fixed value to the outer one (the Host, not None)."""

    def __init__(self, inner: Any, value: object) -> None:
        self._inner = inner
        self._value = value

    def started(self, value: object = None) -> None:
        self._inner.started(self._value)


def _parse_target(target: str | PeerInfo) -> PeerInfo:
    if isinstance(target, PeerInfo):
        peer_id(target.peer)
        return target
    if target.startswith("/"):
        return parse_peer_addr(target)
    peer_id(target)
    return PeerInfo(target)


def _check_protocol(protocol: str) -> None:
    if not protocol.startswith("/") or any(c.isspace() for c in protocol):
        raise AddressError(f"not a protocol id: {protocol!r}")
