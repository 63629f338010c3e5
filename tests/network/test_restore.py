"""Restoring an identity over the network, with real nodes in separate processes: a restored
backup and a lost database both learn the newest head any peer offers before writing (the
spec's R1–R4), so neither forks its own feed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow

Make = Callable[..., NodeProcess]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Make]:
    """Make named nodes; `empty=True` for a home with no identity yet (to import into)."""
    made: list[NodeProcess] = []

    def make(name: str, *, empty: bool = False) -> NodeProcess:
        home = tmp_path / name.lower()
        node = NodeProcess(home) if empty else NodeProcess.create(home, name=name)
        made.append(node)
        return node

    yield make
    for node in made:
        node.stop()


def seqs(node: NodeProcess, handle: str | None = None) -> list[int]:
    args = ["log", "--limit", "100"] + ([handle] if handle else [])
    return [e["seq"] for e in node.json(*args)["entries"]]


def holds(count: int, handle: str | None = None) -> Callable[[NodeProcess], bool]:
    return lambda node: len(seqs(node, handle)) == count


def caught_up_with(handle: str) -> Callable[[NodeProcess], bool]:
    return lambda node: any(p["handle"] == handle and p["caught_up"]
                            for p in node.json("peers"))


def posts(text: str) -> Callable[[NodeProcess], Any]:
    """Try to post `text`; the entry's view once the node allows it."""
    def attempt(node: NodeProcess) -> Any:
        result = node.cli("post", text, "--json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None
    return attempt


def follow(node: NodeProcess, handle: str) -> None:
    """Follow a feed this home has not seen yet (newer releases ask for --unknown)."""
    result = node.cli("follow", handle, check=False)
    if result.returncode != 0 and "--unknown" in result.stderr:
        node.cli("follow", handle, "--unknown")
    else:
        assert result.returncode == 0, result.stderr


def set_window(node: NodeProcess, seconds: float) -> None:
    (node.home / "config.json").write_text(json.dumps({"restore_window": seconds}))


def test_a_restored_node_is_not_fooled_by_a_stale_peer(nodes: Make, tmp_path: Path) -> None:
    author, stale, fresh = nodes("Author"), nodes("Stale"), nodes("Fresh")
    handle = author.handle
    for i in range(2):
        author.cli("post", f"old {i}")
    archive = tmp_path / "backup.p2ps"
    author.cli("export", str(archive))  # the backup: about + 2 posts
    follow(stale, handle)
    follow(fresh, handle)
    author.start()
    stale.start(peers=[author.addrs()[0]])
    stale.wait_for(holds(3, handle), what="the stale copy")
    stale.stop()
    for i in range(3):
        author.cli("post", f"new {i}")
    fresh.start(peers=[author.addrs()[0]])
    fresh.wait_for(holds(6, handle), what="the fresh copy")
    author.stop()  # the author's disk is gone; the backup is all that is left

    restored = nodes("Restored", empty=True)
    restored.cli("import", str(archive))
    set_window(restored, 15.0)
    stale_handle = stale.handle
    stale.start()
    restored.start(peers=[stale.addrs()[0]], extra=["--no-dht"])
    restored.wait_for(caught_up_with(stale_handle), what="the stale peer caught up")
    early = restored.cli("post", "too early", check=False)
    assert early.returncode != 0 and "restored from a backup" in early.stderr
    restored.cli("connect", fresh.addrs()[0])  # a newer head arrives within the window
    restored.wait_for(holds(6), what="learning the newest head")
    view = restored.wait_for(posts("back again"), timeout=40, what="posting allowed")
    assert view["seq"] == 7  # not 4: that would fork the feed
    assert seqs(restored) == list(range(7, 0, -1))
    fresh.wait_for(holds(7, handle), what="the follower taking the new post")
    assert not fresh.json("log", handle)["feed"].get("forked")


def test_a_home_that_lost_its_database_learns_its_feed_before_posting(
        nodes: Make) -> None:
    me, follower = nodes("Me"), nodes("Follower")
    handle = me.handle
    for i in range(2):
        me.cli("post", f"before the loss {i}")
    follow(follower, handle)
    me.start()
    follower.start(peers=[me.addrs()[0]])
    follower.wait_for(holds(3, handle), what="the follower's copy")
    me.stop()
    for name in ("p2psocial.db", "p2psocial.db-wal", "p2psocial.db-shm"):
        (me.home / name).unlink(missing_ok=True)

    refused = me.cli("post", "would fork", check=False)
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert refused.returncode != 0 and len(lines) == 1, refused.stderr
    assert "holds none of your entries" in lines[0] and "p2psocial run" in lines[0]

    set_window(me, 1.0)
    me.start(peers=[follower.addrs()[0]], extra=["--no-dht"])
    me.wait_for(holds(3), what="learning my feed back")
    view = me.wait_for(posts("after the loss"), timeout=30, what="posting allowed")
    assert view["seq"] == 4
    follower.wait_for(holds(4, handle), what="the follower taking the new post")
    assert not follower.json("log", handle)["feed"].get("forked")
