"""Migrations that land out of order (issue 12: 0005 was committed before 0004): a database
migrated past a missing number still gets that migration once it ships (real SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from p2psocial.store import connection
from p2psocial.store.connection import migrations


async def _open(path: Path, known: list[tuple[int, str]]) -> None:
    conn = aiosqlite.connect(path, isolation_level=None)
    await conn
    try:
        await connection._migrate(conn, known)
    finally:
        await conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_a_migration_landing_after_a_higher_one_is_still_applied_once(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    shipped = [m for m in migrations() if m[0] <= 3]
    five = (5, "CREATE TABLE five (x INTEGER);")
    four = (4, "CREATE TABLE four (x INTEGER);")
    await _open(path, [*shipped, five])  # a build with 0005 but not yet 0004
    assert "five" in _tables(path) and "four" not in _tables(path)
    await _open(path, [*shipped, four, five])  # 0004 lands later
    assert {"four", "five"} <= _tables(path)
    await _open(path, [*shipped, four, five])  # and is never applied twice
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_a_database_of_the_old_runner_counts_every_version_up_to_its_own(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    conn = sqlite3.connect(path)
    for _, sql in migrations()[:3]:
        conn.executescript(sql)
    conn.execute("PRAGMA user_version=3")  # as the runner before the applied-set wrote it
    conn.close()
    await _open(path, [*migrations()[:3], (6, "CREATE TABLE six (x INTEGER);")])
    assert "six" in _tables(path)


@pytest.mark.asyncio
async def test_a_database_of_the_release_with_0005_but_not_0004_gets_0004(
        tmp_path: Path) -> None:
    """The release before the applied-set shipped 0001-0003 and 0005, and its runner wrote
    user_version 5: 0004 (search), which landed later, must still be applied to it."""
    path = tmp_path / "db"
    conn = sqlite3.connect(path)
    for version, sql in migrations():
        if version <= 5 and version != 4:  # what that release had
            conn.executescript(sql)
    conn.execute("PRAGMA user_version=5")
    conn.close()
    await _open(path, migrations())
    assert {"post_search", "profile_search", "projection_versions",
            "muted_words"} <= _tables(path)
