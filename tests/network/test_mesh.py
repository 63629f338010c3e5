"""News travels through the mesh (issue 10, item 3): the author A and the reader C never meet.

Four node processes in network namespaces: B and D are public, A and C private (they cannot
route to each other). A knows B; D knows B; C knows only D, which does not follow A. B follows
A, so B holds A's feed and, as a follower holding it, provides it on the DHT. C follows A and
gets A's posts from B, A's next post live. C never has a connection to A. A bare libp2p host
beside C (mesh_probe) checks the two new duties of a holder: the DHT names B as a provider of
A's feed, and a holder (B or C) announces the head it got by replication on A's gossip topic (A
runs without gossip here; a head already heard announced is not re-announced:
tests/core/test_announce.py, tests/runtime/test_announcer_hold.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from p2psocial.testing.netns import Internet, NetnsUnavailable
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PORT = 4001
FIRST_LIMIT = 30.0  # C finds a holder of A's feed on the DHT and syncs (look_seconds = 1)
LIVE_LIMIT = 8.0    # a new post of A reaches C through B, live


def follow(node: NodeProcess, handle: str) -> None:
    """Follow a feed the node holds nothing of yet."""
    result = node.cli("follow", handle, check=False)
    if result.returncode != 0 and "--unknown" in result.stderr:
        node.cli("follow", handle, "--unknown")
    elif result.returncode != 0:
        raise AssertionError(f"follow failed: {result.stderr.strip()}")


@pytest.fixture
def net() -> Iterator[Internet]:
    try:
        with Internet("mesh") as internet:
            yield internet
    except NetnsUnavailable as exc:
        pytest.fail(str(exc))


def test_a_post_reaches_a_reader_who_never_meets_the_author(net: Internet,
                                                             tmp_path: Path) -> None:
    for name in ("b", "d"):
        net.public(name)
    for name in ("a", "c"):
        net.private(name)
    names = ("a", "b", "c", "d")
    with ThreadPoolExecutor(len(names)) as pool:
        made = {n: pool.submit(NodeProcess.create, tmp_path / n, name=n.upper(),
                               netns=net.ns(n)) for n in names}
        nodes = {n: f.result() for n, f in made.items()}
        handles = dict(zip(names, pool.map(lambda n: n.handle, nodes.values()), strict=True))

    def addr(name: str) -> str:
        return f"/ip4/{net.ip(name)}/tcp/{PORT}/p2p/{handles[name]}"

    a, b, c = (nodes[n] for n in ("a", "b", "c"))
    for name, node in nodes.items():  # A does not announce its heads on gossip: the news
        node.home.joinpath("config.json").write_text(  # reaches the topic through B only
            json.dumps({"look_seconds": 1.0, "announce": name != "a"}))
    follow(b, handles["a"])
    follow(c, handles["a"])
    a.cli("post", "first")
    peers = {"a": [addr("b")], "b": [], "d": [addr("b")], "c": [addr("d")]}
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda n: nodes[n].start(listen=f"/ip4/{net.ip(n)}/tcp/{PORT}",
                                                   peers=peers[n]), ("b", "a", "d")))
        b.wait_for(lambda n: "first" in n.texts(handles["a"]), what="B holds A's post")
        c.start(listen=f"/ip4/{net.ip('c')}/tcp/{PORT}", peers=peers["c"])
        c.wait_for(lambda n: "first" in n.texts(handles["a"]), timeout=FIRST_LIMIT,
                   what="A's first post at C")
        # a bare host beside C: the DHT names B as a holder of A's feed, and B announces the
        # head it got by replication on A's topic (A's feed: its name at seq 1, "first" at 2,
        # "second" at 3)
        probe_log = tmp_path / "probe.log"
        with probe_log.open("w") as errors:
            probe = subprocess.Popen(
                ["ip", "netns", "exec", net.ns("c"), sys.executable, "-m",
                 "tests.network.mesh_probe", addr("d"), addr("b"), handles["a"], "3"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert probe.stdout is not None
        try:
            line = probe.stdout.readline()
            assert line, f"the probe failed:\n{probe_log.read_text()[-3000:]}"
            providers = json.loads(line)["providers"]
            assert handles["b"] in providers, f"the DHT names {providers}, not B"
            assert json.loads(probe.stdout.readline()) == {"ready": True}
            a.cli("post", "second")
            c.wait_for(lambda n: "second" in n.texts(handles["a"]), timeout=LIVE_LIMIT,
                       what="A's new post at C, live")
            heard = [json.loads(line) for line in probe.communicate(timeout=30)[0].splitlines()]
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.wait()
        # a holder announces the head it got by replication: B or C (A announces nothing), the
        # first whose random hold ends; its announcement stops the other's (Gossip announcements)
        holders = {handles["b"], handles["c"]}
        assert any(h["seq"] == 3 and h["source"] in holders for h in heard), heard
        assert handles["a"] not in {p["handle"] for p in c.json("peers")}
        assert f"connected to {handles['a']}" not in c.log()
    finally:
        for node in nodes.values():
            node.stop()
