"""Host: start/stop, dialling, security, events, errors. Real hosts on loopback."""

from __future__ import annotations

import socket
import statistics
import time

import pytest
import trio

from p2psocial.net import (
    AddressError,
    Channel,
    DialFailed,
    Direction,
    Host,
    HostClosed,
    ListenFailed,
    PeerConnected,
    PeerDisconnected,
    PeerInfo,
    ProtocolNotSupported,
    Route,
    StreamClosed,
    open_host,
)
from p2psocial.net.build import NOISE, YAMUX
from tests.net.helpers import config, free_port, identity, run, wait_until

pytestmark = pytest.mark.timeout(60)

ECHO = "/p2psocial-test/echo/1.0.0"


async def echo(channel: Channel) -> None:
    while data := await channel.receive_some():
        await channel.send_all(data)


def test_two_hosts_connect_in_well_under_100_ms() -> None:
    """The 250 ms happy-eyeballs wait is gone (max_connections_per_peer=1)."""
    times: list[float] = []

    async def main() -> None:
        for round_ in range(3):
            async with open_host(identity(f"a{round_}"), config()) as a, \
                    open_host(identity(f"b{round_}"), config()) as b:
                start = time.perf_counter()
                connection = await b.dial(a.listen_addrs()[0])
                times.append(time.perf_counter() - start)
                assert connection.peer == a.handle
                assert connection.direction is Direction.OUTBOUND
                assert connection.route is Route.DIRECT

    run(main)
    print(f"\n[connect] dial+noise+yamux on loopback: {[round(t * 1000, 1) for t in times]} ms")
    assert statistics.median(times) < 0.1


def test_security_is_noise_and_muxer_is_yamux_only() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config()) as a, \
                open_host(identity("b"), config()) as b:
            connection = await b.dial(a.listen_addrs()[0])
            assert (connection.security, connection.muxer) == (NOISE, YAMUX)
            assert (NOISE, YAMUX) == ("/noise", "/yamux/1.0.0")
            [inbound] = a.connected_peers()
            assert (inbound.security, inbound.muxer) == (NOISE, YAMUX)
            # Nothing else is even offered: no /plaintext/2.0.0, secio, TLS or mplex.
            upgrader = b._rt.lp.get_network().upgrader  # type: ignore[union-attr]
            assert list(upgrader.security_multistream.transports) == [NOISE]
            assert list(upgrader.muxer_multistream.transports) == [YAMUX]

    run(main)


def test_identity_is_the_host_key_and_listen_addrs_name_it() -> None:
    async def main() -> None:
        alice = identity("alice")
        async with open_host(alice, config()) as a:
            assert a.handle == alice.handle
            addrs = a.listen_addrs()
            assert addrs and all(x.startswith("/ip4/127.0.0.1/tcp/") for x in addrs)
            assert all(x.endswith(f"/p2p/{alice.handle}") for x in addrs)

    run(main)


def test_a_taken_port_raises_listen_failed_and_wildcards_are_expanded() -> None:
    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(ListenFailed):
                async with open_host(identity("a"), config(
                        listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))):
                    pass
        async with open_host(identity("a"), config(listen_addrs=("/ip4/0.0.0.0/tcp/0",))) as a, \
                open_host(identity("b"), config()) as b:
            addrs = a.listen_addrs()
            assert addrs and not any("/0.0.0.0/" in x for x in addrs)
            assert any(x.startswith("/ip4/127.0.0.1/") for x in addrs)
            await b.dial(next(x for x in addrs if x.startswith("/ip4/127.0.0.1/")))

    run(main)


def test_events_connected_peers_and_disconnect() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config()) as a, \
                open_host(identity("b"), config()) as b:
            a_events, b_events = a.events(), b.events()
            await b.dial(a.listen_addrs()[0])
            with trio.fail_after(2):
                got_b = await b_events.receive()
                got_a = await a_events.receive()
            assert isinstance(got_b, PeerConnected) and got_b.peer == a.handle
            assert isinstance(got_a, PeerConnected) and got_a.peer == b.handle
            assert got_a.connection.direction is Direction.INBOUND
            [seen_by_a] = a.connected_peers()
            assert seen_by_a.peer == b.handle
            assert seen_by_a.remote_addr.startswith("/ip4/127.0.0.1/tcp/")
            assert b.is_connected(a.handle) and a.is_connected(b.handle)

            again = await b.dial(a.handle)  # already connected: no new connection
            assert again.peer == a.handle
            assert len(b.connected_peers()) == 1

            await b.disconnect(a.handle)
            with trio.fail_after(2):
                assert await b_events.receive() == PeerDisconnected(a.handle)
                assert await a_events.receive() == PeerDisconnected(b.handle)
            assert not b.is_connected(a.handle)
            # The auto-connector is off: nobody redials behind our back.
            await trio.sleep(0.5)
            assert not b.is_connected(a.handle)

    run(main)


def test_dial_to_a_closed_port_fails_fast_with_dial_failed() -> None:
    async def main() -> None:
        async with open_host(identity("b"), config()) as b:
            dead = f"/ip4/127.0.0.1/tcp/{free_port()}/p2p/{identity('ghost').handle}"
            start = time.perf_counter()
            with pytest.raises(DialFailed):
                await b.dial(dead)
            assert time.perf_counter() - start < 6

    run(main)


