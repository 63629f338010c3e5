"""The holder side of mail: `/p2psocial/mail/1.0.0` served on every node (docs/protocol.md
§Private messages, M14-M25).

Rules:
- A node holds the mailbox of its own account (its key for a single-key identity, and the
  account of this home's device if it has one); a relay also holds its members' accounts
  (each member's named account, or the member's key). Everything else is `not-here`.
- Every decision is core.mail.holder_policy's; this module only gathers its inputs (the
  mailbox's current devices, follows and blocks by the entries and ops held, the day's
  counters) and stores what it says in store.mailboxes. PUTs are decided one at a time, so
  the quotas count exactly.
- A bad request (not a mail request, not a p2psocial peer) gets one log line and the stream
  is closed unanswered; nothing is stored. Logs never name a sender with a mailbox (M21).
- After a wrap is stored, each current device of the mailbox connected here gets a NOTIFY,
  at most once a second per device (M19): one stored inside that second is told at its end
  (core.mail.notify_pace folds them into one trailing NOTIFY). A NOTIFY received is handed
  to `on_notify` (the client decides whether it trusts the sender).
- Wraps every current device ACKed, or past retention, are dropped every EXPIRE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from p2psocial.core.errors import HandleError, KeyfileError, MailError, NetError
from p2psocial.core.identity import handle_of, parse_handle
from p2psocial.core.limits import MAX_MAIL_ANSWER_BYTES, MAX_MAIL_REQUEST_BYTES
from p2psocial.core.mail.holder_policy import (
    DayCounters,
    HolderConfig,
    Mailbox,
    Sender,
    check_wrap,
    decide_access,
    decide_put,
    hour_of,
)
from p2psocial.core.mail.notify_pace import NotifyPacer
from p2psocial.core.mail.stamp import day_of
from p2psocial.core.mail.wire import (
    MAIL_PROTOCOL,
    Answer,
    MailboxRequest,
    Op,
    Put,
    Status,
    encode_answer,
    encode_request,
    parse_request,
)
from p2psocial.net import Channel, Host
from p2psocial.runtime.account_home import read_account

log = logging.getLogger(__name__)
EXPIRE_SECONDS = 600.0
NOTIFY_GAP_SECONDS = 1.0
MAX_NOTIFIED = 1024  # devices remembered for the NOTIFY gap before old ones go

NotifyHook = Callable[[str, bytes, int], None]


def now_ms() -> int:
    """The holder's clock."""
    return time.time_ns() // 1_000_000


async def read_all(channel: Channel, limit: int) -> bytes:
    """(trio) Everything the peer writes before closing its side, at most `limit` + 1 bytes
    (one more than allowed, so the parser sees it is too long)."""
    data = b""
    while len(data) <= limit:
        chunk = await channel.receive_some()
        if not chunk:
            break
        data += chunk
    return data


async def exchange(bridge: Any, host: Host, peer: str, request: bytes) -> bytes:
    """(asyncio) One mail request to `peer` (a handle or a full address) and its raw
    answer (M15).

    Raises:
        NetError: no stream, or the stream broke.
    """
    handle = peer.rsplit("/p2p/", 1)[-1]

    async def in_trio() -> bytes:
        if handle != peer and not host.is_connected(handle):
            await host.dial(peer)  # an address: dial it (open_stream dials handles only)
        async with await host.open_stream(handle, MAIL_PROTOCOL) as channel:
            await channel.send_all(request)
            await channel.send_eof()
            return await read_all(channel, MAX_MAIL_ANSWER_BYTES)
    data: bytes = await bridge.run(in_trio)
    return data


def holder_config(config: Any) -> HolderConfig:
    """The holder's tunables from a NodeConfig."""
    return HolderConfig(pow_bits=config.mail_pow_bits,
                        known_per_day=config.mail_known_per_day,
                        stranger_per_day=config.mail_stranger_per_day,
                        strangers_per_day=config.mail_strangers_per_day)


