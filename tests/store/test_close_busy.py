"""Closing the store while a read's statement is still open (a task cancelled at the wrong
moment leaves one until its cursor is collected) must close it anyway: the WAL checkpoint
failed with "database table is locked" and the node's stop raised. Nothing is lost: the WAL
is checkpointed at the next open."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.core.content import Post
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for

ME = identity_for("close-busy-me")


@pytest.mark.asyncio
async def test_close_with_a_statement_open_closes_and_keeps_everything(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    await store.set_owner(ME.public_key)
    for i in range(50):
        await store.append(ME, Post(text=f"post {i}"))
    cursor = await store._conn.execute("SELECT * FROM entries")  # white-box: left open
    await cursor.fetchone()
    await store.close()  # raised sqlite3.OperationalError before
    again = await Store.open(path, verify_processes=0)
    try:
        assert await again.count_entries() == 50
    finally:
        await again.close()
