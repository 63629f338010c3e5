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
- This module is the log and its write path; the projections' reads are `Queries`
  (store/queries.py, a base of `Store`), the values handed out are in store/records.py and
  the row decoders shared by both in store/rows.py. Callers import all of it from here.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from p2psocial.core.content import Content, content_payload
from p2psocial.core.encoding import digest
from p2psocial.core.entry import Entry, create_entry, decode_entry
from p2psocial.core.errors import UsageError
from p2psocial.core.feed import BatchPlan, FeedState, Placement, plan_batch
from p2psocial.core.identity import Identity
from p2psocial.store import search
from p2psocial.store.accounts import AccountBook
from p2psocial.store.bookmarks import Bookmarks
from p2psocial.store.connection import open_database
from p2psocial.store.errors import translate, translated
from p2psocial.store.feed_cache import FeedStateCache
from p2psocial.store.fresh import FreshRows
from p2psocial.store.inbox import Inbox
from p2psocial.store.mailbox import Mailboxes
from p2psocial.store.mutes import MuteBook
from p2psocial.store.outbox import Outbox
from p2psocial.store.projections import LATEST_WINS_TYPES, ProjectionRows
from p2psocial.store.pruning import Pruner, drop_payload
from p2psocial.store.queries import Queries
from p2psocial.store.records import (
    Counts,
    ForkRecord,
    IngestReport,
    Notification,
    Profile,
    TimelineItem,
    now_ms,
)
from p2psocial.store.rows import (
    HASH_KEY,
    STATE_COLUMNS,
    chunked,
    entry_of_row,
    state_of_row,
)
from p2psocial.store.social import SocialGraph
from p2psocial.store.stored_header import feed_numbers, stored_form
from p2psocial.store.verify_pool import (
    ONE_TRIP,
    Decoded,
    RawEntry,
    VerifyPool,
    decode_small,
    default_processes,
)

Clock = Callable[[], int]
log = logging.getLogger(__name__)
_R = TypeVar("_R")


