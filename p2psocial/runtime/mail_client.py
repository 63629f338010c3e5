"""The writer's and reader's side of mail on a running node (docs/protocol.md §Private
messages, M5, M9, M16-M20, M27).

Rules:
- Sending is the service's (seal per account into store.outbox, runtime/service/messages);
  this module delivers what the outbox holds: each due wrap is PUT to the holders core
  `route.plan_route` gives (the mailbox account's relays from its `relays` entry held, then
  the relays an invite from it named; if neither names any, my own relays, which hold A's
  mail if A shares one with me, else `not-here`; then A's devices connected here; the DHT
  providers source of M16 is not used yet), retried with
  backoff (`route.next_try_ms`). A `pow` answer: the stamp is made off the event loop and
  the PUT sent again. A wrap is done when core `route.delivered` says so, or every holder
  of its route holds it (an account with one relay).
- Fetching: from each of my relays (FETCH after the cursor remembered per relay, repeated
  while more wait, then ACK) and from my own mailbox held here, when a relay connection
  opens, on NOTIFY from one of my relays, on a wrap stored here, and every FETCH_SECONDS.
- Each wrap is opened once (wrap hash seen); M5 by core `inner.admit` with the writer's
  current devices when its ops are held, else None (single-key, S1; another `dev` waits for
  the ops, re-checked each round, M5d). A message whose writer or device I block is dropped
  (M27). A message that breaks a rule is dropped with one log line naming the rule.
- Whatever arrives is published on the hub as `mail`.
- When account ops arrive, and each fetch round, the service seals again what was sent
  blind to an account whose ops have come since (M16, `Messages.reseal_blind`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from p2psocial.core.errors import HandleError, MailError, NetError, P2PSocialError
from p2psocial.core.identity import handle_of
from p2psocial.core.mail import delivery
from p2psocial.core.mail.inner import InnerMessage, admit
from p2psocial.core.mail.route import delivered, next_try_ms, plan_route
from p2psocial.core.mail.stamp import day_of, make_stamp
from p2psocial.core.mail.wire import (
    Answer,
    MailboxRequest,
    Op,
    Put,
    Stamp,
    Status,
    encode_request,
    parse_answer,
)
from p2psocial.core.mail.wrap import parse_wrap
from p2psocial.net import Host
from p2psocial.runtime.mail_holder import MailHolder, exchange, now_ms
from p2psocial.store.outbox import OutboxItem

log = logging.getLogger(__name__)
FETCH_SECONDS = 60.0
MAX_IDLE_SECONDS = 60.0  # the outbox is looked at again at the latest after this
# answers no later try changes (M18): the reader blocks me, or my wrap is malformed
FINAL = frozenset({Status.BLOCKED, Status.BAD})
CURSOR_PREFIX = "mail:cursor:"
LOCAL = "local"


class MailClient:
    """Delivers my outbox and fetches my mailbox."""

    def __init__(self, replicator: Any, bridge: Any, host: Host, holder: MailHolder) -> None:
        self._replicator = replicator
        self._bridge = bridge
        self._host = host
        self._holder = holder
        node = replicator.node
        self._node = node
        self._store = node.store
        self._me: bytes = node.identity.public_key
        self._send_wake = asyncio.Event()
        self._reseal_lock = asyncio.Lock()
        self._reseal_pending = False
        self._fetch_wake = asyncio.Event()
        self._relay_peers: set[str] = set()

    def start(self) -> None:
        """Deliver and fetch from now on."""
        self._holder.on_notify = self._notified
        self._holder.on_stored = lambda _account: self.fetch_soon()
        self._replicator.accounts.on_new_ops = self._reseal_soon
        self._replicator.spawn(self._deliver_loop(), "mail delivery")
        self._replicator.spawn(self._fetch_loop(), "mail fetch")

    def send_soon(self) -> None:
        """Something was queued in the outbox."""
        self._send_wake.set()

    def fetch_soon(self) -> None:
        """Fetch now (a relay connected, a NOTIFY, a wrap stored here)."""
        self._fetch_wake.set()

    def connected(self, peer: str) -> None:
        """A connection opened: fetch if it is one of my relays (M20)."""
        if peer in self._relay_peers:
            self.fetch_soon()

    def _notified(self, peer: str, account: bytes, _cursor: int) -> None:
        if peer in self._relay_peers and account == self._holder.own_account():
            self.fetch_soon()  # M19: only a hint, only from my relays

    async def drop_blocked(self, accounts: set[bytes]) -> None:
        """M27: messages held from writers just blocked go at once."""
        for account in accounts:
            if await self._store.inbox.drop_from(account):
                log.info("mail: dropped the messages of a writer I block")

    # --- delivering -----------------------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while True:
            self._send_wake.clear()
            for item in await self._store.outbox.due(now_ms()):
                try:
                    await self._deliver(item)
                except P2PSocialError as exc:
                    log.info("mail: a delivery round failed: %s", exc)
            due = await self._store.outbox.next_due()  # sleep until then, not poll
            wait = MAX_IDLE_SECONDS if due is None else (due - now_ms()) / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._send_wake.wait(),
                                       min(max(wait, 0.05), MAX_IDLE_SECONDS))

    async def _route_of(self, account: bytes) -> tuple[tuple[str, ...], bool]:
        feeds = [account, *self._replicator.accounts.members.get(account, ())]
        lists = await self._store.relay_lists(feeds)
        relays = [a for f in feeds for a in lists.get(f, [])]
        handle = handle_of(account)
        hints = await self._node.service.address_hints(handle)
        devices = await self._holder.devices(account)
        reachable = [handle_of(d) for d in devices if d != self._me
                     and self._replicator.is_connected(handle_of(d))]
        direct = [a for a in hints if a.endswith(f"/p2p/{handle}")]
        invite = [a for a in hints if a not in direct]
        route = plan_route(relays=relays, invite=invite)
        if not route.addrs:  # no source names A's holders: a relay we may share, then A
            mine = await self._replicator.relays.my_relays()
            route = plan_route(relays=mine, devices=[*reachable, *direct])
        return route.addrs, route.to_devices

    async def _deliver(self, item: OutboxItem) -> None:
        addrs, to_devices = await self._route_of(item.account)
        held = final = 0
        for addr in addrs:
            answer = await self._put(addr, item.wrap)
            if answer is not None and answer.held:
                held += 1
                if delivered(held, to_devices=to_devices):
                    break
            elif answer is not None:
                log.info("mail: a holder answered %s", answer.status.value)
                final += answer.status in FINAL
        done = delivered(held, to_devices=to_devices) or (bool(addrs) and held == len(addrs))
        refused = not done and bool(addrs) and final == len(addrs)  # M18: no retry helps
        now = now_ms()
        await self._store.outbox.record(
            item.wrap_hash, held_by=held, delivered=done,
            next_try=None if done or refused else next_try_ms(
                item.attempts, written_ms=item.written, now_ms=now))

    async def _put(self, addr: str, wrap: bytes) -> Answer | None:
        try:
            answer = await self._ask(addr, encode_request(Put(wrap)))
            if answer.status is Status.POW and answer.extra is not None:
                day = day_of(now_ms())
                n = await asyncio.to_thread(make_stamp, parse_wrap(wrap).hash, day,
                                            answer.extra)
                answer = await self._ask(addr, encode_request(Put(wrap, Stamp(n, day))))
        except (NetError, MailError) as exc:
            log.debug("mail: PUT to %s: %s", addr, exc)
            return None
        return answer

    async def _ask(self, addr: str, request: bytes) -> Answer:
        return parse_answer(await exchange(self._bridge, self._host, addr, request))

    # --- fetching -------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        while True:
            self._fetch_wake.clear()
            try:
                await self.fetch()
            except P2PSocialError as exc:
                log.info("mail: fetching failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fetch_wake.wait(), FETCH_SECONDS)

    async def fetch(self) -> int:
        """Fetch from my own mailbox here and from each of my relays; messages taken."""
        account = self._holder.own_account()
        taken = await self._fetch_local(account)
        relays = await self._replicator.relays.my_relays()
        self._relay_peers = {a.rsplit("/p2p/", 1)[-1] for a in relays}
        for addr in relays:
            try:
                taken += await self._fetch_from(addr, account)
            except (NetError, MailError) as exc:
                log.debug("mail: FETCH from %s: %s", addr, exc)
        taken += await self._retry_waiting()
        await self._reseal()
        return taken

    def _reseal_soon(self) -> None:
        """Account ops came: seal again what went blind to that account (M16). A burst of
        ops (a reconnect brings thousands) costs one pass, plus one if more came meanwhile:
        never a task per batch."""
        if not self._reseal_pending:
            self._reseal_pending = True
            self._replicator.spawn(self._reseal(), "mail reseal")

    async def _reseal(self) -> None:
        async with self._reseal_lock:  # one at a time: no message sealed again twice
            self._reseal_pending = False  # ops that come from here on ask for another pass
            try:
                await self._node.service.reseal_blind()
            except P2PSocialError as exc:
                log.info("mail: sealing again what went blind failed: %s", exc)

    async def _fetch_local(self, account: bytes) -> int:
        key = CURSOR_PREFIX + LOCAL
        cursor = int(await self._store.get_meta(key) or b"0")
        taken = 0
        while True:
            items, more = await self._store.mailboxes.fetch(account, cursor)
            for c, raw in items:
                taken += await self.take(raw, account)
                cursor = c
            await self._store.set_meta(key, str(cursor).encode())
            if items:
                await self._store.mailboxes.ack(account, self._me, cursor)
            if not more:
                return taken

    async def _fetch_from(self, addr: str, account: bytes) -> int:
        key = CURSOR_PREFIX + addr.rsplit("/p2p/", 1)[-1]
        cursor = int(await self._store.get_meta(key) or b"0")
        taken = 0
        while True:
            answer = await self._ask(addr, encode_request(
                MailboxRequest(Op.FETCH, account, cursor)))
            if answer.status is not Status.OK:
                log.debug("mail: FETCH from %s answered %s", addr, answer.status.value)
                return taken
            for c, raw in answer.items:
                taken += await self.take(raw, account)
                cursor = max(cursor, c)
            await self._store.set_meta(key, str(cursor).encode())
            if answer.items:
                await self._ask(addr, encode_request(MailboxRequest(Op.ACK, account, cursor)))
            if not answer.more:
                return taken

    async def take(self, raw: bytes, account: bytes) -> int:
        """Open and keep one wrap from my mailbox; 1 if a message was taken."""
        inbox = self._store.inbox
        try:
            wrap_hash = parse_wrap(raw).hash
        except MailError as exc:
            log.info("mail: dropped a wrap (rule %s)", exc.rule)
            return 0
        if await inbox.seen(wrap_hash):
            return 0
        arrival = now_ms()
        try:
            opened = delivery.open_for(raw, device=self._node.identity, account=account)
        except MailError as exc:
            log.info("mail: dropped a wrap (rule %s)", exc.rule)
            opened = None
        taken = 0
        if opened is not None:
            taken = await self._admit(opened.message, account, arrival, arrival)
        await inbox.mark_seen(wrap_hash, arrival)
        return taken

    async def _admit(self, message: InnerMessage, account: bytes, since: int,
                     arrival: int) -> int:
        inbox = self._store.inbox
        blocked = self._replicator.blocked
        if message.from_account in blocked or message.dev in blocked:
            await inbox.unwait(message)
            return 0  # M27
        state = await self._store.accounts.state_of(message.from_account)
        devices = None if state.tip is None else {d.key for d in state.current_devices()}
        try:
            ready = admit(message, reader_account=account, devices=devices,
                          waiting_since_ms=since, now_ms=arrival)
        except MailError as exc:
            log.info("mail: dropped a message (rule %s)", exc.rule)
            await inbox.unwait(message)
            return 0
        if not ready:
            await inbox.wait(message, account, since)
            if state.tip is None:  # M5d: ask my peers for the writer's ops meanwhile
                self._replicator.spawn(
                    self._replicator.look_up_accounts([message.from_account], wait=False),
                    "look up")
            return 0
        if not await inbox.add(message, arrival):
            return 0
        self._publish(message)
        return 1

    async def _retry_waiting(self) -> int:
        taken = 0
        for waiting in await self._store.inbox.waiting():
            taken += await self._admit(waiting.message, waiting.reader, waiting.since,
                                       now_ms())
        return taken

    def _publish(self, message: InnerMessage) -> None:
        hub = self._node.hub
        if hub.has_subscribers:
            with contextlib.suppress(HandleError):
                hub.publish("mail", {"conversation": message.conversation.hex(),
                                     "from": handle_of(message.from_account),
                                     "kind": message.kind.value})
