"""The SQLite store: entries, feed states, fork proofs and projections, through aiosqlite.

Rules:
- Nothing invalid is ever stored: received entries are decoded and verified (worker threads),
  then placed against the feed's chain (p2psocial.core.feed), then written.
- Appending my own entry is one transaction; ingesting a received batch is one transaction.
  A batch that breaks off at an invalid entry stores its valid prefix and reports the rest.
- Writes are serialised by one lock; reads run concurrently (WAL).
- A write transaction (placing included) runs as one plain-sqlite3 function in the
  connection's thread (`Store._in_db_thread`): one round trip per batch, not one await
  per statement.
- Rows are written by multi-row INSERTs (`_insert_rows`), never `executemany`: the sqlite3
  module gives up the GIL around every row's step and must take it back for the next, and
  while the decoding thread and the event loop are busy each retake waits its turn (measured:
  10 µs per row alone, 4.4 ms per row beside one busy thread; a 1,000-row INSERT 19 µs).
- A `delete` entry drops its target's payload (only if the target has the same author),
  whether the target is already held or arrives later; the header stays, so the chain verifies.
- Entries of feeds the local user blocks are refused.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from p2psocial.core.content import Content, content_payload
from p2psocial.core.encoding import digest
from p2psocial.core.entry import Entry, create_entry, decode_entry
from p2psocial.core.errors import StoreError, UsageError, ValidationError
from p2psocial.core.feed import BatchPlan, FeedState, ForkProof, Placement, plan_batch
from p2psocial.core.identity import Identity
from p2psocial.store.connection import open_database
from p2psocial.store.errors import translate, translated
from p2psocial.store.projections import LATEST_WINS_TYPES, ProjectionRows
from p2psocial.store.verify_pool import Decoded, RawEntry, VerifyPool, default_processes

Clock = Callable[[], int]
_R = TypeVar("_R")


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class IngestReport:
    """What became of a batch of received entries."""

    accepted: list[Entry] = field(default_factory=list)
    duplicates: int = 0
    gaps: int = 0
    refused: int = 0
    forks: list[ForkProof] = field(default_factory=list)
    error: ValidationError | None = None
    error_index: int | None = None
    not_stored: int = 0
    heads: dict[bytes, FeedState] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if every entry was valid (stored, duplicate, or a harmless gap)."""
        return self.error is None and not self.forks


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """An entry on a timeline and its position (`cursor`) for paging backwards."""

    entry: Entry
    sort_ts: int

    @property
    def cursor(self) -> tuple[int, bytes, int]:
        return (self.sort_ts, self.entry.author, self.entry.seq)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a feed says about itself."""

    author: bytes
    name: str | None = None
    bio: str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """Replies, reposts and reactions (by reaction) pointing at one entry."""

    replies: int = 0
    reposts: int = 0
    reactions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """Something another feed did that concerns the viewer (see Store.notifications).

    `kind` is "mention", "reply", "quote", "react", "repost" or "follow"; `target` is the
    viewer's entry it points at (None for mentions and follows)."""

    kind: str
    entry: Entry
    target: bytes | None
    sort_ts: int

    @property
    def cursor(self) -> tuple[int, bytes, int]:
        return (self.sort_ts, self.entry.author, self.entry.seq)


@dataclass(frozen=True, slots=True)
class ForkRecord:
    """A conflicting header kept as proof that a feed forked."""

    author: bytes
    seq: int
    hash: bytes
    header: bytes
    rule: str


