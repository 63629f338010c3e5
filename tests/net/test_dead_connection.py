"""A connection whose close was cut off half-way must not stay listed by the swarm.

What bench/relay_soak.py found: keepalive closed a dead connection to the relay; the orderly
close (a yamux GO_AWAY written under the muxer's write lock) was stuck behind a write that
never returned, `close_timeout` cut it off, and the abort below the muxer followed. libp2p's
SwarmConn.close() marks itself closed FIRST and removes itself from the swarm's table LAST, so
the cut-off close left a closed connection listed for good: `is_connected` stayed true, a dial
found the peer "connected" and did nothing, every stream failed with "No valid connections
available", and no PeerDisconnected came. Real hosts on loopback; the stuck write is stood in
for by a task that holds the muxer's write lock (what a write into a full TCP buffer does).
"""

from __future__ import annotations

import pytest
import trio
from libp2p.abc import IHost

from p2psocial.net import Channel, Host, PeerDisconnected, open_host
from p2psocial.net.addresses import peer_id
from tests.net.helpers import config, identity, run, wait_until

pytestmark = pytest.mark.timeout(60)

ECHO = "/p2psocial-test/echo/1.0.0"
CUT = {"close_timeout": 0.3, "ping_interval": 3600.0}


async def echo(channel: Channel) -> None:
    while data := await channel.receive_some():
        await channel.send_all(data)


def libp2p_of(host: Host) -> IHost:
    lp = host._rt.lp
    assert lp is not None
    return lp


async def hold_write_lock(host: Host, peer: str, release: trio.Event,
                          *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                          ) -> None:
    """Hold the muxer's write lock of `host`'s connection to `peer` until `release`: a write
    stuck on a dead connection."""
    [conn] = libp2p_of(host).get_network().get_connections(peer_id(peer))
    lock = conn.muxed_conn._write_lock  # type: ignore[attr-defined]
    async with lock:
        task_status.started()
        await release.wait()


async def round_trip(host: Host, peer: str) -> bytes:
    async with await host.open_stream(peer, ECHO) as channel:
        await channel.send_all(b"ping")
        return await channel.receive_some()


def test_a_close_cut_off_by_a_stuck_write_leaves_no_connection_listed() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config(**CUT)) as a, \
                open_host(identity("b"), config(**CUT)) as b:
            b.set_stream_handler(ECHO, echo)
            events = a.events()
            await a.dial(b.listen_addrs()[0])
            release = trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(hold_write_lock, a, b.handle, release)
                await a.disconnect(b.handle)  # what keepalive does: in order, then abort
                release.set()
            with trio.fail_after(5):
                while await events.receive() != PeerDisconnected(b.handle):
                    pass
            assert libp2p_of(a).get_network().get_connections(peer_id(b.handle)) == []
            assert not a.is_connected(b.handle)
            # The peer is redialled: a fresh connection, on which streams open.
            await a.dial(b.listen_addrs()[0])
            assert await round_trip(a, b.handle) == b"ping"

    run(main)


@pytest.mark.parametrize("redial", ["dial", "open_stream"])
def test_a_listed_connection_that_is_closed_is_dropped_and_redialled(redial: str) -> None:
    """The relay client dials, then opens its join stream; the replicator opens a stream."""

    async def main() -> None:
        async with open_host(identity("a"), config(**CUT)) as a, \
                open_host(identity("b"), config(**CUT)) as b:
            b.set_stream_handler(ECHO, echo)
            await a.dial(b.listen_addrs()[0])
            [conn] = libp2p_of(a).get_network().get_connections(peer_id(b.handle))
            release = trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(hold_write_lock, a, b.handle, release)
                with trio.move_on_after(0.3):  # libp2p's own close, cut off half-way
                    await conn.close()
                release.set()
            assert conn.is_closed
            # Whatever left it listed: the host does not count it, and a stream redials.
            assert not a.is_connected(b.handle)
            if redial == "dial":
                await a.dial(b.listen_addrs()[0])
                assert conn not in libp2p_of(a).get_network().get_connections(peer_id(b.handle))
            assert await round_trip(a, b.handle) == b"ping"
            await wait_until(lambda: a.is_connected(b.handle))

    run(main)


def test_a_connection_redialled_while_the_old_one_closes_is_kept() -> None:
    async def main() -> None:
        async with open_host(identity("a"), config(close_timeout=5.0, ping_interval=3600.0)) \
                as a, open_host(identity("b"), config(**CUT)) as b:
            b.set_stream_handler(ECHO, echo)
            await a.dial(b.listen_addrs()[0])
            pid = peer_id(b.handle)
            [old] = libp2p_of(a).get_network().get_connections(pid)
            release, closed = trio.Event(), trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(hold_write_lock, a, b.handle, release)

                async def close_old() -> None:
                    await a.disconnect(b.handle)
                    closed.set()

                nursery.start_soon(close_old)
                await wait_until(lambda: old.is_closed)  # its close is stuck behind the write
                await a.dial(b.listen_addrs()[0])       # the peer is redialled meanwhile
                [new] = libp2p_of(a).get_network().get_connections(pid)
                assert new is not old
                release.set()  # the stuck write ends: the old close completes
                with trio.fail_after(10):
                    await closed.wait()
            assert libp2p_of(a).get_network().get_connections(pid) == [new]
            assert a.is_connected(b.handle)
            assert await round_trip(a, b.handle) == b"ping"

    run(main)
