"""Account ops in a node's replication (docs/protocol.md §Account ops in sessions, O1-O3).

Rules:
- O1: a session answering a WANT note for feed F sends the ops held for account F (passed to
  `SyncSession.answer` by PeerSync, from `ops_to_serve`); ops new in the store (received, or
  made here: `ops_stored`) go live to every session whose peer wants their account. The
  session sends each op once per session and never back to the peer that sent it.
- O2: received ops are checked by core.replication.op_check (K1-K9 and the account) in a
  worker thread (two signatures per op); the valid ones before a bad one are stored, then
  the bad one fails the session (ProtocolError, raised to PeerSync). Ops already held are
  skipped before checking (they were checked when stored).
- O3: the member feeds of every account with ops held are kept here (`members`); the
  replicator asks `expand` for the wanted feeds (each wanted account's member feeds at its
  hop and depth), `with_members` and `fold` for the follow graph. When new ops change the
  member feeds of an account, the replicator recomputes its wants (new WANT notes).
- A device of an account (HOME/account.json, runtime.account_home) wants its own account at
  hop 0, so it accepts the account's ops (pairing sends them) and replicates its other
  devices, and the follows made on any of them count as its own (S9).
- Summaries (spec A1-A5, sync 1.1.0): `account_wants` summarises every wanted account that
  A2 allows, for a new session's first WANTs; `holdings` gives what this node holds of the
  accounts a peer summarised, to compare (a blocked account, or one without an init here,
  is absent: it differs). Both use the hashes of the ops held, kept here with the members.
- A holding is kept per account (made with the summary when the account is summarised)
  and reused while its heads are the same; it is dropped whenever the account's ops or
  members change here.
- Ops of blocked accounts are not served. Ops stored here by another path than `received`
  must be passed to `ops_stored` (Replicator.ops_stored) to go out live; answers find them
  anyway (the accounts with ops are re-read for each WANT answered).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from p2psocial.core.account.ops import Op
from p2psocial.core.encoding import digest
from p2psocial.core.errors import KeyfileError, LocalProtocolError
from p2psocial.core.feed import FeedState
from p2psocial.core.replication import OpsReceived
from p2psocial.core.replication.account_ops import expand_wants, fold_follows
from p2psocial.core.replication.account_summary import (
    AccountWant,
    Holding,
    SummaryCache,
    account_feeds,
    heads_of,
    summarise,
)
from p2psocial.core.replication.op_check import check_ops
from p2psocial.core.wants import Want
from p2psocial.runtime.account_home import read_account
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store

if TYPE_CHECKING:
    from p2psocial.runtime.peer_sync import PeerSync

log = logging.getLogger(__name__)
MAX_HELD_HASHES = 200_000  # op hashes remembered as held (checked); beyond, ops are rechecked


class AccountSync:
    """The account ops part of one node's replication (see the module rules)."""

    def __init__(self, store: Store, *, sessions: Callable[[], Iterable[PeerSync]],
                 wanted: Callable[[], Collection[bytes]],
                 blocked: Callable[[], Collection[bytes]],
                 wants_changed: Callable[[], None], me: bytes | None = None,
                 home: Home | None = None) -> None:
        self._store = store
        self._me = me
        self._home = home
        self._own: bytes | None = None  # my account, if this home's device belongs to one
        self._sessions = sessions
        self._wanted = wanted
        self._blocked = blocked
        self._wants_changed = wants_changed
        self.on_new_ops: Callable[[], None] | None = None  # mail seals again what went blind
        self._with_ops: set[bytes] = set()
        self._members: dict[bytes, frozenset[bytes]] = {}   # accounts with an init
        self._held: dict[bytes, bytes] = {}   # op hash -> account, of ops held (checked)
        self._op_hashes: dict[bytes, set[bytes]] = {}  # account -> hashes of the ops held
        self._summaries = SummaryCache()  # A1, one per account held: bounded like _op_hashes
        self._holdings: dict[bytes, Holding] = {}  # A4, the last per account: its ops held
        self._caught_up_at = -1  # the store's ops generation _catch_up last saw

    async def start(self) -> None:
        """Learn which accounts have ops and their member feeds (before wants are computed)."""
        generation = self._store.accounts.generation
        self._op_hashes = await self._store.accounts.op_hashes()
        for account in await self._store.accounts.accounts_with_ops():
            self._with_ops.add(account)
            await self._learn_members(account)
        self._caught_up_at = generation  # what _catch_up would read again at the first WANT

    @property
    def members(self) -> Mapping[bytes, frozenset[bytes]]:
        """The member feeds of each account whose init is held."""
        return self._members

    # --- O3: wants ---------------------------------------------------------------------------

    def expand(self, wants: Mapping[bytes, Want], blocked: Collection[bytes]
               ) -> dict[bytes, Want]:
        """`wants` with the member feeds of every wanted account (O3); if `wants` holds me
        (hop 0), my own account with it."""
        mine = wants.get(self._me) if self._me is not None else None
        if mine is not None and self._own is not None and self._own not in blocked:
            wants = {**wants, self._own: mine}
        return expand_wants(wants, self._members, blocked)

    def with_members(self, feeds: Iterable[bytes]) -> set[bytes]:
        """`feeds` and the member feeds of those that are accounts (whose follows to read);
        with me, my own account (read again from the home: it may have changed)."""
        out = set(feeds)
        if self._me in out:
            self._own = self._own_account()
            if self._own is not None:
                out.add(self._own)
        for feed in list(out):
            out.update(self._members.get(feed, ()))
        return out

    def fold(self, graph: Mapping[bytes, Collection[bytes]]) -> dict[bytes, set[bytes]]:
        """The follow graph with each account following what its member feeds follow, and
        me following what my own account does."""
        out = fold_follows(graph, self._members)
        if self._me is not None and self._own is not None:
            out[self._me] = (out.get(self._me, set()) | out.get(self._own, set())) - {self._me}
        return out

    def _own_account(self) -> bytes | None:
        if self._home is None:
            return None
        try:
            local = read_account(self._home)
        except KeyfileError as exc:
            log.warning("ignoring this home's account: %s", exc)
            return None
        return None if local is None or local.account == self._me else local.account

    # --- A1-A5: summaries ---------------------------------------------------------------

    def account_wants(self, wants: Mapping[bytes, Want], states: Mapping[bytes, FeedState]
                      ) -> list[AccountWant]:
        """A2: the wanted accounts a new session may summarise (`wants`: every wanted feed,
        expanded; `states`: what is held of them)."""
        depths = {f: w.depth for f, w in wants.items()}
        out: list[AccountWant] = []
        for account, members in self._members.items():
            want = wants.get(account)
            hashes = self._op_hashes.get(account)
            if want is None or not hashes:
                continue
            summed = summarise(account, want.depth, members, hashes, depths=depths,
                               states=states, cache=self._summaries)
            if summed is not None:
                out.append(summed)
                self._keep_holding(summed, hashes, states)
        return out

    def _keep_holding(self, summed: AccountWant, hashes: Collection[bytes],
                      states: Mapping[bytes, FeedState]) -> None:
        """What I summarise I hold (A1 is the same hash): keep it as the holding a peer's
        summary of the account is compared with (A4), so the first session after the wants
        changed finds it made, as it finds the summaries."""
        last = self._holdings.get(summed.account)
        if last is None or last.summary != summed.note.summary:
            self._holdings[summed.account] = Holding(
                summed.note.summary, heads_of(summed.feeds, states), tuple(sorted(hashes)))

    async def holdings(self, accounts: Sequence[bytes],
                       states_to_serve: Callable[[list[bytes]],
                                                 Awaitable[Mapping[bytes, FeedState]]]
                       ) -> dict[bytes, Holding]:
        """A4: what I hold of each of `accounts` a peer summarised, from the states I serve;
        absent (so the summary differs): blocked, or no init held here."""
        await self._catch_up()
        blocked = self._blocked()
        known = [a for a in accounts
                 if a in self._members and self._op_hashes.get(a) and a not in blocked]
        states = await states_to_serve(
            [f for a in known for f in account_feeds(a, self._members[a])])
        out = {}
        for a in known:  # kept until the account's ops or members change (_forget_holding)
            out[a] = self._holdings[a] = Holding.of(
                a, self._members[a], self._op_hashes[a], states, self._summaries,
                last=self._holdings.get(a))
        return out

    # --- O1: sending ---------------------------------------------------------------------

    async def ops_to_serve(self, feeds: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        """The ops held of each of `feeds` that is an account (for answering a WANT)."""
        await self._catch_up()
        blocked = self._blocked()
        out: dict[bytes, list[bytes]] = {}
        for feed in feeds:
            if feed in self._with_ops and feed not in blocked:
                ops = await self._store.accounts.ops_of(feed)
                self._remember(ops)
                if ops:
                    out[feed] = [op.raw for op in ops]
        return out

    async def ops_stored(self, ops: Sequence[Op], source: PeerSync | None = None) -> None:
        """Ops new in the store (received from `source`, or made by this node): send them to
        the sessions that want their account, and recompute wants if members changed."""
        self._remember(ops)
        by_account: dict[bytes, list[bytes]] = {}
        for op in ops:
            by_account.setdefault(op.account, []).append(op.raw)
            self._op_hashes.setdefault(op.account, set()).add(op.hash)
            self._holdings.pop(op.account, None)
        changed = False
        for account, raws in by_account.items():
            self._with_ops.add(account)
            changed |= await self._learn_members(account) and (
                account in self._wanted() or account in self._blocked())
            if account in self._blocked():
                continue
            for sync in list(self._sessions()):
                if sync is source or not sync.open:
                    continue
                try:
                    sync.send([sync.session.ops(account, raws)])
                except LocalProtocolError as exc:  # the session closed meanwhile
                    log.debug("ops to %s: %s", sync.peer, exc)
        if changed:
            self._wants_changed()
        if by_account and self.on_new_ops is not None:
            self.on_new_ops()

    # --- O2: receiving -------------------------------------------------------------------

    async def received(self, sync: PeerSync, event: OpsReceived) -> None:
        """OPS from a peer: check, store, pass on.

        Raises:
            ProtocolError: INVALID_OP or WRONG_ACCOUNT (the valid ops before it are stored).
        """
        fresh = [raw for raw in event.ops if self._held.get(digest(raw)) != event.account]
        if not fresh:
            return
        valid, error = await asyncio.to_thread(check_ops, event.account, fresh)
        if valid:
            new = await self._store.accounts.add_ops(valid)
            self._remember(valid)
            if new:
                log.info("%d new ops of account %s from %s", len(new),
                         event.account.hex()[:12], sync.peer)
                await self.ops_stored(new, source=sync)
        if error is not None:
            raise error

    # --- bookkeeping ---------------------------------------------------------------------

    async def _catch_up(self) -> None:
        """Learn accounts whose ops entered the store by another path than this one (e.g.
        the CLI stored them while the node was running without calling `ops_stored`). Only
        when the store's ops changed since the last time (its generation): answering each
        WANT or ACCOUNTS message read them all again before."""
        generation = self._store.accounts.generation
        if generation == self._caught_up_at:
            return
        changed = False
        for account in await self._store.accounts.accounts_with_ops():
            if account not in self._with_ops:
                self._with_ops.add(account)
                self._op_hashes.update(await self._store.accounts.op_hashes([account]))
                self._holdings.pop(account, None)
                changed |= await self._learn_members(account) and (
                    account in self._wanted() or account in self._blocked())
        self._caught_up_at = generation
        if changed:
            self._wants_changed()

    def _remember(self, ops: Iterable[Op]) -> None:
        for op in ops:
            if len(self._held) >= MAX_HELD_HASHES:
                return
            self._held[op.hash] = op.account

    async def _learn_members(self, account: bytes) -> bool:
        """Re-read the member feeds of `account`; True if they changed."""
        state = await self._store.accounts.state_of(account)
        members = state.member_feeds() if state.tip is not None else frozenset()
        before = self._members.get(account, frozenset())
        self._holdings.pop(account, None)
        if members:
            self._members[account] = members
        else:
            self._members.pop(account, None)
            self._summaries.forget(account)
        return members != before
