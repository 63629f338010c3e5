"""Circuit relay v2: relayed dials and reservations for every host, the hop side for relays.

Rules:
- Every host runs the STOP side (it accepts connections relayed to it) and can dial relayed
  addresses `<relay addr>/p2p/<relay>/p2p-circuit/p2p/<peer>` through the circuit transport:
  libp2p's swarm cannot dial them itself ("relay-only … unusable").
- A host with `relay_hop` also relays for others (HOP), with `HostConfig.relay_limits`
  (py-libp2p's defaults are 4 reservations in all, never freed: unusable for real use).
- Reservations on a relay are freed when the reserving peer disconnects, and only peers the
  admission check accepts get or keep one (a relay's policy lives above this layer: the
  node sets `admission`). A refused peer's existing reservation is dropped at its next
  refresh.
- `reserve()` makes or refreshes one reservation and returns its expiry; keeping it fresh
  (and re-making it after a relay restart) is the caller's loop: libp2p's own refresher
  only refreshes, and only while the connection lives. It is one spec RESERVE exchange of
  our own (HopMessage over the hop protocol, length-delimited): py-libp2p's
  `CircuitV2Transport.reserve` answers only True/False, so a relay that hung up or garbled
  its answer looked like a refusal (retried only after minutes), and the granted expiry
  was read from its private table.
- py-libp2p's own reservation refresher never starts (only its `reserve` starts it): it
  refreshes within 30 s of expiry, then sleeps until 30 s before the next expiry, so with a
  lifetime under 30 s or after a failed refresh it sent RESERVE after RESERVE (33 in 3 s
  against a js-libp2p relay, which then reset the connection and refused the caller's own
  renewal). The transport runs without the CLIENT role, so a relayed dial is CONNECT
  alone (with it, every dial first took a reservation on the relay).
- Works with any circuit relay v2 server (checked against js-libp2p's stock one,
  tests/network/test_stock_relay.py): HOP RESERVE/CONNECT and STOP are the spec's messages.
- py-libp2p 0.8.1 has no public API for the relay's reservation table
  (`RelayResourceManager._reservations`, read for status and to free a reservation).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import multiaddr
import trio
from google.protobuf.message import DecodeError
from libp2p.abc import IHost
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, Status
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
from libp2p.relay.circuit_v2.resources import RelayLimits as LibRelayLimits
from libp2p.relay.circuit_v2.resources import RelayResourceManager
from libp2p.relay.circuit_v2.transport import CircuitV2Transport
from libp2p.relay.circuit_v2.utils import read_delimited_msg, write_delimited_msg
from libp2p.tools.anyio_service import background_trio_service

from p2psocial.net.addresses import peer_id
from p2psocial.net.config import HostConfig
from p2psocial.net.connections import PeerDisconnected, PeerEvent
from p2psocial.net.errors import (
    DialFailed,
    DialTimeout,
    HostClosed,
    ReservationRefused,
    causes_text,
)

logger = logging.getLogger(__name__)

Admission = Callable[[str], bool]


class CircuitRelay:
    """The circuit relay v2 parts of one libp2p host."""

    def __init__(self, lp: IHost, config: HostConfig) -> None:
        self._lp = lp
        self._config = config
        limits = config.relay_limits
        self._limits = LibRelayLimits(
            duration=limits.circuit_seconds, data=limits.circuit_bytes,
            max_circuit_conns=limits.max_circuits, max_reservations=limits.max_reservations,
            reservation_ttl=limits.reservation_ttl)
        self.hop = config.relay_hop
        self._protocol = CircuitV2Protocol(lp, limits=self._limits, allow_hop=self.hop)
        self._protocol.resource_manager = _AdmittingResourceManager(self._limits, lp, self)
        self._transport: CircuitV2Transport | None = None
        self.admission: Admission | None = None
        self._nursery: trio.Nursery | None = None
        self._limits_seen: dict[str, str] = {}
        self.circuit_bytes: dict[str, int] = {}  # relay -> its data limit per circuit; 0: none

    @asynccontextmanager
    async def running(self, nursery: trio.Nursery) -> AsyncIterator[CircuitRelay]:
        """Run the relay protocol service while the block runs."""
        async with background_trio_service(self._protocol):
            # no CLIENT role: with it, py-libp2p's dial sends RESERVE before every CONNECT,
            # so each relayed dial holds a reservation on the relay (a stock js-libp2p relay
            # has 15 slots: a few followers fill it, then authors are refused) and costs an
            # extra round trip. Reservations are made by `reserve` only; it needs no role.
            roles = RelayRole.STOP
            if self.hop:
                roles |= RelayRole.HOP
            self._transport = CircuitV2Transport(
                self._lp, self._protocol, RelayConfig(roles=roles, limits=self._limits))
            self._nursery = nursery
            try:
                yield self
            finally:
                self._nursery = None

    # -- client side -------------------------------------------------------------------------

    async def dial(self, addr: str, peer: str) -> None:
        """Connect to `peer` through the relay named in the circuit address `addr`.

        Raises:
            DialTimeout / DialFailed: no relayed connection (relay unreachable, the peer holds
                no reservation there, or the relay refused).
        """
        transport = self._require_transport()
        try:
            with trio.fail_after(self._config.dial_timeout * 2):
                await transport.dial(multiaddr.Multiaddr(addr))
        except trio.TooSlowError as exc:
            raise DialTimeout(f"no relayed connection to {peer} within "
                              f"{self._config.dial_timeout * 2} s") from exc
        except (BaseLibp2pError, OSError, ConnectionError, ValueError) as exc:
            raise DialFailed(f"could not reach {peer} through its relay: {exc}") from exc
        if not self._lp.get_network().get_connections(peer_id(peer)):
            raise DialFailed(f"the relayed connection to {peer} closed at once")

    async def reserve(self, relay: str) -> float:
        """Make or refresh a reservation on the connected relay `relay`; its expiry (unix s).

        One RESERVE exchange of our own (see the module docstring): the relay's STATUS tells
        a refusal from a failed exchange.

        Raises:
            ReservationRefused: the relay said no (not a relay; full, policy: its status).
            DialFailed: no stream to the relay, or it broke off or garbled the exchange.
        """
        self._require_transport()
        if self._nursery is None:
            raise HostClosed("the relay service is not running")
        pid = peer_id(relay)
        try:
            with trio.fail_after(self._config.stream_open_timeout * 2):
                stream = await self._lp.new_stream(pid, [HOP_PROTOCOL])
                try:
                    await write_delimited_msg(stream, HopMessage(type=HopMessage.RESERVE))
                    answer = await read_delimited_msg(stream, HopMessage)
                finally:
                    await stream.close()
        except trio.TooSlowError as exc:
            raise DialFailed(f"relay {relay} did not answer the reservation in time") from exc
        except (BaseLibp2pError, OSError) as exc:
            if "not supported" in causes_text(exc):
                raise ReservationRefused(f"{relay} is not a relay") from exc
            raise DialFailed(f"no reservation from {relay}: {exc or type(exc).__name__}"
                             ) from exc
        except (DecodeError, ValueError) as exc:
            raise DialFailed(f"relay {relay} sent a malformed reservation answer") from exc
        status = answer.status if answer.HasField("status") else Status.UNUSED
        if answer.type != HopMessage.STATUS or status not in Status.values():
            raise DialFailed(f"relay {relay} answered the reservation with no status")
        if status != Status.OK:
            raise ReservationRefused(f"relay {relay} refused the reservation "
                                     f"({Status.Name(status)})")
        if not answer.HasField("reservation") or not answer.reservation.expire:
            raise DialFailed(f"relay {relay} said OK but granted no reservation")
        self._note_limit(relay, answer)
        return float(answer.reservation.expire)

    def _note_limit(self, relay: str, answer: HopMessage) -> None:
        """Log (once per relay and value) the cap a relay puts on each circuit: stock
        libp2p relays cut every relayed connection after 2 min or 128 KiB. The duration is
        logged as sent: seconds per the spec, but js-libp2p relays send milliseconds."""
        limit = answer.limit if answer.HasField("limit") else None
        self.circuit_bytes[relay] = limit.data if limit is not None else 0
        text = "none" if limit is None else \
            f"duration {limit.duration or '-'} (spec: s; js-libp2p sends ms), " \
            f"data {limit.data or '-'} bytes"
        if self._limits_seen.get(relay) != text:
            self._limits_seen[relay] = text
            logger.info("relay %s: circuit limit %s", relay, text)

    # -- relay (hop) side --------------------------------------------------------------------

    def reservations(self) -> dict[str, float]:
        """Peers holding a reservation on this relay, with its expiry (unix seconds)."""
        manager = self._protocol.resource_manager
        return {str(pid): float(r.expires_at) for pid, r in list(manager._reservations.items())
                if not r.is_expired()}

    def admits(self, peer: ID) -> bool:
        """True if `peer` may hold a reservation here."""
        return self.admission is None or self.admission(str(peer))

    def drop_reservation(self, peer: str) -> None:
        """Free `peer`'s reservation (it disconnected, or was refused)."""
        self._protocol.resource_manager._reservations.pop(peer_id(peer), None)

    def on_peer_event(self, event: PeerEvent) -> None:
        """Free the reservation of a peer that disconnected."""
        if self.hop and isinstance(event, PeerDisconnected):
            self.drop_reservation(event.peer)

    def _require_transport(self) -> CircuitV2Transport:
        if self._transport is None:
            raise HostClosed("the relay service is not running")
        return self._transport


class _AdmittingResourceManager(RelayResourceManager):
    """libp2p's reservation bookkeeping, asking the relay's admission check first."""

    def __init__(self, limits: LibRelayLimits, lp: IHost, relay: CircuitRelay) -> None:
        super().__init__(limits, lp)
        self._relay = relay

    def can_accept_reservation(self, peer_id: ID) -> bool:
        if not self._relay.admits(peer_id):
            logger.info("refused a reservation from %s", peer_id)
            return False
        return super().can_accept_reservation(peer_id)

    def has_reservation(self, peer_id: ID) -> bool:
        if not self._relay.admits(peer_id):  # refused since: drop it, so the refresh fails
            self._reservations.pop(peer_id, None)
            return False
        return super().has_reservation(peer_id)