class Store(Queries):
    """A user's database. Open with `await Store.open(path)`; close with `await close()`."""

    def __init__(self, conn: aiosqlite.Connection, *, clock: Clock, pool: VerifyPool,
                 directory: Path | None = None) -> None:
        self._conn = conn
        self.directory = directory
        self.path = (directory or Path(".")) / "p2psocial.db"  # the database file (set by `open`)
        self._clock = clock
        self._pool = pool
        self._write_lock = asyncio.Lock()
        self._last_turn: _Turn | None = None
        self._fresh = FreshRows()  # the last entries written, served without a read
        self.writes = 0  # bumped by every committed write of entries or projections
        self._states = FeedStateCache()  # what `feeds` holds, for feed_states
        self._me: bytes | None = None
        self.accounts = AccountBook(conn, self._write_lock, self._in_db_thread)
        self.mutes = MuteBook(conn, self._write_lock)
        self.bookmarks = Bookmarks(conn, self._write_lock)
        self.pruning = Pruner(self._in_db_thread, self._write_lock, self._fresh, self._states)
        self.mailboxes = Mailboxes(conn, self._write_lock)  # mail: holder side
        self.inbox = Inbox(conn, self._write_lock)  # mail: reader side
        self.outbox = Outbox(conn, self._write_lock)  # mail: writer side
        self.search = search.SearchIndex(conn)
        self.social = SocialGraph(conn, self.accounts, self.following)

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
        store.path = path
        me = await store.get_meta("me")
        store._me = me
        await store.accounts.load()
        await store._in_db_thread(search.ensure_built)  # a database from before search
        await store.mutes.load()
        return store

    async def close(self) -> None:
        """Finish writes, checkpoint the WAL and close. The checkpoint is best effort: a
        statement left open (a read cancelled at the wrong moment) makes it fail with
        "locked"; the WAL then stays, whole, and is checkpointed at the next open."""
        async with self._write_lock:
            try:  # no waiting for readers: a stop has seconds, and the WAL keeps
                await self._conn.execute("PRAGMA busy_timeout = 0")
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as exc:
                log.info("store: WAL not checkpointed at close (%s): done at the next open",
                         exc)
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
                raise UsageError("your feed is forked: `p2psocial account repair` moves you on "
                                 "to a new device feed of the same account")
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

        Verification runs in worker threads (a batch of at most ONE_TRIP entries: in the
        database thread, in the write's own round trip); the write is one transaction.
        Entries are placed in the order given (see p2psocial.core.feed.plan_batch). Several
        calls may be in flight at once: they verify concurrently and write in the order they
        were made.
        """
        turn = self._take_turn()
        try:
            if len(raw) <= ONE_TRIP:  # a live post: verified in the write's round trip
                await turn.wait_for_turn()
                return await self._place_and_write(raw, None)
            decoded = await self._pool.decode(raw)
            await turn.wait_for_turn()
            return await self._place_and_write(raw, decoded)
        finally:
            turn.done()

    def _take_turn(self) -> _Turn:
        turn = _Turn(self._last_turn)
        self._last_turn = turn
        return turn

    async def _place_and_write(self, raw: Sequence[RawEntry],
                               decoded: Decoded | None) -> IngestReport:
        async with self._write_lock:
            return await self._in_db_thread(self._place_and_write_sync, raw, decoded,
                                            self._clock())

    def _place_and_write_sync(self, db: sqlite3.Connection, raw: Sequence[RawEntry],
                              decoded: Decoded | None, now: int) -> IngestReport:
        """Place a decoded batch and write it: reads, plan and transaction in the database
        thread, one round trip for the whole batch (a small batch, `decoded` None, is
        decoded and verified here first: verify_pool.decode_small)."""
        if decoded is None:
            decoded = decode_small(raw)
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
            numbers = feed_numbers(db, (e.author for e in accepted))
            states = plan.states
            entry_rows = [
                (numbers[e.author], e.seq, e.hash, e.timestamp, e.type,
                 stored_form(e.header, e.seq, omit_prev=e.seq > states[e.author].lo),
                 *((None, 1) if (e.hash, e.author) in deleted else (e.payload, 0)), now)
                for e in accepted]
            before = search.last_rowid(db)
            _insert_rows(db, "INSERT INTO entry_rows (feed, seq, hash, ts, type, header, "
                         "payload, deleted, received_at)", 9, entry_rows)
            skip = {(e.author, e.seq) for e in accepted if (e.hash, e.author) in deleted}
            search.index_posts(db, accepted, skip, before, now)
            _insert_projections(db, rows, skip, numbers)
            search.refresh_profiles(db, (r[0] for r in chain(rows.names, rows.bios)))
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
        self._states.written({a: s for a, s in plan.states.items() if a in changed})
        self._fresh.written(accepted, bare=deleted,
                            deleting={author for _, author, _ in rows.deletions})
        self.accounts.written(changed)
        self.writes += 1

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
        if self.accounts.active:
            return authors & self.accounts.blocked_feeds_sync(db, self._me)
        blocked = {bytes(r[0]) for r in db.execute(
            "SELECT dst FROM contacts WHERE src = ? AND blocking = 1", (self._me,))}
        return authors & blocked

    @translated
    async def rebuild_projections(self) -> int:
        """Drop and rebuild every projection table from the entries (and the account devices
        from the account ops). Returns entries read."""
        async with self._write_lock:
            conn = self._conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("timeline_rows", "links", "contacts", "profiles",
                              "relay_lists"):
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
                await self.accounts.rebuild()
                await self._in_db_thread(search.rebuild)
                await conn.execute("COMMIT")
            except BaseException:
                await _rollback(conn)
                raise
            finally:
                self.writes += 1
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
            async with self._conn.execute(f"SELECT {STATE_COLUMNS} FROM feeds") as cur:
                return {bytes(r[0]): state_of_row(r) for r in await cur.fetchall()}
        return await self._in_db_thread(self._states.read, set(authors), _select_feed_states)

    async def _feed_states(self, authors: set[bytes]) -> dict[bytes, FeedState]:
        return await self._in_db_thread(_select_feed_states, authors)

    # --- reads ----------------------------------------------------------------------------

    @translated
    async def get_at(self, author: bytes, seq: int) -> Entry | None:
        """The entry at (author, seq), or None."""
        row = await self._one("SELECT header, payload FROM entries WHERE author = ? AND seq = ?",
                              (author, seq))
        return None if row is None else entry_of_row(row)

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
            return [entry_of_row(r) for r in await cur.fetchall()]

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
            return [entry_of_row(r) for r in await cur.fetchall()]

    @translated
    async def raw_range(self, author: bytes, lo: int, hi: int, *, descending: bool = False,
                        limit: int = 1000) -> list[tuple[int, bytes, bytes | None]]:
        """(seq, header, payload) of held entries with lo <= seq <= hi, for serving peers.
        Entries just written come from memory (fresh.py): a live push reads no database."""
        fresh = self._fresh.range(author, lo, hi, descending=descending, limit=limit)
        if fresh is not None:
            return fresh
        order = "DESC" if descending else "ASC"
        async with self._conn.execute(
                f"SELECT seq, header, payload FROM entries WHERE author = ? AND seq BETWEEN ? "
                f"AND ? ORDER BY seq {order} LIMIT ?", (author, lo, hi, limit)) as cur:
            return [(int(s), bytes(h), None if p is None else bytes(p))
                    for s, h, p in await cur.fetchall()]


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
        return {e.hash: e for e in map(entry_of_row, rows) if e.hash in wanted}


    @property
    def verify_pool(self) -> VerifyPool:
        """The worker threads that verify entries (shared with `verify`)."""
        return self._pool


# --- the write path, in the database thread (plain sqlite3, see Store._in_db_thread) --------

def _select_in(db: sqlite3.Connection, template: str, keys: Iterable[Any]) -> list[Any]:
    """Store._rows_in for the database thread (plain sqlite3)."""
    rows: list[Any] = []
    for part, marks in chunked(keys):
        rows.extend(db.execute(template.format(marks=marks), part))
    return rows


def _select_feed_states(db: sqlite3.Connection, authors: Iterable[bytes]
                        ) -> dict[bytes, FeedState]:
    rows = _select_in(db, f"SELECT {STATE_COLUMNS} FROM feeds WHERE author IN ({{marks}})",
                      authors)
    return {bytes(row[0]): state_of_row(row) for row in rows}


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
                        skip: set[tuple[bytes, int]],
                        numbers: Mapping[bytes, int] | None = None) -> None:
    """Insert projection rows, leaving out those of the (author, seq) in `skip`; `numbers`:
    the feed numbers of the rows' authors, if the caller has them (else they are read)."""

    def keep(items: list[Any], author_at: int = 1, seq_at: int = 2) -> list[Any]:
        if not skip:
            return items
        return [r for r in items if (r[author_at], r[seq_at]) not in skip]

    timeline = keep(rows.timeline)
    if timeline:
        if numbers is None:
            numbers = feed_numbers(db, (r[1] for r in timeline))
        timeline = [(ts, numbers[author], seq) for ts, author, seq in timeline]
    for head, width, items, tail in (
        ("INSERT OR IGNORE INTO timeline_rows (ts, feed, seq)", 3, timeline, ""),
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
        drop_payload(db, author, seq, deleted=True)
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
    search.refresh_profiles(db, [author])


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


__all__ = ["Counts", "ForkRecord", "IngestReport", "Notification", "Placement", "Profile",
           "Store", "TimelineItem", "now_ms"]
