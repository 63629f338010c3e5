"""The account log in the store (AccountBook) and the reads that apply S7-S9 (real SQLite).

An account `A` (account key ACC, recovery key REC) with devices LAPTOP and PHONE; a viewer
who follows the account id. Ops are made with core.account.ops.make_op, entries with the
testing builders, and both go through the store's own write paths.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.content import Block, Follow, Post, Unfollow
from p2psocial.core.errors import StoreError
from p2psocial.core.identity import Identity
from p2psocial.store import account_queries
from p2psocial.store.connection import migrations
from p2psocial.store.queries import _REPEATED_REPOST
from p2psocial.store.rows import entry_of_row
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries
from p2psocial.testing.builders import BASE_TS

ACC = identity_for("acct-account")
REC = identity_for("acct-recovery")
LAPTOP = identity_for("acct-laptop")
PHONE = identity_for("acct-phone")
NEWKEY = identity_for("acct-new-account-key")
VIEWER = identity_for("acct-viewer")
A = ACC.public_key
DAY = 86_400_000
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "release-2026-12-db.sqlite"


def init(ts: int = BASE_TS, *, account: Identity = ACC, recovery: Identity = REC) -> Op:
    return make_op(account, account=account.public_key, op_type=OpType.INIT,
                   key=recovery.public_key, timestamp=ts)


def add(signer: Identity, device: Identity, prev: Op, ts: int, *, account: bytes = A,
        admin: bool = False) -> Op:
    return make_op(signer, account=account, op_type=OpType.ADD, key=device.public_key,
                   timestamp=ts, prev=prev.hash, consent=consent_for(device, account,
                                                                     OpType.ADD),
                   name=device.handle[-6:], admin=admin)


def revoke(signer: Identity, device: Identity, prev: Op, ts: int, after: int) -> Op:
    return make_op(signer, account=A, op_type=OpType.REVOKE, key=device.public_key,
                   timestamp=ts, prev=prev.hash, after=after)


def rotate(prev: Op, ts: int) -> Op:
    return make_op(REC, account=A, op_type=OpType.ROTATE, key=NEWKEY.public_key, timestamp=ts,
                   prev=prev.hash, consent=consent_for(NEWKEY, A, OpType.ROTATE))


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "db", verify_processes=0)
    await s.set_owner(VIEWER.public_key)
    yield s
    await s.close()


async def receive(store: Store, builder: FeedBuilder) -> None:
    report = await store.ingest(raw_entries(builder.entries))
    assert report.ok and len(report.accepted) == len(builder.entries)


async def shown(store: Store) -> list[tuple[bytes, int, bytes]]:
    """(author, seq, account) of the viewer's timeline, newest first; checked against the
    timeline asked inline (as while a transaction is open) instead of from its temp table."""
    items = await store.timeline(VIEWER.public_key, limit=100)
    found = [(i.entry.author, i.entry.seq, i.account) for i in items]
    single = await store.accounts.is_single(VIEWER.public_key)
    query, params = account_queries.timeline_query(VIEWER.public_key, None, _REPEATED_REPOST,
                                                   None, 100, single=single, kept=False)
    async with store._conn.execute(query, params) as cur:
        inline = [(e.author, e.seq, bytes(r[3])) for r in await cur.fetchall()
                  for e in [entry_of_row(r)]]
    assert inline == found
    return found


@pytest.mark.asyncio
async def test_add_ops_stores_each_op_once_and_returns_only_new_ones(store: Store) -> None:
    first = init()
    laptop = add(ACC, LAPTOP, first, BASE_TS + 1)
    assert await store.accounts.add_ops([first, laptop, first]) == [first, laptop]
    assert await store.accounts.add_ops([laptop, first]) == []
    phone = add(ACC, PHONE, laptop, BASE_TS + 2)
    assert await store.accounts.add_ops([first, phone, laptop]) == [phone]
    assert [op.hash for op in await store.accounts.ops_of(A)] == [
        first.hash, laptop.hash, phone.hash]
    assert await store.accounts.accounts_with_ops() == [A]
    assert await store.accounts.ops_of(VIEWER.public_key) == []


@pytest.mark.asyncio
async def test_state_of_follows_the_ops_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    try:
        before = await store.accounts.state_of(A)
        assert before.tip is None and set(before.devices) == {A}
        first = init()
        laptop = add(ACC, LAPTOP, first, BASE_TS + 1)
        await store.accounts.add_ops([first, laptop])
        state = await store.accounts.state_of(A)
        assert state.tip == laptop.hash and set(state.devices) == {A, LAPTOP.public_key}
        gone = revoke(ACC, LAPTOP, laptop, BASE_TS + 2, after=7)
        await store.accounts.add_ops([gone])  # the cached state is replaced
        assert (await store.accounts.state_of(A)).devices[LAPTOP.public_key].after == 7
    finally:
        await store.close()
    again = await Store.open(path, verify_processes=0)
    try:
        assert again.accounts.active
        state = await again.accounts.state_of(A)
        assert state.tip == gone.hash and state.devices[LAPTOP.public_key].after == 7
        assert await again.accounts.counted_feeds(A) == {A: None, LAPTOP.public_key: 7}
    finally:
        await again.close()


@pytest.mark.asyncio
async def test_a_damaged_stored_op_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    first = init()
    await store.accounts.add_ops([first])
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE account_ops SET raw = ? WHERE hash = ?",
                 (first.raw[:-1] + bytes([first.raw[-1] ^ 1]), first.hash))
    conn.commit()
    conn.close()
    again = await Store.open(path, verify_processes=0)
    try:
        with pytest.raises(StoreError, match="no longer decodes"):
            await again.accounts.state_of(A)
    finally:
        await again.close()


@pytest.mark.asyncio
async def test_a_revoked_devices_later_entries_vanish_and_earlier_ones_stay_the_accounts(
        store: Store) -> None:
    me = await store.append(VIEWER, Follow(feed=A))
    first = init()
    laptop = add(ACC, LAPTOP, first, BASE_TS + 1)
    await store.accounts.add_ops([first, laptop])
    own, dev = FeedBuilder(ACC), FeedBuilder(LAPTOP, start_ts=BASE_TS + 500)
    own.about(name="Ann")
    own.post("from the account key")
    for i in range(3):
        dev.post(f"laptop {i + 1}")
    mine = await store.append(VIEWER, Post(text="viewer's post"))
    dev.react(mine, "❤")  # seq 4: counts until the revocation
    dev.about(name="Thief")  # seq 5
    dev.post("reply by the thief", root=mine.hash, parent=mine.hash)  # seq 6
    await receive(store, own)
    await receive(store, dev)
    everything = {(LAPTOP.public_key, s, A) for s in (1, 2, 3)} | {(A, 2, A)}
    assert set(await shown(store)) >= everything
    assert (await store.profile(LAPTOP.public_key)).name == "Thief"  # latest across devices
    assert {(n.kind, n.account) for n in await store.notifications(VIEWER.public_key)} == {
        ("react", A), ("reply", A)}
    assert (await store.counts([mine.hash]))[mine.hash].reactions == {"❤": 1}

    await store.accounts.add_ops([revoke(ACC, LAPTOP, laptop, BASE_TS + 2, after=2)])

    items = await shown(store)
    assert (LAPTOP.public_key, 3, A) not in items
    assert {(LAPTOP.public_key, 1, A), (LAPTOP.public_key, 2, A), (A, 2, A)} <= set(items)
    assert all(account == author for author, _, account in items if author != LAPTOP.public_key
               and author != A)
    profile = await store.profile(LAPTOP.public_key)
    assert (profile.author, profile.name) == (A, "Ann")
    assert (await store.profiles([A, LAPTOP.public_key]))[A].name == "Ann"
    assert (await store.counts([mine.hash]))[mine.hash].reactions == {}
    assert (await store.counts([mine.hash]))[mine.hash].replies == 0
    assert [e.hash for e in await store.thread(mine.hash)] == [mine.hash]
    assert await store.notifications(VIEWER.public_key) == []
    # the account's own page shows the same
    page = await store.timeline(VIEWER.public_key, authors=[A], limit=100)
    assert {(i.entry.author, i.entry.seq) for i in page} == {
        (A, 2), (LAPTOP.public_key, 1), (LAPTOP.public_key, 2)}
    assert me.seq == 1


@pytest.mark.asyncio
async def test_a_recovery_override_makes_a_devices_entries_count_again(store: Store) -> None:
    await store.append(VIEWER, Follow(feed=A))
    first = init()
    laptop = add(ACC, LAPTOP, first, BASE_TS + 1)
    dev = FeedBuilder(LAPTOP, start_ts=BASE_TS + 500)
    for i in range(3):
        dev.post(f"laptop {i + 1}")
    await receive(store, dev)
    thief = revoke(ACC, LAPTOP, laptop, BASE_TS + DAY, after=0)  # a thief with the account key
    await store.accounts.add_ops([first, laptop, thief])
    assert not [a for a, _, _ in await shown(store) if a == LAPTOP.public_key]
    assert await store.accounts.counted_feeds(A) == {A: None}

    undo = rotate(laptop, BASE_TS + 2 * DAY)  # the recovery key, within the window
    assert await store.accounts.add_ops([undo]) == [undo]

    state = await store.accounts.state_of(A)
    assert thief.hash in state.overridden and state.tip == undo.hash
    assert {(LAPTOP.public_key, s, A) for s in (1, 2, 3)} <= set(await shown(store))
    assert set(await store.accounts.counted_feeds(A)) == {A, LAPTOP.public_key,
                                                          NEWKEY.public_key}


@pytest.mark.asyncio
async def test_account_of_gives_a_device_to_the_account_that_added_it_first(
        store: Store) -> None:
    other = identity_for("acct-other")
    b_first = init(account=other, recovery=identity_for("acct-other-recovery"))
    a_first = init()
    assert await store.accounts.account_of(PHONE.public_key) is None
    a_phone = add(ACC, PHONE, a_first, BASE_TS + 100)
    await store.accounts.add_ops([a_first, a_phone])
    assert await store.accounts.account_of(PHONE.public_key) == A
    assert await store.accounts.account_of(A) == A
    # the other account's add came first (the phone consented to both): it takes the phone
    b_phone = add(other, PHONE, b_first, BASE_TS + 50, account=other.public_key)
    await store.accounts.add_ops([b_first, b_phone])
    assert await store.accounts.account_of(PHONE.public_key) == other.public_key
    assert await store.accounts.counted_feeds(A) == {A: None}
    assert await store.accounts.counted_feeds(other.public_key) == {
        other.public_key: None, PHONE.public_key: None}
    assert await store.accounts.counted_feeds(PHONE.public_key) == {}
    assert await store.accounts.counted_feeds(VIEWER.public_key) == {VIEWER.public_key: None}
    # without an init, an add applies to nothing
    lone = identity_for("acct-lone")
    orphan = add(lone, LAPTOP, a_first, BASE_TS + 10, account=lone.public_key)
    await store.accounts.add_ops([orphan])
    assert await store.accounts.account_of(LAPTOP.public_key) is None


@pytest.mark.asyncio
async def test_following_an_account_shows_every_device_and_follows_span_devices(
        store: Store) -> None:
    first = init()
    phone = add(ACC, PHONE, first, BASE_TS + 1)
    await store.accounts.add_ops([first, phone])
    await store.append(VIEWER, Follow(feed=PHONE.public_key))  # stands for its account
    own, dev = FeedBuilder(ACC, start_ts=BASE_TS + 10_000), FeedBuilder(PHONE)
    own.post("account key")
    dev.post("phone")
    dev.follow(VIEWER.public_key)
    await receive(store, own)
    await receive(store, dev)
    assert set(await shown(store)) == {(A, 1, A), (PHONE.public_key, 1, A)}
    assert await store.following(A) == {VIEWER.public_key}  # followed from the phone
    # the account key unfollows later: the latest across the devices wins (S9)
    own.unfollow(VIEWER.public_key)
    await store.ingest(raw_entries(own.entries[-1:]))
    assert await store.following(A) == set()
    assert await store.following(PHONE.public_key) == set()
    await store.append(VIEWER, Unfollow(feed=PHONE.public_key))  # the timeline follows
    assert await shown(store) == []


@pytest.mark.asyncio
async def test_a_viewer_with_several_devices_sees_what_its_account_follows(
        store: Store) -> None:
    friend = FeedBuilder(identity_for("acct-friend"))
    friend.post("friend's post")
    await receive(store, friend)
    vphone = identity_for("acct-viewer-phone")
    first = init(account=VIEWER, recovery=identity_for("acct-viewer-recovery"))
    await store.accounts.add_ops([first, add(VIEWER, vphone, first, BASE_TS + 1,
                                             account=VIEWER.public_key)])
    mine = await store.append(VIEWER, Post(text="from the viewer's first device"))
    assert await shown(store) == [(VIEWER.public_key, mine.seq, VIEWER.public_key)]
    phone = FeedBuilder(vphone)
    phone.follow(friend.identity.public_key)  # followed on the other device
    phone.post("from the phone")
    await receive(store, phone)
    friend_key = friend.identity.public_key
    assert set(await shown(store)) == {(VIEWER.public_key, mine.seq, VIEWER.public_key),
                                       (vphone.public_key, 2, VIEWER.public_key),
                                       (friend_key, 1, friend_key)}
    assert await store.following(vphone.public_key) == {friend_key}
    await store.append(VIEWER, Unfollow(feed=friend_key))  # later, on the first device
    assert friend_key not in {a for a, _, _ in await shown(store)}
    assert await store.following(VIEWER.public_key) == set()


@pytest.mark.asyncio
async def test_blocking_an_account_refuses_every_device_feed(store: Store) -> None:
    first = init()
    await store.accounts.add_ops([first, add(ACC, PHONE, first, BASE_TS + 1)])
    await store.append(VIEWER, Block(feed=A))
    dev = FeedBuilder(PHONE)
    dev.post("from a blocked account's phone")
    report = await store.ingest(raw_entries(dev.entries))
    assert report.refused == 1 and not report.accepted
    assert await store.blocking(VIEWER.public_key) == {A}


@pytest.mark.asyncio
async def test_relays_and_names_are_the_accounts_latest_counted_ones(store: Store) -> None:
    first = init()
    phone = add(ACC, PHONE, first, BASE_TS + 1)
    await store.accounts.add_ops([first, phone])
    own, dev = FeedBuilder(ACC), FeedBuilder(PHONE, start_ts=BASE_TS + 10_000)
    own.relays("/ip4/10.0.0.1/tcp/4001")
    own.about(name="Ann Account")
    dev.relays("/ip4/10.0.0.2/tcp/4001")  # later: wins (S9)
    dev.about(name="Phone Thief")
    await receive(store, own)
    await receive(store, dev)
    assert await store.relay_lists([A, PHONE.public_key]) == {
        A: ["/ip4/10.0.0.2/tcp/4001"], PHONE.public_key: ["/ip4/10.0.0.2/tcp/4001"]}
    assert [(p.author, p.name) for p in await store.named("PhoneThief")] == [
        (A, "Phone Thief")]
    await store.accounts.add_ops([revoke(ACC, PHONE, phone, BASE_TS + 2, after=0)])
    assert await store.relay_list(PHONE.public_key) == ["/ip4/10.0.0.1/tcp/4001"]
    assert [(p.author, p.name) for p in await store.named("PhoneThief")] == [
        (A, "Ann Account")]  # the caller's exact comparison drops it
    assert await store.find_profiles("thief") == []
    assert [p.author for p in await store.find_profiles("ann")] == [A]


@pytest.mark.asyncio
async def test_rebuild_projections_rebuilds_the_devices(store: Store, tmp_path: Path) -> None:
    first = init()
    laptop = add(ACC, LAPTOP, first, BASE_TS + 1)
    await store.accounts.add_ops([first, laptop, revoke(ACC, LAPTOP, laptop, BASE_TS + 2, 3)])
    before = _rows(tmp_path / "db", "account_devices")
    assert len(before) == 2
    await store._conn.execute("DELETE FROM account_devices")
    await store.rebuild_projections()
    assert _rows(tmp_path / "db", "account_devices") == before
    assert store.accounts.active


# `entries` is a view since migration 0009, with its rowid as a column: the table's columns
_COLUMNS = {"entries": "author, seq, hash, ts, type, header, payload, deleted, received_at"}
_TABLES = ("entries", "feeds", "forks", "deletions", "meta", "timeline", "links", "contacts",
           "profiles", "relay_lists")


@pytest.mark.asyncio
async def test_a_database_of_the_previous_release_is_migrated_and_keeps_everything(
        tmp_path: Path) -> None:
    path = tmp_path / "home.db"
    shutil.copyfile(FIXTURE, path)
    old = {table: _rows(path, table) for table in _TABLES}
    assert _pragma(path, "user_version") == 2 and len(old["entries"]) == 28
    store = await Store.open(path, verify_processes=0)
    try:
        assert not store.accounts.active
        assert await store.accounts.accounts_with_ops() == []
        me = store.owner
        assert me is not None
        items = await store.timeline(me, limit=100)
        carol = identity_for("release-carol").public_key  # unfollowed: not on my timeline
        assert sorted((i.sort_ts, i.entry.author, i.entry.seq) for i in items) == [
            row for row in old["timeline"] if row[1] != carol]
        assert all(i.account == i.entry.author for i in items)
        assert (await store.profile(me)).name == "Release Me"
        await _verify_chains(store, tmp_path / "check.db")
        await store.rebuild_projections()
    finally:
        await store.close()
    assert _pragma(path, "user_version") == migrations()[-1][0] >= 3
    assert {table: _rows(path, table) for table in _TABLES} == old
    assert _rows(path, "account_ops") == [] and _rows(path, "account_devices") == []


async def _verify_chains(store: Store, scratch: Path) -> None:
    """Every held entry, given to a fresh store, verifies and chains (no error, no fork)."""
    check = await Store.open(scratch, verify_processes=0)
    try:
        total = 0
        async for chunk in store.iter_raw():
            report = await check.ingest([(h, p) for h, p, _ in chunk])
            assert report.ok and report.gaps == 0, report
            total += len(report.accepted)
        assert total == await store.count_entries() == 28
    finally:
        await check.close()


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        columns = _COLUMNS.get(table, "*")
        return sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall())
    finally:
        conn.close()


def _pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_a_strangers_valid_ops_are_not_kept_and_an_orphan_waits_for_its_parent(
        store: Store) -> None:
    """O5: an op a stranger signs with its own key passes K1-K9 but never hangs on the
    account's tree: it is neither stored nor served. An op whose parent is missing is
    dropped too, and kept once the parent comes in the same batch (in any order)."""
    stranger = identity_for("acct-stranger")
    genesis = init()
    assert await store.accounts.add_ops([genesis]) == [genesis]
    spam = [add(stranger, identity_for(f"acct-spam-{i}"), genesis, BASE_TS + i + 1)
            for i in range(20)]
    assert await store.accounts.add_ops(spam) == []
    laptop = add(ACC, LAPTOP, genesis, BASE_TS + 100)
    phone = add(LAPTOP, PHONE, laptop, BASE_TS + 200)  # LAPTOP has no admin: kept, not applied
    assert await store.accounts.add_ops([phone]) == []  # its parent is not held
    assert {op.hash for op in await store.accounts.add_ops([phone, laptop])} == {
        laptop.hash, phone.hash}
    held = {op.hash for op in await store.accounts.ops_of(A)}
    assert held == {genesis.hash, laptop.hash, phone.hash}
    state = await store.accounts.state_of(A)
    assert LAPTOP.public_key in state.devices and PHONE.public_key not in state.devices
