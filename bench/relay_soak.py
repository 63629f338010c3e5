"""Soak: 10,000 follower connects and disconnects at a relay while an author posts through it.

    python bench/relay_soak.py                  # --cycles 10000 --rate 2
    python bench/relay_soak.py --cycles 500     # quick

A relay R and an author A (a member of R, posting `--rate` times a second through its node's
control socket) run as their own processes (p2psocial.testing.nodes.NodeProcess). Churn
driver processes (this file with --driver) each run `--threads` real follower nodes, one per
thread (a node is its own asyncio loop and trio guest run; trio allows one run per thread):
a fresh identity and SQLite store that follows A, a real libp2p host with our sync protocol,
gossip and keepalive. A follower cycle is: dial R (`Node.connect`, as `p2psocial connect`
does), wait until the follower holds a newer post of A than before the dial (it syncs while
connected), hang up (the host closes the connection). Each follower node makes `--rotate`
cycles, then stops and a new identity takes its place, so R sees followers coming and going,
not only the same few reconnecting.

The relay's RSS (/proc/<pid>/status), open file descriptors (/proc/<pid>/fd) and live tasks
(trio + asyncio, from `status --json`) are sampled after a warm-up (with no follower
connected), every 1,000 cycles during the churn, and at the end once the followers have gone
and R has settled; the end must be within ±10 % of the start. Then a fresh follower must still
sync through R, and R must hold every post A made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.core.errors import P2PSocialError
from p2psocial.core.identity import Identity, parse_handle
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.node import Node
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing.nodes import NodeProcess

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
SYNC_TIMEOUT = 20.0  # seconds a connected follower may take to receive a newer post
TOLERANCE = 0.10
CYCLE_TIMEOUT = 90.0  # a cycle stuck longer is counted as failed, and the soak goes on
HANGUP_TIMEOUT = 15.0  # seconds a follower may take to be off the relay after hanging up


# --- the driver (a separate process): follower nodes that come and go ---------------------


def follower_thread(root: Path, relay_addr: str, author: str, cycles: int, rotate: int,
                    tag: str, out: threading.Lock) -> None:
    """`cycles` connect/sync/disconnect cycles against the relay, a new node every `rotate`.

    Each node runs in a thread of its own: trio allows one run per thread, and a node whose
    stop outran STOP_TIMEOUT (a loaded machine) leaves its trio run abandoned in its thread.
    """
    done = [0]
    generation = 0
    while done[0] < cycles:
        count = min(rotate, cycles - done[0])
        thread = threading.Thread(target=asyncio.run, args=(one_follower(
            root / f"{tag}-{generation}", relay_addr, author, count, done, out),))
        thread.start()
        thread.join()
        generation += 1


async def one_follower(path: Path, relay_addr: str, author: str, count: int, done: list[int],
                       out: threading.Lock) -> None:
    """A new follower identity and node; `count` cycles; stop. Every cycle is reported."""
    relay = relay_addr.rsplit("/p2p/", 1)[1]
    feed = parse_handle(author)
    config = NodeConfig(listen=[LOOPBACK], mdns=False, dht=False, look_seconds=3600.0)
    home = Home(path)
    home.create()
    identity = Identity.generate()
    keyfile.write_doc(home.key_file, keyfile.seal(identity, ""))
    node = Node(home, identity, config)
    left = count
    try:
        await node.start()
        await node.service.follow(author, unknown=True)
        for _ in range(count):
            try:
                ok, synced, ms = await asyncio.wait_for(
                    one_cycle(node, relay_addr, relay, feed), CYCLE_TIMEOUT)
            except TimeoutError:
                print(f"a cycle took over {CYCLE_TIMEOUT:.0f} s", file=sys.stderr, flush=True)
                ok, synced, ms = False, False, CYCLE_TIMEOUT * 1000
            report(ok, synced, ms, done, out)
            left -= 1
    except P2PSocialError as exc:
        print(f"follower failed: {exc}", file=sys.stderr, flush=True)
    finally:
        for _ in range(left):  # cycles a failed follower could not make count as failed
            report(False, False, 0.0, done, out)
        await node.stop()
        shutil.rmtree(home.root, ignore_errors=True)


def report(ok: bool, synced: bool, ms: float, done: list[int], out: threading.Lock) -> None:
    done[0] += 1
    with out:
        print(json.dumps({"ok": ok, "synced": synced, "ms": round(ms)}), flush=True)


async def one_cycle(node: Node, relay_addr: str, relay: str, feed: bytes
                    ) -> tuple[bool, bool, float]:
    """Dial, wait for a newer post of the author, hang up. (connected, synced, ms)."""
    network: Any = node._network  # the bench drives the follower's host directly
    host = network._host
    bridge = node._bridge
    before = (await node.store.feed_states([feed])).get(feed)
    hi0 = before.hi if before is not None else 0
    at_dial = session_view(network, relay)  # before the dial: the last cycle's session?
    t = time.perf_counter()
    try:
        await node.connect(relay_addr)
    except P2PSocialError as exc:  # counted and reported, the soak goes on
        print(f"dial failed: {exc}", file=sys.stderr, flush=True)
        return False, False, (time.perf_counter() - t) * 1000
    after_dial = session_view(network, relay)
    synced = False
    deadline = time.monotonic() + SYNC_TIMEOUT
    while time.monotonic() < deadline:
        state = (await node.store.feed_states([feed])).get(feed)
        if state is not None and state.hi > hi0:
            synced = True
            break
        await asyncio.sleep(0.05)
    ms = (time.perf_counter() - t) * 1000
    if not synced:  # what the follower saw, for the driver's log (stderr)
        conns = [c.peer for c in await bridge.run_sync(host.connected_peers)]
        print("stuck cycle: " + json.dumps({
            "before_dial": at_dial, "after_dial": after_dial,
            "now": session_view(network, relay), "connections_to_relay": conns.count(relay),
            "connections": len(conns), "hi0": hi0, "at": round(time.time(), 1)}),
              file=sys.stderr, flush=True)  # `at`: stuck cycles at once point at the author
    # hang up; the follower may dial its author's relay again by itself (it seeks the feed
    # through the relays the author publishes): hang up again until it stays away
    deadline = time.monotonic() + HANGUP_TIMEOUT
    while time.monotonic() < deadline:
        await bridge.run(host.disconnect, relay)
        await asyncio.sleep(0.05)
        if not await bridge.run_sync(host.is_connected, relay):
            break
    else:
        print("the follower kept reconnecting to the relay", file=sys.stderr, flush=True)
    return True, synced, ms


def session_view(network: Any, relay: str) -> dict[str, Any]:
    """The follower's session with the relay as its replicator holds it (diagnostics)."""
    view: dict[str, Any] = {"opening": relay in network._opening,
                            "retry_at": network.peer_book.asked_to_wait(relay),
                            "banned": network.peer_book.refused_until(relay) > 0}
    sync = network._sessions.get(relay)
    if sync is not None:
        view.update(session=id(sync), open=sync.open, state=sync.session.state.name,
                    outbound=sync.outbound, caught_up=sync.caught_up,
                    entries_in=sync.counters.entries_in,
                    age_ms=time.time_ns() // 1_000_000 - sync.counters.started_at)
    return view


def driver(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)  # as a node run from the CLI
    root = Path(args.root)
    lock = threading.Lock()
    per = [args.cycles // args.threads + (i < args.cycles % args.threads)
           for i in range(args.threads)]
    threads = [threading.Thread(target=follower_thread, args=(
        root, args.relay, args.author, n, args.rotate, f"{args.tag}t{i}", lock))
        for i, n in enumerate(per) if n]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- the bench: relay, author, sampling -----------------------------------------------------


@dataclass
class Sample:
    cycles: int
    rss_mb: float
    fds: int
    trio: int
    asyncio: int
    peers: int

    @property
    def tasks(self) -> int:
        return self.trio + self.asyncio


def sample(relay: NodeProcess, cycles: int) -> Sample:
    assert relay.proc is not None
    pid = relay.proc.pid
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    status = relay.json("status")
    return Sample(cycles, rss, len(os.listdir(f"/proc/{pid}/fd")), status["trio_tasks"],
                  status["asyncio_tasks"], status["peers"])


class Churn:
    """Driver processes started side by side; counts the cycles they report."""

    def __init__(self) -> None:
        self.done = self.failed = self.unsynced = 0
        self.ms: list[int] = []
        self._lock = threading.Lock()

    def run(self, args: argparse.Namespace, root: Path, relay_addr: str, author: str,
            cycles: int, drivers: int, on_cycle: object = None) -> None:
        procs, logs = [], []
        for d in range(drivers):
            n = cycles // drivers + (d < cycles % drivers)
            if not n:
                continue
            cmd = [sys.executable, __file__, "--driver", "--root", str(root),
                   "--relay", relay_addr, "--author", author, "--cycles", str(n),
                   "--threads", str(min(args.threads, n)), "--rotate", str(args.rotate),
                   "--tag", f"{root.name}d{d}"]
            logs.append((root / f"driver{d}.log").open("a"))
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                          stderr=logs[-1]))
        readers = [threading.Thread(target=self._read, args=(p, on_cycle)) for p in procs]
        for r in readers:
            r.start()
        for r in readers:
            r.join()
        for p in procs:
            if p.wait() != 0:
                print(f"  a driver exited with {p.returncode} (see {root}/driver*.log)")
        for log in logs:
            log.close()

    def _read(self, proc: subprocess.Popen[str], on_cycle: object) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            result = json.loads(line)
            with self._lock:
                self.done += 1
                self.failed += not result["ok"]
                self.unsynced += result["ok"] and not result["synced"]
                if result["synced"]:
                    self.ms.append(result["ms"])
                done = self.done
            if callable(on_cycle):
                on_cycle(done)


