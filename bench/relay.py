"""Benchmark: one relay, an author behind it, and N follower nodes, all separate processes.

    python bench/relay.py [--followers 50] [--posts 20] [--rate 1]

The author A reaches its followers only through relay R: they know nothing but A's invite
(which names R). Once every follower holds A's first post, A posts `--posts` times at
`--rate` per second. Prints, from one run on this machine:
- post-to-follower latency over every (post, follower) pair: p50, p99, max;
- the relay's CPU per delivered entry (its process CPU time over the posting phase divided by
  posts x followers) and its RSS;
- where followers got A's posts from (relay sessions vs relayed circuits to A).
Latency is taken from the moment the bench asks A's node to post (over its control socket)
to the moment each follower's node publishes the entry on its own control socket.

With `--per-process K` the followers run K to a process (p2psocial.testing.swarm): each is
still its own node (home, identity, SQLite store, libp2p host, port), but the swarm process
reports arrivals itself (time.monotonic() when the node stores the entry), so 1,000 followers
fit on 2 cores. The default (0) keeps one process per follower.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.runtime.control import ControlClient
from p2psocial.testing.nodes import NodeProcess

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# runs `python -m p2psocial ...` with tracemalloc on; SIGUSR1 writes a snapshot to the path
# in BENCH_RELAY_SNAPSHOT with a counter appended (bench --trace-relay)
TRACED = """
import os, runpy, signal, sys, tracemalloc
tracemalloc.start(8)
count = [0]
def dump(*_):
    count[0] += 1
    tracemalloc.take_snapshot().dump(f"{os.environ['BENCH_RELAY_SNAPSHOT']}.{count[0]}")
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["p2psocial", *sys.argv[1:]]
runpy.run_module("p2psocial", run_name="__main__", alter_sys=True)
"""


def relay_snapshot(pid: int, path: Path, number: int) -> object:
    """Ask the traced relay for its tracemalloc snapshot `number` and load it."""
    import tracemalloc
    os.kill(pid, signal.SIGUSR1)
    target = Path(f"{path}.{number}")
    deadline = time.monotonic() + 120
    size = -1
    while time.monotonic() < deadline:  # written once its size stops changing
        if target.exists() and target.stat().st_size == size and size > 0:
            return tracemalloc.Snapshot.load(str(target))
        size = target.stat().st_size if target.exists() else -1
        time.sleep(1.0)
    raise SystemExit(f"no tracemalloc snapshot from the relay at {target}")


def print_growth(before: object, after: object, members: int) -> None:
    import tracemalloc
    assert isinstance(before, tracemalloc.Snapshot) and isinstance(after, tracemalloc.Snapshot)
    stats = after.compare_to(before, "traceback")
    total = sum(s.size_diff for s in stats)
    print(f"relay heap growth (tracemalloc): {total / 1024:.0f} kB, "
          f"{total / 1024 / members:.1f} kB per new member; largest:")
    for stat in stats[:25]:
        frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno}"
                             for f in stat.traceback[:6])
        print(f"  {stat.size_diff / 1024:8.0f} kB {stat.count_diff:7d} blocks  {frames}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Swarm:
    """Followers K to a process (p2psocial.testing.swarm), read through their stdout."""

    def __init__(self, root: Path, count: int, per_process: int, token: str,
                 look: float) -> None:
        self.count = count
        self.procs: list[subprocess.Popen[str]] = []
        self.arrived: dict[str | None, list[float]] = {}
        self.up = 0
        self.failed: list[str] = []
        self._lock = threading.RLock()  # predicates read under it
        self._changed = threading.Condition(self._lock)
        self._batches = [(first, min(per_process, count - first))
                         for first in range(0, count, per_process)]
        self._root, self._token, self._look = root, token, look

    def launch_next(self) -> int:
        """Start the next swarm process; returns how many followers are launched in all."""
        first, n = self._batches[len(self.procs)]
        log = (self._root / f"swarm-{first:04d}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "p2psocial.testing.swarm", "--root", str(self._root),
             "--count", str(n), "--first", str(first), "--follow", self._token,
             "--look", str(self._look)],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.PIPE, text=True)
        self.procs.append(proc)
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        return first + n

    @property
    def all_launched(self) -> bool:
        return len(self.procs) == len(self._batches)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._changed:
                if "up" in event:
                    self.up += 1
                elif "entry" in event:
                    self.arrived.setdefault(event["text"], []).append(event["at"])
                elif "failed" in event:
                    self.failed.append(f"follower {event['failed']}: {event['error']}")
                self._changed.notify_all()

    def wait(self, predicate: object, timeout: float) -> bool:
        """Wait until `predicate()` (called under the lock) holds."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)  # type: ignore[arg-type]

    def count_of(self, text: str) -> int:
        with self._lock:
            return len(self.arrived.get(text, []))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.close()  # end of stdin: the swarm stops its nodes
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure_swarm(swarm: Swarm, author: NodeProcess, posts: int, rate: float,
                  ) -> dict[str, list[float]]:
    """Post from A and time each post's arrival at every follower of the swarm (ms)."""
    sent: dict[str, float] = {}

    async def post_all() -> None:
        poster = await ControlClient.open(author.home / "node.sock")
        start = time.monotonic()
        for i in range(posts):
            text = f"bench post {i}"
            sent[text] = time.monotonic()
            await poster.post(text)
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
        await poster.close()

    asyncio.run(post_all())
    expected = posts * swarm.count

    def all_in() -> bool:
        return sum(len(swarm.arrived.get(t, [])) for t in sent) >= expected

    if not swarm.wait(all_in, 60):
        got = sum(swarm.count_of(t) for t in sent)
        print(f"  only {got} of {expected} deliveries within 60 s", file=sys.stderr)
    with swarm._lock:
        return {t: [(at - sent[t]) * 1000 for at in swarm.arrived.get(t, [])] for t in sent}