def test_dial_to_an_address_that_never_answers_times_out() -> None:
    """A silent listener (accepts TCP, never speaks): the dial ends at dial_timeout."""

    async def main() -> None:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        try:
            async with open_host(identity("b"), config(dial_timeout=1.5)) as b:
                start = time.perf_counter()
                with pytest.raises(DialFailed) as caught:
                    await b.dial(f"/ip4/127.0.0.1/tcp/{port}/p2p/{identity('mute').handle}")
                took = time.perf_counter() - start
                print(f"\n[dial] silent peer: {type(caught.value).__name__} after {took:.2f} s")
                assert took < 6
        finally:
            listener.close()

    run(main)


def test_bad_targets_raise_address_error() -> None:
    async def main() -> None:
        async with open_host(identity("b"), config()) as b:
            with pytest.raises(AddressError):
                await b.dial("not an address")
            with pytest.raises(AddressError):
                await b.dial(b.listen_addrs()[0])  # ourselves
            with pytest.raises(AddressError):
                await b.open_stream(identity("a").handle, "no-slash")
            with pytest.raises(DialFailed):  # a handle we know no address for
                await b.dial(identity("nobody").handle)

    run(main)


def test_a_relayed_address_whose_relay_is_unreachable_fails_cleanly() -> None:
    async def main() -> None:
        async with open_host(identity("b"), config()) as b:
            relay, peer = identity("relay").handle, identity("a").handle
            with pytest.raises(DialFailed, match=relay):
                await b.dial(f"/ip4/127.0.0.1/tcp/1/p2p/{relay}/p2p-circuit/p2p/{peer}")

    run(main)


def test_open_stream_dials_and_reports_unsupported_protocols() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config()) as a, \
                open_host(identity("b"), config()) as b:
            a.set_stream_handler(ECHO, echo)
            b_info = PeerInfo(a.handle, tuple(x.rsplit("/p2p/", 1)[0] for x in a.listen_addrs()))
            await b.dial(b_info)
            await b.disconnect(a.handle)
            # Not connected: open_stream dials with the addresses already known.
            async with await b.open_stream(a.handle, ECHO) as channel:
                assert channel.peer == a.handle and channel.protocol == ECHO
                await channel.send_all(b"ping")
                assert await channel.receive_some() == b"ping"
            with pytest.raises(ProtocolNotSupported):
                await b.open_stream(a.handle, "/p2psocial-test/nobody/1.0.0")
            a.remove_stream_handler(ECHO)
            with pytest.raises(ProtocolNotSupported):
                await b.open_stream(a.handle, ECHO)

    run(main)


def test_a_failing_handler_is_contained() -> None:
    async def main() -> None:
        async def broken(channel: Channel) -> None:
            await channel.receive_some()
            raise RuntimeError("handler bug")

        async with open_host(identity("a"), config()) as a, \
                open_host(identity("b"), config()) as b:
            a.set_stream_handler("/t/broken/1", broken)
            a.set_stream_handler(ECHO, echo)
            await b.dial(a.listen_addrs()[0])
            channel = await b.open_stream(a.handle, "/t/broken/1")
            await channel.send_all(b"x")
            assert await channel.receive_some() == b""  # the host closed the handler's channel
            await channel.aclose()
            with pytest.raises(StreamClosed):
                await channel.send_all(b"after close")
            async with await b.open_stream(a.handle, ECHO) as again:  # connection still fine
                await again.send_all(b"ok")
                assert await again.receive_some() == b"ok"

    run(main)


def test_host_lifecycle_errors() -> None:
    async def main() -> None:
        host = Host(identity("a"), config())
        with pytest.raises(HostClosed):
            host.listen_addrs()
        async with trio.open_nursery() as nursery:
            assert await nursery.start(host.serve) is host
            assert host.running
            await host.aclose()
            assert not host.running
        with pytest.raises(HostClosed):
            await host.dial(identity("b").handle)
        with pytest.raises(HostClosed):
            await host.serve()
        await host.aclose()  # idempotent

    run(main)


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.1])
def test_cancelling_serve_closes_libp2p_in_order_without_leaking_sockets(delay: float) -> None:
    """A plain cancel (what bridge.stop() does) must not leak (run() checks with a GC pass)."""

    async def main() -> None:
        cfg = config(enable_gossip=True)
        async with trio.open_nursery() as nursery:
            a = await nursery.start(Host(identity("a"), cfg).serve)
            b = await nursery.start(Host(identity("b"), cfg).serve)
            a.set_stream_handler(ECHO, echo)
            await b.dial(a.listen_addrs()[0])
            channel = await b.open_stream(a.handle, ECHO)
            await channel.send_all(b"x" * 100_000)
            await b.gossip.subscribe("/t")
            await trio.sleep(delay)
            nursery.cancel_scope.cancel()
        assert not a.running and not b.running

    run(main)


def test_a_restarted_peer_on_the_same_port_is_redialled_at_once() -> None:
    """The negative dial cache would block the peer for 60 s; dial() clears it first."""

    async def main() -> None:
        port = free_port()
        addr_cfg = config(listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))
        peer = identity("restarting")
        target = f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer.handle}"
        async with open_host(identity("b"), config()) as b:
            async with open_host(peer, addr_cfg):
                await b.dial(target)
            await wait_until(lambda: not b.is_connected(peer.handle))
            with pytest.raises(DialFailed):  # down: this failure puts it in the negative cache
                await b.dial(target)
            async with open_host(peer, addr_cfg):
                start = time.perf_counter()
                await b.dial(target)
                took = (time.perf_counter() - start) * 1000
                print(f"\n[reconnect] redial after restart: {took:.1f} ms")

    run(main)
