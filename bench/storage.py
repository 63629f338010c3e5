"""Benchmark: what a post takes on disk, and a node held to its storage budget (issue 13,
acceptance 3).

    python bench/storage.py [--posts 50000] [--feeds 1000] [--budget 100MB] [--scale 1.0]

Part 1, bytes per post: `--posts` posts of 200 characters (40 authors) ingested into a fresh
database through the real write path (search index included), closed (the WAL checkpointed
into the file), then the file's size per post and where it goes, per table and index
(SQLite's dbstat), with the average header and payload. Bar: <= 500 bytes per post for the
log and its indexes, the figure the issue measured (676) before the search index existed;
the search index (issue 12's) is reported apart and in the total.

Part 2, the budget: a node following `--feeds` accounts (all at hop 1) receives their posts
(200 characters; one in forty with a 40 kB picture, as its blob file) in rounds, far more than
`--budget` in all. After each round the keeper is told what was stored (`grown`, as the
replicator tells it) and runs a pass when that says so, as a running node does. Prints the
disk after every round, the peak (bar: a 100 MB budget stays under 110 MB) and what was
dropped; then checks that every feed still verifies its headers and my own posts are whole.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.core.budget import parse_size
from p2psocial.core.content import Attachment, Post
from p2psocial.core.wants import Want
from p2psocial.runtime.service import Service
from p2psocial.runtime.storage_keeper import StorageKeeper, disk_usage
from p2psocial.store.blobs import BlobStore
from p2psocial.store.sqlite import Store
from p2psocial.testing.builders import FeedBuilder, identity_for, prose, raw_entries

MB = 1e6


async def bytes_per_post(posts: int, tmp: Path) -> None:
    path = tmp / "per-post.db"
    store = await Store.open(path)
    authors = 40
    per = posts // authors
    for a in range(authors):
        builder = FeedBuilder(identity_for(f"storage-bench-{a}"))
        for i in range(per):
            builder.post(prose(200, f"{a}:{i}"))
        await store.ingest(raw_entries(builder.entries))
    await store.close()
    n = authors * per
    size = path.stat().st_size
    with sqlite3.connect(path) as db:
        search = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'post_search%' "
                            "OR name LIKE 'profile_search%'").fetchone()[0]
        page = db.execute("PRAGMA page_size").fetchone()[0]
    print(f"bytes per post: {n:,} posts of 200 characters, database {size / MB:.1f} MB "
          f"after checkpoint ({page}-byte pages): {size / n:.0f} bytes per post in all; "
          f"{(size - search) / n:.0f} for the log and its indexes (bar <= 500), "
          f"{search / n:.0f} for the search index (issue 12)")
    with sqlite3.connect(path) as db:
        header, payload = db.execute("SELECT avg(length(header)), avg(length(payload)) "
                                     "FROM entries").fetchone()
        print(f"  an entry: header {header:.0f} + payload {payload:.0f} = "
              f"{header + payload:.0f} bytes of signed data")
        for name, pages, unused in db.execute(
                "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name "
                "ORDER BY 2 DESC LIMIT 8"):
            print(f"  {name:28s} {pages / n:6.1f} bytes per post ({unused / pages:4.1%} unused)")


async def budget(feeds: int, budget: int, rounds: int, per_round: int, tmp: Path) -> None:
    me = identity_for("storage-bench-me")
    store = await Store.open(tmp / "budget.db")
    blobs = BlobStore(tmp / "blobs")
    await store.set_owner(me.public_key)
    service = Service(store, me.public_key, lambda: me)
    service.blob_store = blobs
    people = [identity_for(f"storage-bench-feed-{i}") for i in range(feeds)]
    builders = [FeedBuilder(p, start_ts=1_700_000_000_000 + i) for i, p in enumerate(people)]
    wants = {me.public_key: Want(0, 0)} | {p.public_key: Want(1, 0) for p in people}
    keeper = StorageKeeper(store, blobs, budget=budget, grace_ms=7 * 86_400_000,
                           wants=lambda: wants, mine=lambda: {me.public_key})
    for i in range(20):
        await service.post(prose(200, f"mine {i}"))
    peak = passes = 0
    in_passes = 0.0
    dropped_blobs = dropped_payloads = 0
    started = time.perf_counter()
    print(f"budget: {feeds:,} followed accounts, budget {budget / MB:.0f} MB, {rounds} rounds "
          f"of {per_round} posts per account")
    for r in range(rounds):
        stored = 0
        for builder in builders:
            entries = []
            for i in range(per_round):
                attachments: tuple[Attachment, ...] = ()
                if (r * per_round + i) % 40 == 0:
                    manifest = blobs.add_bytes(os.urandom(40_000))
                    stored += manifest.size
                    attachments = (Attachment(manifest.id, manifest.size, "image/jpeg"),)
                entries.append(builder.add(Post(prose(200, f"{r}:{i}"),
                                                attachments=attachments)))
            await store.ingest(raw_entries(entries[-per_round:]))
            stored += sum(len(e.header) + e.payload_size for e in entries)
            if keeper.grown(stored):
                at = time.perf_counter()
                report = await keeper.prune()
                in_passes += time.perf_counter() - at
                passes += 1
                dropped_blobs += report.blobs
                dropped_payloads += report.payloads
            peak = max(peak, disk_usage(store, blobs))
            stored = 0
            builder.entries.clear()
        now = disk_usage(store, blobs)
        print(f"  round {r + 1:2d}: {now / MB:6.1f} MB on disk, peak so far {peak / MB:6.1f} MB")
    final = (await keeper.prune()).after
    print(f"  {passes} passes, {in_passes / max(passes, 1):.2f} s each on average "
          f"({time.perf_counter() - started:.0f} s in all); dropped {dropped_blobs:,} "
          f"pictures and {dropped_payloads:,} post contents")
    print(f"  peak {peak / MB:.1f} MB, final {final / MB:.1f} MB "
          f"(bar: under {budget * 1.1 / MB:.0f} MB)")
    mine = await store.raw_range(me.public_key, 1, 20)
    assert all(p is not None for _s, _h, p in mine), "my own posts were pruned"
    for person in people[:: max(1, feeds // 20)]:
        report = await service.verify(person.handle)
        assert report.ok, report
    print("  my posts whole; every feed checked still verifies")
    await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--budget", default="100MB")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p2psocial-bench-storage-") as tmp:
        await bytes_per_post(args.posts, Path(tmp))
        await budget(args.feeds, parse_size(args.budget), args.rounds, args.per_round,
                     Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
