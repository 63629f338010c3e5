"""`status --json` reports the node's live task counts (trio and asyncio), so that a soak run
(bench/relay_soak.py) can see whether a long-running node keeps tasks it no longer needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


def tasks(node: NodeProcess) -> tuple[int, int]:
    status = node.json("status")
    return status["trio_tasks"], status["asyncio_tasks"]


def test_status_counts_tasks_and_a_connected_peer_adds_some(tmp_path: Path) -> None:
    with NodeProcess.create(tmp_path / "alice", name="Alice") as alice, \
            NodeProcess.create(tmp_path / "bob", name="Bob") as bob:
        alice.start(extra=("--no-dht",))
        alone, asyncio_tasks = tasks(alice)
        assert alone > 10 and asyncio_tasks > 1  # the host's services, the node's loops
        bob.start(peers=[alice.addrs()[0]], extra=("--no-dht",))
        alice.wait_for(lambda n: n.json("status")["peers"] == 1, what="bob connected")
        connected = alice.wait_for(lambda n: (t := tasks(n)[0]) > alone and t, timeout=20,
                                   what=f"more than {alone} trio tasks with bob connected")
        bob.stop()
        alice.wait_for(lambda n: tasks(n)[0] < connected, timeout=30,
                       what=f"fewer than {connected} trio tasks once bob left")
