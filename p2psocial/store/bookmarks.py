"""Bookmarks (migration 0005): entries the user keeps a pointer to, local only.

Rules:
- A bookmark is an entry hash and when it was made; never published. Bookmarking twice is
  one bookmark (the first time kept).
- A bookmark outlives its entry's payload: a deleted entry stays listed, shown as deleted.
- Listed newest bookmark first.
"""

from __future__ import annotations

import asyncio

import aiosqlite

from p2psocial.store.errors import translated
from p2psocial.store.records import now_ms


class Bookmarks:
    """The bookmarks of one store (`store.bookmarks`)."""

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock) -> None:
        self._conn = conn
        self._lock = write_lock

    @translated
    async def add(self, entry_hash: bytes) -> bool:
        """Bookmark an entry; False if it was bookmarked already."""
        return await self._change("INSERT OR IGNORE INTO bookmarks (hash, ts) VALUES (?, ?)",
                                  entry_hash, now_ms())

    @translated
    async def remove(self, entry_hash: bytes) -> bool:
        """Drop a bookmark; False if there was none."""
        return await self._change("DELETE FROM bookmarks WHERE hash = ?", entry_hash)

    @translated
    async def list(self, *, limit: int = 50) -> list[tuple[bytes, int]]:
        """(entry hash, bookmarked at ms), newest first."""
        async with self._conn.execute(
                "SELECT hash, ts FROM bookmarks ORDER BY ts DESC, hash DESC LIMIT ?",
                (limit,)) as cur:
            return [(bytes(h), int(ts)) for h, ts in await cur.fetchall()]

    @translated
    async def has(self, entry_hash: bytes) -> bool:
        """True if the entry is bookmarked."""
        async with self._conn.execute("SELECT 1 FROM bookmarks WHERE hash = ?",
                                      (entry_hash,)) as cur:
            return await cur.fetchone() is not None

    async def _change(self, sql: str, *params: object) -> bool:
        async with self._lock:
            cur = await self._conn.execute(sql, params)
            changed = cur.rowcount > 0
            await cur.close()
        return changed
