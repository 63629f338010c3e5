"""Full-text search: the FTS5 projections `post_search` and `profile_search` (0004_search.sql).

Rules:
- A projection like the others: written by the write path in the same transaction as the
  entries (`index_posts`, `refresh_profiles`), rebuilt from the entries by `rebuild`, which
  `Store.rebuild_projections` calls and `Store.open` runs when the SEARCH_VERSION stored in
  `projection_versions` differs (a database from before search, or an index whose definition
  changed). The tables' definitions live here (POST_SEARCH, PROFILE_SEARCH), not in a
  migration: `rebuild` drops and creates them, so a new definition needs only a new
  SEARCH_VERSION (migration 0004 created version 1's).
- `post_search` holds one row per held post with a payload; its rowid is the post's key
  (`post_key`): the post's time in whole seconds (its timestamp, or its arrival if that is
  earlier, as the timeline's) above the entry's rowid in `entries` (31 bits), so FTS5's own
  rowid order is time order, whatever order the posts were stored in (a backfilled feed
  arrives newest first). Times past 2106 are clamped; within one second, later stored
  first. It is contentless: a row leaves through FTS5's 'delete' command given exactly
  the values it was indexed with, which `post_values` derives from the payload again before
  a delete drops it. (A VACUUM may renumber `entries`; whoever runs one must rebuild.)
- Its `author` column holds one token per post, the author key's first 8 bytes in hex, so
  a search of one author's posts is an intersection inside FTS5 (not a walk over every
  match, newest first, until enough are that author's). What the user typed is matched in
  the other columns only (WORD_COLUMNS), so no word or prefix ever matches an author token.
- `profile_search` holds the current name and bio of each feed that has one (the `profiles`
  projection), keyed by the feed key's first 8 bytes; it is refreshed whenever an about
  entry of that feed is written or deleted.
- Reads: posts newest first by time (key order: FTS5 walks its index backwards and stops at
  the limit, whatever the number of matches; nothing is sorted), paged by the last key
  shown (keys are unique: no post twice, none lost); profiles by rank (few rows).
- Functions taking `db` run in the database thread (plain sqlite3); `SearchIndex` reads
  through the store's aiosqlite connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import aiosqlite

from p2psocial.core.content import Post
from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import StoreError
from p2psocial.core.search_query import tags_column
from p2psocial.store.errors import translated
from p2psocial.store.rows import entry_of_row

SEARCH_VERSION = 3  # 2: post_search gained `author`, lost columnsize; 3: rowids are post_key
ROWID_BITS = 31  # the entry's rowid in the low bits of a post's key
_ROWID_MASK = (1 << ROWID_BITS) - 1
_MAX_SECONDS = (1 << 32) - 1  # 2106-02-07T06:28:15Z: later times are clamped
PROJECTION = "search"  # its name in projection_versions
_REBUILD_CHUNK = 2000

WORD_COLUMNS = "{text cw tags}"  # the columns a user's words are matched in

# columnsize=0: no per-row sizes (they serve only bm25 ranking, and posts come by key)
POST_SEARCH = ("CREATE VIRTUAL TABLE post_search USING fts5(text, cw, tags, author, "
               "content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2')")
# Merge 16 segments of a level at a time, not 4: each posting is rewritten about half as
# often as the index grows (a fifth less work per post indexed, docs/benchmarks.md "Search"),
# for more segments to read per query (still well under a millisecond at 1M posts).
POST_SEARCH_CONFIG = (("automerge", 16), ("crisismerge", 64))
PROFILE_SEARCH = ("CREATE VIRTUAL TABLE profile_search USING fts5(author UNINDEXED, name, bio, "
                  "tokenize = 'unicode61 remove_diacritics 2')")

PostValues = tuple[str, str | None, str | None, str]  # text, cw, tags, author as indexed


def post_values(entry: Entry) -> PostValues | None:
    """What `post_search` indexes for `entry` (None: not a post, nothing indexed)."""
    c = entry.content
    if not isinstance(c, Post):
        return None
    return c.text, c.cw, tags_column(c.tags), author_token(entry.author)


def author_token(author: bytes) -> str:
    """A feed's token in `post_search.author`: its key's first 8 bytes in hex."""
    return author[:8].hex()


def posts_match(match: str, authors: Iterable[bytes] | None = None) -> str:
    """The MATCH expression over `post_search` for a core.search_query `match` (the user's
    words, in WORD_COLUMNS only), narrowed to posts of `authors` if given."""
    where = f"{WORD_COLUMNS} : ({match})"
    if authors is None:
        return where
    tokens = " OR ".join(f'"{author_token(a)}"' for a in sorted(authors))
    return f"{where} AND author : ({tokens})"


def post_key(rowid: int, ts: int, received_at: int) -> int:
    """A post's rowid in `post_search`: its time (the earlier of its timestamp and its
    arrival, in ms) in whole seconds, then the entry's rowid in `entries`.

    Raises:
        StoreError: the entry's rowid does not fit in ROWID_BITS (two billion entries).
    """
    if not 0 < rowid <= _ROWID_MASK:
        raise StoreError(f"entry number {rowid} is past what the search index can number "
                         f"({_ROWID_MASK})")
    return min(min(ts, received_at) // 1000, _MAX_SECONDS) << ROWID_BITS | rowid


def profile_rowid(author: bytes) -> int:
    """The rowid of a feed's row in `profile_search`."""
    return int.from_bytes(author[:8], "big", signed=True)


