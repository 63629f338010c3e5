"""The demo network of `make run` (examples/demo_network.py), run as a newcomer would: real
node processes on loopback, the newcomer's home created on the way, and the peers stopped
when the newcomer leaves (issue 5, acceptance 4)."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.runtime.config import NodeConfig
from p2psocial.store.home import Home, is_locked
from p2psocial.testing.nodes import NodeProcess
from p2psocial.ui.launch import node_answers

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo_network.py"
PEERS = ("ana", "ben", "chioma")
SEEDED_POSTS = {"The tomatoes finally turned red 🍅 #gardening",
                "Shipped a tiny CLI today. Feedback welcome #coding",
                "Golden hour over the river. No filter. #photography",
                "Mint. It will outlive us all."}


def demo_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("P2PSOCIAL_")}


def assert_all_stopped(demo: Path, me: Path) -> None:
    for home in [*(demo / name for name in (*PEERS, "relay")), me]:
        assert not node_answers(home / "node.sock"), f"{home.name} still answers"
        assert not is_locked(Home(home)), f"{home.name} is still locked"


@pytest.fixture
def script() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Demo processes started by a test, interrupted at the end whatever happens."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_headless_demo_brings_up_a_living_network(
        tmp_path: Path, script: list[subprocess.Popen[bytes]]) -> None:
    me, demo = tmp_path / "me", tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, str(DEMO), "--home", str(me), "--demo-dir",
                             str(demo), "--no-ui", "--pace", "2"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=demo_env())
    script.append(proc)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().decode() for _ in range(4)]
    assert "ready\n" in lines, lines
    newcomer = NodeProcess(me)  # the node the demo runs on the newcomer's new home
    assert (me / "key.json").exists()
    newcomer.wait_for(lambda n: {e["text"] for e in n.json("feed")} >= SEEDED_POSTS,
                      timeout=30, what="the demo's posts on the newcomer's timeline")
    timeline = newcomer.json("feed")
    names = {e["name"] for e in timeline}
    assert {"Ana", "Ben", "Chioma"} <= names
    assert any(newcomer.handle in (e["text"] or "") for e in timeline)  # the welcome
    relay = (demo / "relay.port").read_text()
    assert {p["name"] for p in newcomer.json("peers")} >= {"Ana", "Ben", "Chioma"}
    # the local relay: every peer's relay, and the newcomer's too
    newcomer.wait_for(lambda n: [r["state"] for r in n.json("relays", "list")] == ["reserved"],
                      timeout=30, what="the newcomer's reservation on the demo relay")
    assert f"/tcp/{relay}/" in newcomer.json("relays", "list")[0]["addr"]
    # the peers answer a post of the newcomer's: a reaction and a reply
    mine = newcomer.json("post", "hello, demo people")["hash"]

    def answered(n: NodeProcess) -> bool:
        thread = n.json("thread", mine)
        return len(thread) >= 2 and bool(thread[0]["reactions"])
    newcomer.wait_for(answered, timeout=30, what="a reply and a reaction")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert_all_stopped(demo, me)


def test_make_run_opens_the_ui_on_a_followed_network_and_stops_the_peers_on_quit(
        tmp_path: Path, script: list[subprocess.Popen[bytes]]) -> None:
    me, demo = tmp_path / "me", tmp_path / "demo"
    newcomer = NodeProcess.create(me)  # (a home made by hand: its node stays on loopback)
    NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False).save(me / "config.json")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, str(DEMO), "--home", str(me), "--demo-dir",
                             str(demo)], stdin=slave, stdout=slave, stderr=slave,
                            env={**demo_env(), "TERM": "xterm-256color"},
                            start_new_session=True)
    script.append(proc)
    os.close(slave)
    screen = bytearray()
    reader = threading.Thread(target=_drain, args=(master, screen), daemon=True)
    reader.start()
    newcomer.wait_for(lambda n: node_answers(me / "node.sock"), timeout=60,
                      what="the UI's node")
    newcomer.wait_for(lambda n: {e["text"] for e in n.json("feed")} >= SEEDED_POSTS,
                      timeout=60, what="the demo's posts in the UI's node")
    assert {p["name"] for p in newcomer.json("peers")} >= {"Ana", "Ben", "Chioma"}
    deadline = time.monotonic() + 20
    while b"Chioma" not in screen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"Chioma" in screen  # the timeline on the terminal shows the peers' posts
    os.write(master, b"q")  # leave the UI from the home timeline
    assert proc.wait(timeout=30) == 0
    assert_all_stopped(demo, me)
    os.close(master)


def _drain(fd: int, into: bytearray) -> None:
    """Read the terminal's output (a full pty would block the UI)."""
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                into.extend(chunk)
        except OSError:
            return
