"""Opening the SQLite database: pragmas, ownership check and versioned migrations.

Rules:
- WAL journal, synchronous=NORMAL (durable at checkpoints, never corrupt), autocommit mode
  with explicit BEGIN IMMEDIATE … COMMIT around every write.
- A database is ours if its application_id is APPLICATION_ID. A new, empty file becomes ours;
  any other file is refused with NotOurDatabase and left untouched.
- The file is created with mode 0600 before SQLite opens it, so its -wal and -shm (which
  SQLite creates with the database's mode) are private too; once a database is known to be
  ours, any of the three that others may read is narrowed to 0600.
- A file that cannot be opened is one StoreError; aiosqlite's worker thread is waited for, so
  nothing else is printed.
- Migrations are the files migrations/NNNN_*.sql, applied in order inside one transaction each.
  The table schema_migrations records each one applied, so a number that lands after a
  higher one (two branches adding one each) is still applied, once; PRAGMA user_version is
  the highest applied (a database from a newer p2psocial is refused by it). A database from
  before that table counts every version up to its user_version but LANDED_LATE (0004).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import re
import sqlite3
import threading
from pathlib import Path

import aiosqlite

from p2psocial.core.errors import NotOurDatabase, StoreError
from p2psocial.store.errors import translate
from p2psocial.store.home import create_private_file, open_to_others

APPLICATION_ID = 0x70327073  # "p2ps"
# A new database's page size. An entry row is ~400 bytes (a 200-character post): a 4 KiB page
# holds 9 of them and leaves ~8% empty, an 8 KiB page ~3% (docs/benchmarks.md, "Storage").
# A database made before keeps its size (a page size cannot change in WAL mode).
PAGE_SIZE = 8192
_MIGRATION_RE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql\Z")


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every migration shipped with the package, in order."""
    folder = importlib.resources.files("p2psocial.store") / "migrations"
    found = []
    for item in folder.iterdir():
        match = _MIGRATION_RE.match(item.name)
        if match:
            found.append((int(match.group(1)), item.read_text()))
    return sorted(found)


async def open_database(path: Path) -> aiosqlite.Connection:
    """Open (creating if needed) and migrate the database at `path`.

    Raises:
        NotOurDatabase: the file is not SQLite, or is another application's database.
        StoreError: the file cannot be opened.
    """
    _prepare_file(path)
    conn = aiosqlite.connect(path, isolation_level=None)
    try:
        await conn
    except sqlite3.Error as exc:
        await _worker_stopped(conn)
        raise StoreError(f"cannot open {path}: {exc}") from exc
    try:
        await _check_owner(conn, path)
        _narrow_modes(path)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000",
                       "temp_store=MEMORY", "cache_size=-65536", "foreign_keys=OFF"):
            await conn.execute(f"PRAGMA {pragma}")
        await _migrate(conn)
    except sqlite3.Error as exc:
        await conn.close()
        raise translate(exc, path.parent) from exc
    except StoreError:
        await conn.close()
        raise
    return conn


def _prepare_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"cannot open {path}: it is a directory, not a database")
    if not path.exists():
        create_private_file(path)


def _narrow_modes(path: Path) -> None:
    """Make a database that others may read (and its -wal, -shm) private: only once it is
    known to be ours."""
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        if open_to_others(path.with_name(name)):
            create_private_file(path.with_name(name))


async def _worker_stopped(conn: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection that failed to open. aiosqlite (0.22)
    stops it without waiting; if the event loop closed first, the thread would die printing
    a traceback after our one-line error."""
    thread = getattr(conn, "_thread", None)
    if isinstance(thread, threading.Thread) and thread.is_alive():
        await asyncio.to_thread(thread.join, 5.0)


async def _check_owner(conn: aiosqlite.Connection, path: Path) -> None:
    app_id = await _pragma_int(conn, "application_id")
    if app_id == APPLICATION_ID:
        return
    async with conn.execute("SELECT count(*) FROM sqlite_master") as cur:
        row = await cur.fetchone()
    if app_id != 0 or (row is not None and row[0] > 0):
        raise NotOurDatabase(f"{path} is not a p2psocial database; it was left untouched")
    # a new database: pages freed by pruning can go back to the file system without a VACUUM
    # (which may renumber `entries`): store/pruning.py `compact`
    await conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    await conn.execute(f"PRAGMA application_id={APPLICATION_ID}")


async def _migrate(conn: aiosqlite.Connection,
                   known: list[tuple[int, str]] | None = None) -> None:
    current = await _pragma_int(conn, "user_version")
    known = migrations() if known is None else known
    newest = known[-1][0] if known else 0
    if current > newest:
        raise StoreError(f"the database is from a newer p2psocial (schema {current}, this "
                         f"version knows {newest}); upgrade p2psocial")
    applied = await _applied(conn, current, [v for v, _ in known])
    for version, sql in known:
        if version in applied:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
            await conn.execute(f"PRAGMA user_version={max(version, current)}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        current = max(version, current)


# Migrations that shipped after a higher number had, before schema_migrations existed: a
# database from before that table at a user_version above one of them has not had it (the
# release with 0005 had no 0004). Each is written to apply safely to any older schema.
LANDED_LATE = frozenset({4})


async def _applied(conn: aiosqlite.Connection, current: int, known: list[int]) -> set[int]:
    """The migrations this database has had. Recorded one by one in schema_migrations, so a
    number that ships after a higher one (two branches each adding one) is still applied; a
    database from before that table has had every known version up to its user_version but
    those in LANDED_LATE."""
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                       "(version INTEGER PRIMARY KEY)")
    async with conn.execute("SELECT version FROM schema_migrations") as cur:
        applied = {int(r[0]) for r in await cur.fetchall()}
    if not applied and current > 0:
        applied = {v for v in known if v <= current and v not in LANDED_LATE}
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.executemany("INSERT INTO schema_migrations (version) VALUES (?)",
                                   [(v,) for v in sorted(applied)])
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration script into complete statements (SQLite's own tokenizer decides
    where one ends, so semicolons inside comments or literals are safe)."""
    out: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
            ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()):
        raise StoreError("a migration ends with an incomplete statement")
    return out


async def _pragma_int(conn: aiosqlite.Connection, name: str) -> int:
    async with conn.execute(f"PRAGMA {name}") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