def make_follower(root: Path, i: int, token: str, look: float,
                  started: list[NodeProcess]) -> None:
    node = NodeProcess.create(root / f"f{i:02d}")
    started.append(node)  # before starting: stopped by the caller whatever happens
    node.home.joinpath("config.json").write_text(json.dumps({"look_seconds": look}))
    node.cli("follow", token)
    # no DHT: on loopback it would hand out the author's own address, and A is meant to be
    # reachable only through R (as behind a NAT)
    node.start(listen=LOOPBACK, extra=("--no-dht",))


async def measure(author: NodeProcess, followers: list[NodeProcess], posts: int,
                  rate: float) -> dict[str, list[float]]:
    """Post from A and time each post's arrival at every follower (ms)."""
    arrived: dict[str, list[float]] = {}
    sent: dict[str, float] = {}
    done = asyncio.Event()
    expected = posts * len(followers)
    got = 0

    async def watch(node: NodeProcess) -> None:
        nonlocal got
        client = await ControlClient.open(node.home / "node.sock")
        async for kind, data in client.events():
            text = data.get("text") if kind == "entry" else None
            if text in sent:
                arrived.setdefault(text, []).append((time.perf_counter() - sent[text]) * 1000)
                got += 1
                if got >= expected:
                    done.set()

    watchers = [asyncio.create_task(watch(f)) for f in followers]
    await asyncio.sleep(1.0)  # every watcher subscribed
    poster = await ControlClient.open(author.home / "node.sock")
    for i in range(posts):
        text = f"bench post {i}"
        sent[text] = time.perf_counter()
        await poster.post(text)
        await asyncio.sleep(1 / rate)
    try:
        await asyncio.wait_for(done.wait(), 60)
    except TimeoutError:
        print(f"  only {got} of {expected} deliveries within 60 s", file=sys.stderr)
    for task in watchers:
        task.cancel()
    await poster.close()
    return arrived