# --- the write path (database thread) ------------------------------------------------------


def last_rowid(db: sqlite3.Connection) -> int:
    """The largest rowid in `entries` (0 if none): read before inserting a batch."""
    row = db.execute("SELECT max(rowid) FROM entry_rows").fetchone()
    return int(row[0] or 0)


def index_posts(db: sqlite3.Connection, written: Sequence[Entry],
                skip: Collection[tuple[bytes, int]], before: int, received_at: int) -> None:
    """Index the posts among `written`, just inserted in order into `entries` (received at
    `received_at`) whose largest rowid was `before`; entries in `skip` (stored without
    payload) are left out."""
    if not written:
        return
    inserted_last = int(db.execute("SELECT last_insert_rowid()").fetchone()[0])
    if inserted_last == before + len(written):  # SQLite gave max+1 to each row, in order
        rowids = {(e.author, e.seq): before + 1 + i for i, e in enumerate(written)}
    else:
        rowids = _rowids_of(db, written)
    rows = []
    for e in written:
        values = post_values(e)
        if values is not None and (e.author, e.seq) not in skip:
            rows.append((post_key(rowids[(e.author, e.seq)], e.timestamp, received_at),
                         *values))
    rows.sort(key=lambda r: r[0])  # FTS5 flushes its pending terms at every rowid not above
    _insert(db, "INSERT INTO post_search (rowid, text, cw, tags, author)", 5, rows)


def unindex_post(db: sqlite3.Connection, author: bytes, seq: int) -> None:
    """Remove (author, seq) from `post_search`, before its payload is dropped."""
    row = db.execute("SELECT rowid, header, payload, ts, received_at FROM entries "
                     "WHERE author = ? AND seq = ? AND payload IS NOT NULL AND type = 'post'",
                     (author, seq)).fetchone()
    if row is None:
        return
    values = post_values(decode_entry(bytes(row[1]), bytes(row[2]), verify=False))
    if values is not None:
        db.execute("INSERT INTO post_search (post_search, rowid, text, cw, tags, author) "
                   "VALUES ('delete', ?, ?, ?, ?, ?)",
                   (post_key(int(row[0]), int(row[3]), int(row[4])), *values))


def refresh_profiles(db: sqlite3.Connection, authors: Iterable[bytes]) -> None:
    """Make `profile_search` hold the current `profiles` row of each of `authors`: a few
    statements for any number of them (FTS5 writes a segment at every statement)."""
    keys = list(dict.fromkeys(authors))
    per = max(1, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 4)
    for start in range(0, len(keys), per):
        part = keys[start:start + per]
        marks = ",".join("?" * len(part))
        db.execute(f"DELETE FROM profile_search WHERE rowid IN ({marks})",
                   [profile_rowid(a) for a in part])
        rows = [(profile_rowid(bytes(a)), bytes(a), name, bio) for a, name, bio in db.execute(
            f"SELECT author, name, bio FROM profiles WHERE author IN ({marks}) "
            "AND (name IS NOT NULL OR bio IS NOT NULL)", part)]
        _insert(db, "INSERT INTO profile_search (rowid, author, name, bio)", 4, rows)


def rebuild(db: sqlite3.Connection) -> int:
    """Make both indexes anew (this version's definitions) and fill them from `entries` and
    `profiles`, inside the caller's transaction; records SEARCH_VERSION. Returns the posts
    indexed."""
    for table, definition in (("post_search", POST_SEARCH), ("profile_search", PROFILE_SEARCH)):
        db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute(definition)
    for option, value in POST_SEARCH_CONFIG:
        db.execute("INSERT INTO post_search (post_search, rank) VALUES (?, ?)", (option, value))
    count = 0
    cur = db.execute("SELECT rowid, header, payload, ts, received_at FROM entries "
                     "WHERE type = 'post' AND payload IS NOT NULL")
    while batch := cur.fetchmany(_REBUILD_CHUNK):
        rows = []
        for rowid, header, payload, ts, received_at in batch:
            values = post_values(decode_entry(bytes(header), bytes(payload), verify=False))
            if values is not None:
                rows.append((post_key(int(rowid), int(ts), int(received_at)), *values))
        rows.sort(key=lambda r: r[0])
        _insert(db, "INSERT INTO post_search (rowid, text, cw, tags, author)", 5, rows)
        count += len(rows)
    refresh_profiles(db, [bytes(r[0]) for r in db.execute(
        "SELECT author FROM profiles WHERE name IS NOT NULL OR bio IS NOT NULL")])
    db.execute("INSERT INTO projection_versions (name, version) VALUES (?, ?) "
               "ON CONFLICT(name) DO UPDATE SET version = excluded.version",
               (PROJECTION, SEARCH_VERSION))
    return count


