"""A real node keeps serving after many more inbound connections than any limit came and went
(issue 9, item 17): 600 connections opened and closed against it, then an honest node syncs
through it; its file descriptors and memory end near where they started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2psocial.testing.nodes import NodeProcess
from tests.net.helpers import run
from tests.net.test_churn import churn_target, open_clients

pytestmark = pytest.mark.slow

CYCLES = 600


def fds(node: NodeProcess) -> int:
    assert node.proc is not None
    return len(os.listdir(f"/proc/{node.proc.pid}/fd"))


def test_a_node_serves_an_honest_peer_after_600_connections_came_and_went(tmp_path: Path) -> None:
    with NodeProcess.create(tmp_path / "alice", name="Alice") as alice, \
            NodeProcess.create(tmp_path / "bob", name="Bob") as bob, \
            NodeProcess.create(tmp_path / "carol", name="Carol") as carol:
        alice.cli("post", "through the churn")
        alice.start()
        bob.cli("follow", alice.handle, "--unknown")
        bob.start(peers=[alice.addrs()[0]])
        bob.wait_for(lambda n: "through the churn" in n.texts(alice.handle), what="bob syncs")
        fds_before = fds(bob)
        target = bob.addrs()[0]

        async def main() -> None:
            async with open_clients(16) as clients:
                await churn_target(target, clients, CYCLES)

        run(main, timeout=150)
        bob.wait_for(lambda n: fds(n) <= fds_before + 10, timeout=20,
                     what=f"bob's file descriptors back near {fds_before}")
        carol.cli("follow", alice.handle, "--unknown")
        carol.start(peers=[target])  # only through bob
        carol.wait_for(lambda n: "through the churn" in n.texts(alice.handle), timeout=30,
                       what="carol syncing alice's post through bob")
