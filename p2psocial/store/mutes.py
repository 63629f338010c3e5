"""Mutes (migration 0005): accounts and words hidden from the timeline and notifications.

Rules:
- Local only: never published, never sent. Muting is not blocking: muted feeds are stored,
  replicated and served as before; only the home timeline and notifications leave them out.
- A muted account is an account id (a single-key identity's own key): every feed that
  counts for it is muted, and so are reposts of its entries.
- Words follow p2psocial/core/mutes.py. A post holding a muted word is hidden, and so is a
  repost of one.
- The mutes are read once at open and kept in memory, so a store without mutes pays one
  check per query (`empty`) and the SQL it had before.
- Who is muted is decided in SQL (`ACCOUNT_CONDITION`); words, and reposts of muted posts, in
  Python over each page (`hidden`), the page refilled from where it stopped
  (`Queries._unmuted`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from p2psocial.core.content import Post, Repost
from p2psocial.core.entry import Entry
from p2psocial.core.mutes import WordFilter, normalise_word
from p2psocial.store.errors import translated
from p2psocial.store.records import now_ms

# A row's account (`{account}`, an SQL expression) is not muted.
ACCOUNT_CONDITION = "{account} NOT IN (SELECT account FROM muted_accounts)"

GetEntry = Callable[[bytes], Awaitable[Entry | None]]
AccountsOf = Callable[[Iterable[bytes]], Awaitable[dict[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class Mute:
    """One mute: an account (`account` set) or a word (`word` set), muted at `ts` (ms)."""

    ts: int
    account: bytes | None = None
    word: str | None = None


class MuteBook:
    """The muted accounts and words of one store (`store.mutes`)."""

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock) -> None:
        self._conn = conn
        self._lock = write_lock
        self.accounts: frozenset[bytes] = frozenset()
        self.words = WordFilter(())

    @property
    def empty(self) -> bool:
        """True if nothing is muted."""
        return not self.accounts and not self.words

    @translated
    async def load(self) -> None:
        """Read the mutes (at open)."""
        async with self._conn.execute("SELECT account FROM muted_accounts") as cur:
            self.accounts = frozenset(bytes(r[0]) for r in await cur.fetchall())
        async with self._conn.execute("SELECT word FROM muted_words") as cur:
            self.words = WordFilter(str(r[0]) for r in await cur.fetchall())

    @translated
    async def list(self) -> list[Mute]:
        """Every mute, the latest first."""
        async with self._conn.execute(
                "SELECT ts, account, NULL FROM muted_accounts UNION ALL "
                "SELECT ts, NULL, word FROM muted_words ORDER BY 1 DESC") as cur:
            return [Mute(int(ts), None if a is None else bytes(a), w)
                    for ts, a, w in await cur.fetchall()]

    async def mute_account(self, account: bytes) -> bool:
        """Mute an account; False if it was muted already."""
        return await self._change("INSERT OR IGNORE INTO muted_accounts (account, ts) "
                                  "VALUES (?, ?)", account, now_ms())

    async def unmute_account(self, account: bytes) -> bool:
        """Lift an account's mute; False if it was not muted."""
        return await self._change("DELETE FROM muted_accounts WHERE account = ?", account)

    async def mute_word(self, word: str) -> bool:
        """Mute a word (normalised, see core.mutes); False if it was muted already.

        Raises:
            UsageError: the word is empty or too long.
        """
        return await self._change("INSERT OR IGNORE INTO muted_words (word, ts) VALUES (?, ?)",
                                  normalise_word(word), now_ms())

    async def unmute_word(self, word: str) -> bool:
        """Lift a word's mute; False if it was not muted."""
        return await self._change("DELETE FROM muted_words WHERE word = ?",
                                  normalise_word(word))

    @translated
    async def _change(self, sql: str, *params: Any) -> bool:
        async with self._lock:
            cur = await self._conn.execute(sql, params)
            changed = cur.rowcount > 0
            await cur.close()
        if changed:
            await self.load()
        return changed

    async def hidden(self, entries: Sequence[Entry], get: GetEntry,
                     accounts_of: AccountsOf) -> set[bytes]:
        """Hashes of `entries` that the words hide, and reposts of entries that a muted
        account wrote or the words hide (the entries' own authors are left to SQL)."""
        out = {e.hash for e in entries
               if isinstance(e.content, Post) and self.words.hides_post(e.content)}
        reposts = {e.hash: e.content.target for e in entries
                   if isinstance(e.content, Repost) and e.hash not in out}
        if not reposts:
            return out
        targets = {t: await get(t) for t in set(reposts.values())}
        held = {t: e for t, e in targets.items() if e is not None}
        account = await accounts_of(e.author for e in held.values()) if self.accounts else {}
        for repost, target in reposts.items():
            original = held.get(target)
            if original is None:
                continue
            if account.get(original.author) in self.accounts or (
                    isinstance(original.content, Post)
                    and self.words.hides_post(original.content)):
                out.add(repost)
        return out
