"""Latest-wins reads (profiles, relay lists) by account: what store/queries.py hands out for
the feeds asked, once some account has devices.

Rules:
- A key asked stands for the account it counts for (its own key for a single-key feed): a
  device feed and its account id get the same answer, that of the account (S9: the latest
  counted entry across its device feeds).
- Keys whose account has no device rows are read from the per-feed projection, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiosqlite

from p2psocial.store.accounts import AccountBook
from p2psocial.store.rows import chunked


async def latest_by_account(conn: aiosqlite.Connection, book: AccountBook,
                            keys: Iterable[bytes], per_feed: str, per_account: str
                            ) -> dict[bytes, tuple[bytes, tuple[Any, ...]]]:
    """For each of `keys` that has an answer: (its account, the values).

    Args:
        per_feed: SQL with `{marks}` for feed keys, giving rows (feed, *values).
        per_account: SQL with `?1` for one account id, giving one row of values (absent, or
            all NULL: no answer).
    """
    account = await book.accounts_of(keys)
    with_devices: set[bytes] = set()
    for part, marks in chunked(set(account.values())):
        async with conn.execute("SELECT DISTINCT account FROM account_devices WHERE account "
                                f"IN ({marks})", part) as cur:
            with_devices.update(bytes(r[0]) for r in await cur.fetchall())
    found: dict[bytes, tuple[Any, ...]] = {}
    for a in with_devices:
        async with conn.execute(per_account, (a,)) as cur:
            row = await cur.fetchone()
        if row is not None and any(v is not None for v in row):
            found[a] = tuple(row)
    plain = {a for a in account.values() if a not in with_devices}
    for part, marks in chunked(plain):
        async with conn.execute(per_feed.format(marks=marks), part) as cur:
            found.update((bytes(r[0]), tuple(r[1:])) for r in await cur.fetchall())
    return {key: (a, found[a]) for key, a in account.items() if a in found}
