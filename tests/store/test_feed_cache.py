"""Store.feed_states serves held states from a cache kept by the write path
(store/feed_cache.py): after any mix of reads, appends, ingests and forks it answers exactly
what the `feeds` table holds (real SQLite), and the cache stays bounded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from p2psocial.core.content import Post
from p2psocial.core.feed import FeedState
from p2psocial.store.feed_cache import FeedStateCache
from p2psocial.store.rows import STATE_COLUMNS, state_of_row
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, make_feed, raw_entries

ME = identity_for("feed-cache-me")
A, B = identity_for("feed-cache-a"), identity_for("feed-cache-b")


def on_disk(path: Path) -> dict[bytes, FeedState]:
    conn = sqlite3.connect(path)
    try:
        return {bytes(r[0]): state_of_row(r)
                for r in conn.execute(f"SELECT {STATE_COLUMNS} FROM feeds")}
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_feed_states_answer_what_the_table_holds_after_every_kind_of_write(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    keys = [ME.public_key, A.public_key, B.public_key]
    try:
        await store.set_owner(ME.public_key)
        feed_a, feed_b = make_feed(A, 6), make_feed(B, 4)
        assert await store.feed_states(keys) == {}  # nothing held: nothing cached either
        await store.ingest(raw_entries(feed_a[:2]))
        assert (await store.feed_states(keys))[A.public_key].hi == 2  # read: now cached
        await store.ingest(raw_entries(feed_a[4:]))  # past a gap: not placed
        await store.ingest(raw_entries(feed_a[2:4]))
        await store.ingest(raw_entries(feed_a[4:]))
        await store.ingest(raw_entries(feed_b))
        await store.append(ME, Post(text="one"))
        await store.append(ME, Post(text="two"))
        forked = make_feed(B, 2, text=lambda i: f"another {i}")[1]  # B's seq 2 again: a fork
        await store.ingest(raw_entries([forked]))
        cached = await store.feed_states(keys)
    finally:
        await store.close()
    assert cached == on_disk(path)
    assert cached[A.public_key].hi == 6 and cached[ME.public_key].hi == 2
    assert cached[B.public_key].forked


def test_the_cache_is_bounded_and_drops_the_oldest_first() -> None:
    cache = FeedStateCache(max_states=3)
    states = {bytes([i]) * 32: FeedState(bytes([i]) * 32, 1, i) for i in range(1, 6)}
    cache.written(states)
    assert len(cache) == 3
    conn = sqlite3.connect(":memory:")
    read: list[bytes] = []

    def select(_: sqlite3.Connection, authors: object) -> dict[bytes, FeedState]:
        read.extend(authors)  # type: ignore[call-overload]
        return {}
    assert cache.read(conn, list(states), select) == {k: states[k] for k in list(states)[2:]}
    assert read == list(states)[:2]  # the two oldest were dropped, so read again
