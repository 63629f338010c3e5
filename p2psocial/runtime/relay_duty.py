"""What a node does as a relay: admit members, keep and serve their feeds, relay circuits.

Rules:
- A relay is an ordinary node (it validates all it stores and serves) with three duties more:
  the circuit relay v2 hop (net.relay), the join protocol (core.relay_policy), and keeping
  the feeds of its members, newest first, up to `relay_quota` entries each, so that their
  posts are served while they are offline.
- Members are remembered across restarts (meta key "relay:members"), with the account each
  join named ("relay:member-accounts"); invite uses are counted per invite nonce
  ("relay:invite-uses:<hex>").
- A member that names its account (or is an account id) is kept as its account (spec J3-J5,
  core.relay_policy.member_wants): the relay wants the account id (so it gets its ops) and
  its member feeds, sharing the member's quota; a device of a member account is admitted as
  an existing member. The account's member feeds come from the replicator's AccountSync, so
  new ops change what is kept.
- Only members that the owner does not block may hold a circuit reservation. Blocking a
  member (`p2psocial block <handle>` on the relay) refuses it at once: its reservation is
  dropped, it is disconnected, and its feed is no longer kept or served.
- Members' feeds are announced as provided on the DHT, so followers find the relay that
  holds a feed even when they know nothing else about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from p2psocial.core.errors import HandleError, InviteError, NetError, ProtocolError
from p2psocial.core.identity import handle_of, parse_handle
from p2psocial.core.invite import Invite, decode_invite
from p2psocial.core.relay_policy import (
    JOIN_PROTOCOL,
    MAX_JOIN_MESSAGE,
    JoinDecision,
    Policy,
    accounts_members,
    blocked_feeds,
    decide_join,
    join_answer,
    member_wants,
    parse_join_request,
)
from p2psocial.core.wants import Want
from p2psocial.net import Channel, Host

log = logging.getLogger(__name__)
MEMBERS_KEY = "relay:members"
ACCOUNTS_KEY = "relay:member-accounts"
USES_PREFIX = "relay:invite-uses:"
PROVIDE_SECONDS = 600.0


class RelayDuty:
    """The relay part of a node's replicator."""

    def __init__(self, replicator: Any, bridge: Any, host: Host) -> None:
        self._replicator = replicator
        self._bridge = bridge
        self._host = host
        node = replicator.node
        self._store = node.store
        self._me: bytes = node.identity.public_key
        config = node.config
        self.policy = Policy.parse(config.relay_policy)
        self.quota: int = config.relay_quota
        self._allowed = {parse_handle(h) for h in config.relay_allow}
        self._members: dict[bytes, int] = {}
        self._accounts: dict[bytes, bytes] = {}   # member -> the account its join named
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Load members, serve the join protocol and guard reservations."""
        raw = await self._store.get_meta(MEMBERS_KEY)
        if raw:
            self._members = {parse_handle(h): int(t) for h, t in json.loads(raw).items()}
        raw = await self._store.get_meta(ACCOUNTS_KEY)
        if raw:
            self._accounts = {parse_handle(m): parse_handle(a)
                              for m, a in json.loads(raw).items()}
        self._host.set_stream_handler(JOIN_PROTOCOL, self._join_from_trio)
        self._host.set_relay_admission(self._admits)
        log.info("relay: policy %s, %d members, quota %d entries each", self.policy.value,
                 len(self._members), self.quota)

    # --- wants ------------------------------------------------------------------------------

    def extra_wants(self, blocked: set[bytes]) -> dict[bytes, Want]:
        """Members' feeds to keep, newest first up to the quota: each member's feed, or its
        account's feeds sharing it (J3-J5)."""
        return member_wants(self._named(), self.quota, blocked=self._refused(blocked),
                            account_members=self._replicator.accounts.members)

    def _refused(self, blocked: set[bytes]) -> set[bytes]:
        """`blocked` and the member feeds of the blocked accounts (rule 1)."""
        return blocked_feeds(blocked, self._replicator.accounts.members)

    def _named(self) -> dict[bytes, bytes | None]:
        return {m: self._accounts.get(m) for m in self._members}

    def mail_accounts(self) -> set[bytes]:
        """The accounts whose mail this relay holds (M14): each member's named account, or
        the member's key; none the owner blocks."""
        refused = self._refused(self._replicator.blocked)
        held = {m if a is None else a for m, a in self._named().items() if m not in refused}
        return held - refused

    @property
    def members(self) -> list[str]:
        """Handles of the members."""
        return sorted(handle_of(m) for m in self._members)

    # --- admission --------------------------------------------------------------------------

    def _admits(self, peer: str) -> bool:
        try:
            key = parse_handle(peer)
        except HandleError:  # not an Ed25519 PeerID: not a p2psocial user
            return False
        return key in self._members and key not in self._refused(self._replicator.blocked)

    async def enforce_blocks(self, blocked: set[bytes]) -> None:
        """The owner's blocks changed: end reservations and connections of blocked members."""
        refused = self._refused(blocked)
        for member in [m for m in self._members if m in refused]:
            handle = handle_of(member)
            log.info("relay: refusing %s (blocked)", handle)
            with contextlib.suppress(NetError):
                await self._bridge.run_sync(self._host.drop_reservation, handle)
                await self._bridge.run(self._host.disconnect, handle)

    # --- the join protocol ------------------------------------------------------------------

    async def _join_from_trio(self, channel: Channel) -> None:
        """Stream handler (trio): read the request, decide in asyncio, answer."""
        data = b""
        while len(data) <= MAX_JOIN_MESSAGE:
            chunk = await channel.receive_some()
            if not chunk:
                break
            data += chunk
        answer = await self._bridge.call_asyncio(self._answer, channel.peer, data)
        await channel.send_all(answer)
        await channel.send_eof()

    async def _answer(self, peer: str, data: bytes) -> bytes:
        try:
            key = parse_handle(peer)
            request = parse_join_request(data)
            invite = None if request.token is None else decode_invite(request.token)
        except (ProtocolError, InviteError, HandleError) as exc:
            log.info("relay: bad join request from %s: %s", peer, exc)
            return join_answer(JoinDecision(False, f"bad request: {exc}"), 0)
        known = key in self._members
        decision = await self._decide(key, invite, request.account)
        # a member's join at every reservation renewal is routine: only news is logged
        level = logging.DEBUG if known and decision.admitted else logging.INFO
        log.log(level, "relay: %s %s (%s)", "admitted" if decision.admitted else "refused",
                peer, decision.reason)
        return join_answer(decision, self.quota if decision.admitted else 0)

    async def _decide(self, peer: bytes, invite: Invite | None, account: bytes | None
                      ) -> JoinDecision:
        async with self._lock:  # invite uses are counted one join at a time
            uses_key = None if invite is None else USES_PREFIX + invite.nonce.hex()
            uses = 0
            if uses_key is not None:
                raw = await self._store.get_meta(uses_key)
                uses = int(raw) if raw else 0
            decision = decide_join(
                self.policy, peer, relay=self._me,
                members=accounts_members(self._named(), self._replicator.accounts.members),
                blocked=self._refused(self._replicator.blocked), allowed=self._allowed,
                invite=invite,
                uses_so_far=uses, now_ms=int(time.time() * 1000))
            if not decision.admitted:
                return decision
            if decision.spend is not None and uses_key is not None:
                await self._store.set_meta(uses_key, str(uses + 1).encode())
            if peer not in self._members:
                self._members[peer] = int(time.time() * 1000)
                await self._store.set_meta(MEMBERS_KEY, json.dumps(
                    {handle_of(m): t for m, t in self._members.items()}).encode())
                self._replicator.wants_changed()
                self._replicator.spawn(self._provide([peer]), "provide member")
            if self._accounts.get(peer) != account:
                await self._name_account(peer, account)
        return decision

    async def _name_account(self, peer: bytes, account: bytes | None) -> None:
        """Remember the account `peer` named (J3); want it from now on."""
        if account is None:
            self._accounts.pop(peer, None)
        else:
            self._accounts[peer] = account
            log.info("relay: member %s names account %s", handle_of(peer), handle_of(account))
            self._replicator.spawn(self._provide([account]), "provide member account")
        await self._store.set_meta(ACCOUNTS_KEY, json.dumps(
            {handle_of(m): handle_of(a) for m, a in self._accounts.items()}).encode())
        self._replicator.wants_changed()

    # --- the DHT ----------------------------------------------------------------------------

    async def keep_provided(self) -> None:
        """Announce members' feeds on the DHT now and every PROVIDE_SECONDS."""
        while True:
            await self._provide(list(self._members))
            await asyncio.sleep(PROVIDE_SECONDS)

    async def _provide(self, feeds: list[bytes]) -> None:
        for feed in feeds:
            try:
                await self._bridge.run(self._host.dht.provide, feed)
            except NetError as exc:
                log.debug("providing %s: %s", handle_of(feed), exc)
