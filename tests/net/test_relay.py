"""Circuit relay v2 between real hosts on loopback: reservations, relayed dials, admission,
reservations freed on disconnect. (Isolation by network namespaces: tests/network.)"""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio

from p2psocial.net import (
    Channel,
    DialFailed,
    RelayLimits,
    ReservationRefused,
    Route,
    open_host,
)
from tests.net.helpers import config, identity, run, wait_until

pytestmark = pytest.mark.timeout(60)

RELAY = config(relay_hop=True, relay_limits=RelayLimits(max_reservations=8))
ECHO = "/p2psocial-test/echo/1"


async def echo(channel: Channel) -> None:
    data = await channel.receive_some()
    await channel.send_all(b"echo:" + data)


def test_a_peer_reached_only_through_a_relay() -> None:
    async def main() -> None:
        async with AsyncExitStack() as stack:
            relay = await stack.enter_async_context(open_host(identity("relay"), RELAY))
            bob = await stack.enter_async_context(open_host(identity("bob"), config()))
            alice = await stack.enter_async_context(open_host(identity("alice"), config()))
            bob.set_stream_handler(ECHO, echo)
            relay_addr = relay.listen_addrs()[0]

            expires = await bob.reserve(relay_addr)
            assert expires > trio.current_time() or expires > 0
            assert bob.handle in relay.relay_reservations()

            circuit = f"{relay_addr}/p2p-circuit/p2p/{bob.handle}"
            conn = await alice.dial(circuit)
            assert conn.peer == bob.handle and conn.route is Route.RELAYED
            channel = await alice.open_stream(bob.handle, ECHO)
            await channel.send_all(b"hi")
            assert await channel.receive_some() == b"echo:hi"
            await channel.aclose()

    run(main)


def test_a_relay_refuses_whom_its_admission_refuses_and_frees_reservations() -> None:
    async def main() -> None:
        async with AsyncExitStack() as stack:
            relay = await stack.enter_async_context(open_host(identity("relay2"), RELAY))
            bob = await stack.enter_async_context(open_host(identity("bob2"), config()))
            carol = await stack.enter_async_context(open_host(identity("carol2"), config()))
            alice = await stack.enter_async_context(open_host(identity("alice2"), config()))
            relay_addr = relay.listen_addrs()[0]
            relay.set_relay_admission(lambda peer: peer != carol.handle)

            with pytest.raises(ReservationRefused):
                await carol.reserve(relay_addr)
            await bob.reserve(relay_addr)
            assert set(relay.relay_reservations()) == {bob.handle}

            # carol has no reservation: nobody reaches her through the relay
            with pytest.raises(DialFailed):
                await alice.dial(f"{relay_addr}/p2p-circuit/p2p/{carol.handle}")

            # refused later: the refresh is refused and the reservation is gone
            relay.set_relay_admission(lambda peer: False)
            with pytest.raises(ReservationRefused):
                await bob.reserve(relay_addr)
            assert bob.handle not in relay.relay_reservations()

            # freed on disconnect
            relay.set_relay_admission(None)
            await bob.reserve(relay_addr)
            assert bob.handle in relay.relay_reservations()
            await bob.disconnect(relay.handle)
            await wait_until(lambda: bob.handle not in relay.relay_reservations(), timeout=5)

    run(main)


def test_an_ordinary_node_is_not_a_relay() -> None:
    async def main() -> None:
        async with AsyncExitStack() as stack:
            plain = await stack.enter_async_context(open_host(identity("plain"), config()))
            bob = await stack.enter_async_context(open_host(identity("bob3"), config()))
            with pytest.raises(ReservationRefused):
                await bob.reserve(plain.listen_addrs()[0])

    run(main)
