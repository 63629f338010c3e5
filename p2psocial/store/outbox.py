"""The writer's side of mail (migration 0006, docs/protocol.md §Private messages M16-M18):
wraps waiting to be held by enough holders.

Rules:
- A wrap waits with its mailbox, conversation, when it was written, the rounds tried, how
  many holders hold it and when to try next (core `route.next_try_ms`).
- `record` counts a round: delivered (the caller says so, core `route.delivered`) clears the
  next try; no next try and not delivered is `failed` ("not delivered", M18).
- Wraps are kept after delivery, so a conversation can show each message's state.
- A message sealed blind (to an account whose ops were not held, migration 0007) is noted
  with `note_blind` until the account's ops come (`drop_blind` once sealed again) or its
  delivery window passes (`drop_blind_before`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from p2psocial.store.errors import translated
from p2psocial.store.mail_base import MailTable


class OutboxStatus(enum.StrEnum):
    """Where a wrap stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A wrap in the outbox."""

    wrap_hash: bytes
    account: bytes
    conv: bytes
    wrap: bytes
    written: int
    attempts: int
    held_by: int
    next_try: int | None
    status: OutboxStatus


@dataclass(frozen=True, slots=True)
class BlindSend:
    """A message of mine sealed to an account's own key only: its ops were not held."""

    account: bytes
    conv: bytes
    msg_id: bytes
    since: int


_COLUMNS = "wrap_hash, account, conv, wrap, written, attempts, held_by, next_try, status"


class Outbox(MailTable):
    """This node's wraps on their way (`store.outbox`)."""

    @translated
    async def add(self, wrap_hash: bytes, *, account: bytes, conv: bytes, wrap: bytes,
                  written_ms: int) -> None:
        """Queue a wrap, to be tried at once."""
        async with self._write() as conn:
            await conn.execute("INSERT OR IGNORE INTO outbox (wrap_hash, account, conv, wrap, "
                               "written, next_try) VALUES (?, ?, ?, ?, ?, ?)",
                               (wrap_hash, account, conv, wrap, written_ms, written_ms))

    @translated
    async def due(self, now_ms: int, *, limit: int = 64) -> list[OutboxItem]:
        """The pending wraps whose next try has come, the earliest first."""
        rows = await self._all(f"SELECT {_COLUMNS} FROM outbox WHERE next_try IS NOT NULL "
                               "AND next_try <= ? ORDER BY next_try LIMIT ?", now_ms, limit)
        return [_item(r) for r in rows]

    @translated
    async def next_due(self) -> int | None:
        """When the earliest pending wrap is due (ms), or None if none is pending."""
        rows = await self._all("SELECT min(next_try) FROM outbox WHERE next_try IS NOT NULL")
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    @translated
    async def of_conversation(self, conv: bytes) -> list[OutboxItem]:
        """Every wrap written in a conversation, in the order written."""
        rows = await self._all(f"SELECT {_COLUMNS} FROM outbox WHERE conv = ? "
                               "ORDER BY written, wrap_hash", conv)
        return [_item(r) for r in rows]

    @translated
    async def record(self, wrap_hash: bytes, *, held_by: int, delivered: bool,
                     next_try: int | None) -> None:
        """Count a round of PUTs: how many holders hold it now, and what comes next."""
        status = (OutboxStatus.DELIVERED if delivered else
                  OutboxStatus.PENDING if next_try is not None else OutboxStatus.FAILED)
        async with self._write() as conn:
            await conn.execute("UPDATE outbox SET attempts = attempts + 1, held_by = max("
                               "held_by, ?), next_try = ?, status = ? WHERE wrap_hash = ?",
                               (held_by, None if delivered else next_try, status.value,
                                wrap_hash))

    @translated
    async def note_blind(self, account: bytes, *, conv: bytes, msg_id: bytes,
                         since_ms: int) -> None:
        """`msg_id` went to `account` sealed blind (M16): seal it again when its ops come."""
        async with self._write() as conn:
            await conn.execute("INSERT OR IGNORE INTO mail_blind (account, conv, msg_id, since) "
                               "VALUES (?, ?, ?, ?)", (account, conv, msg_id, since_ms))

    @translated
    async def blind(self) -> list[BlindSend]:
        """Every message sealed blind and not sealed again yet, the oldest first."""
        rows = await self._all("SELECT account, conv, msg_id, since FROM mail_blind "
                               "ORDER BY since")
        return [BlindSend(bytes(a), bytes(c), bytes(m), int(t)) for a, c, m, t in rows]

    @translated
    async def drop_blind(self, account: bytes, msg_id: bytes) -> None:
        """The message was sealed again to the account's devices (or cannot be)."""
        async with self._write() as conn:
            await conn.execute("DELETE FROM mail_blind WHERE account = ? AND msg_id = ?",
                               (account, msg_id))

    @translated
    async def drop_blind_before(self, before_ms: int) -> int:
        """Forget blind sends older than `before_ms`; how many went."""
        async with self._write() as conn:
            cur = await conn.execute("DELETE FROM mail_blind WHERE since < ?", (before_ms,))
            return int(cur.rowcount)


def _item(row: tuple[Any, ...]) -> OutboxItem:
    wrap_hash, account, conv, wrap, written, attempts, held_by, next_try, status = row
    return OutboxItem(wrap_hash=bytes(wrap_hash), account=bytes(account),
                      conv=bytes(conv), wrap=bytes(wrap),
                      written=int(written), attempts=int(attempts),
                      held_by=int(held_by),
                      next_try=None if next_try is None else int(next_try),
                      status=OutboxStatus(status))