class MailHolder:
    """Serves the mail protocol for the mailboxes this node holds."""

    def __init__(self, replicator: Any, bridge: Any, host: Host,
                 config: HolderConfig) -> None:
        self._replicator = replicator
        self._bridge = bridge
        self._host = host
        node = replicator.node
        self._node = node
        self._store = node.store
        self._me: bytes = node.identity.public_key
        self.config = config
        self._counters = DayCounters(day_of(now_ms()), os.urandom(16))
        self._put_lock = asyncio.Lock()
        self._pacer = NotifyPacer(gap=NOTIFY_GAP_SECONDS, remember=MAX_NOTIFIED)
        self.on_notify: NotifyHook | None = None
        self.on_stored: Callable[[bytes], None] | None = None  # my own mailbox got a wrap

    def start(self) -> None:
        """Serve the protocol and expire on a timer."""
        self._host.set_stream_handler(MAIL_PROTOCOL, self._from_trio)
        self._replicator.spawn(self._expire_loop(), "mail expiry")

    # --- which mailboxes ------------------------------------------------------------------

    def own_account(self) -> bytes:
        """The account this device belongs to (its key for a single-key identity)."""
        try:
            local = read_account(self._node.home)
        except KeyfileError:
            return self._me
        return self._me if local is None else local.account

    def accounts(self) -> set[bytes]:
        """The mailboxes held here (M14)."""
        held = {self.own_account()}
        duty = self._replicator.duty
        if duty is not None:
            held |= duty.mail_accounts()
        return held

    async def devices(self, account: bytes) -> frozenset[bytes]:
        """The account's current devices by the ops held ({account} with none)."""
        state = await self._store.accounts.state_of(account)
        return frozenset(d.key for d in state.current_devices())

    async def _mailbox(self, account: bytes) -> Mailbox | None:
        if account not in self.accounts():
            return None
        usage = await self._store.mailboxes.usage(account)
        return Mailbox(account, await self.devices(account), followed_only=usage.followed_only,
                       wraps=usage.wraps, size=usage.size,
                       strangers_today=self._counters.strangers_today(account))

    async def _sender(self, account: bytes, key: bytes) -> Sender:
        sync = self._replicator.accounts
        feeds = sync.with_members({account})
        members = sync.members
        followed: set[bytes] = set()
        for dsts in (await self._store.follow_graph(feeds)).values():
            followed |= dsts
        blocked = set(self._replicator.blocked)
        for feed in feeds:
            blocked |= await self._store.blocking(feed)
        sender_account = await self._store.accounts.account_of(key)

        def names(group: set[bytes]) -> bool:
            return key in group or sender_account in group or any(
                key in members.get(f, ()) for f in group)
        return Sender(key, follows=names(followed), blocked=names(blocked),
                      sent_today=self._counters.sent_today(account, key))

    # --- the protocol ---------------------------------------------------------------------

    async def _from_trio(self, channel: Channel) -> None:
        """Stream handler (trio): read the request, decide in asyncio, answer or close."""
        data = await read_all(channel, MAX_MAIL_REQUEST_BYTES)
        answer = await self._bridge.call_asyncio(self.answer, channel.peer, data)
        if answer is not None:
            await channel.send_all(answer)
            await channel.send_eof()

    async def answer(self, peer: str, data: bytes) -> bytes | None:
        """The answer to one request from `peer`, or None: close the stream unanswered."""
        try:
            key = parse_handle(peer)
            request = parse_request(data)
        except (MailError, HandleError) as exc:
            log.info("mail: bad request from %s: %s", peer, exc)
            return None
        if isinstance(request, Put):
            return encode_answer(await self._put(key, request))
        return encode_answer(await self._mailbox_request(peer, key, request))

    async def _put(self, key: bytes, put: Put) -> Answer:
        wrap = check_wrap(put)
        async with self._put_lock:
            now = now_ms()
            self._counters.roll(now, os.urandom(16))
            mailbox = None if wrap is None else await self._mailbox(wrap.to)
            if wrap is None or mailbox is None:
                sender, held = Sender(key), False
            else:
                sender = await self._sender(wrap.to, key)
                held = await self._store.mailboxes.held(wrap.to, wrap.hash)
            decision = decide_put(put, wrap, mailbox=mailbox, sender=sender, held=held,
                                  now_ms=now, config=self.config)
            if decision.store and wrap is not None and mailbox is not None:
                cursor = await self._store.mailboxes.put(wrap.to, wrap.hash, wrap.raw,
                                                         hour_of(now))
                self._counters.stored(wrap.to, key, known=decision.known)
                if cursor is not None:
                    self._after_store(mailbox, cursor)
        return decision.answer

    def _after_store(self, mailbox: Mailbox, cursor: int) -> None:
        if mailbox.account == self.own_account() and self.on_stored is not None:
            self.on_stored(mailbox.account)
        now = time.monotonic()
        for device in mailbox.devices - {self._me}:
            if not self._replicator.is_connected(handle_of(device)):
                continue
            delay = self._pacer.offer(device, mailbox.account, cursor, now=now)
            if delay == 0.0:
                self._replicator.spawn(self._notify(device, mailbox.account, cursor), "notify")
            elif delay is not None:
                self._replicator.spawn(self._notify_later(device, mailbox.account, delay),
                                       "notify")

    async def _notify_later(self, device: bytes, account: bytes, delay: float) -> None:
        """The trailing NOTIFY of a gap (M19), with the newest cursor stored meanwhile."""
        await asyncio.sleep(delay)
        cursor = self._pacer.take(device, account, now=time.monotonic())
        if cursor is not None and self._replicator.is_connected(handle_of(device)):
            await self._notify(device, account, cursor)

    async def _notify(self, device: bytes, account: bytes, cursor: int) -> None:
        request = encode_request(MailboxRequest(Op.NOTIFY, account, cursor))
        with contextlib.suppress(NetError):
            await exchange(self._bridge, self._host, handle_of(device), request)

    async def _mailbox_request(self, peer: str, key: bytes,
                               request: MailboxRequest) -> Answer:
        if request.op is Op.NOTIFY:
            if self.on_notify is not None:
                self.on_notify(peer, request.account, request.value)
            return Answer(Status.OK)
        mailbox = await self._mailbox(request.account)
        status = decide_access(key, request.account, mailbox)
        if status is not Status.OK:
            return Answer(status)
        mailboxes = self._store.mailboxes
        if request.op is Op.FETCH:
            items, more = await mailboxes.fetch(request.account, request.value)
            return Answer(Status.OK, items=tuple(items), more=more)
        if request.op is Op.ACK:
            await mailboxes.ack(request.account, key, request.value)
        else:
            await mailboxes.set_policy(request.account, followed_only=bool(request.value))
        return Answer(Status.OK)

    # --- expiry ---------------------------------------------------------------------------

    async def expire(self) -> int:
        """Drop what every current device ACKed or what is past retention (M21)."""
        gone = 0
        for account in self.accounts():
            gone += await self._store.mailboxes.expire(
                account, await self.devices(account), now_ms=now_ms(),
                retention_ms=self.config.retention_ms)
        return gone

    async def _expire_loop(self) -> None:
        while True:
            await self.expire()
            await asyncio.sleep(EXPIRE_SECONDS)