def ensure_built(db: sqlite3.Connection) -> bool:
    """Rebuild both indexes in one transaction if the stored version is not SEARCH_VERSION
    (at open). Returns whether it rebuilt."""
    row = db.execute("SELECT version FROM projection_versions WHERE name = ?",
                     (PROJECTION,)).fetchone()
    if row is not None and int(row[0]) == SEARCH_VERSION:
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        rebuild(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return True


def _rowids_of(db: sqlite3.Connection, entries: Sequence[Entry]) -> dict[tuple[bytes, int], int]:
    """Rowids of just-written entries, looked up (when they were not numbered max+1)."""
    out: dict[tuple[bytes, int], int] = {}
    by_author: dict[bytes, list[int]] = {}
    for e in entries:
        by_author.setdefault(e.author, []).append(e.seq)
    for author, seqs in by_author.items():
        for seq, rowid in db.execute("SELECT seq, rowid FROM entries WHERE author = ? "
                                     "AND seq BETWEEN ? AND ?", (author, min(seqs), max(seqs))):
            out[(author, int(seq))] = int(rowid)
    return out


def _insert(db: sqlite3.Connection, head: str, width: int,
            rows: Sequence[Sequence[Any]]) -> None:
    """Multi-row INSERTs (never executemany: see store/sqlite.py), as few as the limit on
    bound values allows (one for a batch of 2,000): FTS5 writes its pending terms out as a
    new segment at every statement's savepoint, so each statement adds one to merge."""
    one = "(" + ", ".join("?" * width) + ")"
    per = max(1, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        db.execute(f"{head} VALUES {', '.join([one] * len(part))}",
                   list(chain.from_iterable(part)))


# --- reads ---------------------------------------------------------------------------------


class SearchIndex:
    """Queries over the search projections (the store's `search` attribute)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @translated
    async def posts(self, match: str, *, limit: int, exclude: Collection[bytes] = (),
                    authors: Mapping[bytes, int | None] | None = None,
                    before: int | None = None) -> list[tuple[int, Entry]]:
        """(key, entry) of posts matching the FTS5 expression `match` in WORD_COLUMNS,
        newest first by time (`post_key`), leaving out authors in `exclude`; if `authors`
        is given, only posts of its feeds, each up to its seq (None: all of it; a person's
        devices, a revoked one counting up to its cut), narrowed in FTS5 by their tokens,
        then checked exactly; only keys below `before` (the previous page's last) if given. `match`
        comes from core.search_query (never raw user text: FTS5 syntax errors are
        StoreErrors).
        """
        if authors is not None and not authors:
            return []
        query = ("SELECT s.rowid, e.header, e.payload FROM post_search s "
                 f"JOIN entries e ON e.rowid = s.rowid & {_ROWID_MASK} "
                 "WHERE post_search MATCH ? AND e.payload IS NOT NULL")
        params: list[Any] = [posts_match(match, authors)]
        if before is not None:
            query += " AND s.rowid < ?"
            params.append(before)
        if authors is not None:
            ors = []
            for feed, last in authors.items():
                ors.append("e.author = ?" if last is None else "(e.author = ? AND e.seq <= ?)")
                params.extend([feed] if last is None else [feed, last])
            query += f" AND ({' OR '.join(ors)})"
        if exclude:
            query += f" AND e.author NOT IN ({','.join('?' * len(exclude))})"
            params.extend(exclude)
        query += " ORDER BY s.rowid DESC LIMIT ?"
        params.append(limit)
        async with self._conn.execute(query, params) as cur:
            return [(int(r[0]), entry_of_row(r[1:])) for r in await cur.fetchall()]

    @translated
    async def profiles(self, match: str, *, limit: int, exclude: Collection[bytes] = ()
                       ) -> list[bytes]:
        """Keys of feeds whose current name or bio matches `match`, best match first."""
        async with self._conn.execute(
                "SELECT author FROM profile_search WHERE profile_search MATCH ? "
                "ORDER BY rank LIMIT ?", (match, limit + len(exclude))) as cur:
            found = [bytes(r[0]) for r in await cur.fetchall()]
        return [a for a in found if a not in exclude][:limit]
