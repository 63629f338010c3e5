"""Connection events: libp2p's network notifications turned into PeerConnected / PeerDisconnected.

Rules:
- Events are per peer, not per connection: PeerConnected when a peer goes from no connection to
  one, PeerDisconnected when its last connection closes (libp2p removes the connection from
  the swarm before it notifies, so "last" is checked against the swarm's table; a connection
  it lists that is closed already, whose own close is under way or was cut off, is not live).
- libp2p calls the notifee from its connection tasks: nothing here blocks. Each receiver is a
  DropOldestQueue (the oldest event is dropped and counted if a receiver falls behind), and
  internal listeners are plain callbacks that must return at once.
- The route of a connection: RELAYED if its address has `/p2p-circuit`, LAN if the peer was
  found by mDNS, else DIRECT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from libp2p.abc import INetConn, INetStream, INetwork, INotifee

from p2psocial.net.addresses import ConnectedPeer, Direction, Route, is_relayed
from p2psocial.net.queue import DropOldestQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeerConnected:
    """A peer we had no connection to is now connected."""

    connection: ConnectedPeer

    @property
    def peer(self) -> str:
        """The peer's handle."""
        return self.connection.peer


@dataclass(frozen=True, slots=True)
class PeerDisconnected:
    """The last connection to a peer closed."""

    peer: str


PeerEvent = PeerConnected | PeerDisconnected
Listener = Callable[[PeerEvent], None]


def describe(conn: INetConn, *, lan: bool) -> ConnectedPeer:
    """A ConnectedPeer for a live libp2p connection."""
    try:
        addrs = [str(a) for a in conn.get_transport_addresses()]
    except Exception:  # noqa: BLE001 - a closing connection may fail any way; describe it anyway
        addrs = []
    remote = addrs[0] if addrs else ""
    if any(is_relayed(a) for a in addrs):
        route = Route.RELAYED
    else:
        route = Route.LAN if lan else Route.DIRECT
    name = getattr(getattr(conn, "direction", None), "name", "UNKNOWN")
    direction = Direction[name] if name in Direction.__members__ else Direction.UNKNOWN
    return ConnectedPeer(str(conn.muxed_conn.peer_id), remote, route, direction,
                         security=_negotiated(conn, "get_negotiated_security_protocol"),
                         muxer=_negotiated(conn, "get_negotiated_muxer_protocol"))


def _negotiated(conn: INetConn, getter: str) -> str:
    """A negotiated protocol id from a SwarmConn (not part of libp2p's INetConn interface)."""
    get = getattr(conn, getter, None)
    return str(get() or "") if callable(get) else ""


class ConnectionWatcher(INotifee):
    """A libp2p network notifee that keeps the set of connected peers and fans out events."""

    def __init__(self, network: INetwork, is_lan_peer: Callable[[str], bool]) -> None:
        self._network = network
        self._is_lan_peer = is_lan_peer
        self._connected: set[str] = set()
        self._receivers: list[DropOldestQueue[PeerEvent]] = []
        self._listeners: list[Listener] = []

    def open_receiver(self, max_items: int) -> DropOldestQueue[PeerEvent]:
        """A new queue that gets every event from now on."""
        queue: DropOldestQueue[PeerEvent] = DropOldestQueue(max_items)
        self._receivers.append(queue)
        return queue

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` for every event (it must not block or raise)."""
        self._listeners.append(listener)

    def close(self) -> None:
        """End every receiver (they drain, then see EndOfChannel) and drop the listeners."""
        for queue in self._receivers:
            queue.close()
        self._receivers.clear()
        self._listeners.clear()

    def _emit(self, event: PeerEvent) -> None:
        self._receivers = [q for q in self._receivers if not q.statistics().closed]
        for queue in self._receivers:
            queue.put_nowait(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("a connection listener failed on %r", event)

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = str(conn.muxed_conn.peer_id)
        if peer in self._connected:
            return
        self._connected.add(peer)
        self._emit(PeerConnected(describe(conn, lan=self._is_lan_peer(peer))))

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        peer_id = conn.muxed_conn.peer_id
        peer = str(peer_id)
        live = [c for c in self._network.get_connections(peer_id) if not c.is_closed]
        if peer not in self._connected or live:  # one closed but still listed is not live
            return
        self._connected.discard(peer)
        self._emit(PeerDisconnected(peer))

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: object) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: object) -> None:
        return None
