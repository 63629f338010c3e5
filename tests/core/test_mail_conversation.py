"""Folding a conversation (docs/protocol.md §Private messages, M6, M11, M26, M27)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.mail.conversation import Arrived, State, fold
from p2psocial.core.mail.inner import InnerMessage, Kind, make_inner
from p2psocial.testing.builders import BASE_TS, identity_for

ALICE, BOB, CAROL = (identity_for(n) for n in ("alice", "bob", "carol"))
A, B, C = (i.public_key for i in (ALICE, BOB, CAROL))


def _msg(writer: object, n: int, kind: Kind = Kind.TEXT, *, to: list[bytes] | None = None,
         ts: int | None = None, **kw: object) -> InnerMessage:
    identity = {A: ALICE, B: BOB, C: CAROL}[writer]  # type: ignore[index]
    others = to or [k for k in (A, B) if k != writer]
    if kind is Kind.TEXT and "text" not in kw:
        kw["text"] = f"message {n}"
    return make_inner(identity, account=writer, to=others, msg_id=bytes([n]) * 16,
                      ts=BASE_TS + n * 1000 if ts is None else ts, kind=kind, **kw)


def _at(message: InnerMessage, arrival: int | None = None) -> Arrived:
    return Arrived(message, message.ts if arrival is None else arrival)


def test_order_by_min_of_ts_and_arrival_then_id() -> None:
    late_claim = _msg(A, 1, ts=BASE_TS + 10_000_000)
    second = _msg(B, 2)
    view = fold([A, B], [_at(second), _at(late_claim, BASE_TS)], me=B)
    assert [m.id[0] for m in view.messages] == [1, 2]
    assert view.participants == tuple(sorted([A, B]))


def test_copies_are_dropped_by_from_and_id() -> None:
    m = _msg(A, 1)
    view = fold([A, B], [_at(m), _at(m, m.ts + 5)], me=B)
    assert len(view.messages) == 1


def test_edits_the_latest_wins_and_a_delete_leaves_a_marker() -> None:
    text = _msg(A, 1)
    edit1 = _msg(A, 2, Kind.EDIT, target=text.id, text="first edit")
    edit2 = _msg(A, 3, Kind.EDIT, target=text.id, text="second edit")
    view = fold([A, B], [_at(edit2), _at(text), _at(edit1)], me=B)
    assert [(m.text, m.edited) for m in view.messages] == [("second edit", True)]
    delete = _msg(A, 4, Kind.DELETE, target=text.id)
    later_edit = _msg(A, 5, Kind.EDIT, target=text.id, text="after delete")
    view = fold([A, B], [_at(text), _at(edit1), _at(delete), _at(later_edit)], me=B)
    assert [(m.text, m.deleted, m.edited) for m in view.messages] == [(None, True, False)]


def test_only_the_writer_edits_its_text() -> None:
    text = _msg(A, 1)
    forged = _msg(B, 2, Kind.EDIT, target=text.id, text="bob's version")
    forged_delete = _msg(B, 3, Kind.DELETE, target=text.id)
    view = fold([A, B], [_at(text), _at(forged), _at(forged_delete)], me=A)
    assert [m.text for m in view.messages] == ["message 1"]
    assert len(view.waiting) == 2  # (bob, that id) is not held: they wait


def test_an_edit_before_its_target_waits_then_applies() -> None:
    text = _msg(A, 1)
    edit = _msg(A, 2, Kind.EDIT, target=text.id, text="edited")
    early = fold([A, B], [_at(edit)], me=B)
    assert early.messages == () and early.waiting == (edit,)
    later = fold([A, B], [_at(edit), _at(text)], me=B)
    assert [m.text for m in later.messages] == ["edited"] and later.waiting == ()


def test_an_edit_of_an_edit_is_ignored() -> None:
    text = _msg(A, 1)
    edit = _msg(A, 2, Kind.EDIT, target=text.id, text="edited")
    edit_of_edit = _msg(A, 3, Kind.EDIT, target=edit.id, text="nested")
    view = fold([A, B], [_at(text), _at(edit), _at(edit_of_edit)], me=B)
    assert [m.text for m in view.messages] == ["edited"] and view.waiting == ()


def test_m26_request_until_i_write_accept_or_follow() -> None:
    first = _msg(A, 1)
    assert fold([A, B], [_at(first)], me=B).state is State.REQUEST
    assert fold([A, B], [_at(first)], me=B, following={A}).state is State.ACCEPTED
    reply = _msg(B, 2)
    assert fold([A, B], [_at(first), _at(reply)], me=B).state is State.ACCEPTED
    accept = _msg(B, 3, Kind.ACCEPT)
    view = fold([A, B], [_at(first), _at(accept)], me=B)
    assert view.state is State.ACCEPTED and len(view.messages) == 1
    assert fold([A, B], [_at(first)], me=A).state is State.ACCEPTED  # I started it


def test_m27_a_blocked_writer_goes_and_only_they_in_a_group() -> None:
    group = [A, B, C]
    by_a = _msg(A, 1, to=[B, C])
    by_c = _msg(C, 2, to=[A, B])
    view = fold(group, [_at(by_a), _at(by_c)], me=B, blocked={C})
    assert [m.from_account for m in view.messages] == [A]
    assert fold([A, B], [_at(_msg(A, 1))], me=B, blocked={A}).messages == ()


def test_messages_of_another_conversation_are_ignored() -> None:
    group_message = _msg(A, 1, to=[B, C])
    assert fold([A, B], [_at(group_message)], me=B).messages == ()


_TEXTS = [_msg(A, 1), _msg(B, 2), _msg(A, 3)]
_CHANGES = [_msg(A, 4, Kind.EDIT, target=bytes([1]) * 16, text="edit a"),
            _msg(A, 5, Kind.EDIT, target=bytes([1]) * 16, text="edit b"),
            _msg(B, 6, Kind.DELETE, target=bytes([2]) * 16),
            _msg(A, 7, Kind.EDIT, target=bytes([9]) * 16, text="waits"),
            _msg(B, 8, Kind.ACCEPT)]


@given(st.permutations([*_TEXTS, *_CHANGES]), st.lists(st.integers(0, 7), max_size=4))
def test_the_fold_does_not_depend_on_arrival_order_or_copies(
        order: list[InnerMessage], copies: list[int]) -> None:
    arrived = [_at(m) for m in order] + [_at(order[i], order[i].ts + 99) for i in copies]
    assert fold([A, B], arrived, me=B) == fold([A, B], [_at(m) for m in
                                                        [*_TEXTS, *_CHANGES]], me=B)
