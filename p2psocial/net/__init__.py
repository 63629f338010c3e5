"""The network adapter: the libp2p host, the sync protocol driver, relays and discovery.

Rule: this is the only package that imports libp2p (and, with the runtime bridge, trio);
libp2p errors become p2psocial.core.errors.NetError here. It never imports p2psocial.store.

It is plain trio code (no asyncio): the runtime starts a Host inside its trio guest run with
`host = await bridge.start_service(Host(identity, config).serve)` and stops it with
`await bridge.run(host.aclose)` before `bridge.stop()` (a plain cancel by `bridge.stop()` is
safe too: the host turns it into the same orderly stop). Outside this package peers are
handles (PeerID strings) and addresses are multiaddr strings; no libp2p type crosses the
boundary, and every error is a p2psocial NetError (errors.py).

Modules, one job each:
    host.py         Host: dial, streams, connected peers, events, bootstrap; open_host()
    service.py      HostRuntime: build, listen, start services, stop in order (no leaks)
    build.py        the libp2p host for an Identity (Noise only, yamux only, 1 conn per peer)
    workarounds.py  the libp2p internals we reach into (negative dial cache, auto-connector,
                    provider lookups)
    yamux_window.py yamux receive credit once per half window, not a WINDOW_UPDATE per read
    tasks.py        background tasks whose failures are logged, never fatal to the host
    channel.py      Channel: one stream as a byte pipe with timeouts (one 64 KiB read per call)
    connections.py  PeerConnected / PeerDisconnected from libp2p's network notifications
    gossip.py       gossipsub publish/subscribe with the 0.8.1 fixes
    departed.py     peers gone for a while leave libp2p's peerstore
    dht.py          Kademlia: find_peer, provide / find_providers of feeds
    mdns.py         LAN discovery, handed from zeroconf's thread to trio
    relay.py        circuit relay v2: relayed dials, reservations, the hop side for relays
    addresses.py    PeerInfo, ConnectedPeer, Route; parsing handles and multiaddrs
    config.py       HostConfig, DhtMode, RelayLimits
    queue.py        DropOldestQueue: bounded, never blocks the producer
    errors.py       the NetError tree
"""

from p2psocial.net.addresses import ConnectedPeer, Direction, PeerInfo, Route
from p2psocial.net.channel import Channel
from p2psocial.net.config import DhtMode, HostConfig, RelayLimits
from p2psocial.net.connections import PeerConnected, PeerDisconnected, PeerEvent
from p2psocial.net.dht import Dht, feed_provider_key
from p2psocial.net.errors import (
    AddressError,
    DialFailed,
    DialTimeout,
    DiscoveryError,
    HostClosed,
    ListenFailed,
    NetError,
    ProtocolNotSupported,
    PubsubError,
    ReservationRefused,
    StreamClosed,
    StreamOpenFailed,
    StreamOpenTimeout,
    StreamReset,
    Timeout,
)
from p2psocial.net.gossip import Gossip, GossipMessage
from p2psocial.net.host import Host, StreamHandler, open_host
from p2psocial.net.mdns import MdnsWatcher
from p2psocial.net.queue import DropOldestQueue

__all__ = [
    "AddressError",
    "Channel",
    "ConnectedPeer",
    "Dht",
    "DhtMode",
    "DialFailed",
    "DialTimeout",
    "Direction",
    "DiscoveryError",
    "DropOldestQueue",
    "Gossip",
    "GossipMessage",
    "Host",
    "HostClosed",
    "HostConfig",
    "ListenFailed",
    "MdnsWatcher",
    "NetError",
    "PeerConnected",
    "PeerDisconnected",
    "PeerEvent",
    "PeerInfo",
    "ProtocolNotSupported",
    "PubsubError",
    "RelayLimits",
    "ReservationRefused",
    "Route",
    "StreamClosed",
    "StreamHandler",
    "StreamOpenFailed",
    "StreamOpenTimeout",
    "StreamReset",
    "Timeout",
    "feed_provider_key",
    "open_host",
]
