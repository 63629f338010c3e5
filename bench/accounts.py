"""Benchmark: accounts of 3 devices against single-key feeds (issue 11, acceptance 9).

    python bench/accounts.py [--entries 200000] [--runs 3] [--reconnect 1000]
                             [--only timeline ingest reconnect]

Prints, each part --runs times, single-key and accounts alternating (the machine is shared):
- ingest: received entries verified and stored per second (Store.ingest in batches of 2,000,
  3 in flight, as bench/ingest.py), --entries entries from 1,000 followed single-key feeds
  versus 333 followed accounts of 3 device feeds each (999 feeds; the account ops are held
  before the entries arrive, as after a sync's WANT answer); bar: accounts within 10 %;
- timeline: newest 50 over those follows (median and p99 of 300 queries, as bench/ingest.py's
  timeline_ms) on the databases the ingest runs built, the queries on the two taking turns;
  bar: accounts within 10 %;
- reconnect: a node following 1,000 single-key feeds versus 1,000 accounts of 3 devices
  (3,000 device feeds, 3 entries each), up to date, dialling a peer that holds the same:
  from the dial to caught up (bench/sync.py's reconnect); bar: accounts at most +20 %. Also
  3,000 single-key feeds (as many as the accounts' devices), to tell the cost of the
  accounts (their ops and id notes) from that of following three times as many feeds.
Accounts here are made as `init --account` makes them: an account key that posts nothing,
its `init`, and an `add` of each device.
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as ingest_bench  # bench/ingest.py
import sync as sync_bench  # bench/sync.py

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.content import Follow, Post
from p2psocial.core.entry import create_content_entry
from p2psocial.core.identity import Identity
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, make_feed, raw_entries
from p2psocial.testing.nodes import NodeProcess

T0 = 1_700_000_000_000
DEVICES = 3
Raw = list[tuple[bytes, bytes | None]]


@dataclass
class Setup:
    """What a viewer follows, the feeds that post, and the account ops (none: single-key)."""

    kind: str
    follows: list[bytes]
    feeds: list[Identity]
    ops: list[Op] = field(default_factory=list)


def single_key(count: int, prefix: str) -> Setup:
    feeds = [identity_for(f"{prefix}-single-{i}") for i in range(count)]
    return Setup("single-key", [f.public_key for f in feeds], feeds)


def accounts(count: int, prefix: str) -> Setup:
    """`count` accounts of DEVICES devices: init by the account key, then an add of each."""
    setup = Setup("accounts", [], [])
    for a in range(count):
        key = identity_for(f"{prefix}-account-{a}")
        account = key.public_key
        ops = [make_op(key, account=account, op_type=OpType.INIT, timestamp=T0,
                       key=identity_for(f"{prefix}-recovery-{a}").public_key)]
        for d in range(DEVICES):
            device = identity_for(f"{prefix}-account-{a}-device-{d}")
            ops.append(make_op(key, account=account, op_type=OpType.ADD, key=device.public_key,
                               timestamp=T0 + d + 1, prev=ops[-1].hash, name=f"device {d}",
                               consent=consent_for(device, account, OpType.ADD)))
            setup.feeds.append(device)
        setup.follows.append(account)
        setup.ops += ops
    return setup


def chains(setup: Setup, per_feed: int) -> Raw:
    """`per_feed` posts of each feed (interleaved in time across feeds, as build_big), feed
    by feed in arrival order."""
    raw: Raw = []
    for index, ident in enumerate(setup.feeds):
        prev = None
        for seq in range(1, per_feed + 1):
            e = create_content_entry(ident, seq=seq, prev=prev,
                                     timestamp=1_600_000_000_000 + seq * 60_000 + index * 7,
                                     content=Post(text=f"{seq} from {index}"))
            raw.append((e.header, e.payload))
            prev = e.hash
    return raw


async def fill(path: Path, setup: Setup, raw: Raw) -> float:
    """A viewer's database: its follows and the account ops, then `raw` received; returns
    the ingest rate (entries/s)."""
    store = await Store.open(path)
    viewer = identity_for("bench-viewer")  # as bench/ingest.py
    await store.set_owner(viewer.public_key)
    for feed in setup.follows:
        await store.append(viewer, Follow(feed=feed))
    if setup.ops:
        await store.accounts.add_ops(setup.ops)
    await store.verify_pool.warm_up()  # as in a running node
    batches = [raw[i:i + ingest_bench.BATCH] for i in range(0, len(raw), ingest_bench.BATCH)]
    started = time.perf_counter()
    pending: set[asyncio.Future[object]] = set()
    stored = 0
    for batch in batches:
        if len(pending) >= ingest_bench.IN_FLIGHT:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            stored += sum(len(d.result().accepted) for d in done)  # type: ignore[attr-defined]
        pending.add(asyncio.ensure_future(store.ingest(batch)))
    for task in pending:
        stored += len((await task).accepted)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    await store.close()
    assert stored == len(raw), (stored, len(raw))
    return len(raw) / elapsed


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def medians(a: list[tuple[float, float, float]], s: list[tuple[float, float, float]],
            column: int) -> str:
    return ratio(statistics.median(x[column] for x in a),
                 statistics.median(x[column] for x in s))


async def timelines_interleaved(paths: list[Path], runs: int = 300
                                ) -> list[tuple[float, float]]:
    """Median and p99 ms of the newest-50 timeline on each database, the queries taking
    turns (one on each, `runs` times), so a busy spell of the machine hits both alike."""
    stores = [await Store.open(path) for path in paths]
    viewer = identity_for("bench-viewer").public_key
    took: list[list[float]] = [[] for _ in stores]
    for _ in range(runs):
        for store, times in zip(stores, took, strict=True):
            started = time.perf_counter()
            page = await store.timeline(viewer, limit=50)
            times.append((time.perf_counter() - started) * 1000)
            assert len(page) == 50
    for store in stores:
        await store.close()
    return [(statistics.median(t), sorted(t)[int(len(t) * 0.99)]) for t in took]


async def local_parts(args: argparse.Namespace, tmp: Path) -> None:
    single, acc = single_key(1000, "ab"), accounts(333, "ab")
    started = time.perf_counter()
    raws = {s.kind: chains(s, args.entries // len(s.feeds)) for s in (single, acc)}
    print(f"generated {len(raws['single-key']):,} entries of 1,000 single-key feeds and "
          f"{len(raws['accounts']):,} of 333 accounts x {DEVICES} devices in "
          f"{time.perf_counter() - started:.0f}s", flush=True)
    results: dict[str, list[tuple[float, float, float]]] = {"single-key": [], "accounts": []}
    for run in range(args.runs):
        paths = {s.kind: tmp / f"{s.kind}-{run}.db" for s in (single, acc)}
        rates = {s.kind: await fill(paths[s.kind], s, raws[s.kind]) for s in (single, acc)}
        times = await timelines_interleaved(list(paths.values()))
        for setup, (median, p99) in zip((single, acc), times, strict=True):
            results[setup.kind].append((rates[setup.kind], median, p99))
            print(f"  run {run + 1} {setup.kind:10}: ingest {rates[setup.kind]:,.0f}/s, "
                  f"timeline newest 50 median {median:.2f} ms, p99 {p99:.2f} ms", flush=True)
        for path in paths.values():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    s, a = results["single-key"], results["accounts"]
    print("ingest (entries/s)   single-key: " + ", ".join(f"{r[0]:,.0f}" for r in s)
          + "; accounts: " + ", ".join(f"{r[0]:,.0f}" for r in a)
          + "; ratio accounts/single-key per run: "
          + ", ".join(ratio(x[0], y[0]) for x, y in zip(a, s, strict=True))
          + f"; of medians {medians(a, s, 0)}"
          + " (bar: >= 0.90)")
    print("timeline median (ms) single-key: " + ", ".join(f"{r[1]:.2f}" for r in s)
          + "; accounts: " + ", ".join(f"{r[1]:.2f}" for r in a)
          + "; ratio accounts/single-key per run: "
          + ", ".join(ratio(x[1], y[1]) for x, y in zip(a, s, strict=True))
          + f"; of medians {medians(a, s, 1)}"
          + " (bar: <= 1.10)", flush=True)


async def reconnect_once(tmp: Path, setup: Setup, raw: Raw) -> float:
    """bench/sync.py's reconnect, with the account ops held on both sides: ms from B
    dialling A to B caught up."""
    a = NodeProcess.create(tmp / "re-a")
    b = NodeProcess.create(tmp / "re-b")
    for node in (a, b):
        await sync_bench.fill(node, raw, setup.follows)
        if setup.ops:
            store = await Store.open(node.home / "p2psocial.db")
            try:
                await store.accounts.add_ops(setup.ops)
            finally:
                await store.close()
    (b.home / "config.json").write_text(json.dumps({"hops": 1}))
    with a, b:
        a.start()
        b.start()
        await asyncio.sleep(2)  # let both nodes settle (subscriptions, DHT start-up)
        target = a.addrs()[0]
        c = await sync_bench.client(b)
        started = time.perf_counter()
        await c.connect(target)
        while not any(p.caught_up for p in await c.peers()):
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        status = await c.status()
        await c.close()
        ca = await sync_bench.client(a)
        matched = sum(p.accounts_matched for p in await ca.peers())
        await ca.close()
    assert status.entries_received == 0, "B was up to date: nothing should cross"
    if setup.ops:
        print(f"    A found {matched} of B's {len(setup.follows)} account summaries equal",
              flush=True)
    return elapsed * 1000


async def reconnect_part(args: argparse.Namespace, tmp: Path) -> None:
    n = args.reconnect
    single, acc = single_key(n, "re"), accounts(n, "re")
    same = single_key(n * DEVICES, "re")  # as many feeds as the accounts' devices
    same.kind = "same-feeds"
    setups = (single, acc, same)
    per_kind = {s.kind: [r for f in s.feeds for r in raw_entries(make_feed(f, 3))]
                for s in setups}
    ms: dict[str, list[float]] = {s.kind: [] for s in setups}
    for run in range(args.runs):
        for setup in setups:
            where = tmp / f"reconnect-{setup.kind}-{run}"
            where.mkdir()
            ms[setup.kind].append(await reconnect_once(where, setup, per_kind[setup.kind]))
            print(f"  run {run + 1} {setup.kind:10}: reconnect {ms[setup.kind][-1]:.0f} ms",
                  flush=True)
    s, a = ms["single-key"], ms["accounts"]
    print(f"reconnect, {n} follows, up to date: dial to caught up (ms) single-key: "
          + ", ".join(f"{x:.0f}" for x in s) + f"; accounts of {DEVICES} devices: "
          + ", ".join(f"{x:.0f}" for x in a) + "; ratio per run: "
          + ", ".join(ratio(x, y) for x, y in zip(a, s, strict=True))
          + f"; of medians {ratio(statistics.median(a), statistics.median(s))} (bar: <= 1.20)",
          flush=True)
    f = ms["same-feeds"]
    print(f"  where it goes: {n * DEVICES} single-key feeds (as many feeds as the accounts' "
          "devices): " + ", ".join(f"{x:.0f}" for x in f) + "; accounts / these per run: "
          + ", ".join(ratio(x, y) for x, y in zip(a, f, strict=True))
          + f"; of medians {ratio(statistics.median(a), statistics.median(f))}", flush=True)


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        if {"timeline", "ingest"} & set(args.only):
            await local_parts(args, Path(tmp))
        if "reconnect" in args.only:
            await reconnect_part(args, Path(tmp))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--entries", type=int, default=200_000,
                   help="entries in the ingest and timeline parts (bench/ingest.py uses 1M)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--reconnect", type=int, default=1000,
                   help="follows in the reconnect part")
    p.add_argument("--only", nargs="*", default=["timeline", "ingest", "reconnect"])
    asyncio.run(main(p.parse_args()))
