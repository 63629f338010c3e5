"""The account log in the store: the ops held, and which account each device feed counts for
(`AccountBook`, reachable as `store.accounts`; docs/protocol.md "Accounts and devices").

Rules:
- `account_ops` holds every valid op given to `add_ops` (decoded, hence checked, by
  core.account.ops.decode_op), overridden ones too: they stay proof. A held op is not
  stored twice and is not an error.
- `account_devices` is a projection of the ops alone (rebuilt by `rebuild`): for each account
  with an init, one row per device of its resolved state (the account key included), with its
  `after` (S7). A feed named as a device by several accounts gets the row of the account whose
  add of it came first, timestamp then op hash; an account's own key comes before any add (S8).
- `add_ops` stores the new ops, re-resolves every account they touch with core
  `resolve`, and rewrites the rows of the feeds those accounts name (and named) in the same
  transaction, so queries never see ops without their projection.
- Resolved states are cached; only `add_ops` and `rebuild` change an account's ops, and they
  refresh the cache of the accounts they touch.
- `active` is False while no account has a device row: the queries then keep the SQL they had
  before accounts (store/queries.py), so single-key networks pay nothing. `generation`
  changes with the ops; what is derived from them (is_single, the timeline's temp table of
  followed feeds, store/timeline_feeds.py) is kept until it does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite

from p2psocial.core.account.admission import admissible
from p2psocial.core.account.ops import Op, OpType, decode_op
from p2psocial.core.account.state import AccountState, implicit_state, resolve
from p2psocial.core.errors import AccountOpError, StoreError
from p2psocial.store.account_queries import BLOCKED_FEEDS
from p2psocial.store.errors import translated
from p2psocial.store.rows import chunked
from p2psocial.store.timeline_feeds import TimelineFeeds

InDbThread = Callable[..., Awaitable[Any]]
Claim = tuple[int, bytes]  # (timestamp, op hash) of the op that made a key a device (S8)
_OWN_KEY: Claim = (-1, b"")  # an account's own key comes before any add of it

_ADDING = (OpType.ADD, OpType.ROTATE)
MAX_DECODED = 100_000  # decoded ops kept (~1 KB each at most)


class AccountBook:
    """Account ops and the device projection of one store (see the module rules).

    Made by `Store.open`; it writes through the store's connection, under its write lock.
    """

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock,
                 in_db_thread: InDbThread) -> None:
        self._conn = conn
        self._lock = write_lock
        self._run = in_db_thread
        self._states: dict[bytes, AccountState] = {}
        self._generation = 0  # bumped by every change of ops, so stale resolutions are dropped
        self._single: dict[bytes, bool] = {}  # is_single, by feed
        # ops decoded once (decode_op checks two signatures), used and filled only in the
        # database thread; dropped whole past MAX_DECODED
        self._decoded: dict[bytes, Op] = {}
        self.timeline_feeds = TimelineFeeds()  # refilled when `generation` changes
        self.active = False

    @property
    def generation(self) -> int:
        """Changes whenever the ops held change."""
        return self._generation

    @property
    def in_db_thread(self) -> InDbThread:
        """The store's way to run `fn(db, *args)` in the database thread."""
        return self._run

    def written(self, authors: Iterable[bytes]) -> None:
        """The store wrote entries of `authors` (after each write transaction)."""
        self.timeline_feeds.written(authors)

    def blocked_feeds_sync(self, db: sqlite3.Connection, me: bytes) -> set[bytes]:
        """In the database thread: the feeds `me`'s account blocks, with every feed of the
        accounts it blocks (the store refuses their entries)."""
        return {bytes(r[0]) for r in db.execute(BLOCKED_FEEDS, {"me": me})}

    async def load(self) -> None:
        """Read whether any device row exists (at open)."""
        self.active = await self._exists("SELECT 1 FROM account_devices LIMIT 1", ())

    # --- writes ---------------------------------------------------------------------------

    @translated
    async def add_ops(self, ops: Sequence[Op]) -> list[Op]:
        """Store ops (already decoded by core.account.ops.decode_op); returns the ones new
        here. Keeps only ops that hang on their account's tree, signed by a key of it (O5,
        core.account.admission); the rest are dropped without an error. Re-resolves each
        touched account and updates the device projection in the same transaction. Never
        raises for duplicates."""
        if not ops:
            return []
        async with self._lock:
            new, states = await self._run(self._add_sync, list(ops), dict(self._states))
            if new:
                self._refresh(states)
        return list(new)

    async def rebuild(self) -> None:
        """Rewrite the device projection from the ops. The caller holds the store's write lock
        and has a transaction open (Store.rebuild_projections)."""
        states = await self._run(self._rebuild_sync)
        self._states.clear()
        self._refresh(states)

    def _refresh(self, states: dict[bytes, AccountState]) -> None:
        self._generation += 1
        self._states.update(states)
        self._single.clear()

    def _add_sync(self, db: sqlite3.Connection, ops: list[Op],
                  cache: dict[bytes, AccountState]
                  ) -> tuple[list[Op], dict[bytes, AccountState]]:
        unique = list({op.hash: op for op in ops}.values())
        db.execute("BEGIN IMMEDIATE")
        try:
            held = {bytes(r[0]) for r in _select_in(
                db, "SELECT hash FROM account_ops WHERE hash IN ({marks})",
                [op.hash for op in unique])}
            fresh = [op for op in unique if op.hash not in held]
            new = []  # O5: only ops that hang on the account's tree, signed by its keys
            for account in dict.fromkeys(op.account for op in fresh):
                new += admissible(account, _load_ops(db, account, self._decoded),
                                  [op for op in fresh if op.account == account])
            if not new:
                db.execute("ROLLBACK")
                return [], {}
            db.executemany(  # ops are few per call: not the entries' multi-row INSERT
                "INSERT INTO account_ops (hash, account, prev, ts, subject, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(op.hash, op.account, op.prev, op.timestamp, op.key, op.raw) for op in new])
            touched = {op.account for op in new}
            for account in touched:
                cache.pop(account, None)
            if len(self._decoded) > MAX_DECODED:
                self._decoded.clear()
            self._decoded.update((op.hash, op) for op in new)
            states = _Projector(db, cache, self._decoded).project(touched)
            active = _has_devices(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.active = active
        return new, states

    def _rebuild_sync(self, db: sqlite3.Connection) -> dict[bytes, AccountState]:
        db.execute("DELETE FROM account_devices")
        accounts = {bytes(r[0]) for r in db.execute("SELECT DISTINCT account FROM account_ops")}
        states = _Projector(db, {}, self._decoded).project(accounts)
        self.active = _has_devices(db)
        return states

    # --- reads ----------------------------------------------------------------------------

    @translated
    async def ops_of(self, account: bytes) -> list[Op]:
        """Every op held for `account`, by timestamp then op hash."""
        ops: list[Op] = await self._run(_load_ops, account, self._decoded)
        return ops

    @translated
    async def state_of(self, account: bytes) -> AccountState:
        """The resolved state of `account` (implicit_state if no op is held)."""
        state = self._states.get(account)
        if state is not None:
            return state
        generation = self._generation
        ops: list[Op] = await self._run(_load_ops, account, self._decoded)
        state = resolve(account, ops) if ops else implicit_state(account)
        if generation == self._generation:
            self._states[account] = state
        return state

    @translated
    async def account_of(self, feed: bytes) -> bytes | None:
        """The account the device feed `feed` counts for (S8); None if it is not a device of
        any known account with an init."""
        row = await self._one("SELECT account FROM account_devices WHERE feed = ?", (feed,))
        return None if row is None else bytes(row[0])

    @translated
    async def accounts_of(self, feeds: Iterable[bytes]) -> dict[bytes, bytes]:
        """The account each of `feeds` counts for: its own key for a single-key feed."""
        listed = set(feeds)
        out = {feed: feed for feed in listed}
        if not self.active:
            return out
        for part, marks in chunked(listed):
            async with self._conn.execute(
                    f"SELECT feed, account FROM account_devices WHERE feed IN ({marks})",
                    part) as cur:
                out.update((bytes(f), bytes(a)) for f, a in await cur.fetchall())
        return out

    @translated
    async def is_single(self, feed: bytes) -> bool:
        """True if `feed` is all of its account and counts entirely (a single-key identity, or
        an account without other devices): its follows and blocks are its own. Cached."""
        found = self._single.get(feed)
        if found is None:
            generation = self._generation
            row = await self._one(
                "SELECT count(*), max(after IS NOT NULL) FROM account_devices WHERE account = "
                "coalesce((SELECT account FROM account_devices WHERE feed = ?1), ?1)", (feed,))
            found = row is None or int(row[0]) == 0 or (int(row[0]) == 1 and not row[1])
            if generation == self._generation:
                self._single[feed] = found
        return found

    @translated
    async def accounts_with_ops(self) -> list[bytes]:
        """Accounts of which at least one op is held."""
        async with self._conn.execute(
                "SELECT DISTINCT account FROM account_ops ORDER BY account") as cur:
            return [bytes(r[0]) for r in await cur.fetchall()]

    @translated
    async def op_hashes(self, accounts: Iterable[bytes] | None = None
                        ) -> dict[bytes, set[bytes]]:
        """The hashes of the ops held of each of `accounts` (None: of every account), for
        account summaries (spec A1); an account with none is absent."""
        out: dict[bytes, set[bytes]] = {}
        if accounts is None:
            parts: Iterable[tuple[list[Any], str]] = [([], "")]
        else:
            parts = chunked(accounts)
        for part, marks in parts:
            where = f" WHERE account IN ({marks})" if accounts is not None else ""
            async with self._conn.execute(f"SELECT account, hash FROM account_ops{where}",
                                          part) as cur:
                for account, op_hash in await cur.fetchall():
                    out.setdefault(bytes(account), set()).add(bytes(op_hash))
        return out

    @translated
    async def counted_feeds(self, account: bytes) -> dict[bytes, int | None]:
        """The feeds whose entries count for `account` (S7), each with its `after` (None: all
        of it). A single-key identity is its own one feed; a key that is only another
        account's device has none."""
        async with self._conn.execute(
                "SELECT feed, after FROM account_devices WHERE account = ? AND "
                "(after IS NULL OR after > 0)", (account,)) as cur:
            rows = await cur.fetchall()
        if rows:
            return {bytes(f): None if a is None else int(a) for f, a in rows}
        if await self._exists("SELECT 1 FROM account_devices WHERE feed = ? OR account = ?",
                              (account, account)):
            return {}
        return {account: None}

    async def _one(self, query: str, params: Sequence[Any]) -> Any:
        async with self._conn.execute(query, params) as cur:
            return await cur.fetchone()

    async def _exists(self, query: str, params: Sequence[Any]) -> bool:
        return await self._one(query, params) is not None


class _Projector:
    """Re-resolves accounts and rewrites the device rows of the feeds they name (one
    transaction, in the database thread)."""

    def __init__(self, db: sqlite3.Connection, cache: dict[bytes, AccountState],
                 known: dict[bytes, Op]) -> None:
        self._db = db
        self._cache = cache
        self._known = known  # decoded ops (filled as held ones are decoded)
        self._ops: dict[bytes, list[Op]] = {}
        self.resolved: dict[bytes, AccountState] = {}

    def project(self, accounts: set[bytes]) -> dict[bytes, AccountState]:
        """Resolve `accounts` afresh and rewrite every row they touch; returns the states
        resolved (for the cache)."""
        feeds: set[bytes] = {bytes(r[0]) for r in _select_in(
            self._db, "SELECT feed FROM account_devices WHERE account IN ({marks})", accounts)}
        for account in accounts:
            state = self._resolve(account)
            if state.tip is not None:
                feeds.update(state.devices)
        rows = [row for feed in sorted(feeds) if (row := self._row(feed)) is not None]
        for part, marks in chunked(feeds):
            self._db.execute(f"DELETE FROM account_devices WHERE feed IN ({marks})", part)
        self._db.executemany("INSERT INTO account_devices (feed, account, after, current) "
                             "VALUES (?, ?, ?, ?)", rows)
        return self.resolved

    def _row(self, feed: bytes) -> tuple[bytes, bytes, int | None, int] | None:
        best: tuple[Claim, bytes] | None = None
        for account in self._claimants(feed):
            state = self._state(account)
            if state.tip is None or feed not in state.devices:
                continue
            claim = self._claim(state, feed)
            if best is None or claim < best[0]:
                best = (claim, account)
        if best is None:
            return None
        device = self._state(best[1]).devices[feed]
        return (feed, best[1], device.after, int(device.after is None))

    def _claimants(self, feed: bytes) -> set[bytes]:
        """Accounts that may list `feed` as a device: those with an op naming it, itself,
        and those resolved in this pass."""
        found = {bytes(r[0]) for r in self._db.execute(
            "SELECT DISTINCT account FROM account_ops WHERE subject = ?", (feed,))}
        found.add(feed)
        found.update(a for a, s in self.resolved.items() if feed in s.devices)
        return found

    def _claim(self, state: AccountState, feed: bytes) -> Claim:
        """When `feed` became a device of `state`'s account: (timestamp, op hash) of the
        applied add or rotate naming it; an account's own key comes first."""
        if feed == state.account:
            return _OWN_KEY
        ops = {op.hash: op for op in self._ops_of(state.account)}
        for op_hash in state.applied:
            op = ops.get(op_hash)
            if op is not None and op.key == feed and op.type in _ADDING:
                return (op.timestamp, op.hash)
        return _OWN_KEY  # the account key by rotation is named by a rotate, found above

    def _state(self, account: bytes) -> AccountState:
        state = self.resolved.get(account) or self._cache.get(account)
        return state if state is not None else self._resolve(account)

    def _resolve(self, account: bytes) -> AccountState:
        ops = self._ops_of(account)
        state = resolve(account, ops) if ops else implicit_state(account)
        self.resolved[account] = state
        return state

    def _ops_of(self, account: bytes) -> list[Op]:
        if account not in self._ops:
            self._ops[account] = _load_ops(self._db, account, self._known)
        return self._ops[account]


def _load_ops(db: sqlite3.Connection, account: bytes, known: dict[bytes, Op]) -> list[Op]:
    """The ops held for `account`, by timestamp then hash; decoded unless in `known`, which
    gains those decoded."""
    out = []
    for op_hash, raw in db.execute("SELECT hash, raw FROM account_ops WHERE account = ? "
                                   "ORDER BY ts, hash", (account,)).fetchall():
        op = known.get(bytes(op_hash))
        if op is None:
            op = known[bytes(op_hash)] = _decode_stored(bytes(raw))
        out.append(op)
    return out


def _decode_stored(raw: bytes) -> Op:
    try:
        return decode_op(raw)
    except AccountOpError as exc:
        raise StoreError(f"a stored account op no longer decodes ({exc}); run "
                         "`p2psocial verify`") from exc


def _has_devices(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM account_devices LIMIT 1").fetchone() is not None


def _select_in(db: sqlite3.Connection, template: str, keys: Iterable[Any]) -> list[Any]:
    rows: list[Any] = []
    for part, marks in chunked(keys):
        rows.extend(db.execute(template.format(marks=marks), part))
    return rows