def poster(author: NodeProcess, rate: float, stop: threading.Event, sent: list[int]) -> None:
    async def post() -> None:
        client = await ControlClient.open(author.home / "node.sock")
        try:
            while not stop.is_set():
                await client.post(f"soak post {sent[0]}")
                sent[0] += 1
                await asyncio.sleep(1 / rate)
        finally:
            await client.close()
    asyncio.run(post())


def settle(relay: NodeProcess, cycles: int, base: Sample, wait: float) -> Sample:
    """Sample after the followers left; wait up to `wait` s for things to come back."""
    deadline = time.monotonic() + wait
    while True:
        s = sample(relay, cycles)
        if (s.peers <= base.peers and within(s.fds, base.fds) and within(s.tasks, base.tasks)
                and within(s.rss_mb, base.rss_mb)) or time.monotonic() > deadline:
            return s
        time.sleep(2)


def within(value: float, base: float) -> bool:
    return abs(value - base) <= TOLERANCE * base


def row(s: Sample, note: str = "") -> str:
    return (f"| {s.cycles:>6,} | {s.rss_mb:6.1f} | {s.fds:4d} | {s.trio:4d} | {s.asyncio:4d} "
            f"| {s.tasks:4d} | {s.peers:3d} | {note} |")


def main(args: argparse.Namespace) -> int:
    print(f"machine: {os.cpu_count()} cores; relay + author processes, {args.drivers} driver "
          f"processes x {args.threads} follower threads; {args.cycles:,} cycles, a new "
          f"follower identity every {args.rotate}; posts at {args.rate:g}/s")
    with tempfile.TemporaryDirectory(prefix="p2psocial-soak-") as tmp:
        root = Path(tmp)
        relay = NodeProcess.create(root / "relay", name="Relay")
        author = NodeProcess.create(root / "author", name="Author")
        stop = threading.Event()
        sent = [0]
        try:
            relay.start(listen=LOOPBACK, verb="relay", extra=("--no-dht",))
            relay_addr = relay.addrs()[0]
            author.cli("relays", "add", relay_addr)
            author.cli("post", "hello from the soak")
            author.start(listen=LOOPBACK, extra=("--no-dht",))
            author.wait_for(lambda n: any(r["state"] == "reserved"
                                          for r in n.json("relays", "list")),
                            timeout=60, what="the author's reservation")
            handle = author.handle
            post_thread = threading.Thread(target=poster, args=(author, args.rate, stop, sent))
            post_thread.start()
            work = root / "followers"
            work.mkdir()
            warm = Churn()
            t = time.perf_counter()
            warm.run(args, work, relay_addr, handle, args.warmup, args.drivers)
            print(f"warm-up: {warm.done} cycles in {time.perf_counter() - t:.0f} s "
                  f"({warm.failed} failed dials, {warm.unsynced} not synced)")
            time.sleep(args.settle)
            base = sample(relay, 0)
            print("\n| cycles | RSS MB | fds | trio | asyncio | tasks | peers | |")
            print("|---|---|---|---|---|---|---|---|")
            print(row(base, "start (after warm-up, no follower connected)"), flush=True)
            curve = [base]
            churn = Churn()
            marks = set(range(args.every, args.cycles, args.every))

            def on_cycle(done: int) -> None:
                if done in marks:
                    s = sample(relay, done)
                    curve.append(s)
                    rate = done / (time.perf_counter() - t0)
                    print(row(s, f"{rate:.1f} cycles/s"), flush=True)

            t0 = time.perf_counter()
            churn.run(args, work, relay_addr, handle, args.cycles, args.drivers, on_cycle)
            took = time.perf_counter() - t0
            during = sample(relay, churn.done)
            end = settle(relay, churn.done, base, args.settle_max)
            print(row(during, "the last follower just left"))
            print(row(end, "end (settled)"), flush=True)
            ms = sorted(churn.ms)
            print(f"\n{churn.done:,} cycles in {took:.0f} s ({churn.done / took:.1f}/s); "
                  f"failed dials {churn.failed}, connected but no new post within "
                  f"{SYNC_TIMEOUT:.0f} s {churn.unsynced}")
            if ms:
                print(f"dial to a newer post held: p50 {ms[len(ms) // 2]} ms, "
                      f"p99 {ms[int(len(ms) * 0.99)]} ms")
            fresh = Churn()
            args.rotate = 1
            fresh.run(args, work, relay_addr, handle, 1, 1)
            stop.set()
            post_thread.join()
            newest = author.json("log", "--limit", "1")["entries"][0]["seq"]
            relay.wait_for(lambda n: any(f["author"] == handle and f["hi"] >= newest
                                         for f in n.json("status")["feeds"]),
                           timeout=30, what="the relay holding every post")
            fresh_ok = fresh.done == 1 and not fresh.failed and not fresh.unsynced
            print(f"a fresh follower synced at the end: {fresh_ok}")
            print(f"the relay holds all {sent[0]} posts the author made during the soak")
            checks = {"RSS": (end.rss_mb, base.rss_mb), "fds": (end.fds, base.fds),
                      "tasks": (end.tasks, base.tasks)}
            ok = fresh_ok and churn.failed == 0 and churn.unsynced == 0
            for what, (value, start) in checks.items():
                good = within(value, start)
                ok = ok and good
                print(f"{what}: {start:g} -> {value:g} ({(value - start) / start:+.1%}) "
                      f"{'pass' if good else 'FAIL'} (±{TOLERANCE:.0%})")
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
        finally:
            stop.set()
            for node in (author, relay):
                node.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=2.0, help="author's posts per second")
    p.add_argument("--drivers", type=int, default=2, help="churn driver processes")
    p.add_argument("--threads", type=int, default=3, help="follower nodes per driver")
    p.add_argument("--rotate", type=int, default=10,
                   help="cycles per follower identity before a new one replaces it")
    p.add_argument("--every", type=int, default=1000, help="cycles between samples")
    p.add_argument("--warmup", type=int, default=200, help="cycles before the start sample")
    p.add_argument("--settle", type=float, default=15.0,
                   help="seconds after the warm-up before the start sample")
    p.add_argument("--settle-max", type=float, default=90.0,
                   help="seconds the end sample may wait for the relay to come back")
    p.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    p.add_argument("--relay", help=argparse.SUPPRESS)
    p.add_argument("--author", help=argparse.SUPPRESS)
    p.add_argument("--tag", default="", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.driver:
        driver(a)
    else:
        sys.exit(main(a))
