"""A network partition that drops packets (no reset): four node processes in namespaces, two
on each side of one cable; the author A1 shares a side with A2, B1 posts on the other side,
and A2's relay R is on B's side.

While the cable is out, each side keeps replicating within itself; once it is back, both
sides hold everything within HEAL_LIMIT seconds, however long the cut lasted: dead
connections were noticed and closed during the cut, and the peers are redialled at once.
A2 holds a reservation on its relay again within RELAY_LIMIT seconds (its keeper's backoff
does not grow with the cut).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from p2psocial.core.identity import parse_handle
from p2psocial.testing.netns import Internet, NetnsUnavailable
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow
PORT = 4001
CUT_SECONDS = float(os.environ.get("P2PSOCIAL_CUT_SECONDS", "30"))
SAME_SIDE_LIMIT = 8.0   # a post reaches a peer on its own side during the cut
POST_EVERY = 4.0        # seconds between posts during the cut
HEAL_LIMIT = 5.0        # both sides hold everything this long after the heal
RELAY_LIMIT = 10.0      # A2's reservation on R is back this long after the heal
NAMES = ("a1", "a2", "b1", "b2")


def follow(node: NodeProcess, handle: str) -> None:
    """Follow a feed the node holds nothing of yet (newer CLIs ask for --unknown)."""
    result = node.cli("follow", handle, check=False)
    if result.returncode != 0 and "--unknown" in result.stderr:
        node.cli("follow", handle, "--unknown")
    elif result.returncode != 0:
        raise AssertionError(f"follow failed: {result.stderr.strip()}")


class Partition:
    """Four nodes and a relay on two sides of a cable; stopped at the end."""

    def __init__(self, net: Internet, tmp: Path) -> None:
        self.net = net
        names = (*NAMES, "r")
        for name in names:
            net.public(name)
        with ThreadPoolExecutor(len(names)) as pool:  # make the homes at once
            made = {name: pool.submit(NodeProcess.create, tmp / name, name=name.upper(),
                                      netns=net.ns(name)) for name in names}
            self.nodes = {name: future.result() for name, future in made.items()}
            self.handles = dict(zip(names, pool.map(lambda n: n.handle,
                                                    self.nodes.values()), strict=True))
        net.split(["b1", "b2", "r"])

    def addr(self, name: str) -> str:
        return f"/ip4/{self.net.ip(name)}/tcp/{PORT}/p2p/{self.handles[name]}"

    def start(self) -> None:
        with ThreadPoolExecutor(len(NAMES)) as pool:
            list(pool.map(lambda name: [follow(self.nodes[name], self.handles[author])
                                        for author in ("a1", "b1") if author != name], NAMES))
        self.nodes["a2"].home.joinpath("config.json").write_text(
            json.dumps({"relays": [self.addr("r")]}))
        with ThreadPoolExecutor(len(self.nodes)) as pool:  # start them all at once
            started = [pool.submit(node.start, listen=f"/ip4/{self.net.ip(name)}/tcp/{PORT}",
                                   peers=self.peers_of(name),
                                   verb="relay" if name == "r" else "run")
                       for name, node in self.nodes.items()]
        for future in started:
            future.result()

    def peers_of(self, name: str) -> list[str]:
        """Each of the four has the three others as configured peers; the relay none."""
        return [] if name == "r" else [self.addr(o) for o in NAMES if o != name]

    def relay_state(self) -> str:
        """The state of A2's relay R, as `relays list` shows it."""
        states = {r["addr"]: r["state"] for r in self.nodes["a2"].json("relays", "list")}
        return str(states.get(self.addr("r"), "missing"))

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes.values()))

    def head(self, name: str, author: str) -> int:
        """The newest seq of `author`'s feed in node `name`'s database (read-only: WAL lets
        the node keep writing), so polling costs a millisecond, not a CLI process."""
        db = self.nodes[name].home / "p2psocial.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT max(seq) FROM entries WHERE author = ?",
                               (parse_handle(self.handles[author]),)).fetchone()
        return int(row[0] or 0)

    def post(self, author: str, text: str) -> int:
        """Post as `author`; the new entry's seq."""
        self.nodes[author].cli("post", text)
        return self.head(author, author)

    def converge(self, heads: dict[str, int], names: tuple[str, ...], timeout: float
                 ) -> dict[str, float]:
        """Poll until every node in `names` holds each author's feed up to `heads[author]`;
        the seconds each node took."""
        took: dict[str, float] = {}
        start = time.monotonic()
        while len(took) < len(names) and time.monotonic() - start < timeout:
            for name in names:
                if name not in took and all(self.head(name, author) >= seq
                                            for author, seq in heads.items()):
                    took[name] = time.monotonic() - start
            time.sleep(0.05)
        missing = [n for n in names if n not in took]
        assert not missing, (f"{missing} did not reach {heads} within {timeout} s "
                             f"(the others took {took})\n" +
                             "\n".join(f"--- {n}\n{self.nodes[n].log()[-3000:]}"
                                       for n in missing))
        return took


@pytest.fixture
def partition(tmp_path: Path) -> Iterator[Partition]:
    try:
        with Internet("pt") as net:
            made = Partition(net, tmp_path)
            try:
                yield made
            finally:
                made.stop()
    except NetnsUnavailable as exc:  # pragma: no cover - CI runs as root with iproute2
        pytest.fail(f"this test needs network namespaces: {exc}")


def test_each_side_replicates_during_a_cut_and_both_converge_soon_after_the_heal(
        partition: Partition) -> None:
    p = partition
    p.start()
    heads = {"a1": p.post("a1", "a before"), "b1": p.post("b1", "b before")}
    p.converge(heads, NAMES, timeout=30)
    p.nodes["a2"].wait_for(lambda _: p.relay_state() == "reserved", timeout=30,
                           what="a reservation on the relay")

    p.net.cut()
    cut_at = time.monotonic()
    rounds = 0
    while True:
        rounds += 1
        for author, peer in (("a1", "a2"), ("b1", "b2")):
            heads[author] = p.post(author, f"{author} during the cut {rounds}")
            p.converge({author: heads[author]}, (peer,), timeout=SAME_SIDE_LIMIT)
        if time.monotonic() - cut_at >= CUT_SECONDS:
            break
        time.sleep(min(POST_EVERY, CUT_SECONDS - (time.monotonic() - cut_at)))

    assert p.relay_state() != "reserved"  # the keeper noticed the dead connection
    p.net.heal()
    healed_at = time.monotonic()
    cut = healed_at - cut_at
    took = p.converge(heads, NAMES, timeout=30)
    p.nodes["a2"].wait_for(lambda _: p.relay_state() == "reserved", timeout=40,
                           what="the reservation on the relay after the heal")
    relay_took = time.monotonic() - healed_at
    print(f"cut {cut:.0f} s; heal to converged: {took}; reserved again after "
          f"{relay_took:.1f} s")
    assert max(took.values()) <= HEAL_LIMIT, took
    assert relay_took <= RELAY_LIMIT
