"""Private conversations: send, list, show, accept, decline, mark read (docs/protocol.md
§Private messages; delivery and fetching are runtime/mail_client's).

Rules:
- Sending builds a signed inner message (core `make_inner`), seals it per account (core
  `delivery.seal_all`, to each account's current devices by the ops held; an account whose
  ops are not held is a single-key identity, M16: sealed to its key "blind", and noted, so
  that `reseal_blind` seals it again to the devices if that account's ops come within the
  delivery window), keeps my own message in my inbox (so the
  conversation shows it) and queues the wraps in the outbox; `mail_queued` (set by a running
  node) then delivers them. Writing adds no entry to my feed (D2).
- Bad input is one UsageError line: no recipient, only myself, a recipient I block, more
  than MAX_DM_RECIPIENTS, empty or blank or too long text, an unknown or ambiguous
  conversation or message id.
- A conversation is named by a handle (the conversation of me and that person) or by a prefix
  of its id in hex (at least MIN_REF_HEX digits).
- Views fold the held messages with core `conversation.fold`; blocked writers never show
  (M27): a request whose every message is theirs is not listed. Read state is this
  device's (M13).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence

from p2psocial.core import limits
from p2psocial.core.account.state import AccountState
from p2psocial.core.errors import HandleError, UsageError
from p2psocial.core.identity import handle_of
from p2psocial.core.mail import delivery
from p2psocial.core.mail.conversation import Arrived, Shown, fold
from p2psocial.core.mail.conversation import ConversationView as Folded
from p2psocial.core.mail.inner import InnerMessage, Kind, conversation_id, make_inner
from p2psocial.core.mail.route import DELIVERY_WINDOW_MS
from p2psocial.core.mail.wrap import seal
from p2psocial.runtime.mail_views import ConversationView, MessageView
from p2psocial.runtime.service.base import MIN_REF_HEX, ServiceCore, page_size

HEX = frozenset("0123456789abcdef")


def _now() -> int:
    return time.time_ns() // 1_000_000


def _device_keys(state: AccountState) -> list[bytes]:
    """An account's current devices by the ops held (a single key: itself)."""
    return [d.key for d in state.current_devices()]


