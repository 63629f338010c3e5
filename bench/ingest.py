"""Benchmark: local append, verified ingest, and the timeline query.

    python bench/ingest.py [--feeds 100] [--per-feed 1000] [--big-entries 1000000]

Prints, from one run on this machine:
- own posts appended per second (one signed entry, one transaction each);
- signature verification alone over the same entries, 1 and 2 threads (the bound);
- received entries verified and stored per second (100 feeds x 1000 entries, through
  Store.ingest in batches of 2000, 3 in flight, as a sync session feeds it; the store's
  verification processes are started by a small warm-up batch first, as in a running node),
  and that as a ratio of 2-thread verification;
- the timeline query (newest 50 over 1,000 followed feeds) with 1M entries stored.
The 1M-entry database is built once and cached in bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.core.content import Follow, Post
from p2psocial.core.entry import Entry, create_content_entry
from p2psocial.core.identity import verify_signature
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for

OUT = Path(__file__).resolve().parent / "out"
BATCH = 2000
IN_FLIGHT = 3


def make_feeds(feeds: int, per_feed: int, *, prefix: str = "bench") -> list[list[Entry]]:
    """`feeds` chains of `per_feed` posts each, signed for real."""
    out = []
    base = 1_700_000_000_000
    for f in range(feeds):
        ident = identity_for(f"{prefix}-{f}")
        prev = None
        chain = []
        for seq in range(1, per_feed + 1):
            e = create_content_entry(ident, seq=seq, prev=prev, timestamp=base + seq * 1000 + f,
                                     content=Post(text=f"post {seq} of feed {f}: "
                                                  "the quick brown fox jumps over the lazy dog"))
            chain.append(e)
            prev = e.hash
        out.append(chain)
    return out


def interleave(feeds: list[list[Entry]]) -> list[tuple[bytes, bytes | None]]:
    """Entries in arrival order as a sync would deliver them: feed by feed, in batches."""
    return [(e.header, e.payload) for chain in feeds for e in chain]


def verify_only(raw: list[tuple[bytes, bytes | None]], entries: list[Entry],
                threads: int) -> float:
    """Entries per second for Ed25519 verification alone."""
    from p2psocial.core.entry import signed_message
    jobs = [(e.author, signed_message(e.header), e.signature) for e in entries]

    def run(part: list[tuple[bytes, bytes, bytes]]) -> None:
        for author, msg, sig in part:
            verify_signature(author, msg, sig)

    t = time.perf_counter()
    if threads == 1:
        run(jobs)
    else:
        size = len(jobs) // threads + 1
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, [jobs[i:i + size] for i in range(0, len(jobs), size)]))
    return len(jobs) / (time.perf_counter() - t)


async def ingest_rate(raw: list[tuple[bytes, bytes | None]], path: Path) -> float:
    """Entries per second through Store.ingest, IN_FLIGHT batches at a time (as a node's sync
    session does)."""
    store = await Store.open(path)
    # a running node has its verification processes up already: start them before timing
    warm = make_feeds(1, 300, prefix="warm-up")[0]
    await store.ingest([(e.header, e.payload) for e in warm])
    batches = [raw[i:i + BATCH] for i in range(0, len(raw), BATCH)]
    t = time.perf_counter()
    pending: set[asyncio.Task[object]] = set()
    stored = 0
    for batch in batches:
        if len(pending) >= IN_FLIGHT:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            stored += sum(len(d.result().accepted) for d in done)  # type: ignore[attr-defined]
        pending.add(asyncio.ensure_future(store.ingest(batch)))
    for task in pending:
        stored += len((await task).accepted)  # type: ignore[attr-defined]
    dt = time.perf_counter() - t
    await store.close()
    assert stored == len(raw), (stored, len(raw))
    return len(raw) / dt  # (the warm-up feed is not counted)


async def append_rate(path: Path, count: int) -> float:
    """Own posts appended per second, one transaction each."""
    store = await Store.open(path)
    me = identity_for("bench-me")
    t = time.perf_counter()
    for i in range(count):
        await store.append(me, Post(text=f"my post number {i}"))
    dt = time.perf_counter() - t
    await store.close()
    return count / dt


async def build_big(path: Path, total: int, authors: int) -> None:
    """A database with `total` entries from `authors` feeds, the viewer following them all."""
    store = await Store.open(path)
    me = identity_for("bench-viewer")
    await store.set_owner(me.public_key)
    per = total // authors
    base = 1_600_000_000_000
    for a in range(authors):
        ident = identity_for(f"big-{a}")
        await store.append(me, Follow(feed=ident.public_key))
        prev = None
        chain = []
        for seq in range(1, per + 1):
            e = create_content_entry(ident, seq=seq, prev=prev,
                                     timestamp=base + seq * 60_000 + a * 7,
                                     content=Post(text=f"{seq} from {a}"))
            chain.append((e.header, e.payload))
            prev = e.hash
        for i in range(0, len(chain), 2000):
            await store.ingest(chain[i:i + 2000])
        if a % 100 == 99:
            print(f"  built {a + 1}/{authors} feeds", file=sys.stderr)
    await store.close()


async def timeline_ms(path: Path, runs: int = 300) -> tuple[float, float, float]:
    """Median and p99 ms of the first timeline page, and median ms of the second."""
    store = await Store.open(path)
    me = identity_for("bench-viewer").public_key
    first, second = [], []
    for _ in range(runs):
        t = time.perf_counter()
        page = await store.timeline(me, limit=50)
        first.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await store.timeline(me, limit=50, before=page[-1].cursor)
        second.append((time.perf_counter() - t) * 1000)
    assert len(page) == 50
    await store.close()
    first.sort()
    return statistics.median(first), first[int(len(first) * 0.99)], statistics.median(second)


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        rate = await append_rate(Path(tmp) / "own.db", args.appends)
        print(f"own posts appended: {rate:,.0f}/s ({args.appends} appends, a transaction each)")

        t = time.perf_counter()
        feeds = make_feeds(args.feeds, args.per_feed)
        entries = [e for chain in feeds for e in chain]
        raw = interleave(feeds)
        print(f"generated {len(raw):,} signed entries from {args.feeds} feeds "
              f"in {time.perf_counter() - t:.1f}s")
        v1 = verify_only(raw, entries, 1)
        v2 = verify_only(raw, entries, 2)
        print(f"signature verification alone: {v1:,.0f}/s on 1 thread, {v2:,.0f}/s on 2 threads")
        rates = [await ingest_rate(raw, Path(tmp) / f"ingest{i}.db") for i in range(args.repeat)]
        best = max(rates)
        print(f"received entries verified and stored: {best:,.0f}/s "
              f"(best of {args.repeat}: {', '.join(f'{r:,.0f}' for r in rates)}) = "
              f"{best / v2:.2f} of 2-thread verification alone")

    OUT.mkdir(exist_ok=True)
    big = OUT / f"timeline-{args.big_entries}-{args.big_authors}.db"
    if not big.exists():
        print(f"building {args.big_entries:,} entries from {args.big_authors} feeds "
              f"(cached in {big})…", file=sys.stderr)
        partial = big.with_suffix(".partial")
        for suffix in ("", "-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        await build_big(partial, args.big_entries, args.big_authors)
        partial.rename(big)
    median, p99, page2 = await timeline_ms(big)
    print(f"timeline, newest 50 over {args.big_authors} followed feeds, "
          f"{args.big_entries:,} entries: median {median:.2f} ms, p99 {p99:.2f} ms; "
          f"next page {page2:.2f} ms")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--per-feed", type=int, default=1000)
    p.add_argument("--appends", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--big-entries", type=int, default=1_000_000)
    p.add_argument("--big-authors", type=int, default=1000)
    asyncio.run(main(p.parse_args()))
