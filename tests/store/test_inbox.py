"""The reader's inbox and the writer's outbox in the store (migration 0006; docs/protocol.md
§Private messages M5d, M10, M11, M13, M18, M26, M27), on real SQLite files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.core.mail.conversation import State, fold
from p2psocial.core.mail.inner import InnerMessage, Kind, make_inner
from p2psocial.core.mail.route import next_try_ms
from p2psocial.store.outbox import OutboxStatus
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for
from p2psocial.testing.builders import BASE_TS

ALICE, BOB, CAROL = (identity_for(n) for n in ("inbox-alice", "inbox-bob", "inbox-carol"))
A, B, C = (i.public_key for i in (ALICE, BOB, CAROL))


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "db", verify_processes=0)
    await s.set_owner(B)
    yield s
    await s.close()


def _msg(writer: object, n: int, kind: Kind = Kind.TEXT, to: tuple[bytes, ...] = (),
         **kw: object) -> InnerMessage:
    identity = {A: ALICE, B: BOB, C: CAROL}[writer]  # type: ignore[index]
    others = list(to) or [k for k in (A, B) if k != writer]
    if kind is Kind.TEXT:
        kw.setdefault("text", f"message {n}")
    return make_inner(identity, account=writer, to=others, msg_id=bytes([n]) * 16,
                      ts=BASE_TS + n, kind=kind, **kw)


@pytest.mark.asyncio
async def test_messages_are_kept_once_and_fold_back(store: Store) -> None:
    first, edit = _msg(A, 1), _msg(A, 2, Kind.EDIT, text="edited", target=bytes([1]) * 16)
    assert await store.inbox.add(first, BASE_TS + 10)
    assert not await store.inbox.add(first, BASE_TS + 20)  # a copy: (from, id) held
    assert await store.inbox.add(edit, BASE_TS + 30)
    rows = await store.inbox.conversations()
    assert [(r.conv, r.participants, r.messages, r.last_arrival) for r in rows] == [
        (first.conversation, first.participants, 2, BASE_TS + 30)]
    held = await store.inbox.messages(first.conversation)
    assert [a.arrival_ms for a in held] == [BASE_TS + 10, BASE_TS + 30]
    view = fold(first.participants, held, me=B)
    assert [m.text for m in view.messages] == ["edited"] and view.state is State.REQUEST
    assert await store.inbox.participants(first.conversation) == first.participants


@pytest.mark.asyncio
async def test_seen_wraps(store: Store) -> None:
    assert not await store.inbox.seen(b"w" * 32)
    await store.inbox.mark_seen(b"w" * 32, BASE_TS)
    await store.inbox.mark_seen(b"w" * 32, BASE_TS + 1)
    assert await store.inbox.seen(b"w" * 32)


@pytest.mark.asyncio
async def test_read_state_is_local_and_never_moves_back(store: Store) -> None:
    m = _msg(A, 1)
    await store.inbox.add(m, BASE_TS)
    await store.inbox.mark_read(m.conversation, BASE_TS + 5)
    await store.inbox.mark_read(m.conversation, BASE_TS + 1)
    assert (await store.inbox.conversations())[0].read_upto == BASE_TS + 5


@pytest.mark.asyncio
async def test_decline_deletes_the_conversation_here(store: Store) -> None:
    request, other = _msg(A, 1), _msg(C, 2, to=(B,))
    await store.inbox.add(request, BASE_TS)
    await store.inbox.add(other, BASE_TS)
    assert await store.inbox.decline(request.conversation) == 1
    assert [r.conv for r in await store.inbox.conversations()] == [other.conversation]
    assert await store.inbox.add(_msg(A, 3), BASE_TS + 5)  # a later message: a new request


@pytest.mark.asyncio
async def test_m27_blocking_drops_what_the_writer_sent_even_in_a_group(store: Store) -> None:
    by_a = _msg(A, 1, to=(B, C))
    by_c = _msg(C, 2, to=(A, B))
    waiting = _msg(C, 3, to=(B,))
    for m in (by_a, by_c):
        await store.inbox.add(m, BASE_TS)
    await store.inbox.wait(waiting, B, BASE_TS)
    assert await store.inbox.drop_from(C) == 2
    held = await store.inbox.messages(by_a.conversation)
    assert [a.message.from_account for a in held] == [A]
    assert await store.inbox.waiting() == []


@pytest.mark.asyncio
async def test_m5d_waiting_until_admitted(store: Store) -> None:
    m = _msg(A, 1)
    await store.inbox.wait(m, B, BASE_TS)
    [waiting] = await store.inbox.waiting()
    assert (waiting.message, waiting.reader, waiting.since) == (m, B, BASE_TS)
    await store.inbox.add(m, BASE_TS + 5)  # admitted once the ops came
    assert await store.inbox.waiting() == []
    other = _msg(A, 2)
    await store.inbox.wait(other, B, BASE_TS)
    await store.inbox.unwait(other)
    assert await store.inbox.waiting() == []


@pytest.mark.asyncio
async def test_outbox_retries_then_delivers_or_gives_up(store: Store) -> None:
    conv = _msg(B, 1).conversation
    await store.outbox.add(b"1" * 32, account=A, conv=conv, wrap=b"wrap-1", written_ms=BASE_TS)
    await store.outbox.add(b"2" * 32, account=C, conv=conv, wrap=b"wrap-2", written_ms=BASE_TS)
    assert [i.wrap for i in await store.outbox.due(BASE_TS)] == [b"wrap-1", b"wrap-2"]
    assert await store.outbox.next_due() == BASE_TS
    later = next_try_ms(0, written_ms=BASE_TS, now_ms=BASE_TS)
    await store.outbox.record(b"1" * 32, held_by=1, delivered=False, next_try=later)
    await store.outbox.record(b"2" * 32, held_by=0, delivered=False, next_try=None)
    assert [i.wrap for i in await store.outbox.due(BASE_TS)] == []
    assert await store.outbox.next_due() == later  # the client sleeps until then
    [due] = await store.outbox.due(later)
    assert (due.attempts, due.held_by, due.status) == (1, 1, OutboxStatus.PENDING)
    await store.outbox.record(b"1" * 32, held_by=2, delivered=True, next_try=later + 1)
    states = {i.account: (i.status, i.next_try) for i in
              await store.outbox.of_conversation(conv)}
    assert states == {A: (OutboxStatus.DELIVERED, None), C: (OutboxStatus.FAILED, None)}
    assert await store.outbox.due(later * 2) == []
    assert await store.outbox.next_due() is None
