"""`p2psocial notifications --follow` prints what others do that concerns me as it arrives by
replication (issue 12): two real node processes, the live notifications a third process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


class LiveNotifications:
    """`notifications --follow --json` running on a home; its lines collected as they come."""

    def __init__(self, node: NodeProcess) -> None:
        self.lines: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "p2psocial", "notifications", "--follow", "--json"],
            env=node.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def seen(self) -> list[tuple[str, str | None]]:
        return [(n["kind"], n["entry"].get("text")) for n in self.lines]

    def wait_for(self, item: tuple[str, str | None], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while item not in self.seen():
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"notifications --follow exited: {stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {item}; shown: {self.seen()}")
            time.sleep(0.1)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, stderr = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, stderr = self.proc.communicate()
        return stderr


def test_live_notifications_show_mentions_and_follows_once_each(tmp_path: Path) -> None:
    alice = NodeProcess.create(tmp_path / "alice", name="Alice")
    bob = NodeProcess.create(tmp_path / "bob", name="Bob")
    try:
        alice.cli("follow", "--unknown", bob.handle)  # so alice's node wants bob's feed
        bob.cli("follow", "--unknown", alice.handle)
        alice.start()
        bob.start(peers=alice.addrs())
        live = LiveNotifications(alice)
        try:
            live.wait_for(("follow", alice.handle))  # bob's follow, from before
            bob.cli("post", f"hello @{alice.handle}")
            live.wait_for(("mention", f"hello @{alice.handle}"))
            bob.cli("post", "nothing for alice")
            bob.cli("post", f"again @{alice.handle}")
            live.wait_for(("mention", f"again @{alice.handle}"))
            assert [k for k, _ in live.seen()] == ["follow", "mention", "mention"]
        finally:
            stderr = live.stop()
        assert "Traceback" not in stderr
    finally:
        bob.stop()
        alice.stop()
