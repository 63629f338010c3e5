"""Real nodes in separate OS processes on loopback, each with its own home."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, make_feed, raw_entries
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


Make = Callable[[str], NodeProcess]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Make]:
    """Make named nodes (each its own home and, once started, its own process)."""
    made: list[NodeProcess] = []

    def make(name: str) -> NodeProcess:
        node = NodeProcess.create(tmp_path / name.lower(), name=name)
        made.append(node)
        return node

    yield make
    for node in made:
        node.stop()


def shows(text: str, handle: str | None = None) -> Callable[[NodeProcess], bool]:
    return lambda node: text in node.texts(handle)


def test_follower_shows_a_post_live_and_on_its_timeline(nodes: Make) -> None:
    alice, bob = nodes("Alice"), nodes("Bob")
    alice.cli("post", "before bob came")
    alice.start()
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    bob.wait_for(shows("before bob came", alice.handle), what="alice's old post")
    alice.cli("post", "live to bob")
    bob.wait_for(shows("live to bob", alice.handle), timeout=10, what="alice's live post")
    timeline = [e["text"] for e in bob.json("feed")]
    assert timeline[:2] == ["live to bob", "before bob came"]
    peers = bob.json("peers")
    assert peers[0]["handle"] == alice.handle and peers[0]["kind"] == "direct"
    assert peers[0]["name"] == "Alice"


def test_hop_two_and_follow_without_an_address(nodes: Make) -> None:
    alice, bob, carol = nodes("Alice"), nodes("Bob"), nodes("Carol")
    alice.cli("post", "alice at hop two")
    alice.start()
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    bob.wait_for(shows("alice at hop two", alice.handle), what="bob syncing alice")
    carol.cli("follow", bob.handle, "--unknown")  # carol never names alice, nor alice's address
    carol.start(peers=[bob.addrs()[0]])
    carol.wait_for(shows("alice at hop two", alice.handle), what="alice at hop 2")
    status = {f["author"]: f for f in carol.json("status")["feeds"]}
    assert status[alice.handle]["hop"] == 2 and status[bob.handle]["hop"] == 1


def test_a_restarted_node_catches_up_and_reconnects(nodes: Make) -> None:
    alice, bob = nodes("Alice"), nodes("Bob")
    alice.start(listen="/ip4/127.0.0.1/tcp/0")
    port_addr = alice.addrs()[0]
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[port_addr])
    alice.cli("post", "one")
    bob.wait_for(shows("one", alice.handle), what="first post")
    bob.stop()
    for i in range(5):
        alice.cli("post", f"while bob was away {i}")
    bob.start(peers=[port_addr])
    bob.wait_for(shows("while bob was away 4", alice.handle), what="catching up")
    alice.kill()  # a crash, not a clean stop
    listen = port_addr.rsplit("/p2p/", 1)[0]
    alice.start(listen=listen)
    alice.cli("post", "after the crash")
    bob.wait_for(shows("after the crash", alice.handle), timeout=30, what="reconnect")
    state = bob.json("log", alice.handle)["feed"]
    assert (state["lo"], state["hi"]) == (1, 8)  # about + 7 posts, no gap, no duplicate
    assert "all valid" in bob.cli("verify").stdout


def test_newest_first_to_depth_then_only_what_is_new(nodes: Make) -> None:
    alice, bob = nodes("Alice"), nodes("Bob")
    alice.start()  # posting through a running node: no key unlock per post
    for i in range(40):
        alice.cli("post", f"bulk {i}")
    (bob.home / "config.json").write_text(json.dumps({"depths": [0, 15, 5]}))
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    bob.wait_for(lambda n: n.json("log", alice.handle)["feed"]["lo"] == 27, what="backfill")
    feed = bob.json("log", alice.handle)["feed"]
    assert (feed["lo"], feed["hi"]) == (27, 41)  # about + 40 posts: the newest 15 only
    received = bob.json("peers")[0]["entries_in"]
    assert received == 15
    alice.cli("post", "one more")
    bob.wait_for(shows("one more", alice.handle), what="the new post")
    assert bob.json("peers")[0]["entries_in"] == received + 1


@pytest.mark.parametrize(("mode", "expect"), [
    ("forged-signature", "error:invalid-entry"),
    ("wrong-author", "error:wrong-author"),
    ("garbage", "error:"),
    ("oversized", "error:frame-too-large"),
    ("unsolicited", ""),
])
def test_a_hostile_peer_cannot_make_a_node_store_bad_entries(
        nodes: Make, mode: str, expect: str) -> None:
    alice, bob, carol = nodes("Alice"), nodes("Bob"), nodes("Carol")
    alice.cli("post", "honest post")
    alice.start()
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    bob.wait_for(shows("honest post", alice.handle), what="honest sync")
    report = hostile(bob.addrs()[0], mode)
    assert report["answer"].startswith(expect), report
    assert "all valid" in bob.cli("verify").stdout
    held = {f["author"] for f in bob.json("feeds")}
    assert len(held) == 2  # bob and alice: nothing of the liar's, no spam feed
    # bob keeps serving everyone else: carol syncs alice through bob, alice still reaches bob
    carol.cli("follow", alice.handle, "--unknown")
    carol.start(peers=[bob.addrs()[0]])
    carol.wait_for(shows("honest post", alice.handle), what="carol served by bob")
    alice.cli("post", "still flowing")
    bob.wait_for(shows("still flowing", alice.handle), what="alice still reaching bob")


def test_a_forking_author_is_caught_and_frozen(nodes: Make) -> None:
    mallory, bob = nodes("Mallory"), nodes("Bob")
    mallory.cli("post", "my one true history")
    seed = base64.b64decode(json.loads((mallory.home / "key.json").read_text())["seed"])
    mallory.start()
    bob.cli("follow", mallory.handle, "--unknown")
    bob.start(peers=[mallory.addrs()[0]])
    bob.wait_for(shows("my one true history", mallory.handle), what="sync")
    report = hostile(bob.addrs()[0], "fork", seed)
    assert report["answer"] == "error:fork", report
    feed = bob.json("log", mallory.handle)["feed"]
    assert feed["forked"]
    result = bob.cli("verify", check=False)
    assert result.returncode == 1 and "FORKED (1 proof kept)" in result.stdout


def hostile(target: str, mode: str, seed: bytes | None = None) -> dict[str, str]:
    args = [sys.executable, "-m", "p2psocial.testing.hostile", "--target", target,
            "--mode", mode]
    if seed is not None:
        args += ["--author-seed", seed.hex()]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_a_sync_cut_off_midway_resumes_with_no_gap_and_no_duplicate(
        nodes: Make, tmp_path: Path) -> None:
    author = identity_for("prolific")
    feed = make_feed(author, 40000)

    async def fill(path: Path) -> None:
        store = await Store.open(path)
        for i in range(0, len(feed), 1000):
            await store.ingest(raw_entries(feed[i:i + 1000]))
        await store.close()

    alice, bob = nodes("Alice"), nodes("Bob")
    asyncio.run(fill(alice.home / "p2psocial.db"))  # alice relays a big feed she follows
    alice.cli("follow", author.handle, "--unknown")
    alice.start()
    (bob.home / "config.json").write_text(json.dumps({"depths": [0, 0, 0]}))
    bob.cli("follow", author.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    # watch bob's database directly (a CLI round trip is slower than the whole sync)
    db = bob.home / "p2psocial.db"
    bob.wait_for(lambda n: db.exists() and _count(db, author.public_key) > 0,
                 what="first batch")
    alice.kill()  # mid-sync
    partial = bob.json("log", author.handle)["feed"]
    assert partial["lo"] > 1, "the test needs the sync to be cut off before it finished"
    alice.start()
    bob.cli("connect", alice.addrs()[0])
    bob.wait_for(lambda n: n.json("log", author.handle)["feed"]["lo"] == 1, timeout=60,
                 what="the rest of the feed")
    state = bob.json("log", author.handle)["feed"]
    assert (state["lo"], state["hi"]) == (1, 40000)
    assert "all valid" in bob.cli("verify", author.handle).stdout
    # a peer killed mid-frame crashed; it did not misbehave, so it is not refused
    assert "refusing" not in bob.log() and "broke the protocol" not in bob.log()


def test_peers_on_the_lan_find_each_other_by_mdns(nodes: Make) -> None:
    alice, bob = nodes("Alice"), nodes("Bob")
    alice.cli("post", "found on the lan")
    alice.start(listen="/ip4/0.0.0.0/tcp/0", mdns=True)
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(listen="/ip4/0.0.0.0/tcp/0", mdns=True)  # no peer given
    bob.wait_for(shows("found on the lan", alice.handle), timeout=30, what="mDNS discovery")
    # Alice may have found Bob first and dialled him: Bob calls her connection "lan" once his
    # own mDNS browser has seen her too (a second or so later)
    bob.wait_for(lambda n: [p["kind"] for p in n.json("peers")
                            if p["handle"] == alice.handle] == ["lan"],
                 timeout=15, what="alice shown as a LAN peer")


def test_follow_finds_the_author_through_the_dht(nodes: Make) -> None:
    alice, hub, bob = nodes("Alice"), nodes("Hub"), nodes("Bob")
    alice.cli("post", "found through the dht")
    hub.start()
    alice.start(peers=[hub.addrs()[0]])  # alice and bob only share the hub,
    bob.start(peers=[hub.addrs()[0]])    # which does not hold alice's feed
    hub.wait_for(lambda n: len(n.json("peers")) == 2, what="both connected to the hub")
    bob.cli("follow", alice.handle, "--unknown")
    bob.wait_for(shows("found through the dht", alice.handle), timeout=45, what="dht lookup")
    assert alice.handle in {p["handle"] for p in bob.json("peers")}


def _count(db: Path, author: bytes) -> int:
    """Entries of `author` in a node's database (read-only; WAL lets the node keep writing)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM entries WHERE author = ?", (author,)).fetchone()
    return int(row[0])


def test_a_killed_node_leaves_no_verification_processes_behind(nodes: Make) -> None:
    alice = nodes("Alice")
    alice.start()
    assert alice.proc is not None
    node_pid = alice.proc.pid

    def workers() -> list[int]:
        """Processes whose environment names alice's home (the forkserver and its workers)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == node_pid:
                continue
            try:
                environ = (proc / "environ").read_bytes()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"forkserver" in cmdline and str(alice.home).encode() in environ:
                found.append(int(proc.name))
        return found

    alice.wait_for(lambda n: len(workers()) >= 2, timeout=30,
                   what="the verification processes the node starts once online")
    alice.kill()  # SIGKILL: the node cannot stop its pool
    alice.wait_for(lambda n: not workers(), timeout=10, what="the orphaned workers leaving")
