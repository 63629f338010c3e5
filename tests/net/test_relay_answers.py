"""What a reservation attempt reports, by what the relay answered (real hosts on loopback):
a refusal names the relay's status; a relay that breaks off the exchange is a failed dial to
retry soon, not a refusal (which is retried only after minutes)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from p2psocial.net import Channel, DialFailed, RelayLimits, ReservationRefused, open_host
from tests.net.helpers import config, identity, run

pytestmark = pytest.mark.timeout(60)
HOP = "/libp2p/circuit/relay/0.2.0/hop"


def test_a_relay_that_hangs_up_mid_reservation_is_not_a_refusal() -> None:
    async def hang_up(channel: Channel) -> None:
        await channel.receive_some()
        await channel.aclose()

    async def main() -> None:
        async with AsyncExitStack() as stack:
            rude = await stack.enter_async_context(open_host(identity("rude"), config()))
            rude.set_stream_handler(HOP, hang_up)
            bob = await stack.enter_async_context(open_host(identity("bob-r"), config()))
            with pytest.raises(DialFailed) as caught:
                await bob.reserve(rude.listen_addrs()[0])
            assert not isinstance(caught.value, ReservationRefused)

    run(main)


def test_a_full_relay_says_why() -> None:
    async def main() -> None:
        async with AsyncExitStack() as stack:
            relay = await stack.enter_async_context(open_host(identity("full"), config(
                relay_hop=True, relay_limits=RelayLimits(max_reservations=1))))
            first = await stack.enter_async_context(open_host(identity("first"), config()))
            late = await stack.enter_async_context(open_host(identity("late"), config()))
            await first.reserve(relay.listen_addrs()[0])
            with pytest.raises(ReservationRefused, match=r"RESERVATION_REFUSED|RESOURCE_LIMIT"):
                await late.reserve(relay.listen_addrs()[0])

    run(main)
