"""The reader's side of mail (migration 0006, docs/protocol.md §Private messages M5-M13,
M26, M27): the messages this device opened, by conversation.

Rules:
- A message is one row per (from, id), the first arrival kept (copies dropped, M10); wrap
  hashes already opened are remembered (`seen`), so a copy from another holder costs nothing.
- The store keeps the signed inner bytes; views are folded by core `conversation.fold`.
- Read state is this device's only (M13): `read_upto` per conversation.
- Declining deletes the conversation here (M26); blocking drops every message of the writer
  held, and waiting ones (M27). Callers check blocks before `add`.
- Messages waiting for their writer's ops (M5d) are kept apart until admitted or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2psocial.core.limits import KEY_BYTES
from p2psocial.core.mail.conversation import Arrived
from p2psocial.core.mail.inner import InnerMessage, parse_inner
from p2psocial.store.errors import translated
from p2psocial.store.mail_base import MailTable


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A conversation this device holds."""

    conv: bytes
    participants: tuple[bytes, ...]
    read_upto: int
    last_arrival: int
    messages: int


@dataclass(frozen=True, slots=True)
class Waiting:
    """An opened message waiting for its writer's ops (M5d)."""

    message: InnerMessage
    reader: bytes
    since: int


class Inbox(MailTable):
    """This device's private messages (`store.inbox`)."""

    @translated
    async def seen(self, wrap_hash: bytes) -> bool:
        """This wrap was opened before."""
        return await self._one("SELECT 1 FROM mail_seen WHERE wrap_hash = ?",
                               wrap_hash) is not None

    @translated
    async def mark_seen(self, wrap_hash: bytes, arrival_ms: int) -> None:
        """Remember an opened wrap (whatever it held)."""
        async with self._write() as conn:
            await conn.execute("INSERT OR IGNORE INTO mail_seen (wrap_hash, arrival) "
                               "VALUES (?, ?)", (wrap_hash, arrival_ms))

    @translated
    async def add(self, message: InnerMessage, arrival_ms: int) -> bool:
        """Keep an admitted message; False if (from, id) is held already."""
        async with self._write() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO inbox (from_account, id, conv, ts, arrival, kind, inner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message.from_account, message.id, message.conversation, message.ts,
                 arrival_ms, message.kind.value, message.raw))
            added = cur.rowcount > 0
            await cur.close()
            if added:
                await conn.execute(
                    "INSERT INTO conversations (conv, participants, last_arrival) VALUES "
                    "(?, ?, ?) ON CONFLICT (conv) DO UPDATE SET last_arrival = "
                    "max(last_arrival, excluded.last_arrival)",
                    (message.conversation, b"".join(message.participants), arrival_ms))
                await conn.execute("DELETE FROM mail_waiting WHERE from_account = ? AND id = ?",
                                   (message.from_account, message.id))
            return added

    @translated
    async def messages(self, conv: bytes) -> list[Arrived]:
        """The conversation's messages as held, by arrival."""
        rows = await self._all("SELECT inner, arrival FROM inbox WHERE conv = ? "
                               "ORDER BY arrival, id", conv)
        return [Arrived(parse_inner(bytes(raw)), int(arrival)) for raw, arrival in rows]

    @translated
    async def message(self, conv: bytes, msg_id: bytes) -> InnerMessage | None:
        """The message `msg_id` of the conversation, if held."""
        row = await self._one("SELECT inner FROM inbox WHERE conv = ? AND id = ?", conv, msg_id)
        return None if row is None else parse_inner(bytes(row[0]))

    @translated
    async def conversations(self) -> list[ConversationRow]:
        """Every conversation held, the latest activity first."""
        rows = await self._all(
            "SELECT c.conv, c.participants, c.read_upto, c.last_arrival, count(i.id) "
            "FROM conversations c LEFT JOIN inbox i ON i.conv = c.conv "
            "GROUP BY c.conv ORDER BY c.last_arrival DESC, c.conv")
        return [ConversationRow(conv=bytes(c), participants=_split(bytes(p)), read_upto=int(r),
                                last_arrival=int(a), messages=int(n))
                for c, p, r, a, n in rows]

    @translated
    async def participants(self, conv: bytes) -> tuple[bytes, ...] | None:
        """The conversation's participants, or None if it is not held."""
        row = await self._one("SELECT participants FROM conversations WHERE conv = ?", conv)
        return None if row is None else _split(bytes(row[0]))

    @translated
    async def mark_read(self, conv: bytes, upto: int) -> None:
        """Messages ordered at or before `upto` are read on this device (never moves back)."""
        async with self._write() as conn:
            await conn.execute("UPDATE conversations SET read_upto = max(read_upto, ?) "
                               "WHERE conv = ?", (upto, conv))

    @translated
    async def decline(self, conv: bytes) -> int:
        """Delete the conversation here (M26); how many messages went."""
        async with self._write() as conn:
            cur = await conn.execute("DELETE FROM inbox WHERE conv = ?", (conv,))
            gone = cur.rowcount
            await cur.close()
            await conn.execute("DELETE FROM conversations WHERE conv = ?", (conv,))
            return gone

    @translated
    async def drop_from(self, account: bytes) -> int:
        """M27: drop every message `account` wrote, held or waiting; how many."""
        async with self._write() as conn:
            cur = await conn.execute("DELETE FROM inbox WHERE from_account = ?", (account,))
            gone = cur.rowcount
            await cur.close()
            cur = await conn.execute("DELETE FROM mail_waiting WHERE from_account = ?",
                                     (account,))
            gone += cur.rowcount
            await cur.close()
            return gone

    @translated
    async def wait(self, message: InnerMessage, reader: bytes, since_ms: int) -> None:
        """Keep an opened message until its writer's ops come (M5d)."""
        async with self._write() as conn:
            await conn.execute("INSERT OR IGNORE INTO mail_waiting (from_account, id, reader, "
                               "inner, since) VALUES (?, ?, ?, ?, ?)",
                               (message.from_account, message.id, reader, message.raw,
                                since_ms))

    @translated
    async def waiting(self) -> list[Waiting]:
        """The messages waiting for ops, oldest first."""
        rows = await self._all("SELECT inner, reader, since FROM mail_waiting ORDER BY since")
        return [Waiting(parse_inner(bytes(raw)), bytes(reader), int(since))
                for raw, reader, since in rows]

    @translated
    async def unwait(self, message: InnerMessage) -> None:
        """Forget a waiting message (admitted elsewhere, or rejected)."""
        async with self._write() as conn:
            await conn.execute("DELETE FROM mail_waiting WHERE from_account = ? AND id = ?",
                               (message.from_account, message.id))


def _split(joined: bytes) -> tuple[bytes, ...]:
    return tuple(joined[i:i + KEY_BYTES] for i in range(0, len(joined), KEY_BYTES))