class Store:
    """A user's database. Open with `await Store.open(path)`; close with `await close()`."""

    def __init__(self, conn: aiosqlite.Connection, *, clock: Clock, pool: VerifyPool,
                 directory: Path | None = None) -> None:
        self._conn = conn
        self.directory = directory
        self._clock = clock
        self._pool = pool
        self._write_lock = asyncio.Lock()
        self._last_turn: _Turn | None = None
        self._me: bytes | None = None

    @classmethod
    async def open(cls, path: Path, *, clock: Clock = now_ms,
                   verify_threads: int | None = None,
                   verify_processes: int | None = None) -> Store:
        """Open (creating and migrating if needed) the database at `path`.

        Args:
            verify_threads: threads that check signatures (default: one per core, up to 4).
            verify_processes: large received batches are checked in that many worker
                processes instead (no GIL contention with decoding and storing); default:
                one per core on a multi-core machine, 0 = threads only.
        """
        conn = await open_database(path)
        if verify_processes is None:
            verify_processes = default_processes()
        pool = VerifyPool(verify_threads, processes=verify_processes)
        store = cls(conn, clock=clock, pool=pool, directory=path.parent)
        me = await store.get_meta("me")
        store._me = me
        return store

    async def close(self) -> None:
        """Finish writes, checkpoint the WAL and close."""
        async with self._write_lock:
            try:
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await self._conn.close()
                self._pool.close()

    # --- metadata -------------------------------------------------------------------------

    @translated
    async def get_meta(self, key: str) -> bytes | None:
        """A metadata value, or None."""
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else bytes(row[0])

    @translated
    async def set_meta(self, key: str, value: bytes | None) -> None:
        """Set (or with None, remove) a metadata value."""
        async with self._write_lock:
            if value is None:
                await self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                await self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    async def set_owner(self, public_key: bytes) -> None:
        """Record whose database this is (the local user's key)."""
        await self.set_meta("me", public_key)
        self._me = public_key

    @property
    def owner(self) -> bytes | None:
        """The local user's key, once recorded."""
        return self._me

    # --- writes ---------------------------------------------------------------------------

    @translated
    async def append(self, identity: Identity, content: Content | None = None, *,
                     entry_type: str | None = None, payload: bytes | None = None) -> Entry:
        """Sign and append an entry to `identity`'s own feed in one transaction.

        Pass either `content` (a known type) or `entry_type` and raw `payload`.

        Raises:
            UsageError: the feed is forked, or the content breaks its schema.
        """
        if content is not None:
            entry_type, payload = content.TYPE, content_payload(content)
        if entry_type is None or payload is None:
            raise UsageError("append needs content or an entry type and payload")
        async with self._write_lock:
            state = await self._feed_state(identity.public_key)
            if state.forked:
                raise UsageError("your feed is forked: resolve the fork before posting")
            now = self._clock()
            entry = create_entry(identity, seq=state.hi + 1, prev=state.hi_hash,
                                 timestamp=max(now, state.hi_ts), entry_type=entry_type,
                                 payload=payload)
            plan = plan_batch({state.author: state}, [entry], lambda a, s: None)
            assert plan.accepted == [entry]
            await self._in_db_thread(self._write_plan, plan, now)
            return entry

    @translated
    async def ingest(self, raw: Sequence[RawEntry]) -> IngestReport:
        """Verify and store a batch of received entries `(header, payload or None)`.

        Verification runs in worker threads; the write is one transaction. Entries are
        placed in the order given (see p2psocial.core.feed.plan_batch). Several calls may be
        in flight at once: they verify concurrently and write in the order they were made.
        """
        turn = self._take_turn()
        try:
            decoded = await self._pool.decode(raw)
            await turn.wait_for_turn()
            return await self._place_and_write(raw, decoded)
        finally:
            turn.done()

    def _take_turn(self) -> _Turn:
        turn = _Turn(self._last_turn)
        self._last_turn = turn
        return turn

    async def _place_and_write(self, raw: Sequence[RawEntry], decoded: Decoded) -> IngestReport:
        async with self._write_lock:
            return await self._in_db_thread(self._place_and_write_sync, raw, decoded,
                                            self._clock())

    def _place_and_write_sync(self, db: sqlite3.Connection, raw: Sequence[RawEntry],
                              decoded: Decoded, now: int) -> IngestReport:
        """Place a decoded batch and write it: reads, plan and transaction in the database
        thread, one round trip for the whole batch."""
        report = IngestReport(error=decoded.error, error_index=decoded.error_index)
        entries = decoded.entries
        authors = {e.author for e in entries}
        blocked = self._blocked_among(db, authors)
        if blocked:
            report.refused += sum(1 for e in entries if e.author in blocked)
            entries = [e for e in entries if e.author not in blocked]
            authors -= blocked
        states = _select_feed_states(db, authors)
        held = _select_held_hashes(db, states, entries)
        plan = plan_batch(states, entries, lambda a, s: held.get((a, s)))
        if plan.error is not None:
            report.error, report.error_index = plan.error, plan.error_index
            # map the index inside the (filtered) valid prefix back onto the batch
            report.error_index = _index_in(raw, entries[plan.error_index or 0])
        self._write_plan(db, plan, now)
        report.accepted = plan.accepted
        report.duplicates += plan.duplicates
        report.gaps += len(plan.gaps)
        report.refused += len(plan.refused)
        report.forks = plan.forks
        changed = {e.author for e in plan.accepted} | {f.author for f in plan.forks}
        report.heads = {a: plan.states[a] for a in changed}
        if report.error_index is not None:
            report.not_stored = len(raw) - report.error_index
        return report

    async def _in_db_thread(self, fn: Callable[..., _R], *args: Any) -> _R:
        """`fn(db, *args)` in the connection's own thread, where aiosqlite runs every
        statement; `db` is the plain sqlite3 connection. A whole transaction then costs one
        round trip (and one wake-up of the event loop) instead of one per statement.
        aiosqlite has no public call for this; `_execute` queues a callable on that thread."""
        conn = self._conn

        def call() -> _R:
            return fn(conn._conn, *args)

        result: _R = await conn._execute(call)  # type: ignore[no-untyped-call]
        return result

    def _write_plan(self, db: sqlite3.Connection, plan: BatchPlan, now: int) -> None:
        """Write accepted entries, projections, states and fork proofs in one transaction
        (in the database thread)."""
        accepted = plan.accepted
        if not accepted and not plan.forks:
            return
        rows = ProjectionRows()
        rows.add_all(accepted, now)
        db.execute("BEGIN IMMEDIATE")
        try:
            deleted = self._deleted_targets(db, accepted, rows.deletions)
            if deleted:
                entry_rows: list[tuple[Any, ...]] = [
                    (*_ENTRY_COLUMNS(e), *((None, 1) if (e.hash, e.author) in deleted
                                           else (e.payload, 0)), now)
                    for e in accepted]
            else:
                entry_rows = [(*_ENTRY_COLUMNS(e), e.payload, 0, now) for e in accepted]
            _insert_rows(db, "INSERT INTO entries (author, seq, hash, ts, type, header, "
                         "payload, deleted, received_at)", 9, entry_rows)
            skip = {(e.author, e.seq) for e in accepted if (e.hash, e.author) in deleted}
            _insert_projections(db, rows, skip)
            _apply_deletions(db, rows.deletions, {e.hash for e in accepted})
            if plan.forks:
                _insert_rows(
                    db, "INSERT INTO forks (author, seq, hash, header, rule, found_at)", 6,
                    [(f.author, f.seq, digest(f.header), f.header, f.rule, now)
                     for f in plan.forks], "ON CONFLICT DO NOTHING")
            changed = {e.author for e in accepted} | {f.author for f in plan.forks}
            _insert_rows(
                db, "INSERT INTO feeds (author, lo, hi, lo_prev, lo_ts, hi_hash, hi_ts, forked, "
                "updated_at)", 9,
                [(s.author, s.lo, s.hi, s.lo_prev, s.lo_ts, s.hi_hash, s.hi_ts, int(s.forked),
                  now) for a, s in plan.states.items() if a in changed],
                "ON CONFLICT(author) DO UPDATE "
                "SET lo = excluded.lo, hi = excluded.hi, lo_prev = excluded.lo_prev, "
                "lo_ts = excluded.lo_ts, hi_hash = excluded.hi_hash, hi_ts = excluded.hi_ts, "
                "forked = excluded.forked, updated_at = excluded.updated_at")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite rolls back by itself on some errors
                db.execute("ROLLBACK")
            raise

    async def _write_projections(self, rows: ProjectionRows,
                                 skip: set[tuple[bytes, int]]) -> None:
        await self._in_db_thread(_insert_projections, rows, skip)

    def _deleted_targets(self, db: sqlite3.Connection, entries: list[Entry],
                         batch_deletions: list[tuple[bytes, bytes, int]]
                         ) -> set[tuple[bytes, bytes]]:
        """(hash, author) of entries in this batch that a delete (earlier or in it) covers.

        My own entries are skipped: they are never received before my delete of them."""
        found = {(target, author) for target, author, _ in batch_deletions}
        if db.execute("SELECT 1 FROM deletions LIMIT 1").fetchone() is None:
            return found  # nothing was ever deleted (the common case): no lookups
        me = self._me
        hashes = [e.hash for e in entries if e.author != me]
        found.update((bytes(t), bytes(a)) for t, a in _select_in(
            db, "SELECT target, author FROM deletions WHERE target IN ({marks})", hashes))
        return found

    def _blocked_among(self, db: sqlite3.Connection, authors: set[bytes]) -> set[bytes]:
        if self._me is None or not authors:
            return set()
        blocked = {bytes(r[0]) for r in db.execute(
            "SELECT dst FROM contacts WHERE src = ? AND blocking = 1", (self._me,))}
        return authors & blocked

    @translated
    async def rebuild_projections(self) -> int:
        """Drop and rebuild every projection table from the entries. Returns entries read."""
        async with self._write_lock:
            conn = self._conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("timeline", "links", "contacts", "profiles", "relay_lists"):
                    await conn.execute(f"DELETE FROM {table}")
                count = 0
                async with conn.execute("SELECT header, payload, received_at FROM entries "
                                        "WHERE payload IS NOT NULL") as cur:
                    while batch := list(await cur.fetchmany(2000)):
                        rows = ProjectionRows()
                        for header, payload, received in batch:
                            entry = decode_entry(bytes(header), bytes(payload), verify=False)
                            rows.add(entry, int(received))
                        rows.deletions.clear()
                        await self._write_projections(rows, skip=set())
                        count += len(batch)
                await conn.execute("COMMIT")
            except BaseException:
                await _rollback(conn)
                raise
            return count

    # --- feed state -----------------------------------------------------------------------

    @translated
    async def feed_state(self, author: bytes) -> FeedState:
        """What we hold of `author`'s feed (an empty state if nothing)."""
        return await self._feed_state(author)

    async def _feed_state(self, author: bytes) -> FeedState:
        return (await self._feed_states({author})).get(author) or FeedState(author)

    @translated
    async def feed_states(self, authors: Iterable[bytes] | None = None
                          ) -> dict[bytes, FeedState]:
        """States of the given feeds (those held), or of every feed held."""
        if authors is None:
            async with self._conn.execute(f"SELECT {_STATE_COLUMNS} FROM feeds") as cur:
                return {bytes(r[0]): _state(r) for r in await cur.fetchall()}
        return await self._feed_states(set(authors))

    async def _feed_states(self, authors: set[bytes]) -> dict[bytes, FeedState]:
        return await self._in_db_thread(_select_feed_states, authors)

    # --- reads ----------------------------------------------------------------------------

    @translated
    async def get(self, entry_hash: bytes) -> Entry | None:
        """The entry with this hash, or None."""
        row = await self._one(f"SELECT header, payload FROM entries WHERE {HASH_KEY} = "
                              "substr(?1, 1, 8) AND hash = ?1", (entry_hash,))
        return None if row is None else _entry(row)

    @translated
    async def get_at(self, author: bytes, seq: int) -> Entry | None:
        """The entry at (author, seq), or None."""
        row = await self._one("SELECT header, payload FROM entries WHERE author = ? AND seq = ?",
                              (author, seq))
        return None if row is None else _entry(row)

    @translated
    async def find_by_prefix(self, prefix: bytes) -> list[Entry]:
        """Entries whose hash starts with `prefix` (at most 2, to detect ambiguity)."""
        query = "SELECT header, payload FROM entries WHERE 1"
        params: list[Any] = []
        # the hash key's range narrows the search (through its index), the hash's decides
        for column, start in ((HASH_KEY, prefix[:8]), ("hash", prefix)):
            query += f" AND {column} >= ?"
            params.append(start)
            upper = _prefix_upper_bound(start)
            if upper is not None:
                query += f" AND {column} < ?"
                params.append(upper)
        async with self._conn.execute(query + " ORDER BY hash LIMIT 2", params) as cur:
            return [_entry(r) for r in await cur.fetchall()]

    @translated
    async def feed_entries(self, author: bytes, *, limit: int = 50,
                           before_seq: int | None = None, types: Sequence[str] | None = None
                           ) -> list[Entry]:
        """A feed's entries, newest first, optionally only some types, paged by seq."""
        query = "SELECT header, payload FROM entries WHERE author = ? AND seq < ?"
        params: list[Any] = [author, before_seq if before_seq is not None else 2**63 - 1]
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
            params.extend(types)
        query += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        async with self._conn.execute(query, params) as cur:
            return [_entry(r) for r in await cur.fetchall()]

    @translated
    async def raw_range(self, author: bytes, lo: int, hi: int, *, descending: bool = False,
                        limit: int = 1000) -> list[tuple[int, bytes, bytes | None]]:
        """(seq, header, payload) of held entries with lo <= seq <= hi, for serving peers."""
        order = "DESC" if descending else "ASC"
        async with self._conn.execute(
                f"SELECT seq, header, payload FROM entries WHERE author = ? AND seq BETWEEN ? "
                f"AND ? ORDER BY seq {order} LIMIT ?", (author, lo, hi, limit)) as cur:
            return [(int(s), bytes(h), None if p is None else bytes(p))
                    for s, h, p in await cur.fetchall()]

    @translated
    async def timeline(self, viewer: bytes, *, limit: int = 50,
                       before: tuple[int, bytes, int] | None = None,
                       authors: Sequence[bytes] | None = None) -> list[TimelineItem]:
        """Newest posts and reposts of the feeds `viewer` follows and of `viewer`; an
        author's repeated repost of one entry is shown once (its first).

        Args:
            viewer: whose follows define the timeline.
            limit: how many items.
            before: a cursor from a previous page's last item, to page backwards.
            authors: instead of the followed set, exactly these feeds (a profile view).
        """
        params: list[Any] = []
        if authors is None:
            source = ("SELECT dst FROM contacts WHERE src = ? AND following = 1 AND "
                      "blocking = 0 UNION ALL SELECT ?")
            params.extend([viewer, viewer])
        else:
            source = ",".join("?" * len(authors)) or "NULL"
            params.extend(authors)
        query = (f"SELECT e.header, e.payload, t.ts FROM timeline t JOIN entries e "
                 f"ON e.author = t.author AND e.seq = t.seq WHERE t.author IN ({source}) "
                 f"AND NOT EXISTS ({_REPEATED_REPOST})")
        if before is not None:
            query += " AND (t.ts, t.author, t.seq) < (?, ?, ?)"
            params.extend(before)
        query += " ORDER BY t.ts DESC, t.author DESC, t.seq DESC LIMIT ?"
        params.append(limit)
        async with self._conn.execute(query, params) as cur:
            return [TimelineItem(_entry(r), int(r[2])) for r in await cur.fetchall()]

    @translated
    async def thread(self, root: bytes, *, viewer: bytes | None = None) -> list[Entry]:
        """The root entry (if held) and every reply naming it as root, oldest first.

        Replies by feeds `viewer` blocks are left out.
        """
        out: list[Entry] = []
        first = await self.get(root)
        if first is not None:
            out.append(first)
        async with self._conn.execute(
                "SELECT e.header, e.payload FROM links l JOIN entries e ON e.author = l.author "
                "AND e.seq = l.seq WHERE l.target = ? AND l.rel = 'root' ORDER BY l.ts, "
                "l.author, l.seq", (root,)) as cur:
            out.extend(_entry(r) for r in await cur.fetchall())
        if viewer is not None:
            blocked = await self.blocking(viewer)
            out = [e for e in out if e.author not in blocked]
        return out

    @translated
    async def linked(self, target: bytes, rel: str, *, limit: int = 100) -> list[Entry]:
        """Entries that point at `target` with relation `rel`, newest first."""
        async with self._conn.execute(
                "SELECT e.header, e.payload FROM links l JOIN entries e ON e.author = l.author "
                "AND e.seq = l.seq WHERE l.target = ? AND l.rel = ? ORDER BY l.ts DESC "
                "LIMIT ?", (target, rel, limit)) as cur:
            return [_entry(r) for r in await cur.fetchall()]

    @translated
    async def counts(self, hashes: Sequence[bytes]) -> dict[bytes, Counts]:
        """Reply, repost and reaction counts for each of `hashes`: every reply counts, but
        reposts and each reaction count once per author (deleted ones not at all)."""
        if not hashes:
            return {}
        replies: dict[bytes, int] = {}
        reposts: dict[bytes, int] = {}
        reactions: dict[bytes, dict[str, int]] = {}
        marks = ",".join("?" * len(hashes))
        async with self._conn.execute(
                f"SELECT target, rel, extra, CASE rel WHEN 'parent' THEN count(*) "
                f"ELSE count(DISTINCT author) END FROM links WHERE target IN ({marks}) "
                f"AND rel IN ('parent', 'repost', 'react') GROUP BY target, rel, extra",
                list(hashes)) as cur:
            for target, rel, extra, n in await cur.fetchall():
                key = bytes(target)
                if rel == "parent":
                    replies[key] = replies.get(key, 0) + int(n)
                elif rel == "repost":
                    reposts[key] = reposts.get(key, 0) + int(n)
                else:
                    reactions.setdefault(key, {})[str(extra)] = int(n)
        return {h: Counts(replies.get(h, 0), reposts.get(h, 0), reactions.get(h, {}))
                for h in hashes}

    @translated
    async def links_by(self, author: bytes, targets: Iterable[bytes]
                       ) -> list[tuple[bytes, str, str | None, bytes]]:
        """`author`'s live reactions and reposts of `targets`, as (target, rel, reaction,
        hash of the react or repost entry); deleted ones are gone from `links`."""
        rows = await self._rows_in(
            "SELECT l.target, l.rel, l.extra, e.hash FROM links l JOIN entries e ON "
            "e.author = l.author AND e.seq = l.seq WHERE l.rel IN ('react', 'repost') AND "
            "l.author = ? AND l.target IN ({marks})", set(targets), first=[author])
        return [(bytes(t), str(rel), None if x is None else str(x), bytes(h))
                for t, rel, x, h in rows]

    @translated
    async def profile(self, author: bytes) -> Profile:
        """The latest name and bio a feed gave itself."""
        row = await self._one("SELECT name, bio FROM profiles WHERE author = ?", (author,))
        return Profile(author) if row is None else Profile(author, row[0], row[1])

    @translated
    async def profiles(self, authors: Iterable[bytes]) -> dict[bytes, Profile]:
        """Profiles of several feeds (those that have one)."""
        rows = await self._rows_in("SELECT author, name, bio FROM profiles WHERE author IN "
                                   "({marks})", set(authors))
        return {bytes(a): Profile(bytes(a), name, bio) for a, name, bio in rows}

    @translated
    async def find_profiles(self, text: str, *, limit: int = 20) -> list[Profile]:
        """Feeds whose name contains `text` (case-insensitive)."""
        async with self._conn.execute(
                "SELECT author, name, bio FROM profiles WHERE name LIKE ? ESCAPE '\\' LIMIT ?",
                ("%" + _like_escape(text) + "%", limit)) as cur:
            return [Profile(bytes(a), n, b) for a, n, b in await cur.fetchall()]

    @translated
    async def named(self, key: str) -> list[Profile]:
        """Feeds whose name, without whitespace, is `key` (ASCII letters in any case); the
        caller compares exactly (see runtime.names)."""
        pattern = _like_escape("".join(key.split()))
        async with self._conn.execute(
                "SELECT author, name, bio FROM profiles WHERE replace(replace(name, ' ', ''), "
                "char(9), '') LIKE ? ESCAPE '\\'", (pattern,)) as cur:
            return [Profile(bytes(a), n, b) for a, n, b in await cur.fetchall()]

    @translated
    async def referenced(self, key: bytes) -> bool:
        """True if an entry held mentions the feed `key`, or follows, unfollows, blocks or
        unblocks it."""
        row = await self._one("SELECT EXISTS (SELECT 1 FROM links WHERE target = ? AND "
                              "rel = 'mention') OR EXISTS (SELECT 1 FROM contacts WHERE "
                              "dst = ?)", (key, key))
        return bool(row[0])

    @translated
    async def following(self, src: bytes) -> set[bytes]:
        """Feeds that `src` follows (and does not block)."""
        return await self._contact_set("SELECT dst FROM contacts WHERE src = ? AND "
                                       "following = 1 AND blocking = 0", src)

    @translated
    async def follow_graph(self, sources: Iterable[bytes]) -> dict[bytes, set[bytes]]:
        """For each of `sources`, the feeds it follows (as far as we hold its log)."""
        listed = set(sources)
        out: dict[bytes, set[bytes]] = {src: set() for src in listed}
        for src, dst in await self._rows_in("SELECT src, dst FROM contacts WHERE following = 1 "
                                            "AND blocking = 0 AND src IN ({marks})", listed):
            out[bytes(src)].add(bytes(dst))
        return out

    @translated
    async def blocking(self, src: bytes) -> set[bytes]:
        """Feeds that `src` blocks."""
        return await self._contact_set("SELECT dst FROM contacts WHERE src = ? AND "
                                       "blocking = 1", src)

    @translated
    async def followers(self, dst: bytes) -> set[bytes]:
        """Feeds we hold that follow `dst`."""
        return await self._contact_set("SELECT src FROM contacts WHERE dst = ? AND "
                                       "following = 1", dst)

    async def _rows_in(self, template: str, keys: Iterable[Any],
                       first: Sequence[Any] = ()) -> list[Any]:
        """All rows of `template` (its `{marks}` become one `?` per key) for `keys`, asked
        IN_CHUNK keys per query; `first` are the values of `?`s before `{marks}`."""
        rows: list[Any] = []
        for part, marks in _chunked(keys):
            async with self._conn.execute(template.format(marks=marks),
                                          [*first, *part]) as cur:
                rows.extend(await cur.fetchall())
        return rows

    async def _contact_set(self, query: str, key: bytes) -> set[bytes]:
        async with self._conn.execute(query, (key,)) as cur:
            return {bytes(r[0]) for r in await cur.fetchall()}

    @translated
    async def relay_list(self, author: bytes) -> list[str]:
        """The relay addresses a feed last published."""
        return (await self.relay_lists([author])).get(author, [])

    @translated
    async def relay_lists(self, authors: Iterable[bytes]) -> dict[bytes, list[str]]:
        """The relay addresses each of `authors` last published (feeds with none left out)."""
        rows = await self._rows_in("SELECT author, addrs FROM relay_lists WHERE author IN "
                                   "({marks})", set(authors))
        return {bytes(author): list(json.loads(addrs)) for author, addrs in rows}

    @translated
    async def meta_with_prefix(self, prefix: str) -> dict[str, bytes]:
        """Every metadata value whose key starts with `prefix`, by the rest of the key."""
        async with self._conn.execute(
                "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
                (len(prefix), prefix)) as cur:
            return {str(k)[len(prefix):]: bytes(v) for k, v in await cur.fetchall()}

    @translated
    async def forks(self, author: bytes | None = None) -> list[ForkRecord]:
        """Fork proofs held, for one feed or all."""
        query = "SELECT author, seq, hash, header, rule FROM forks"
        params: tuple[Any, ...] = ()
        if author is not None:
            query += " WHERE author = ?"
            params = (author,)
        async with self._conn.execute(query + " ORDER BY author, seq", params) as cur:
            return [ForkRecord(bytes(a), int(s), bytes(h), bytes(hd), str(r))
                    for a, s, h, hd, r in await cur.fetchall()]

    @translated
    async def count_entries(self, author: bytes | None = None) -> int:
        """How many entries are held (of one feed, or in total)."""
        if author is None:
            row = await self._one("SELECT count(*) FROM entries", ())
        else:
            row = await self._one("SELECT count(*) FROM entries WHERE author = ?", (author,))
        return int(row[0]) if row else 0

    async def iter_raw(self, author: bytes | None = None, *, chunk: int = 2000
                       ) -> AsyncIterator[list[tuple[bytes, bytes | None, int]]]:
        """Every held entry as (header, payload, deleted), in (author, seq) order, in chunks."""
        query = "SELECT header, payload, deleted FROM entries"
        params: tuple[Any, ...] = ()
        if author is not None:
            query += " WHERE author = ?"
            params = (author,)
        try:
            async with self._conn.execute(query + " ORDER BY author, seq", params) as cur:
                while rows := await cur.fetchmany(chunk):
                    yield [(bytes(h), None if p is None else bytes(p), int(d))
                           for h, p, d in rows]
        except sqlite3.Error as exc:
            raise translate(exc, self.directory) from exc

    # --- reads for the UI ------------------------------------------------------------------

    @translated
    async def get_many(self, hashes: Sequence[bytes]) -> dict[bytes, Entry]:
        """The held entries among `hashes`, by hash (missing ones are left out)."""
        wanted = set(hashes)
        rows = await self._rows_in(f"SELECT header, payload FROM entries WHERE {HASH_KEY} IN "
                                   "({marks})", {h[:8] for h in wanted})
        return {e.hash: e for e in map(_entry, rows) if e.hash in wanted}

    @translated
    async def notifications(self, viewer: bytes, *, limit: int = 50,
                            before: tuple[int, bytes, int] | None = None
                            ) -> list[Notification]:
        """What other feeds did that concerns `viewer`, newest first: posts mentioning it,
        replies, quotes, reactions and reposts of its entries, and follows of it (those still
        in force). Feeds `viewer` blocks and `viewer`'s own entries are left out; a reply or
        quote that also mentions `viewer` is listed once, as the reply or quote.

        Args:
            viewer: whose notifications.
            limit: how many.
            before: a cursor from a previous page's last item, to page backwards.
        """
        query = f"""
            SELECT n.kind, e.header, e.payload, n.ts, n.target FROM ({_NOTIFICATION_SOURCES}) n
            JOIN entries e ON e.author = n.author AND e.seq = n.seq
            WHERE n.author != :me AND n.author NOT IN
                (SELECT dst FROM contacts WHERE src = :me AND blocking = 1)"""
        params: dict[str, Any] = {"me": viewer, "limit": limit}
        if before is not None:
            query += " AND (n.ts, n.author, n.seq) < (:ts, :author, :seq)"
            params.update(ts=before[0], author=before[1], seq=before[2])
        query += " ORDER BY n.ts DESC, n.author DESC, n.seq DESC LIMIT :limit"
        async with self._conn.execute(query, params) as cur:
            return [Notification(str(kind), _entry((h, p)), None if t is None else bytes(t),
                                 int(ts)) for kind, h, p, ts, t in await cur.fetchall()]

    async def _one(self, query: str, params: Sequence[Any]) -> Any:
        async with self._conn.execute(query, params) as cur:
            return await cur.fetchone()

    @property
    def verify_pool(self) -> VerifyPool:
        """The worker threads that verify entries (shared with `verify`)."""
        return self._pool


