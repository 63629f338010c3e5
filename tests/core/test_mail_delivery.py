"""Sealing a message for everyone and opening it (docs/protocol.md §Private messages M9,
M12, M17, M28, M29)."""

from __future__ import annotations

import pytest

from p2psocial.core.errors import MailError, UsageError
from p2psocial.core.mail.delivery import open_for, seal_all
from p2psocial.core.mail.inner import Kind, make_inner
from p2psocial.testing.builders import BASE_TS, identity_for

ALICE, LAPTOP, BOB, CAROL, PHONE = (identity_for(f"deliver-{n}") for n in
                                    ("alice", "laptop", "bob", "carol", "phone"))
A, L, B, C, P = (i.public_key for i in (ALICE, LAPTOP, BOB, CAROL, PHONE))


def test_one_wrap_per_account_and_a_sent_copy_for_my_other_devices() -> None:
    message = make_inner(LAPTOP, account=A, to=[B, C], msg_id=bytes(16), ts=BASE_TS,
                         kind=Kind.TEXT, text="hello all")
    wraps = seal_all(message, {A: [A, L], B: [B, P], C: [C]})
    assert [w.to for w in wraps] == [*sorted([B, C]), A]
    by_account = {w.to: w.raw for w in wraps}
    for device, account in ((BOB, B), (PHONE, B), (CAROL, C), (ALICE, A)):
        opened = open_for(by_account[account], device=device, account=account)
        assert opened is not None and opened.message == message
    assert open_for(by_account[A], device=LAPTOP, account=A) is None  # the writer itself
    # M29: a device left out (revoked before the seal) finds no slot
    assert open_for(by_account[B], device=CAROL, account=B) is None


def test_no_sent_copy_without_another_device_and_accept_goes_home_only() -> None:
    single = make_inner(ALICE, account=A, to=[B], msg_id=bytes(16), ts=BASE_TS,
                        kind=Kind.TEXT, text="hi")
    assert [w.to for w in seal_all(single, {A: [A], B: [B]})] == [B]
    accept = make_inner(LAPTOP, account=A, to=[B], msg_id=bytes(16), ts=BASE_TS,
                        kind=Kind.ACCEPT)
    assert [w.to for w in seal_all(accept, {A: [A, L], B: [B]})] == [A]
    assert seal_all(accept, {A: [L], B: [B]}) == []


def test_an_account_without_devices_is_a_usage_error() -> None:
    message = make_inner(ALICE, account=A, to=[B], msg_id=bytes(16), ts=BASE_TS,
                         kind=Kind.TEXT, text="hi")
    with pytest.raises(UsageError):
        seal_all(message, {A: [A]})


def test_a_wrap_for_another_mailbox_is_refused() -> None:
    message = make_inner(ALICE, account=A, to=[B], msg_id=bytes(16), ts=BASE_TS,
                         kind=Kind.TEXT, text="hi")
    [wrap] = seal_all(message, {A: [A], B: [B]})
    with pytest.raises(MailError) as caught:
        open_for(wrap.raw, device=BOB, account=C)
    assert caught.value.rule == "M10"
