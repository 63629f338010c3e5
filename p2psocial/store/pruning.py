"""Pruning: what the storage budget drops, and the feeds that left (core/budget.py decides
the order; runtime/storage_keeper.py runs it).

Rules:
- `drop_payloads` removes the payloads of posts, never their headers: each feed still
  verifies, the posts leave the timeline, the links and the search index in the same
  transaction (as a delete does; but the entry is not marked deleted: the payload may be
  fetched again). Only `post` entries: profiles and follows make the graph.
- Bookmarked posts are never candidates (`post_payloads` leaves them out); the caller
  leaves out my own feeds.
- `departed` keeps, per feed held but no longer wanted, since when (migration 0008);
  `purge_feed` removes every entry of a feed whose grace has passed, with its fork proofs,
  projections and search rows, in one transaction (a feed holding a bookmarked entry is
  kept whole).
- Every write that changes stored rows tells the store's caches (FreshRows.forget, the
  feed-state cache) after its commit.
- `compact` gives freed pages back to the file system: an incremental vacuum on a database
  made with auto_vacuum = INCREMENTAL (new ones are); an older one is converted by one
  VACUUM when the caller says it is worth it, which may renumber `entries`, so the search
  index is rebuilt after it. Either way the WAL is checkpointed and truncated.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from p2psocial.store import search
from p2psocial.store.errors import translated
from p2psocial.store.feed_cache import FeedStateCache
from p2psocial.store.fresh import FreshRows
from p2psocial.store.rows import HASH_KEY

PAYLOAD_PAGE = 5_000
_NUMBER = "SELECT id FROM feed_numbers WHERE author = ?"  # a feed's number (store/stored_header.py)


def post_payloads(db: sqlite3.Connection, feeds: Collection[bytes], limit: int = PAYLOAD_PAGE
                  ) -> list[tuple[bytes, bytes, int, int, int]]:
    """(hash, author, seq, time, payload bytes) of the posts of `feeds` that hold a payload
    and are not bookmarked, oldest first, at most `limit`. A post's time is the earlier of
    its timestamp and its arrival (as the timeline's): a post dated in the future is not
    kept longer."""
    if not feeds:
        return []
    db.execute("CREATE TEMP TABLE IF NOT EXISTS prune_feeds (author BLOB PRIMARY KEY)")
    db.execute("DELETE FROM prune_feeds")
    db.executemany("INSERT OR IGNORE INTO prune_feeds (author) VALUES (?)",
                   [(f,) for f in feeds])
    rows = db.execute(
        "SELECT e.hash, e.author, e.seq, min(e.ts, e.received_at), length(e.payload) "
        "FROM prune_feeds p "
        "JOIN entries e ON e.author = p.author WHERE e.type = 'post' "
        "AND e.payload IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bookmarks b "
        "WHERE b.hash = e.hash) ORDER BY min(e.ts, e.received_at) LIMIT ?",
        (limit,)).fetchall()
    db.execute("DELETE FROM prune_feeds")
    return [(bytes(h), bytes(a), int(s), int(t), int(n)) for h, a, s, t, n in rows]


def drop_payload(db: sqlite3.Connection, author: bytes, seq: int, *, deleted: bool) -> None:
    """Drop the payload of (author, seq) with its search, timeline and link rows, inside the
    caller's transaction; the header stays. `deleted`: its author asked (a delete, for
    good); else pruned here (the entry may be fetched whole again)."""
    search.unindex_post(db, author, seq)
    # its timeline row by the whole key (the time is the earlier of timestamp and arrival,
    # as projections.py writes it), not by a walk over the timeline
    row = db.execute(f"SELECT feed, min(ts, received_at) FROM entry_rows WHERE feed = "
                     f"({_NUMBER}) AND seq = ?", (author, seq)).fetchone()
    if row is not None:
        db.execute("DELETE FROM timeline_rows WHERE ts = ? AND feed = ? AND seq = ?",
                   (row[1], row[0], seq))
    db.execute("UPDATE entry_rows SET payload = NULL, deleted = max(deleted, ?) "
               f"WHERE feed = ({_NUMBER}) AND seq = ?", (int(deleted), author, seq))
    db.execute("DELETE FROM links WHERE author = ? AND seq = ?", (author, seq))


def drop_payloads(db: sqlite3.Connection, keys: Sequence[tuple[bytes, int]]) -> set[bytes]:
    """Drop the payloads of these posts (author, seq) in one transaction; the authors."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for author, seq in keys:
            drop_payload(db, author, seq, deleted=False)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {a for a, _ in keys}


def attachment_links(db: sqlite3.Connection) -> list[tuple[bytes, bytes, int, bool]]:
    """(blob, author, post time, bookmarked) for every held post that names a blob."""
    return [(bytes(b), bytes(a), int(t), bool(k)) for b, a, t, k in db.execute(
        "SELECT l.target, l.author, l.ts, EXISTS (SELECT 1 FROM bookmarks b WHERE b.hash = "
        "(SELECT e.hash FROM entries e WHERE e.author = l.author AND e.seq = l.seq)) "
        "FROM links l WHERE l.rel = 'attach'")]


def departed(db: sqlite3.Connection, held_unwanted: Collection[bytes], now: int
             ) -> dict[bytes, int]:
    """Record `held_unwanted` as the feeds now held but not wanted (new ones since `now`,
    the others keep their time; feeds wanted again leave); since when, for each."""
    db.execute("BEGIN IMMEDIATE")
    try:
        known = {bytes(a): int(s) for a, s in db.execute(
            "SELECT author, since FROM departed_feeds")}
        gone = [(a,) for a in known if a not in held_unwanted]
        db.executemany("DELETE FROM departed_feeds WHERE author = ?", gone)
        new = [(a, now) for a in held_unwanted if a not in known]
        db.executemany("INSERT INTO departed_feeds (author, since) VALUES (?, ?)", new)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {a: known.get(a, now) for a in held_unwanted}


