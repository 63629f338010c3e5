"""The Host as the runtime will run it: a service started through the asyncio↔trio bridge."""

from __future__ import annotations

import gc

import pytest

from p2psocial.net import Channel, Host
from p2psocial.runtime.bridge import TrioBridge
from tests.net.helpers import config, identity

pytestmark = pytest.mark.timeout(30)

ECHO = "/p2psocial-test/echo/1.0.0"


async def echo(channel: Channel) -> None:
    while data := await channel.receive_some():
        await channel.send_all(data)


async def exchange(client: Host, server: str) -> bytes:
    """Runs in trio: one echo round trip."""
    async with await client.open_stream(server, ECHO) as channel:
        await channel.send_all(b"through the bridge")
        return await channel.receive_some()


@pytest.mark.asyncio
async def test_hosts_start_with_start_service_and_stop_with_aclose_cleanly() -> None:
    async with TrioBridge() as bridge:
        server = Host(identity("bridge-a"), config())
        client = Host(identity("bridge-b"), config())
        server.set_stream_handler(ECHO, echo)  # before start: applied when it serves
        assert await bridge.start_service(server.serve) is server
        assert await bridge.start_service(client.serve) is client
        await bridge.run(client.dial, server.listen_addrs()[0])
        assert await bridge.run(exchange, client, server.handle) == b"through the bridge"
        # Close the hosts first (uncancelled), then stop the bridge.
        await bridge.run(client.aclose)
        await bridge.run(server.aclose)
        assert not server.running and not client.running
    gc.collect()  # a leaked socket would surface here as a ResourceWarning (an error)
