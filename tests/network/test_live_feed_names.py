"""`feed --follow` names the author of a post that arrives live, as the timeline printed
first does (issue 9 walk-through: live posts showed a bare `12D3KooW…km95kb` where the same
author's older posts read `Ana (12D3KooW…km95kb)`; entry events carry no name). A name
given while the live feed runs is used from then on."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.testing.nodes import NodeProcess

from .test_live_feed import LiveFeed

pytestmark = pytest.mark.slow


def line_for(live: LiveFeed, text: str) -> dict[str, object]:
    return next(v for v in live.lines if v.get("text") == text)


def test_live_posts_carry_their_authors_name(tmp_path: Path) -> None:
    alice = NodeProcess.create(tmp_path / "alice", name="Alice")
    bob = NodeProcess.create(tmp_path / "bob", name="Bob")
    try:
        alice.start()
        bob.start()
        bob.cli("follow", "--unknown", alice.handle)
        bob.cli("connect", alice.addrs()[0])
        alice.cli("post", "alice, before the live feed")
        live = LiveFeed(bob)
        try:
            live.wait_for("alice, before the live feed", "the timeline printed first")
            assert line_for(live, "alice, before the live feed")["name"] == "Alice"
            alice.cli("post", "alice, live")
            live.wait_for("alice, live", "alice's post, live")
            assert line_for(live, "alice, live")["name"] == "Alice"
            bob.cli("post", "bob, live")
            live.wait_for("bob, live", "my own post, live")
            assert line_for(live, "bob, live")["name"] == "Bob"
            alice.cli("about", "--name", "Alicia")
            alice.cli("post", "alicia, live")
            live.wait_for("alicia, live", "alice's post after her rename")
            assert line_for(live, "alicia, live")["name"] == "Alicia"
        finally:
            stderr = live.stop()
        assert "Traceback" not in stderr
    finally:
        bob.stop()
        alice.stop()


def test_the_live_feed_says_so_when_the_node_stops(tmp_path: Path) -> None:
    """It ended with status 0 and no word when the node it listened to stopped (the demo
    quit), so it looked like a quiet feed that had simply finished."""
    alice = NodeProcess.create(tmp_path / "alice", name="Alice")
    try:
        alice.start()
        alice.cli("post", "alice, before the live feed")
        live = LiveFeed(alice)
        live.wait_for("alice, before the live feed", "the timeline printed first")
    finally:
        alice.stop()
    assert live.proc.wait(timeout=30) != 0
    stderr = live.stop()
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("p2psocial: ") and "stopped" in lines[0], \
        stderr
