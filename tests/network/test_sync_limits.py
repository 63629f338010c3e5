"""Silent, stalled and refused sync peers against real nodes (issue 9, items 16 and 20).

Nodes run in their own processes with short deadlines (config: HELLO within 2 s, a begun
frame within 3 s); the hostile peer (p2psocial.testing.hostile) runs in another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.runtime.sync_limits import MAX_AWAITING_HELLO
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow

HELLO_SECONDS, FRAME_SECONDS = 2, 3
Make = Callable[..., NodeProcess]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Make]:
    made: list[NodeProcess] = []

    def make(name: str, **settings: float) -> NodeProcess:
        node = NodeProcess.create(tmp_path / name.lower(), name=name)
        path = node.home / "config.json"
        config = json.loads(path.read_text()) if path.exists() else {}
        config.update(sync_hello_seconds=HELLO_SECONDS, sync_frame_seconds=FRAME_SECONDS)
        config.update(settings)
        path.write_text(json.dumps(config))
        made.append(node)
        return node

    yield make
    for node in made:
        node.stop()


def hostile(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "p2psocial.testing.hostile", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def report_of(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def rss_mb(node: NodeProcess) -> float:
    assert node.proc is not None
    status = Path(f"/proc/{node.proc.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def synced_pair(nodes: Make) -> tuple[NodeProcess, NodeProcess]:
    alice, bob = nodes("Alice"), nodes("Bob")
    alice.cli("post", "before the stall")
    alice.start()
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    bob.wait_for(lambda n: "before the stall" in n.texts(alice.handle), what="first sync")
    return alice, bob


def test_stalled_frames_are_closed_in_time_memory_returns_and_honest_sync_goes_on(
        nodes: Make) -> None:
    """20 streams stall inside a 250 kB frame, twice; each is closed with ERROR `timeout`
    within the frame deadline, alice's posts reach bob meanwhile, and the second round takes
    no more memory than the first left behind (what the first held was given back)."""
    alice, bob = synced_pair(nodes)
    rss = [rss_mb(bob)]
    for round_ in (1, 2):
        liars = hostile("--target", bob.addrs()[0], "--mode", "stall", "--streams", "20",
                        "--wait", "30")
        time.sleep(1.0)
        alice.cli("post", f"during stall {round_}")
        bob.wait_for(lambda n, r=round_: f"during stall {r}" in n.texts(alice.handle),
                     timeout=15, what="alice's post while 20 streams stall")
        report = report_of(liars)
        assert report["answers"] == ["error:timeout"] * 20, report
        assert max(report["seconds"]) < FRAME_SECONDS + 10, report
        time.sleep(1.0)
        rss.append(rss_mb(bob))
    print(f"\n[stall] bob's RSS: before {rss[0]:.0f} MB, after round 1 {rss[1]:.0f} MB, "
          f"after round 2 {rss[2]:.0f} MB")
    assert rss[2] < rss[1] + 8, rss
    alice.cli("post", "after the stall")
    bob.wait_for(lambda n: "after the stall" in n.texts(alice.handle), timeout=15,
                 what="alice's post after the stall")


def test_a_refused_peer_is_told_the_code_and_when_to_come_back(nodes: Make) -> None:
    _alice, bob = synced_pair(nodes)
    report = report_of(hostile("--target", bob.addrs()[0], "--mode", "return"))
    first = report["first"]  # the fault itself: its code, and for how long it is refused
    assert first["answer"].startswith("error:") and first["retry_after"] == 60, report
    assert report["answer"] == "error:refused", report
    assert 1 <= report["retry_after"] <= 60, report


def test_a_refused_node_does_not_come_back_before_the_retry_after(nodes: Make) -> None:
    refuser = hostile("--mode", "refuser", "--retry-after", "60", "--wait", "14")
    assert refuser.stdout is not None
    addr = json.loads(refuser.stdout.readline())["listening"]
    bob = nodes("Bob")
    bob.start(peers=[addr])  # a configured peer: redialled every 5 s while it has no session
    report = report_of(refuser)
    assert report["streams"] == 1, report


def test_have_notes_for_feeds_nobody_wants_are_not_kept(nodes: Make) -> None:
    """A peer may name any number of feeds in HAVE notes; a node keeps what it learns only
    for feeds it wants (it kept every one: 200,000 random feeds took ~30 MB)."""
    bob = nodes("Bob").start()
    time.sleep(1.0)
    before = rss_mb(bob)
    report = report_of(hostile("--target", bob.addrs()[0], "--mode", "have-flood",
                               "--messages", "200"), timeout=120)
    assert report["sent"] == 200 * 1024 and report["answer"] == "closed", report
    time.sleep(1.0)
    after = rss_mb(bob)
    print(f"\n[have-flood] bob's RSS {before:.0f} -> {after:.0f} MB")
    assert after < before + 12, (before, after)


def test_streams_waiting_for_hello_are_bounded_and_the_rest_told_busy(nodes: Make) -> None:
    """Peers that never say HELLO are closed with ERROR timeout once the HELLO deadline
    passed; at most MAX_AWAITING_HELLO inbound streams wait for their HELLO at once, and the
    others are answered at once with ERROR busy."""
    hello_seconds = 12  # all the streams are open well before
    bob = nodes("Bob", sync_hello_seconds=hello_seconds).start()
    extra = 4
    report = report_of(hostile("--target", bob.addrs()[0], "--mode", "silent", "--streams",
                               str(MAX_AWAITING_HELLO + extra), "--wait", "30"))
    answers = report["answers"]
    assert answers.count("error:timeout") == MAX_AWAITING_HELLO, report
    assert answers.count("error:busy") == extra, report
    took: dict[str, list[float]] = {}
    for answer, seconds in zip(answers, report["seconds"], strict=True):
        took.setdefault(answer, []).append(seconds)
    assert max(took["error:busy"]) < 5, report
    assert hello_seconds - 1 < min(took["error:timeout"]), report
    assert max(took["error:timeout"]) < hello_seconds + 10, report