# --- the write path, in the database thread (plain sqlite3, see Store._in_db_thread) --------

# author, seq, hash, ts, type, header of an Entry (a NamedTuple), in the entries table's order
_ENTRY_COLUMNS = itemgetter(3, 4, 2, 6, 7, 0)
IN_CHUNK = 500  # keys per `IN (…)` query


def _chunked(keys: Iterable[Any]) -> Iterator[tuple[list[Any], str]]:
    """`keys` in lists of up to IN_CHUNK, each with its `?, ?, …` placeholders."""
    listed = list(keys)
    for i in range(0, len(listed), IN_CHUNK):
        part = listed[i:i + IN_CHUNK]
        yield part, ",".join("?" * len(part))


def _select_in(db: sqlite3.Connection, template: str, keys: Iterable[Any]) -> list[Any]:
    """Store._rows_in for the database thread (plain sqlite3)."""
    rows: list[Any] = []
    for part, marks in _chunked(keys):
        rows.extend(db.execute(template.format(marks=marks), part))
    return rows


def _select_feed_states(db: sqlite3.Connection, authors: Iterable[bytes]
                        ) -> dict[bytes, FeedState]:
    rows = _select_in(db, f"SELECT {_STATE_COLUMNS} FROM feeds WHERE author IN ({{marks}})",
                      authors)
    return {bytes(row[0]): _state(row) for row in rows}


