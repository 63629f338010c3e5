"""What the mail tables' classes share (migration 0006): the connection, the store's write
lock and a write transaction.

Rules:
- Every write runs under the store's write lock inside BEGIN IMMEDIATE … COMMIT, rolled back
  on any failure, so a change is whole or absent.
- sqlite3 errors become StoreErrors (`translated` on each public method of the subclasses).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite


class MailTable:
    """Base of Mailboxes, Inbox and Outbox."""

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock) -> None:
        self._conn = conn
        self._lock = write_lock

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    # if SQLite rolled back itself, the first error is the one to raise
                    with contextlib.suppress(sqlite3.Error):
                        await self._conn.execute("ROLLBACK")
                raise

    async def _all(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        async with self._conn.execute(sql, params) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def _one(self, sql: str, *params: object) -> tuple[Any, ...] | None:
        async with self._conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return None if row is None else tuple(row)
