"""A bare p2psocial Host in a network namespace, for the NAT tests and bench (no store, no UI).

    python -m p2psocial.testing.natpeer relay --listen 10.20.0.10
    python -m p2psocial.testing.natpeer peer --relay <relay addr> [--target <handle>]

Rules:
- It prints one JSON object per line on stdout: {"ready": …} once it listens (and, for a peer,
  holds a reservation on the relay), then reports; it exits when stdin closes.
- A peer listens on 0.0.0.0:4001, connects to the relay, asks it for its reachability
  (autonat.py) and prints it, reserves a circuit, and runs hole punching (holepunch.py).
- With --target it dials that peer through the relay, prints the route then, upgrades the
  connection (hole punching), prints the route after with the seconds it took, then checks
  that the peer still answers on a new stream (ECHO) over whatever route remains.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import trio

from p2psocial.core.errors import NetError
from p2psocial.core.identity import Identity
from p2psocial.net.autonat import check_reachability, serve_dialback
from p2psocial.net.channel import Channel
from p2psocial.net.config import DhtMode, HostConfig
from p2psocial.net.holepunch import HolePuncher
from p2psocial.net.host import Host, open_host

PORT = 4001
ECHO = "/p2psocial-test/echo/1"


def emit(**fields: Any) -> None:
    """One report line."""
    print(json.dumps(fields), flush=True)


async def wait_stdin_closed() -> None:
    """Return when the parent closes our stdin (our signal to stop)."""
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
    while await stdin.receive_some(1024):
        pass


async def echo(channel: Channel) -> None:
    """Send back what arrives, then close."""
    while data := await channel.receive_some():
        await channel.send_all(data)


async def echoes(host: Host, peer: str) -> bool:
    """True if `peer` echoes a message on a new stream."""
    try:
        async with await host.open_stream(peer, ECHO) as channel:
            await channel.send_all(b"ping")
            await channel.send_eof()
            return await channel.receive_some() == b"ping"
    except NetError:
        return False


async def run_relay(listen: str) -> None:
    config = HostConfig(listen_addrs=(f"/ip4/{listen}/tcp/{PORT}",), relay_hop=True,
                        enable_gossip=False, dht_mode=DhtMode.OFF)
    async with open_host(Identity.generate(), config) as host:
        serve_dialback(host)
        emit(ready=True, addr=host.listen_addrs()[0], handle=host.handle)
        await wait_stdin_closed()


async def run_peer(relay: str, target: str | None, punch: bool) -> None:
    config = HostConfig(listen_addrs=(f"/ip4/0.0.0.0/tcp/{PORT}",),
                        enable_gossip=False, dht_mode=DhtMode.OFF)
    async with open_host(Identity.generate(), config) as host:
        host.set_stream_handler(ECHO, echo)
        await host.reserve(relay)
        relay_handle = relay.rsplit("/p2p/", 1)[1]
        reach = await check_reachability(host, relay_handle)
        emit(reachability=reach.kind.value, observed=reach.observed)
        async with HolePuncher(host).running() as puncher:
            emit(ready=True, handle=host.handle)
            if target is not None:
                await host.dial(f"{relay}/p2p-circuit/p2p/{target}")
                emit(route=puncher.route(target))
                if punch:
                    started = time.monotonic()
                    upgraded = await puncher.upgrade(target)
                    emit(upgraded=upgraded, route=puncher.route(target),
                         seconds=round(time.monotonic() - started, 3))
                emit(echo=await echoes(host, target), route=puncher.route(target))
            await wait_stdin_closed()


def main() -> None:
    parser = argparse.ArgumentParser(prog="natpeer")
    sub = parser.add_subparsers(dest="role", required=True)
    relay = sub.add_parser("relay")
    relay.add_argument("--listen", required=True)
    peer = sub.add_parser("peer")
    peer.add_argument("--relay", required=True)
    peer.add_argument("--target")
    peer.add_argument("--no-punch", action="store_true")
    args = parser.parse_args()
    if args.role == "relay":
        trio.run(run_relay, args.listen)
    else:
        trio.run(run_peer, args.relay, args.target, not args.no_punch)


if __name__ == "__main__":
    main()
