"""A relay's libp2p swarm has room for a connection per member it grants a reservation to.

py-libp2p 0.8.1's defaults (max_connections 300, 250 inbound slots, pruning above 300 down to
100) refused every connection past the 250th: a relay with 300 followers kept ~250 and the
rest failed to join, retrying forever (bench/relay.py --followers 300 --per-process 30).
"""

from __future__ import annotations

from p2psocial.core.identity import Identity
from p2psocial.net.build import build_libp2p_host
from p2psocial.net.config import HostConfig, RelayLimits
from p2psocial.net.workarounds import inbound_limiter


def test_a_relay_admits_a_connection_per_reservation_and_prunes_none_of_them() -> None:
    limits = RelayLimits(max_reservations=1024)
    host = build_libp2p_host(Identity.generate(), HostConfig(relay_hop=True,
                                                             relay_limits=limits))
    limiter = inbound_limiter(host)
    assert limiter is not None
    assert limiter.total_tokens >= 1024 + 100  # members, and room for others besides
    config = host.get_network().connection_config  # type: ignore[attr-defined]
    assert config.high_watermark >= 1024 + 100  # no pruning while members fit
    assert config.max_connections >= config.high_watermark


def test_a_plain_node_keeps_libp2p_limits() -> None:
    host = build_libp2p_host(Identity.generate(), HostConfig())
    config = host.get_network().connection_config  # type: ignore[attr-defined]
    assert config.max_connections == 300