def purge_feed(db: sqlite3.Connection, author: bytes) -> int:
    """Remove every entry of `author` (and what derives from them); how many went. A feed
    with a bookmarked entry stays whole (0)."""
    if db.execute("SELECT 1 FROM bookmarks WHERE EXISTS (SELECT 1 FROM entries WHERE "
                  f"{HASH_KEY} = substr(bookmarks.hash, 1, 8) AND hash = bookmarks.hash "
                  "AND author = ?) LIMIT 1", (author,)).fetchone():
        return 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for (seq,) in db.execute("SELECT seq FROM entries WHERE author = ? AND type = 'post' "
                                 "AND payload IS NOT NULL", (author,)).fetchall():
            search.unindex_post(db, author, int(seq))
        count = db.execute(f"DELETE FROM entry_rows WHERE feed = ({_NUMBER})",
                           (author,)).rowcount
        db.execute(f"DELETE FROM timeline_rows WHERE feed = ({_NUMBER})", (author,))
        for table, column in (("feeds", "author"), ("forks", "author"), ("feed_numbers", "author"),
                              ("links", "author"), ("contacts", "src"),
                              ("profiles", "author"), ("relay_lists", "author"),
                              ("departed_feeds", "author")):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (author,))
        search.refresh_profiles(db, [author])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return int(count)


def free_bytes(db: sqlite3.Connection) -> int:
    """Bytes of free pages in the database file."""
    pages = db.execute("PRAGMA freelist_count").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def compact(db: sqlite3.Connection, *, convert: bool) -> bool:
    """Give free pages back to the file system and empty the WAL; True if the database was
    converted to incremental auto-vacuum by a VACUUM (`convert`; the caller then rebuilds
    the search index). Without `convert`, an older database only empties its WAL."""
    mode = int(db.execute("PRAGMA auto_vacuum").fetchone()[0])
    converted = False
    if mode == 2:
        db.execute("PRAGMA incremental_vacuum")
    elif convert:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")
        converted = True
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return converted


def rebuild_search(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        search.rebuild(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class Pruner:
    """The pruning calls of one store (`store.pruning`), run in its database thread under
    its write lock."""

    def __init__(self, in_db_thread: Callable[..., Awaitable[Any]], write_lock: asyncio.Lock,
                 fresh: FreshRows, states: FeedStateCache) -> None:
        self._run = in_db_thread
        self._lock = write_lock
        self._fresh = fresh
        self._states = states

    @translated
    async def post_payloads(self, feeds: Collection[bytes], limit: int = PAYLOAD_PAGE
                            ) -> list[tuple[bytes, bytes, int, int, int]]:
        async with self._lock:
            rows: list[tuple[bytes, bytes, int, int, int]] = await self._run(
                post_payloads, feeds, limit)
        return rows

    @translated
    async def drop_payloads(self, keys: Sequence[tuple[bytes, int]]) -> None:
        if not keys:
            return
        async with self._lock:
            authors: set[bytes] = await self._run(drop_payloads, keys)
        for author in authors:
            self._fresh.forget(author)

    @translated
    async def attachment_links(self) -> list[tuple[bytes, bytes, int, bool]]:
        rows: list[tuple[bytes, bytes, int, bool]] = await self._run(attachment_links)
        return rows

    @translated
    async def held_feeds(self) -> set[bytes]:
        def read(db: sqlite3.Connection) -> set[bytes]:
            return {bytes(a) for (a,) in db.execute("SELECT author FROM feeds")}
        feeds: set[bytes] = await self._run(read)
        return feeds

    @translated
    async def departed(self, held_unwanted: Collection[bytes], now: int) -> dict[bytes, int]:
        async with self._lock:
            since: dict[bytes, int] = await self._run(departed, held_unwanted, now)
        return since

    @translated
    async def purge_feed(self, author: bytes) -> int:
        async with self._lock:
            def purge(db: sqlite3.Connection) -> int:
                count = purge_feed(db, author)
                self._states.forget([author])
                return count
            count: int = await self._run(purge)
        self._fresh.forget(author)
        return count

    @translated
    async def bytes_by_feed(self, limit: int = -1) -> list[tuple[bytes, int]]:
        """The feeds taking most room in `entry_rows` (headers as stored, and payloads), most
        first (all of them with limit -1)."""
        def read(db: sqlite3.Connection) -> list[tuple[bytes, int]]:
            return [(bytes(a), int(n)) for a, n in db.execute(
                "SELECT f.author, r.n FROM (SELECT feed, sum(length(header) + "
                "coalesce(length(payload), 0)) AS n FROM entry_rows GROUP BY feed) r "
                "JOIN feed_numbers f ON f.id = r.feed ORDER BY r.n DESC LIMIT ?", (limit,))]
        rows: list[tuple[bytes, int]] = await self._run(read)
        return rows

    @translated
    async def free_bytes(self) -> int:
        free: int = await self._run(free_bytes)
        return free

    @translated
    async def compact(self, *, convert: bool) -> bool:
        """Free pages back to the file system (see the module rules)."""
        async with self._lock:
            converted: bool = await self._run(lambda db: compact(db, convert=convert))
            if converted:
                await self._run(rebuild_search)
        return converted
