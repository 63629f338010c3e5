"""Benchmark: replication between two real nodes (separate processes) over libp2p on loopback.

    python bench/sync.py [--feeds 100] [--per-feed 1000] [--post-size 200] [--posts 1000]
                         [--rate 10] [--reconnect-feeds 1000]

Prints, from one run:
- bulk: 100 feeds x 1,000 entries replicated A -> B, fully verified and stored, entries/s;
  beside it, local ingest of the same entries in this process (the ratio is the figure).
  Each post is --post-size characters of prose, 200 by default: the size of the SSB anchor's
  fixture and of issue 10's bar (0 gives the short numbered posts of earlier runs);
- latency: 1,000 posts at 10/s from A's user to B's timeline events, p50 and p99 (ms);
- reconnect: B follows 1,000 feeds and is up to date with A; from B dialling A to B being
  caught up (the first exchange), ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.core.content import Follow
from p2psocial.core.identity import Identity
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.views import EntryView
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, make_feed, raw_entries
from p2psocial.testing.nodes import NodeProcess

BATCH = 1000
EXTRA: dict[str, object] = {}


def identity_of(node: NodeProcess) -> Identity:
    doc = json.loads((node.home / "key.json").read_text())
    return Identity(base64.b64decode(doc["seed"]))


async def fill(node: NodeProcess, raw: list[tuple[bytes, bytes | None]],
               follows: list[bytes]) -> float:
    """Store `raw` in the node's database (it is not running) and follow `follows`.
    Returns the local ingest rate (entries/s)."""
    store = await Store.open(node.home / "p2psocial.db")
    me = identity_of(node)
    await store.set_owner(me.public_key)
    await store.verify_pool.warm_up()  # as a running node has them (Replicator.start)
    started = time.perf_counter()
    pending: list[asyncio.Task[object]] = []
    for i in range(0, len(raw), BATCH):
        pending.append(asyncio.ensure_future(store.ingest(raw[i:i + BATCH])))
        if len(pending) >= 3:
            await pending.pop(0)
    await asyncio.gather(*pending)
    rate = len(raw) / (time.perf_counter() - started) if raw else 0.0
    for feed in follows:
        await store.append(me, Follow(feed=feed))
    await store.close()
    return rate


async def client(node: NodeProcess) -> ControlClient:
    return await ControlClient.open(node.home / "node.sock")


async def wait_held(node: NodeProcess, feeds: list[bytes], total: int,
                    timeout: float = 600) -> float:
    """Seconds until the node holds `total` entries of `feeds`. Polls the node's database
    read-only (WAL): asking the node itself every few ms would take CPU from the sync."""
    started = time.perf_counter()
    db = f"file:{node.home / 'p2psocial.db'}?mode=ro"
    marks = ",".join("?" * len(feeds))
    with sqlite3.connect(db, uri=True, timeout=5) as conn:
        while True:
            held = conn.execute(f"SELECT count(*) FROM entries WHERE author IN ({marks})",
                                feeds).fetchone()[0]
            if held >= total:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"held {held} of {total}")
            await asyncio.sleep(0.05)


async def bulk(tmp: Path, feeds: int, per_feed: int, post_size: int) -> None:
    authors = [identity_for(f"sync-bench-{i}") for i in range(feeds)]
    raw = [r for a in authors
           for r in raw_entries(make_feed(a, per_feed, size=post_size or None))]
    local = NodeProcess.create(tmp / "local")
    local_rate = await fill(local, raw, [])
    a = NodeProcess.create(tmp / "bulk-a")
    b = NodeProcess.create(tmp / "bulk-b")
    await fill(a, raw, [x.public_key for x in authors])
    (b.home / "config.json").write_text(json.dumps({"depths": [0, 0, 0], "hops": 1}))
    await fill(b, [], [x.public_key for x in authors])
    with a, b:
        a.start()
        b.start()
        target = a.addrs()[0]
        c = await client(b)
        started = time.perf_counter()
        await c.connect(target)
        await c.close()
        await wait_held(b, [x.public_key for x in authors], len(raw))
        elapsed = time.perf_counter() - started
    rate = len(raw) / elapsed
    print(f"bulk: {len(raw):,} entries ({post_size or 'short'}-character posts) "
          f"from {feeds} feeds replicated A -> B in {elapsed:.1f}s "
          f"= {rate:,.0f} entries/s; local ingest of the same entries {local_rate:,.0f}/s; "
          f"ratio {rate / local_rate:.2f}")


async def latency(tmp: Path, posts: int, rate: float) -> None:
    a = NodeProcess.create(tmp / "lat-a", name="Author")
    b = NodeProcess.create(tmp / "lat-b", name="Follower")
    b.cli("follow", a.handle, "--unknown")
    with a, b:
        a.start()
        b.start(peers=[a.addrs()[0]])
        b.wait_for(lambda n: n.json("peers") and n.json("peers")[0]["caught_up"],
                   what="first sync")
        poster, watcher = await client(a), await client(b)
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        done = asyncio.Event()

        async def watch() -> None:
            async for kind, data in watcher.events():
                if kind == "entry":
                    view = EntryView.from_json(data)
                    if view.text and view.text.startswith("latency probe "):
                        seen[view.text] = time.perf_counter()
                        if len(seen) == posts:
                            done.set()
                            return

        task = asyncio.ensure_future(watch())
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        for i in range(posts):
            target = start + i / rate
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
            text = f"latency probe {i}"
            sent[text] = time.perf_counter()
            await poster.post(text)
        await asyncio.wait_for(done.wait(), 60)
        task.cancel()
        await poster.close()
        await watcher.close()
    ms = sorted((seen[t] - sent[t]) * 1000 for t in sent)
    print(f"latency: {posts} posts at {rate:g}/s, post call to follower's timeline event: "
          f"p50 {statistics.median(ms):.1f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.1f} ms, "
          f"max {ms[-1]:.1f} ms")


async def reconnect(tmp: Path, feeds: int) -> None:
    authors = [identity_for(f"reconnect-bench-{i}") for i in range(feeds)]
    raw = [r for x in authors for r in raw_entries(make_feed(x, 3))]
    a = NodeProcess.create(tmp / "re-a")
    b = NodeProcess.create(tmp / "re-b")
    await fill(a, raw, [x.public_key for x in authors])
    (b.home / "config.json").write_text(json.dumps({"hops": 1, **EXTRA}))
    await fill(b, raw, [x.public_key for x in authors])
    with a, b:
        a.start()
        b.start()
        await asyncio.sleep(2)  # let both nodes settle (subscriptions, DHT start-up)
        target = a.addrs()[0]
        c = await client(b)
        started = time.perf_counter()
        await c.connect(target)
        while not any(p.caught_up for p in await c.peers()):
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        status = await c.status()
        await c.close()
    assert status.entries_received == 0, "B was up to date: nothing should cross"
    print(f"reconnect: {feeds} followed feeds, up to date: dial to caught up "
          f"{elapsed * 1000:.0f} ms (entries received: {status.entries_received})")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if "bulk" in args.only:
            await bulk(Path(tmp), args.feeds, args.per_feed, args.post_size)
        if "latency" in args.only:
            await latency(Path(tmp), args.posts, args.rate)
        if "reconnect" in args.only:
            await reconnect(Path(tmp), args.reconnect_feeds)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--per-feed", type=int, default=1000)
    p.add_argument("--post-size", type=int, default=200,
                   help="characters per bulk post (0: short numbered posts)")
    p.add_argument("--posts", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--reconnect-feeds", type=int, default=1000)
    p.add_argument("--only", nargs="*", default=["bulk", "latency", "reconnect"])
    asyncio.run(main(p.parse_args()))
