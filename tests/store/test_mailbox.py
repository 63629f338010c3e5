"""The holder's mailboxes in the store (migration 0006; docs/protocol.md §Private messages
M14-M21, claim D1), on real SQLite files."""

from __future__ import annotations

import functools
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.core.mail.holder_policy import HOUR_MS, hour_of
from p2psocial.core.mail.inner import Kind, make_inner
from p2psocial.core.mail.wrap import seal
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for
from p2psocial.testing.builders import BASE_TS

RELAY = identity_for("mail-relay")
ALICE, BOB, CAROL, PHONE = (identity_for(n) for n in ("mail-alice", "mail-bob", "mail-carol",
                                                       "mail-phone"))
A, B, C, P = (i.public_key for i in (ALICE, BOB, CAROL, PHONE))
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "release-2026-12-db.sqlite"
SECRET = "the plans for tuesday, in confidence"


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "db", verify_processes=0)
    await s.set_owner(RELAY.public_key)
    yield s
    await s.close()


@functools.cache
def _wrap(n: int, text: str = SECRET) -> tuple[bytes, bytes]:
    """A wrap from alice to bob and carol, sealed for bob's mailbox: (hash, bytes); the same
    one each time for the same `n`."""
    inner = make_inner(ALICE, account=A, to=[B, C], msg_id=bytes([n]) * 16, ts=BASE_TS,
                       kind=Kind.TEXT, text=text)
    wrap = seal(inner.raw, mailbox=B, devices=[B, P])
    return wrap.hash, wrap.raw


@pytest.mark.asyncio
async def test_cursors_count_up_and_are_never_reused(store: Store) -> None:
    hour = hour_of(BASE_TS)
    cursors = [await store.mailboxes.put(B, *_wrap(n), hour) for n in range(3)]
    assert cursors == [1, 2, 3]
    assert await store.mailboxes.put(B, *_wrap(0), hour) is None  # same wrap: duplicate
    assert await store.mailboxes.held(B, _wrap(0)[0])
    assert await store.mailboxes.expire(B, {B}, now_ms=BASE_TS + 10 * 86_400_000,
                                        retention_ms=HOUR_MS) == 3
    assert await store.mailboxes.put(B, *_wrap(5), hour) == 4
    assert await store.mailboxes.newest(B) == 4
    assert await store.mailboxes.put(A, *_wrap(6), hour) == 1  # per mailbox


@pytest.mark.asyncio
async def test_fetch_pages_oldest_first(store: Store) -> None:
    wraps = [_wrap(n) for n in range(20)]
    for wrap_hash, raw in wraps:
        await store.mailboxes.put(B, wrap_hash, raw, hour_of(BASE_TS))
    items, more = await store.mailboxes.fetch(B, 0)
    assert [c for c, _ in items] == list(range(1, 17)) and more
    assert items[0][1] == wraps[0][1]
    items, more = await store.mailboxes.fetch(B, 16)
    assert [c for c, _ in items] == [17, 18, 19, 20] and not more
    assert await store.mailboxes.fetch(A, 0) == ([], False)
    usage = await store.mailboxes.usage(B)
    assert (usage.wraps, usage.size) == (20, sum(len(r) for _, r in wraps))


@pytest.mark.asyncio
async def test_a_wrap_goes_once_every_current_device_acked(store: Store) -> None:
    for n in range(3):
        await store.mailboxes.put(B, *_wrap(n), hour_of(BASE_TS))
    await store.mailboxes.ack(B, B, 3)
    await store.mailboxes.ack(B, P, 2)
    await store.mailboxes.ack(B, P, 1)  # never moves back
    assert await store.mailboxes.acks(B) == {B: 3, P: 2}
    assert await store.mailboxes.expire(B, {B, P}, now_ms=BASE_TS, retention_ms=HOUR_MS) == 2
    assert [c for c, _ in (await store.mailboxes.fetch(B, 0))[0]] == [3]
    # P revoked: only B counts now
    assert await store.mailboxes.expire(B, {B}, now_ms=BASE_TS, retention_ms=HOUR_MS) == 1


@pytest.mark.asyncio
async def test_policy(store: Store) -> None:
    assert not (await store.mailboxes.usage(B)).followed_only
    await store.mailboxes.set_policy(B, followed_only=True)
    assert (await store.mailboxes.usage(B)).followed_only
    await store.mailboxes.put(B, *_wrap(1), hour_of(BASE_TS))
    assert (await store.mailboxes.usage(B)).followed_only  # a put keeps the policy
    await store.mailboxes.set_policy(B, followed_only=False)
    assert not (await store.mailboxes.usage(B)).followed_only


@pytest.mark.asyncio
async def test_d1_the_holder_database_holds_no_text_sender_or_other_participant(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    await store.set_owner(RELAY.public_key)
    arrival = BASE_TS + 1_234_567
    await store.mailboxes.put(B, *_wrap(1), hour_of(arrival))
    await store.mailboxes.ack(B, P, 0)
    await store.close()
    data = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("db"))
    assert SECRET.encode() not in data and b"tuesday" not in data
    for key in (A, C):  # the writer and the other participant
        assert key not in data
    assert B in data  # the mailbox is stored, as the spec says
    conn = sqlite3.connect(path)
    try:
        hours = [h for (h,) in conn.execute("SELECT hour FROM mailbox")]
        columns = {r[1] for r in conn.execute("PRAGMA table_info(mailbox)")}
    finally:
        conn.close()
    assert hours == [hour_of(arrival)] and hours[0] % HOUR_MS == 0
    assert columns == {"account", "cursor", "wrap_hash", "wrap", "hour"}


@pytest.mark.asyncio
async def test_migrations_0006_and_0007_apply_on_the_previous_release(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, path)
    store = await Store.open(path, verify_processes=0)
    try:
        assert await store.mailboxes.put(B, *_wrap(1), hour_of(BASE_TS)) == 1
        assert await store.inbox.conversations() == []
        assert await store.outbox.due(BASE_TS) == []
        assert await store.outbox.blind() == []  # 0007 on a database of that release
        await store.outbox.note_blind(B, conv=b"c" * 32, msg_id=b"m" * 16, since_ms=BASE_TS)
        assert [b.account for b in await store.outbox.blind()] == [B]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {6, 7} <= {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_rebuild_projections_leaves_mail_alone(store: Store) -> None:
    await store.mailboxes.put(B, *_wrap(1), hour_of(BASE_TS))
    await store.outbox.add(b"h" * 32, account=B, conv=b"c" * 32, wrap=b"w", written_ms=1)
    await store.rebuild_projections()
    assert (await store.mailboxes.usage(B)).wraps == 1
    assert len(await store.outbox.due(10)) == 1
