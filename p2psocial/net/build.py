"""Build the libp2p host for an Identity: the one place that chooses libp2p's options.

Rules (each measured on py-libp2p 0.8.1, see /work/shared/libp2p-notes.md):
- The user's Ed25519 key IS the host key, so the host's PeerID is the user's handle.
- Security: Noise only. libp2p's default list also offers /plaintext/2.0.0, secio and TLS, and
  a peer could then talk to us unencrypted.
- Muxer: yamux only (~135 MB/s; mplex managed 28 MB/s).
- `ConnectionConfig(max_connections_per_peer=1)`: with the default (3), every `connect()` waits
  a fixed ~250 ms happy-eyeballs delay even after success; with 1 it takes a few ms.
- A relay (`relay_hop`) has room for a connection per reservation it may grant, plus
  libp2p's 300 for everything else, and prunes none below that: libp2p's defaults
  (max_connections 300, 250 inbound slots, pruning above 300 down to 100) refused every
  member past the ~250th.
- The swarm's inbound connection slots are given back when each connection closes
  (`workarounds.release_inbound_slots`: libp2p holds them until the swarm stops).
- No I/O here: the host starts listening in `Host.serve`. mDNS is not libp2p's
  `enable_mDNS=True` (it binds sockets here and blocks trio for ~1.5 s at start): see mdns.py.
"""

from __future__ import annotations

from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import HIGH_WATERMARK, MAX_CONNECTIONS, ConnectionConfig
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

from p2psocial.core.identity import Identity
from p2psocial.net import activity, peer_records, tcp_keepalive, workarounds, yamux_window
from p2psocial.net.config import HostConfig

NOISE = str(NOISE_PROTOCOL_ID)
YAMUX = str(YAMUX_PROTOCOL_ID)


def key_pair(identity: Identity) -> KeyPair:
    """libp2p's key pair wrapping the identity's pynacl signing key (same key, same PeerID)."""
    private = Ed25519PrivateKey(identity.signing_key)
    return KeyPair(private, private.get_public_key())


def connection_config(config: HostConfig) -> ConnectionConfig:
    """One connection per peer (the 250 ms fix), room for a relay's members, and our
    dial/upgrade/negotiation timeouts."""
    limit = MAX_CONNECTIONS + (config.relay_limits.max_reservations if config.relay_hop
                               else 0)
    return ConnectionConfig(
        max_connections=limit,
        high_watermark=max(HIGH_WATERMARK, limit),
        max_connections_per_peer=1,
        dial_timeout=config.dial_timeout,
        outbound_upgrade_timeout=config.dial_timeout,
        inbound_upgrade_timeout=config.dial_timeout,
        outbound_stream_protocol_negotiation_timeout=config.stream_open_timeout,
        inbound_stream_protocol_negotiation_timeout=config.stream_open_timeout,
    )


def build_libp2p_host(identity: Identity, config: HostConfig) -> IHost:
    """A libp2p host for `identity`, not yet listening."""
    keys = key_pair(identity)
    noise = NoiseTransport(keys, noise_privkey=new_x25519_key_pair().private_key)
    host = new_host(
        key_pair=keys,
        sec_opt={TProtocol(NOISE): noise},
        muxer_opt={TProtocol(YAMUX): Yamux},
        connection_config=connection_config(config),
    )
    workarounds.release_inbound_slots(host)
    yamux_window.install()  # one WINDOW_UPDATE per half window, not per read
    activity.install()  # connections stamped when heard: keepalive pings only quiet ones
    peer_records.install()  # signed peer records checked once, mine built once per 5 s
    tcp_keepalive.install()  # the kernel finds dead TCP connections; keepalive pings rarely
    return host
