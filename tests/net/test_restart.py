"""A peer process killed and restarted on the same port is redialled at once (unblock fix)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from p2psocial.net import DialFailed, Host, PeerDisconnected, open_host
from p2psocial.net import workarounds as workarounds_module
from tests.net.helpers import config, free_port, identity, run
from tests.net.peer_process import ECHO

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class PeerProcess:
    """The peer_process script, started and killed by PID."""

    def __init__(self, name: str, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.net.peer_process", name, str(port)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"})

    async def ready(self) -> str:
        assert self.proc.stdout is not None
        with trio.fail_after(15):
            line = await trio.to_thread.run_sync(self.proc.stdout.readline)
        assert line.startswith("READY "), line
        return line.split()[1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


async def echo_once(host: Host, peer: str) -> None:
    async with await host.open_stream(peer, ECHO) as channel:
        await channel.send_all(b"are you there")
        assert await channel.receive_some() == b"are you there"


def test_reconnect_to_a_peer_process_killed_and_restarted_on_the_same_port() -> None:
    port = free_port()
    peer = identity("restarting-process").handle
    figures: dict[str, float] = {}

    async def main() -> None:
        first = PeerProcess("restarting-process", port)
        second: PeerProcess | None = None
        try:
            addr = await first.ready()
            async with open_host(identity("dialler"), config()) as host:
                events = host.events()
                await host.dial(addr)
                await echo_once(host, peer)

                first.kill()  # SIGKILL: no goodbye, the socket just dies
                with trio.fail_after(5):
                    while await events.receive() != PeerDisconnected(peer):
                        pass
                with pytest.raises(DialFailed):  # down: now in libp2p's negative dial cache
                    await host.dial(addr)

                second = PeerProcess("restarting-process", port)
                await second.ready()
                start = time.perf_counter()
                await host.dial(addr)
                figures["redial ms"] = (time.perf_counter() - start) * 1000
                await echo_once(host, peer)
        finally:
            first.kill()
            if second is not None:
                second.kill()

    run(main, timeout=45)
    print(f"\n[restart] peer process killed and restarted on port {port}: redial "
          f"{figures['redial ms']:.1f} ms")


def test_without_the_unblock_fix_the_restarted_peer_stays_blocked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Shows the workaround matters: libp2p alone refuses the peer for 60 s."""
    monkeypatch.setattr(workarounds_module, "unblock_peer", lambda host, peer: None)
    port = free_port()
    peer = identity("blocked").handle
    cfg = config(listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))
    target = f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}"

    async def main() -> None:
        async with open_host(identity("dialler"), config()) as host:
            with pytest.raises(DialFailed):
                await host.dial(target)  # nobody listens yet
            async with open_host(identity("blocked"), cfg):
                with pytest.raises(DialFailed, match="negative cache"):
                    await host.dial(target)

    run(main)
