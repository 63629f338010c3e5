"""Connection churn: a node keeps accepting connections however many came and went before.

py-libp2p 0.8.1's swarm held an inbound slot (250 in all) for each connection until the whole
swarm stopped, so after ~250 inbound connections in its lifetime a node closed every new one
at once (issue 9, item 17). Real hosts on loopback; one client identity dials and hangs up
again and again, then a fresh peer must still be served.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio

from p2psocial.core.errors import NetError
from p2psocial.net import Channel, Host, open_host
from p2psocial.net.tasks import live_tasks
from p2psocial.net.workarounds import inbound_limiter
from tests.net.helpers import config, identity, run, wait_until

pytestmark = pytest.mark.timeout(120)

ECHO = "/p2psocial-test/echo/1.0.0"
CYCLES = 600
CLIENTS = 16


async def echo(channel: Channel) -> None:
    while data := await channel.receive_some():
        await channel.send_all(data)


async def churn(server: Host, clients: Sequence[Host], cycles: int) -> None:
    """Dial `server` and hang up, `cycles` times in all (see `churn_target`), each cycle until
    the server has let the connection go."""
    await churn_target(server.listen_addrs()[0], clients, cycles,
                       seen=lambda client: server.is_connected(client.handle),
                       gone=lambda client: not server.is_connected(client.handle))


async def churn_target(addr: str, clients: Sequence[Host], cycles: int,
                       seen: Callable[[Host], bool] | None = None,
                       gone: Callable[[Host], bool] | None = None) -> None:
    """Dial `addr` and hang up, `cycles` times in all; each client in turn, the clients side
    by side (so at most len(clients) connections are open at once). `seen(client)` says when
    the far side has the connection, `gone(client)` when it let it go (libp2p's close sleeps
    0.1 s on each side).
    """
    peer = addr.rsplit("/p2p/", 1)[1]

    async def one(client: Host, count: int) -> None:
        for _ in range(count):
            await client.dial(addr)
            if seen is not None:
                await wait_until(lambda: seen(client), timeout=10)
            await client.disconnect(peer)
            if gone is not None:
                await wait_until(lambda: gone(client), timeout=10)

    async with trio.open_nursery() as nursery:
        for index, client in enumerate(clients):
            nursery.start_soon(one, client, cycles // len(clients)
                               + (index < cycles % len(clients)))


@asynccontextmanager
async def open_clients(count: int) -> AsyncIterator[list[Host]]:
    """`count` running hosts with throwaway identities."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(open_host(identity(f"churner{n}"), config()))
               for n in range(count)]


async def echoes(server: Host, client: Host) -> bytes:
    await client.dial(server.listen_addrs()[0])
    channel = await client.open_stream(server.handle, ECHO)
    async with channel:
        await channel.send_all(b"still here")
        return await channel.receive_some()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_node_accepts_connections_after_many_came_and_went() -> None:
    """600 inbound connections opened and closed (a few at a time), then an honest peer is
    served; on the way, a soak check: the server's tasks, file descriptors, connection
    table, inbound slots and resource-manager budgets end where they started (nothing is
    kept per connection)."""

    async def main() -> None:
        async with open_host(identity("server"), config()) as server, \
                open_clients(CLIENTS) as churners:
            server.set_stream_handler(ECHO, echo)
            lp = server._rt.lp
            assert lp is not None
            limiter = inbound_limiter(lp)
            assert limiter is not None and limiter.total_tokens < CYCLES
            await churn(server, churners, 2 * CLIENTS)  # lazily made state exists now
            await wait_until(lambda: not limiter.borrowed_tokens, timeout=10)
            gc.collect()
            tasks_before, fds_before = live_tasks(), open_fds()
            start = time.perf_counter()
            await churn(server, churners, CYCLES)
            took = time.perf_counter() - start
            print(f"\n[churn] {CYCLES} inbound connections opened and closed in {took:.1f} s")
            await wait_until(lambda: not limiter.borrowed_tokens, timeout=10)
            gc.collect()
            await wait_until(lambda: live_tasks() <= tasks_before + 5, timeout=10)
            # the last churned connections may still be closing (seen under a loaded CI run,
            # where it was asserted at once): the end state is what counts, within a deadline
            await wait_until(lambda: not lp.get_network().connections, timeout=10)
            assert open_fds() <= fds_before + 5
            # libp2p's resource manager budgets come back as well
            manager = lp.get_network()._resource_manager  # type: ignore[attr-defined]
            await wait_until(lambda: (manager._current_connections,
                                      manager._current_streams) == (0, 0), timeout=10)
            async with open_host(identity("honest"), config()) as honest:
                assert await echoes(server, honest) == b"still here"

    run(main, timeout=110)


def test_concurrent_inbound_connections_are_still_bounded() -> None:
    """The limit is on connections open at once: the one over it is refused, and a slot
    comes back as soon as a connection closes."""

    async def main() -> None:
        async with open_host(identity("server"), config()) as server:
            server.set_stream_handler(ECHO, echo)
            limiter = inbound_limiter(server._rt.lp)  # type: ignore[arg-type]
            assert limiter is not None
            limiter.total_tokens = 2
            async with open_host(identity("one"), config()) as one, \
                    open_host(identity("two"), config()) as two, \
                    open_host(identity("three"), config()) as three:
                assert await echoes(server, one) == b"still here"
                assert await echoes(server, two) == b"still here"
                assert limiter.borrowed_tokens == 2
                with pytest.raises(NetError):  # the server closes it at once: refused
                    await echoes(server, three)
                await one.disconnect(server.handle)
                await wait_until(lambda: limiter.borrowed_tokens == 1, timeout=10)
                await three.disconnect(server.handle)
                assert await echoes(server, three) == b"still here"

    run(main)


