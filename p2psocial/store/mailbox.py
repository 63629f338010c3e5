"""The holder's side of mail (migration 0006, docs/protocol.md §Private messages M14-M21).

Rules:
- Wraps are kept per mailbox under cursors 1, 2, 3, … that are never reused, even after
  wraps go (`mailboxes.last_cursor`). A wrap hash is held once per mailbox (`put` of a held
  one returns None: `duplicate`).
- Stored: the mailbox, the cursor, the wrap, its hash and the hour of arrival (M21). No
  sender, no finer time: the caller passes the hour (core `hour_of`).
- FETCH reads at most MAIL_FETCH_PAGE wraps after a cursor, oldest first, and says whether
  more wait. ACK records a device's cursor (never moving it back).
- `expire` drops what core `plan_expiry` says (every current device ACKed it, or retention).
- The policy (POLICY op): followed senders only, or not.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from p2psocial.core.limits import MAIL_FETCH_PAGE
from p2psocial.core.mail.holder_policy import plan_expiry
from p2psocial.store.errors import translated
from p2psocial.store.mail_base import MailTable


@dataclass(frozen=True, slots=True)
class MailboxUsage:
    """What a mailbox holds now."""

    wraps: int
    size: int
    followed_only: bool


class Mailboxes(MailTable):
    """The mailboxes this node holds (`store.mailboxes`)."""

    @translated
    async def put(self, account: bytes, wrap_hash: bytes, wrap: bytes, hour: int) -> int | None:
        """Hold a wrap; its cursor, or None if the mailbox holds that wrap hash already."""
        async with self._write() as conn:
            async with conn.execute("SELECT 1 FROM mailbox WHERE account = ? AND wrap_hash = ?",
                                    (account, wrap_hash)) as cur:
                if await cur.fetchone() is not None:
                    return None
            await conn.execute("INSERT OR IGNORE INTO mailboxes (account) VALUES (?)",
                               (account,))
            await conn.execute("UPDATE mailboxes SET last_cursor = last_cursor + 1 "
                               "WHERE account = ?", (account,))
            async with conn.execute("SELECT last_cursor FROM mailboxes WHERE account = ?",
                                    (account,)) as cur:
                row = await cur.fetchone()
            assert row is not None  # inserted above, in this transaction
            cursor = int(row[0])
            await conn.execute("INSERT INTO mailbox (account, cursor, wrap_hash, wrap, hour) "
                               "VALUES (?, ?, ?, ?, ?)", (account, cursor, wrap_hash, wrap,
                                                          hour))
            return cursor

    @translated
    async def held(self, account: bytes, wrap_hash: bytes) -> bool:
        """The mailbox holds this wrap hash."""
        return await self._one("SELECT 1 FROM mailbox WHERE account = ? AND wrap_hash = ?",
                               account, wrap_hash) is not None

    @translated
    async def usage(self, account: bytes) -> MailboxUsage:
        """How many wraps and bytes the mailbox holds, and its policy."""
        row = await self._one("SELECT count(*), coalesce(sum(length(wrap)), 0) FROM mailbox "
                              "WHERE account = ?", account)
        policy = await self._one("SELECT followed_only FROM mailboxes WHERE account = ?",
                                 account)
        assert row is not None  # an aggregate always has a row
        return MailboxUsage(wraps=int(row[0]), size=int(row[1]),
                            followed_only=policy is not None and bool(policy[0]))

    @translated
    async def fetch(self, account: bytes, after: int, *,
                    limit: int = MAIL_FETCH_PAGE) -> tuple[list[tuple[int, bytes]], bool]:
        """The wraps after cursor `after`, oldest first, at most `limit`; and whether more wait."""
        rows = await self._all("SELECT cursor, wrap FROM mailbox WHERE account = ? AND "
                               "cursor > ? ORDER BY cursor LIMIT ?", account, after, limit + 1)
        items = [(int(c), bytes(w)) for c, w in rows[:limit]]
        return items, len(rows) > limit

    @translated
    async def newest(self, account: bytes) -> int:
        """The last cursor given in the mailbox (0: none)."""
        row = await self._one("SELECT last_cursor FROM mailboxes WHERE account = ?", account)
        return 0 if row is None else int(row[0])

    @translated
    async def ack(self, account: bytes, device: bytes, cursor: int) -> None:
        """Record that `device` stored everything up to `cursor` (never moves back)."""
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO mailbox_acks (account, device, cursor) VALUES (?, ?, ?) "
                "ON CONFLICT (account, device) DO UPDATE SET cursor = max(cursor, "
                "excluded.cursor)", (account, device, cursor))

    @translated
    async def acks(self, account: bytes) -> dict[bytes, int]:
        """Each device's ACK cursor."""
        rows = await self._all("SELECT device, cursor FROM mailbox_acks WHERE account = ?",
                               account)
        return {bytes(d): int(c) for d, c in rows}

    @translated
    async def expire(self, account: bytes, devices: Collection[bytes], *, now_ms: int,
                     retention_ms: int) -> int:
        """Drop the wraps every current device ACKed or past retention (M21); how many."""
        wraps = [(int(c), int(h)) for c, h in await self._all(
            "SELECT cursor, hour FROM mailbox WHERE account = ?", account)]
        drop = plan_expiry(wraps, await self.acks(account), devices, now_ms=now_ms,
                           retention_ms=retention_ms)
        if drop:
            async with self._write() as conn:
                await conn.executemany("DELETE FROM mailbox WHERE account = ? AND cursor = ?",
                                       [(account, c) for c in drop])
        return len(drop)

    @translated
    async def set_policy(self, account: bytes, *, followed_only: bool) -> None:
        """The account's POLICY: strangers may write, or followed senders only."""
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO mailboxes (account, followed_only) VALUES (?, ?) ON CONFLICT "
                "(account) DO UPDATE SET followed_only = excluded.followed_only",
                (account, int(followed_only)))
