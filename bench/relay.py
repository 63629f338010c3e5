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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
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
    print(f"machine: {os.cpu_count()} cores; relay + author + {args.followers} followers, "
          f"each its own process, loopback")
    with tempfile.TemporaryDirectory(prefix="p2psocial-bench-relay-") as tmp:
        root = Path(tmp)
        relay = NodeProcess.create(root / "relay", name="Relay")
        author = NodeProcess.create(root / "author", name="Author")
        followers: list[NodeProcess] = []
        try:
            relay.start(listen=LOOPBACK, verb="relay")
            relay_addr = relay.addrs()[0]
            author.cli("relays", "add", relay_addr)
            author.cli("post", "hello from behind the relay")
            author.start(listen=LOOPBACK, extra=("--no-dht",))
            author.wait_for(lambda n: any(r["state"] == "reserved"
                                          for r in n.json("relays", "list")),
                            timeout=30, what="the author's reservation")
            token = author.cli("invite").stdout.strip()
            t = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:  # each follower kept as soon as it exists,
                # so that a failed start still stops every node (none is left running)
                for future in [pool.submit(make_follower, root, i, token, args.look,
                                           followers) for i in range(args.followers)]:
                    future.result()
            print(f"started {len(followers)} followers in {time.perf_counter() - t:.1f} s")
            handle = author.handle
            for node in followers:
                node.wait_for(lambda n: "hello from behind the relay" in n.texts(handle),
                              timeout=120, what="the author's first post")
            print("every follower holds the author's first post")
            pid = relay.proc.pid if relay.proc else 0
            others = [n.proc.pid for n in [author, *followers] if n.proc]
            idle0, ti = cpu_seconds(pid), time.perf_counter()
            time.sleep(args.idle)
            idle = (cpu_seconds(pid) - idle0) / (time.perf_counter() - ti)
            print(f"relay CPU while idle (no posts, {args.idle:g} s): {idle * 1000:.0f} ms/s "
                  f"({idle * 1e6 / max(1, args.followers):.0f} µs/s per follower)")
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            others0 = sum(cpu_seconds(p) for p in others)
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
            print(f"deliveries: {delivered} of {args.posts * args.followers}")
            print(f"post-to-follower latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                  f"max {latencies[-1]:.0f} ms (bars: p50 <= 300 ms, p99 <= 1000 ms)")
            print(f"relay CPU: {cpu * 1e6 / max(1, delivered):.0f} µs per delivered entry "
                  f"({cpu:.2f} s over {wall:.1f} s); relay RSS {rss_mb(pid):.0f} MB")
            busy = max(0.0, cpu - idle * wall)
            print(f"relay CPU above idle: {busy * 1e6 / max(1, delivered):.0f} µs "
                  f"per delivered entry")
            print(f"author and followers CPU: {others_cpu:.2f} s over {wall:.1f} s "
                  f"({others_cpu / wall:.2f} cores)")
            routes: dict[str, int] = {}
            for node in followers[:10]:
                for peer in node.json("peers"):
                    routes[peer["kind"]] = routes.get(peer["kind"], 0) + 1
            print(f"connections of the first 10 followers by route: {routes}")
        finally:
            for node in [*followers, author, relay]:
                node.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--followers", type=int, default=50)
    p.add_argument("--posts", type=int, default=20)
    p.add_argument("--rate", type=float, default=1.0, help="posts per second")
    p.add_argument("--idle", type=float, default=10.0,
                   help="seconds to measure the relay's idle CPU before posting")
    p.add_argument("--look", type=float, default=2.0,
                   help="followers' look_seconds (how often they seek the author)")
    main(p.parse_args())
