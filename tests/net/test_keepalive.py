"""Keepalive: a peer from which nothing arrives and that does not answer pings is disconnected
within seconds; a peer that answers keeps its connection; a connection that carries traffic
is not pinged at all. Real hosts on loopback; the silent peer's libp2p ping handler is
replaced (before the dial) by one that reads pings and never answers, and it pings nobody
itself: what a dead connection looks like from our side (nothing comes back, and nobody says
so)."""

from __future__ import annotations

import pytest
import trio
from libp2p.abc import INetStream
from libp2p.host.ping import ID as PING_PROTOCOL

from p2psocial.net import Host, PeerDisconnected, open_host, tcp_keepalive
from tests.net.helpers import config, identity, run, wait_until

pytestmark = pytest.mark.timeout(60)

# these loopback connections are direct: the direct interval is the one that applies
FAST = {"ping_interval": 0.2, "direct_ping_interval": 0.2, "ping_timeout": 0.8}
SILENT = {"ping_interval": 3600.0, "direct_ping_interval": 3600.0,
          "ping_timeout": 0.8}  # pings nobody (see go_silent)


async def swallow(stream: INetStream) -> None:
    """Read pings and never answer them."""
    while await stream.read(64):
        pass


def go_silent(host: Host) -> None:
    """Answer no ping. Open the host with SILENT so that it sends no pings of its own
    either: bytes from it would prove the connection alive."""
    lp = host._rt.lp  # the libp2p host: replace its built-in ping handler
    assert lp is not None
    lp.set_stream_handler(PING_PROTOCOL, swallow)


def test_a_peer_that_answers_pings_stays_connected() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config(**FAST)) as a, \
                open_host(identity("b"), config(**FAST)) as b:
            await b.dial(a.listen_addrs()[0])
            await trio.sleep(2.0)  # ten ping intervals
            assert a.is_connected(b.handle) and b.is_connected(a.handle)
            assert a._rt.keepalive is not None and b._rt.keepalive is not None
            assert a._rt.keepalive.closed == b._rt.keepalive.closed == 0
            assert a._rt.keepalive.watched() == {b.handle}

    run(main)


def test_a_peer_that_never_answers_is_disconnected_within_seconds() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config(**FAST)) as a, \
                open_host(identity("b"), config(**SILENT)) as b:
            events = a.events()
            go_silent(b)  # before the dial: the handler serves ping streams opened later
            await a.dial(b.listen_addrs()[0])
            assert a.is_connected(b.handle)
            with trio.fail_after(5):
                while (event := await events.receive()) != PeerDisconnected(b.handle):
                    pass
            assert not a.is_connected(b.handle)
            await wait_until(lambda: not b.is_connected(a.handle), timeout=5)
            assert a._rt.keepalive is not None and a._rt.keepalive.closed == 1
            assert a._rt.keepalive.watched() == set()
            assert event == PeerDisconnected(b.handle)

    run(main)


def test_a_silent_peer_does_not_hold_up_pings_to_another() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config(**FAST)) as a, \
                open_host(identity("b"), config(**SILENT)) as b, \
                open_host(identity("c"), config(**FAST)) as c:
            go_silent(b)
            await a.dial(b.listen_addrs()[0])
            await a.dial(c.listen_addrs()[0])
            await wait_until(lambda: not a.is_connected(b.handle), timeout=5)
            await trio.sleep(1.0)
            assert a.is_connected(c.handle)
            assert a._rt.keepalive is not None and a._rt.keepalive.closed == 1

    run(main)


def test_a_connection_that_carries_traffic_is_not_pinged() -> None:
    """Bytes from the peer prove the connection alive: while b keeps sending (here: its own
    pings, every 0.05 s), a sends no pings to b; a quiet b gets pinged again."""
    async def main() -> None:
        async with open_host(identity("a"), config(**FAST)) as a, \
                open_host(identity("b"), config(ping_interval=0.05, direct_ping_interval=0.05,
                                                ping_timeout=0.8)) as b:
            await a.dial(b.listen_addrs()[0])
            assert a._rt.keepalive is not None and b._rt.keepalive is not None
            await trio.sleep(2.0)  # ten of a's intervals
            assert b._rt.keepalive.pings >= 10  # b talked all along...
            assert a._rt.keepalive.pings == 0   # ...so a never needed to ask
            assert a.is_connected(b.handle)
            b._rt.keepalive.direct_interval = 3600.0  # b goes quiet (next ping in an hour)
            await wait_until(lambda: a._rt.keepalive is not None
                             and a._rt.keepalive.pings >= 2, timeout=5)
            assert a.is_connected(b.handle)     # b answers: still connected

    run(main)


def test_a_direct_connection_is_pinged_at_the_direct_interval_and_has_kernel_keepalive(
        ) -> None:
    """A quiet direct TCP connection is left to the kernel's keepalive probes (which wake no
    process): no ping within the relayed interval; every socket has the probes set."""
    async def main() -> None:
        quiet = {"ping_interval": 0.1, "direct_ping_interval": 3600.0, "ping_timeout": 0.8}
        async with open_host(identity("a"), config(**quiet)) as a, \
                open_host(identity("b"), config(**quiet)) as b:
            await a.dial(b.listen_addrs()[0])
            await trio.sleep(1.5)  # fifteen relayed intervals
            assert a._rt.keepalive is not None and b._rt.keepalive is not None
            assert a._rt.keepalive.pings == b._rt.keepalive.pings == 0
            assert a.is_connected(b.handle)
            for host in (a, b):
                lp = host._rt.lp
                assert lp is not None
                conns = [c for cs in lp.get_network().connections.values() for c in cs]
                assert conns
                for conn in conns:
                    sock = conn.muxed_conn.secured_conn.conn.read_writer \
                        .read_write_closer.stream.stream.socket
                    for level, option, value in tcp_keepalive.options():
                        assert sock.getsockopt(level, option) == value, option

    run(main)
