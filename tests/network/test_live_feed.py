"""`p2psocial feed --follow` on a follower shows posts that arrive by replication, live
(issue 9, item 3): two real node processes, the live feed a third process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


class LiveFeed:
    """`feed --follow --json` running on a home; its output lines collected as they come."""

    def __init__(self, node: NodeProcess) -> None:
        self.lines: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "p2psocial", "feed", "--follow", "--json"], env=node.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def texts(self) -> list[str]:
        return [str(v.get("text")) for v in self.lines]

    def wait_for(self, text: str, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.texts():
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"feed --follow exited: {stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; shown: {self.texts()}")
            time.sleep(0.1)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, stderr = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, stderr = self.proc.communicate()
        return stderr


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    alice = NodeProcess.create(tmp_path / "alice", name="Alice")
    bob = NodeProcess.create(tmp_path / "bob", name="Bob")
    try:
        yield alice, bob
    finally:
        bob.stop()
        alice.stop()


def test_live_feed_shows_posts_that_arrive_by_replication(
        pair: tuple[NodeProcess, NodeProcess]) -> None:
    """Bob's live feed starts before he follows Alice (so before he holds any of her feed),
    as a user starts `feed --follow` and then follows people."""
    alice, bob = pair
    alice.cli("post", "alice, before bob followed")
    alice.start()
    bob.start()
    bob.cli("post", "bob, before the live feed")
    live = LiveFeed(bob)
    try:
        live.wait_for("bob, before the live feed", "the timeline printed first")
        bob.cli("post", "bob, live")
        live.wait_for("bob, live", "my own post, live")
        bob.cli("follow", "--unknown", alice.handle)
        bob.cli("connect", alice.addrs()[0])
        live.wait_for("alice, before bob followed", "alice's older post, replicated")
        alice.cli("post", "alice, replicated live")
        live.wait_for("alice, replicated live", "alice's new post in bob's live feed")
    finally:
        stderr = live.stop()
    assert "Traceback" not in stderr