class Messages(ServiceCore):
    """Private conversations over the inbox and outbox."""

    mail_queued: Callable[[], None] | None = None  # a running node delivers the outbox
    # a running node fetches accounts' ops from its peers (Replicator.look_up_accounts)
    ops_wanted: Callable[[Sequence[bytes]], Awaitable[None]] | None = None

    # --- accounts -------------------------------------------------------------------------

    async def _account(self, key: bytes) -> bytes:
        return await self.store.accounts.account_of(key) or key


    async def _blocked_accounts(self) -> set[bytes]:
        blocked = await self.store.blocking(self.public_key)
        return blocked | set((await self.store.accounts.accounts_of(blocked)).values())

    async def _following(self) -> set[bytes]:
        keys = await self.store.following(self.public_key)
        return set(keys) | set((await self.store.accounts.accounts_of(keys)).values())

    # --- writing --------------------------------------------------------------------------

    async def send_message(self, handles: Sequence[str], text: str, *,
                           edit: str | None = None) -> ConversationView:
        """Write `text` to the people `handles` name (several: a group), or replace the
        text of my message `edit` (a hex prefix of its id)."""
        me = await self._account(self.public_key)
        text = text.strip()
        if not text:
            raise UsageError("the message is empty")
        if len(text) > limits.MAX_POST_CHARS:
            raise UsageError(f"the message has {len(text):,} characters; at most "
                             f"{limits.MAX_POST_CHARS:,} fit")
        target = None
        if edit is not None:
            if handles:
                raise UsageError("--edit takes the message id and the new text only")
            message = await self._my_message(edit, me)
            others = [p for p in message.participants if p != me]
            target = message.id
        else:
            others = await self._recipients(handles, me)
        inner = make_inner(self.identity(), account=me, to=others, msg_id=os.urandom(16),
                           ts=_now(), kind=Kind.EDIT if target else Kind.TEXT, text=text,
                           target=target)
        await self._seal_and_queue(inner)
        return await self._conv_view(inner.conversation, me, limit=50)

    async def recipients(self, handles: Sequence[str]) -> list[str]:
        """The accounts `handles` name, as a message to them would go (the UI checks whom
        to write to before the message is written); the same refusals as sending."""
        me = await self._account(self.public_key)
        return [handle_of(a) for a in await self._recipients(handles, me)]

    async def _recipients(self, handles: Sequence[str], me: bytes) -> list[bytes]:
        if not handles:
            raise UsageError("name at least one person to write to")
        blocked = await self._blocked_accounts()
        others: set[bytes] = set()
        for handle in handles:
            key = await self.key_of(handle)
            account = await self._account(key)
            if key in blocked or account in blocked:
                raise UsageError(f"you block {handle}: unblock them to write to them")
            if account != me:
                others.add(account)
        if not others:
            raise UsageError("you cannot write only to yourself")
        if len(others) > limits.MAX_DM_RECIPIENTS:
            raise UsageError(f"a conversation holds at most {limits.MAX_DM_RECIPIENTS} "
                             f"other people, not {len(others)}")
        return sorted(others)

    async def _seal_and_queue(self, message: InnerMessage) -> None:
        accounts = [message.from_account] if message.kind is Kind.ACCEPT else \
            list(message.participants)
        me = message.from_account
        book = self.store.accounts
        unknown = [a for a in accounts if a != me and (await book.state_of(a)).tip is None]
        if unknown and self.ops_wanted is not None:  # M16: learn their devices first
            await self.ops_wanted(unknown)
        states = {a: await book.state_of(a) for a in accounts}
        wraps = delivery.seal_all(message, {a: _device_keys(st) for a, st in states.items()})
        now = _now()
        await self.store.inbox.add(message, now)
        for wrap in wraps:
            await self.store.outbox.add(wrap.hash, account=wrap.to, conv=message.conversation,
                                        wrap=wrap.raw, written_ms=now)
        for account in unknown:
            if states[account].tip is None:  # still unknown: sealed blind
                await self.store.outbox.note_blind(account, conv=message.conversation,
                                                   msg_id=message.id, since_ms=now)
        if wraps and self.mail_queued is not None:
            self.mail_queued()

    async def reseal_blind(self, now_ms: int | None = None) -> int:
        """Seal again, to its devices, each message sent blind to an account whose ops have
        come since (M16); forget those past the delivery window. How many were sealed."""
        now = _now() if now_ms is None else now_ms
        outbox = self.store.outbox
        await outbox.drop_blind_before(now - DELIVERY_WINDOW_MS)
        sealed = 0
        for blind in await outbox.blind():
            state = await self.store.accounts.state_of(blind.account)
            if state.tip is None:
                continue  # still unknown (or a single-key identity: the first wrap serves)
            devices = _device_keys(state)
            message = await self.store.inbox.message(blind.conv, blind.msg_id)
            if message is not None and devices:
                wrap = seal(message.raw, mailbox=blind.account, devices=devices)
                await outbox.add(wrap.hash, account=blind.account, conv=blind.conv,
                                 wrap=wrap.raw, written_ms=now)
                sealed += 1
            await outbox.drop_blind(blind.account, blind.msg_id)
        if sealed and self.mail_queued is not None:
            self.mail_queued()
        return sealed

    async def _my_message(self, ref: str, me: bytes) -> InnerMessage:
        prefix = _hex_ref(ref, "message id")
        found: dict[bytes, InnerMessage] = {}
        for row in await self.store.inbox.conversations():
            for arrived in await self.store.inbox.messages(row.conv):
                m = arrived.message
                if m.id.hex().startswith(prefix) and m.kind is Kind.TEXT:
                    found[m.id] = m
        if not found:
            raise UsageError(f"no message {ref} is held")
        if len(found) > 1:
            raise UsageError(f"{ref} names {len(found)} messages: give more of the id")
        message = next(iter(found.values()))
        if message.from_account != me:
            raise UsageError("you can edit only your own messages")
        return message

    # --- reading --------------------------------------------------------------------------

    async def inbox(self) -> list[ConversationView]:
        """Every conversation, the latest first, with its last message and unread count."""
        me = await self._account(self.public_key)
        views = [await self._conv_view(row.conv, me, limit=1, page=False)
                 for row in await self.store.inbox.conversations() if row.messages]
        return [v for v in views if v.last is not None or v.state == "accepted"]

    async def conversation(self, ref: str, limit: int = 50,
                           before: int | None = None) -> ConversationView:
        """One conversation's messages, the last `limit` ordered before `before`."""
        me = await self._account(self.public_key)
        return await self._conv_view(await self._conv(ref, me), me, limit=page_size(limit),
                                before=before)

    async def accept(self, ref: str) -> ConversationView:
        """Accept a request (M26); my other devices learn it (M12)."""
        me = await self._account(self.public_key)
        conv = await self._conv(ref, me)
        participants = await self.store.inbox.participants(conv) or ()
        inner = make_inner(self.identity(), account=me, to=[p for p in participants if p != me],
                           msg_id=os.urandom(16), ts=_now(), kind=Kind.ACCEPT)
        await self._seal_and_queue(inner)
        return await self._conv_view(conv, me, limit=50)

    async def decline(self, ref: str) -> int:
        """Delete a conversation here (M26); how many messages went."""
        me = await self._account(self.public_key)
        return await self.store.inbox.decline(await self._conv(ref, me))

    async def mark_read(self, ref: str) -> int:
        """Mark a conversation read on this device; the order mark it is read up to."""
        me = await self._account(self.public_key)
        conv = await self._conv(ref, me)
        folded = await self._conv_fold(conv, me)
        upto = max((m.order[0] for m in folded.messages), default=0)
        await self.store.inbox.mark_read(conv, upto)
        return upto

    async def _conv(self, ref: str, me: bytes) -> bytes:
        ref = ref.strip()
        lowered = ref.lower()
        if len(lowered) >= MIN_REF_HEX and set(lowered) <= HEX:
            rows = [r.conv for r in await self.store.inbox.conversations()
                    if r.conv.hex().startswith(lowered)]
            if len(rows) > 1:
                raise UsageError(f"{ref} names {len(rows)} conversations: give more of the id")
            if rows:
                return rows[0]
            with contextlib.suppress(HandleError):
                await self.key_of(ref)
                return await self._conv_with(ref, me)
            raise UsageError(f"no conversation {ref} is held")
        return await self._conv_with(ref, me)

    async def _conv_with(self, ref: str, me: bytes) -> bytes:
        account = await self._account(await self.key_of(ref))
        conv = conversation_id({me, account})
        if account == me or await self.store.inbox.participants(conv) is None:
            raise UsageError(f"no conversation with {ref}")
        return conv

    async def _conv_fold(self, conv: bytes, me: bytes) -> Folded:
        participants = await self.store.inbox.participants(conv) or ()
        arrived: list[Arrived] = await self.store.inbox.messages(conv)
        return fold(participants, arrived, me=me, blocked=await self._blocked_accounts(),
                    following=await self._following())

    async def _conv_view(self, conv: bytes, me: bytes, *, limit: int, before: int | None = None,
                    page: bool = True) -> ConversationView:
        folded = await self._conv_fold(conv, me)
        rows = {r.conv: r for r in await self.store.inbox.conversations()}
        read_upto = rows[conv].read_upto if conv in rows else 0
        others = [p for p in folded.participants if p != me]
        profiles = await self.store.profiles([*others, *(m.from_account
                                                         for m in folded.messages)])
        names = {k: p.name for k, p in profiles.items()}
        shown = [m for m in folded.messages if before is None or m.order[0] < before]
        views = [_message(m, names.get(m.from_account), me) for m in shown[-limit:]]
        unread = sum(1 for m in folded.messages
                     if m.from_account != me and m.order[0] > read_upto)
        return ConversationView(conv=conv.hex(), participants=[handle_of(p) for p in others],
                                names=[names.get(p) for p in others],
                                state=folded.state.value, unread=unread,
                                last=views[-1] if views else None,
                                messages=views if page else [])


def _message(m: Shown, name: str | None, me: bytes) -> MessageView:
    return MessageView(id=m.id.hex(), author=handle_of(m.from_account), name=name, ts=m.ts,
                       order=m.order[0], text=m.text, edited=m.edited, deleted=m.deleted,
                       mine=m.from_account == me, reply=None if m.reply is None else m.reply.hex())


def _hex_ref(ref: str, what: str) -> str:
    lowered = ref.strip().lower()
    if len(lowered) < MIN_REF_HEX or not set(lowered) <= HEX:
        raise UsageError(f"a {what} is at least {MIN_REF_HEX} hex digits, not {ref!r}")
    return lowered
