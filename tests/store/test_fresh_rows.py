"""Entries just written are served from memory (store/fresh.py) and exactly as the database
holds them: never a payload a delete removed. Real SQLite files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2psocial.core.content import Delete
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, raw_entries
from p2psocial.testing.builders import FeedBuilder

ALICE = identity_for("alice")


async def from_database(store: Store, author: bytes, lo: int, hi: int,
                        descending: bool = False) -> list[tuple[int, bytes, bytes | None]]:
    store._fresh.clear()
    return await store.raw_range(author, lo, hi, descending=descending)


class CountingReads:
    """Counts the statements the store runs on its connection."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = store._conn.execute

        def execute(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(store._conn, "execute", execute)


@pytest.mark.asyncio
async def test_a_live_push_reads_the_entry_just_stored_from_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = FeedBuilder(ALICE)
    for i in range(5):
        feed.post(f"post {i}")
    store = await Store.open(tmp_path / "db")
    try:
        await store.ingest(raw_entries(feed.entries))
        reads = CountingReads(store, monkeypatch)
        for _ in range(20):  # 20 followers' sessions push the newest entry
            rows = await store.raw_range(ALICE.public_key, 5, 5)
            assert rows == [(5, feed.entries[4].header, feed.entries[4].payload)]
        got = await store.raw_range(ALICE.public_key, 2, 5, descending=True)
        assert reads.count == 0
        assert got == await from_database(store, ALICE.public_key, 2, 5, descending=True)
        reads.count = 0
        assert await store.raw_range(ALICE.public_key, 4, 6) == \
            await from_database(store, ALICE.public_key, 4, 6)  # 6 is not held: database
        assert reads.count >= 1
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_payload_removed_by_a_delete_is_never_served_from_memory(tmp_path: Path) -> None:
    feed = FeedBuilder(ALICE)
    first = feed.post("regret this")
    second = feed.post("and this one")
    kept = feed.post("keep this")
    feed.add(Delete(target=first.hash))          # seq 4
    later = feed.post("later")                   # seq 5
    feed.add(Delete(target=later.hash))          # seq 6, in a later batch than its target
    store = await Store.open(tmp_path / "db")
    try:
        # newest first: the delete of seq 1 arrives before seq 1 (stored without payload)
        await store.ingest(raw_entries(feed.entries[3:4]))
        await store.ingest(raw_entries(feed.entries[2::-1]))  # backfill: newest first
        rows = await store.raw_range(ALICE.public_key, 1, 3)
        assert rows == [(1, first.header, None), (2, second.header, second.payload),
                        (3, kept.header, kept.payload)]
        assert rows == await from_database(store, ALICE.public_key, 1, 3)
        # a later batch deletes an entry already held (and remembered)
        await store.ingest(raw_entries(feed.entries[4:5]))
        assert (await store.raw_range(ALICE.public_key, 5, 5))[0][2] == later.payload
        await store.ingest(raw_entries(feed.entries[5:6]))
        assert (await store.raw_range(ALICE.public_key, 5, 5)) == [(5, later.header, None)]
        assert await store.raw_range(ALICE.public_key, 1, 6) == \
            await from_database(store, ALICE.public_key, 1, 6)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await Store.open(tmp_path / "db")
    monkeypatch.setattr(store._fresh, "_capacity", 50)
    feed = FeedBuilder(ALICE)
    for i in range(200):
        feed.post(f"post {i}")
    try:
        await store.ingest(raw_entries(feed.entries))
        assert len(store._fresh) == 50
        assert await store.raw_range(ALICE.public_key, 1, 3) == \
            [(e.seq, e.header, e.payload) for e in feed.entries[:3]]  # from the database
    finally:
        await store.close()