def _select_held_hashes(db: sqlite3.Connection, states: dict[bytes, FeedState],
                        entries: list[Entry]) -> dict[tuple[bytes, int], bytes]:
    """Hashes we hold at the positions of `entries` that fall inside a held range."""
    wanted: dict[bytes, list[int]] = {}
    for e in entries:
        state = states.get(e.author)
        if state is not None and state.lo <= e.seq <= state.hi:
            wanted.setdefault(e.author, []).append(e.seq)
    out: dict[tuple[bytes, int], bytes] = {}
    for author, seqs in wanted.items():
        for seq, digest_ in db.execute(
                "SELECT seq, hash FROM entries WHERE author = ? AND seq BETWEEN ? AND ?",
                (author, min(seqs), max(seqs))):
            out[(author, int(seq))] = bytes(digest_)
    return out


def _insert_projections(db: sqlite3.Connection, rows: ProjectionRows,
                        skip: set[tuple[bytes, int]]) -> None:
    """Insert projection rows, leaving out those of the (author, seq) in `skip`."""

    def keep(items: list[Any], author_at: int = 1, seq_at: int = 2) -> list[Any]:
        if not skip:
            return items
        return [r for r in items if (r[author_at], r[seq_at]) not in skip]

    for head, width, items, tail in (
        ("INSERT OR IGNORE INTO timeline (ts, author, seq)", 3, keep(rows.timeline), ""),
        ("INSERT OR IGNORE INTO links (target, rel, author, seq, ts, extra)", 6,
         keep(rows.links, 2, 3), ""),
        ("INSERT INTO contacts (src, dst, following, follow_seq)", 4, keep(rows.follows, 0, 3),
         "ON CONFLICT(src, dst) DO UPDATE SET following = excluded.following, "
         "follow_seq = excluded.follow_seq WHERE excluded.follow_seq > contacts.follow_seq"),
        ("INSERT INTO contacts (src, dst, blocking, block_seq)", 4, keep(rows.blocks, 0, 3),
         "ON CONFLICT(src, dst) DO UPDATE SET blocking = excluded.blocking, "
         "block_seq = excluded.block_seq WHERE excluded.block_seq > contacts.block_seq"),
        ("INSERT INTO profiles (author, name, name_seq)", 3, keep(rows.names, 0, 2),
         "ON CONFLICT(author) DO UPDATE SET name = excluded.name, "
         "name_seq = excluded.name_seq WHERE excluded.name_seq > profiles.name_seq"),
        ("INSERT INTO profiles (author, bio, bio_seq)", 3, keep(rows.bios, 0, 2),
         "ON CONFLICT(author) DO UPDATE SET bio = excluded.bio, "
         "bio_seq = excluded.bio_seq WHERE excluded.bio_seq > profiles.bio_seq"),
        ("INSERT INTO relay_lists (author, addrs, seq)", 3, keep(rows.relay_lists, 0, 2),
         "ON CONFLICT(author) DO UPDATE SET addrs = excluded.addrs, seq = excluded.seq "
         "WHERE excluded.seq > relay_lists.seq"),
        ("INSERT OR IGNORE INTO deletions (target, author, seq)", 3, rows.deletions, ""),
    ):
        _insert_rows(db, head, width, items, tail)