def main(args: argparse.Namespace) -> None:
    how = (f"{args.per_process} to a process" if args.per_process
           else "each its own process")
    print(f"machine: {os.cpu_count()} cores; relay + author + {args.followers} followers "
          f"({how}), loopback")
    with tempfile.TemporaryDirectory(prefix="p2psocial-bench-relay-") as tmp:
        root = Path(tmp)
        relay = NodeProcess.create(root / "relay", name="Relay")
        author = NodeProcess.create(root / "author", name="Author")
        followers: list[NodeProcess] = []
        swarm: Swarm | None = None
        first_post = "hello from behind the relay"
        try:
            snapshot_path = root / "relay-heap"
            if args.trace_relay:
                os.environ["BENCH_RELAY_SNAPSHOT"] = str(snapshot_path)
            relay.start(listen=LOOPBACK, verb="relay",
                        python_args=("-c", TRACED) if args.trace_relay else ("-m", "p2psocial"))
            relay_addr = relay.addrs()[0]
            author.cli("relays", "add", relay_addr)
            author.cli("post", first_post)
            author.start(listen=LOOPBACK, extra=("--no-dht",))
            author.wait_for(lambda n: any(r["state"] == "reserved"
                                          for r in n.json("relays", "list")),
                            timeout=30, what="the author's reservation")
            token = author.cli("invite").stdout.strip()
            pid = relay.proc.pid if relay.proc else 0
            base_rss = rss_mb(pid)  # the relay with one member (the author)
            heap0 = relay_snapshot(pid, snapshot_path, 1) if args.trace_relay else None
            t = time.perf_counter()
            if args.per_process:
                swarm = Swarm(root, args.followers, args.per_process, token, args.look)
                deadline = time.monotonic() + args.start_timeout
                # one process at a time, each once the previous ones' followers hold the
                # first post (a real relay's members do not all join in the same second)
                launched = 0
                while not swarm.wait(lambda: swarm.count_of(first_post) >= args.followers
                                     or bool(swarm.failed), 5):
                    if not swarm.all_launched and \
                            swarm.count_of(first_post) >= launched * 0.95:
                        launched = swarm.launch_next()
                        continue
                    print(f"  {time.perf_counter() - t:.0f} s: {swarm.up} up, "
                          f"{swarm.count_of(first_post)} hold the first post; relay "
                          f"{rss_mb(pid):.0f} MB, {open_fds(pid)} fds, load "
                          f"{os.getloadavg()[0]:.1f}", flush=True)
                    if time.monotonic() > deadline:  # measure what is there, and say so
                        print(f"start-up cut off at {args.start_timeout:g} s: only "
                              f"{swarm.count_of(first_post)} of {args.followers} followers "
                              f"hold the first post ({swarm.up} up)")
                        swarm.count = swarm.count_of(first_post)  # deliveries expected
                        break
                if swarm.failed:
                    raise SystemExit("\n".join(swarm.failed[:10]))
                print(f"{swarm.count} followers up and holding the author's first post "
                      f"in {time.perf_counter() - t:.1f} s")
                others = [n.proc.pid for n in [author] if n.proc] + swarm.pids
            else:
                with ThreadPoolExecutor(8) as pool:  # each follower kept as soon as it
                    # exists, so that a failed start still stops every node (none left)
                    for future in [pool.submit(make_follower, root, i, token, args.look,
                                               followers) for i in range(args.followers)]:
                        future.result()
                print(f"started {len(followers)} followers in {time.perf_counter() - t:.1f} s")
                handle = author.handle
                for node in followers:
                    node.wait_for(lambda n: first_post in n.texts(handle),
                                  timeout=120, what="the author's first post")
                print("every follower holds the author's first post")
                others = [n.proc.pid for n in [author, *followers] if n.proc]
            followers_n = swarm.count if swarm is not None else args.followers
            members = followers_n + 1
            time.sleep(args.settle)
            idle0, ti = cpu_seconds(pid), time.perf_counter()
            others_idle0 = sum(cpu_seconds(p) for p in others)
            time.sleep(args.idle)
            span = time.perf_counter() - ti
            idle = (cpu_seconds(pid) - idle0) / span
            others_idle = (sum(cpu_seconds(p) for p in others) - others_idle0) / span
            idle_rss, idle_fds = rss_mb(pid), open_fds(pid)
            print(f"relay while idle ({args.idle:g} s, {members} members): CPU "
                  f"{idle * 1000:.0f} ms/s ({idle * 1e6 / members:.0f} µs/s per member); "
                  f"RSS {idle_rss:.0f} MB (+{(idle_rss - base_rss) * 1024 / followers_n:.0f} kB "
                  f"per follower over {base_rss:.0f} MB with the author only); "
                  f"{idle_fds} open fds; author and followers {others_idle:.2f} cores; "
                  f"load {os.getloadavg()[0]:.1f}")
            if heap0 is not None:
                print_growth(heap0, relay_snapshot(pid, snapshot_path, 2), followers_n)
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            others0 = sum(cpu_seconds(p) for p in others)
            if swarm is not None:
                arrived = measure_swarm(swarm, author, args.posts, args.rate)
            else:
                arrived = asyncio.run(measure(author, followers, args.posts, args.rate))
            cpu = cpu_seconds(pid) - cpu0
            others_cpu = sum(cpu_seconds(p) for p in others) - others0
            wall = time.perf_counter() - t0
            latencies = sorted(v for values in arrived.values() for v in values)
            delivered = len(latencies)
            if not latencies:
                print("no deliveries measured")
                return
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"deliveries: {delivered} of {args.posts * followers_n} "
                  f"({delivered / wall:.0f}/s over {wall:.1f} s)")
            print(f"post-to-follower latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                  f"max {latencies[-1]:.0f} ms (bars: p50 <= 300 ms, p99 <= 1000 ms)")
            print(f"relay CPU: {cpu * 1e6 / max(1, delivered):.0f} µs per delivered entry "
                  f"({cpu:.2f} s over {wall:.1f} s); relay RSS {rss_mb(pid):.0f} MB, "
                  f"{open_fds(pid)} open fds")
            busy = max(0.0, cpu - idle * wall)
            print(f"relay CPU above idle: {busy * 1e6 / max(1, delivered):.0f} µs "
                  f"per delivered entry")
            print(f"author and followers CPU: {others_cpu:.2f} s over {wall:.1f} s "
                  f"({others_cpu / wall:.2f} cores); load {os.getloadavg()[0]:.1f}")
            routes: dict[str, int] = {}
            for node in followers[:10]:
                for peer in node.json("peers"):
                    routes[peer["kind"]] = routes.get(peer["kind"], 0) + 1
            if routes:
                print(f"connections of the first 10 followers by route: {routes}")
        finally:
            if swarm is not None:
                swarm.stop()
            for node in [*followers, author, relay]:
                node.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop every node on SIGTERM
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--followers", type=int, default=50)
    p.add_argument("--posts", type=int, default=20)
    p.add_argument("--rate", type=float, default=1.0, help="posts per second")
    p.add_argument("--idle", type=float, default=10.0,
                   help="seconds to measure the relay's idle CPU before posting")
    p.add_argument("--look", type=float, default=2.0,
                   help="followers' look_seconds (how often they seek the author)")
    p.add_argument("--per-process", type=int, default=0,
                   help="followers per process (p2psocial.testing.swarm); 0: one each")
    p.add_argument("--trace-relay", action="store_true",
                   help="run the relay with tracemalloc and print what grew with members")
    p.add_argument("--settle", type=float, default=5.0,
                   help="seconds to wait after start-up before measuring idle CPU")
    p.add_argument("--start-timeout", type=float, default=900.0,
                   help="seconds for every follower to hold the first post (swarm)")
    main(p.parse_args())
