"""Who follows whom, by account: the reads behind `followers` and `following`.

Rules:
- People are accounts: a single-key identity is its own account; a device feed stands for
  the account it counts for (S8). A follow of the account id or of any of its device feeds is
  a follow of the account.
- Followers of an account are the accounts, among the feeds held here, whose follow of it is
  in force: the latest counted follow or unfollow across their device feeds decides (S7, S9,
  as `Queries.following`), and a follower that also blocks it does not count.
- Following of an account is `Queries.following` (S9 already) with each followed feed read
  as its account, each once. An account never follows or is followed by itself.
- Without accounts (no device rows) it is the plain contacts projection, one query each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from p2psocial.store.accounts import AccountBook
from p2psocial.store.errors import translated
from p2psocial.store.rows import chunked

Following = Callable[[bytes], Awaitable[set[bytes]]]


class SocialGraph:
    """Followers and following by account (`store.social`)."""

    def __init__(self, conn: aiosqlite.Connection, accounts: AccountBook,
                 following: Following) -> None:
        self._conn = conn
        self._accounts = accounts
        self._following = following

    @translated
    async def followers(self, key: bytes) -> list[bytes]:
        """The accounts that follow the account `key` counts for, sorted."""
        account = (await self._accounts.accounts_of([key]))[key]
        targets = await self._feeds_of(account)
        sources: set[bytes] = set()
        for part, marks in chunked(targets):
            async with self._conn.execute(
                    f"SELECT src FROM contacts WHERE dst IN ({marks}) AND following = 1 "
                    "AND blocking = 0", part) as cur:
                sources.update(bytes(r[0]) for r in await cur.fetchall())
        if not self._accounts.active:
            return sorted(sources - {account})
        out = set()
        for src, theirs in (await self._accounts.accounts_of(sources)).items():
            if theirs == account or theirs in out:
                continue
            if src == theirs and await self._accounts.is_single(src):
                out.add(theirs)  # one feed, counting entirely: its own row decides
            elif targets & await self._following(theirs):
                out.add(theirs)  # S7 and S9 across the follower's devices
        return sorted(out)

    @translated
    async def following(self, key: bytes) -> list[bytes]:
        """The accounts that the account `key` counts for follows, sorted."""
        account = (await self._accounts.accounts_of([key]))[key]
        followed = await self._following(account)
        theirs = await self._accounts.accounts_of(followed)
        return sorted(set(theirs.values()) - {account})

    async def _feeds_of(self, account: bytes) -> set[bytes]:
        """The account id and every feed counting for it (revoked ones too: a follow of a
        device feed follows its account)."""
        out = {account}
        if self._accounts.active:
            async with self._conn.execute("SELECT feed FROM account_devices WHERE account = ?",
                                          (account,)) as cur:
                out.update(bytes(r[0]) for r in await cur.fetchall())
        return out
