"""A bare p2psocial Host in a network namespace, for the NAT tests and bench (no store, no UI).

    python -m p2psocial.testing.natpeer relay --listen 10.20.0.10
    python -m p2psocial.testing.natpeer peer --relay <relay addr> [--target <handle>]

    relay = NatPeerProcess(net, "relay", log_path, "relay", "--listen", ip)   # from a test
    addr = relay.until(lambda r: "addr" in r)["addr"]

Rules:
- It prints one JSON object per line on stdout: {"ready": …} once it listens (and, for a peer,
  holds a reservation on the relay), then reports; it exits when stdin closes.
- A peer listens on 0.0.0.0:4001 (or --port), connects to the relay, asks it for its reachability
  (autonat.py) and prints it, reserves a circuit, and runs hole punching (holepunch.py).
- With --target it dials that peer through the relay, prints the route then, upgrades the
  connection (hole punching), prints the route after with the seconds it took, then checks
  that the peer still answers on a new stream (ECHO) over whatever route remains.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from p2psocial.core.errors import NetError
from p2psocial.core.identity import Identity
from p2psocial.net.autonat import check_reachability, serve_dialback
from p2psocial.net.channel import Channel
from p2psocial.net.config import DhtMode, HostConfig
from p2psocial.net.holepunch import HolePuncher
from p2psocial.net.host import Host, open_host
from p2psocial.testing.nat import NatInternet

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


async def run_peer(relay: str, target: str | None, punch: bool, port: int) -> None:
    config = HostConfig(listen_addrs=(f"/ip4/0.0.0.0/tcp/{port}",),
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
                         remote=puncher.direct_addr(target),
                         seconds=round(time.monotonic() - started, 3))
                emit(echo=await echoes(host, target), route=puncher.route(target))
            await wait_stdin_closed()


Report = dict[str, Any]


class NoReport(RuntimeError):
    """The process ended, or the deadline passed, before the report awaited."""


class NatPeerProcess:
    """This program run in a namespace of a NatInternet; its report lines, read as they come.
    Its stderr goes to `log`; `stop()` closes its stdin (it exits) and waits."""

    def __init__(self, net: NatInternet, name: str, log: Path, *args: str) -> None:
        self.name = name
        self._log = log
        self._err = log.open("w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", net.ns(name), sys.executable, "-m",
             "p2psocial.testing.natpeer", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.reports: list[Report] = []

    def until(self, done: Callable[[Report], bool], *, timeout: float = 60) -> Report:
        """Read reports until one satisfies `done` and return it. NoReport (with the end of
        the process's log) on end of output; the deadline is checked between lines."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            report: Report = json.loads(line)
            self.reports.append(report)
            if done(report):
                return report
        raise NoReport(f"{self.name}: no such report in {self.reports}; its log ends:\n"
                       f"{self._log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Close stdin (the process exits), wait up to 15 s, else kill; close our pipes."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self._err.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="natpeer")
    sub = parser.add_subparsers(dest="role", required=True)
    relay = sub.add_parser("relay")
    relay.add_argument("--listen", required=True)
    peer = sub.add_parser("peer")
    peer.add_argument("--relay", required=True)
    peer.add_argument("--target")
    peer.add_argument("--no-punch", action="store_true")
    peer.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    if args.role == "relay":
        trio.run(run_relay, args.listen)
    else:
        trio.run(run_peer, args.relay, args.target, not args.no_punch, args.port)


if __name__ == "__main__":
    main()
