"""A peer in its own process for restart tests: `python -m tests.net.peer_process NAME PORT`.

Serves the echo protocol on 127.0.0.1:PORT with the fixed identity NAME, prints
`READY <full address>` once listening, and runs until killed or until stdin closes.
"""

from __future__ import annotations

import sys

import trio

from p2psocial.net import Channel, open_host
from tests.net.helpers import config, identity

ECHO = "/p2psocial-test/echo/1.0.0"


async def echo(channel: Channel) -> None:
    while data := await channel.receive_some():
        await channel.send_all(data)


async def main(name: str, port: int) -> None:
    cfg = config(listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))
    async with open_host(identity(name), cfg) as host:
        host.set_stream_handler(ECHO, echo)
        print("READY", host.listen_addrs()[0], flush=True)
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]))