ROWS_PER_INSERT = 500


def _insert_rows(db: sqlite3.Connection, head: str, width: int,
                 rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """`head VALUES (…), (…), … tail` for `rows` of `width` values, up to ROWS_PER_INSERT rows
    (and the connection's limit on bound values) per statement: the same effect as one
    INSERT per row in order, with one GIL hand-over per statement instead of one per row."""
    if not rows:
        return
    per = max(1, min(ROWS_PER_INSERT,
                     db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        db.execute(f"{head} VALUES {', '.join([one] * len(chunk))} {tail}",
                   list(chain.from_iterable(chunk)))


def _apply_deletions(db: sqlite3.Connection, deletions: list[tuple[bytes, bytes, int]],
                     in_batch: set[bytes]) -> None:
    """Drop the payloads (and projections) of already-held entries that are deleted."""
    for target, author, _ in deletions:
        if target in in_batch:
            continue
        row = db.execute(f"SELECT seq, type FROM entries WHERE {HASH_KEY} = substr(?1, 1, 8) "
                         "AND hash = ?1 AND author = ?2 "
                         "AND deleted = 0", (target, author)).fetchone()
        if row is None:
            continue
        seq, etype = int(row[0]), str(row[1])
        db.execute("UPDATE entries SET payload = NULL, deleted = 1 WHERE author = ? AND seq = ?",
                   (author, seq))
        db.execute("DELETE FROM timeline WHERE author = ? AND seq = ?", (author, seq))
        db.execute("DELETE FROM links WHERE author = ? AND seq = ?", (author, seq))
        if etype in LATEST_WINS_TYPES:
            _reproject_latest(db, author)


def _reproject_latest(db: sqlite3.Connection, author: bytes) -> None:
    """Recompute an author's contacts, profile and relay list from the entries left."""
    db.execute("DELETE FROM contacts WHERE src = ?", (author,))
    db.execute("DELETE FROM profiles WHERE author = ?", (author,))
    db.execute("DELETE FROM relay_lists WHERE author = ?", (author,))
    marks = ",".join("?" * len(LATEST_WINS_TYPES))
    rows = ProjectionRows()
    for header, payload in db.execute(
            f"SELECT header, payload FROM entries WHERE author = ? AND payload IS NOT NULL "
            f"AND type IN ({marks})", (author, *sorted(LATEST_WINS_TYPES))).fetchall():
        rows.add(decode_entry(bytes(header), bytes(payload), verify=False), 0)
    _insert_projections(db, rows, skip=set())


async def _rollback(conn: aiosqlite.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done so itself (it does on
    some errors, e.g. SQLITE_FULL)."""
    if conn.in_transaction:
        await conn.execute("ROLLBACK")


class _Turn:
    """A place in the queue of ingest writes: waits for the call made before it."""

    def __init__(self, before: _Turn | None) -> None:
        self._before = before
        self._done = asyncio.Event()

    async def wait_for_turn(self) -> None:
        if self._before is not None:
            await self._before._done.wait()
            self._before = None  # let finished turns be collected

    def done(self) -> None:
        self._done.set()


# Rows (kind, author, seq, ts, target) of Store.notifications, before filtering and paging.
_NOTIFICATION_SOURCES = """
    SELECT 'mention' AS kind, l.author, l.seq, l.ts, NULL AS target FROM links l
    WHERE l.target = :me AND l.rel = 'mention' AND NOT EXISTS (
        SELECT 1 FROM links p
        JOIN entries m ON substr(m.hash, 1, 8) = substr(p.target, 1, 8) AND m.hash = p.target
        WHERE p.author = l.author AND p.seq = l.seq AND p.rel IN ('parent', 'quote')
        AND m.author = :me)
    UNION ALL
    SELECT CASE l.rel WHEN 'parent' THEN 'reply' ELSE l.rel END, l.author, l.seq, l.ts, l.target
    FROM entries m JOIN links l ON l.target = m.hash
    WHERE m.author = :me AND l.rel IN ('parent', 'quote', 'react', 'repost')
    AND (l.rel IN ('parent', 'quote') OR NOT EXISTS (
        SELECT 1 FROM links d WHERE d.target = l.target AND d.rel = l.rel
        AND d.author = l.author AND d.seq < l.seq AND d.extra IS l.extra))
    UNION ALL
    SELECT 'follow', c.src, c.follow_seq, f.ts, NULL FROM contacts c
    JOIN entries f ON f.author = c.src AND f.seq = c.follow_seq
    WHERE c.dst = :me AND c.following = 1"""


# True for a timeline row (t) that repeats its author's earlier live repost of the same entry.
# Written so that SQLite finds r by (author, seq), then o by the primary key: as a join it
# scanned every link of the author, and with a plain `r.rel =` every repost (the `+`).
_REPEATED_REPOST = """
    SELECT 1 FROM links r WHERE r.author = t.author AND r.seq = t.seq AND +r.rel = 'repost'
    AND EXISTS (SELECT 1 FROM links o WHERE o.target = r.target AND o.rel = 'repost'
                AND o.author = r.author AND o.seq < r.seq)"""


# Entries are found by hash through an index on this expression (migration 0002): a query by
# hash says `HASH_KEY = substr(?, 1, 8) AND hash = ?`, and SQLite uses the index.
HASH_KEY = "substr(hash, 1, 8)"

_STATE_COLUMNS = "author, lo, hi, lo_prev, lo_ts, hi_hash, hi_ts, forked"


def _state(row: Sequence[Any]) -> FeedState:
    return FeedState(bytes(row[0]), int(row[1]), int(row[2]),
                     None if row[3] is None else bytes(row[3]), int(row[4]),
                     None if row[5] is None else bytes(row[5]), int(row[6]), bool(row[7]))


def _entry(row: Sequence[Any]) -> Entry:
    try:
        return decode_entry(bytes(row[0]), None if row[1] is None else bytes(row[1]),
                            verify=False)
    except ValidationError as exc:
        raise StoreError(f"a stored entry no longer decodes ({exc}); run `p2psocial verify`"
                         ) from exc


def _index_in(raw: Sequence[RawEntry], entry: Entry) -> int:
    for i, (header, _) in enumerate(raw):
        if header == entry.header:
            return i
    return len(raw)


def _prefix_upper_bound(prefix: bytes) -> bytes | None:
    data = bytearray(prefix)
    while data and data[-1] == 0xFF:
        data.pop()
    if not data:
        return None
    data[-1] += 1
    return bytes(data)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


__all__ = ["Counts", "ForkRecord", "IngestReport", "Notification", "Placement", "Profile",
           "Store", "TimelineItem", "now_ms"]
