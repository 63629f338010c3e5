"""HostConfig: everything a Host needs besides its identity, as one frozen value.

Rules:
- Addresses are multiaddr strings, checked here, so a bad config fails before any I/O
  (AddressError); other bad values raise UsageError.
- Every network operation has a timeout here, in seconds; there is no operation without one,
  except reads and writes on a Channel whose caller sets its timeout to None on purpose.
- Defaults suit a personal node: TCP on all interfaces with a random port, gossip on,
  DHT client, no mDNS. A relay uses `dht_mode=DhtMode.SERVER` and a fixed port.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from p2psocial.core.errors import UsageError
from p2psocial.net.addresses import parse_multiaddr, parse_peer_addr


class DhtMode(enum.Enum):
    """Whether the node takes part in the Kademlia DHT, and how."""

    OFF = "off"        # no DHT at all
    CLIENT = "client"  # queries the DHT; does not answer queries (behind NAT, laptops)
    SERVER = "server"  # queries and answers; stores records for others (relays, public nodes)


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """What a relay grants (circuit relay v2 hop). Sized for a community relay: py-libp2p's
    defaults (4 reservations in all) serve nobody."""

    max_reservations: int = 1024      # peers holding a reservation at once
    reservation_ttl: int = 3600       # seconds; clients renew before expiry
    max_circuits: int = 64            # relayed connections at once, per reservation
    circuit_seconds: int = 3600       # a relayed connection is closed after this
    circuit_bytes: int = 1 << 30      # … or after this many bytes


@dataclass(frozen=True, slots=True)
class HostConfig:
    """How a Host listens, whom it starts from, which services it runs, and its timeouts."""

    listen_addrs: tuple[str, ...] = ("/ip4/0.0.0.0/tcp/0",)
    bootstrap_peers: tuple[str, ...] = ()   # full addresses (…/p2p/<peer>) dialled at start
    enable_mdns: bool = False
    mdns_auto_dial: bool = True             # dial peers found by mDNS as soon as they appear
    dht_mode: DhtMode = DhtMode.CLIENT
    enable_gossip: bool = True
    # libp2p's auto-connector redials every peer in the peerstore when the node has fewer than
    # ~150 connections, and undoes `disconnect()` within seconds. Off: the node decides.
    auto_connect: bool = False
    relay_hop: bool = False                 # relay connections for others (circuit relay v2)
    relay_limits: RelayLimits = RelayLimits()

    dial_timeout: float = 5.0
    stream_open_timeout: float = 5.0
    read_timeout: float | None = 60.0       # default for each Channel (settable per channel)
    write_timeout: float | None = 30.0
    close_timeout: float = 2.0
    # liveness (keepalive.py): a ping every ping_interval s; a connection whose ping is not
    # answered within ping_timeout s is closed as dead
    ping_interval: float = 2.0          # a quiet relayed connection
    direct_ping_interval: float = 30.0  # a quiet direct one (the kernel probes it: tcp_keepalive)
    ping_timeout: float = 10.0  # generous: a busy node (start-up, bulk sync) answers late
    dht_timeout: float = 10.0
    publish_timeout: float = 5.0
    shutdown_timeout: float = 5.0
    forget_peer_seconds: float = 600.0  # a peer gone this long leaves the peerstore (departed.py)

    gossip_heartbeat: int = 1               # seconds; libp2p's default is 120
    gossip_queue_size: int = 256            # per subscription; the oldest is dropped when full
    event_queue_size: int = 256             # per events() receiver

    def __post_init__(self) -> None:
        if not self.listen_addrs:
            raise UsageError("listen_addrs must not be empty")
        for addr in self.listen_addrs:
            parse_multiaddr(addr)
        for addr in self.bootstrap_peers:
            parse_peer_addr(addr)
        for name in ("dial_timeout", "stream_open_timeout", "close_timeout", "dht_timeout",
                     "publish_timeout", "shutdown_timeout", "ping_interval", "ping_timeout",
                     "direct_ping_interval",
                     "forget_peer_seconds"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive")
        for name in ("read_timeout", "write_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"{name} must be positive or None")
        limits = self.relay_limits
        if min(limits.max_reservations, limits.reservation_ttl, limits.max_circuits,
               limits.circuit_seconds, limits.circuit_bytes) < 1:
            raise UsageError("relay limits must be positive")
        if self.gossip_heartbeat < 1:
            raise UsageError("gossip_heartbeat must be at least 1 second")
        if self.gossip_queue_size < 1 or self.event_queue_size < 1:
            raise UsageError("queue sizes must be at least 1")
