"""A mailbox holder's decisions (docs/protocol.md §Private messages, M14, M21-M25; D6)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.mail.holder_policy import (
    HOUR_MS,
    DayCounters,
    HolderConfig,
    Mailbox,
    Sender,
    check_wrap,
    decide_access,
    decide_put,
    hour_of,
    plan_expiry,
    retry_after_s,
)
from p2psocial.core.mail.inner import Kind, make_inner
from p2psocial.core.mail.stamp import DAY_MS, day_of, make_stamp
from p2psocial.core.mail.wire import Put, Stamp, Status
from p2psocial.core.mail.wrap import seal
from p2psocial.testing.builders import BASE_TS, identity_for

ALICE, BOB, PHONE, STRANGER = (identity_for(n) for n in ("alice", "bob", "phone", "stranger"))
A, B, P, S = (i.public_key for i in (ALICE, BOB, PHONE, STRANGER))
NOW = BASE_TS
CONFIG = HolderConfig(pow_bits=8)
MAILBOX = Mailbox(account=B, devices=frozenset({B, P}))


def _put(stamped: bool = False, mailbox: bytes = B) -> Put:
    inner = make_inner(ALICE, account=A, to=[B], msg_id=bytes(16), ts=NOW, kind=Kind.TEXT,
                       text="hi").raw
    wrap = seal(inner, mailbox=mailbox, devices=[mailbox]).raw
    if not stamped:
        return Put(wrap)
    wrap_hash = check_wrap(Put(wrap)).hash  # type: ignore[union-attr]
    day = day_of(NOW)
    return Put(wrap, Stamp(make_stamp(wrap_hash, day, 8), day))


def _decide(put: Put, sender: Sender, mailbox: Mailbox | None = MAILBOX, held: bool = False,
            config: HolderConfig = CONFIG) -> Status:
    return decide_put(put, check_wrap(put), mailbox=mailbox, sender=sender, held=held,
                      now_ms=NOW, config=config).answer.status


def test_a_known_sender_is_stored_without_a_stamp() -> None:
    assert _decide(_put(), Sender(A, follows=True)) is Status.STORED
    assert _decide(_put(), Sender(P)) is Status.STORED  # a device of the account


def test_a_stranger_needs_a_stamp_then_is_stored() -> None:
    decision = decide_put(_put(), check_wrap(_put()), mailbox=MAILBOX, sender=Sender(S),
                          held=False, now_ms=NOW, config=CONFIG)
    assert (decision.answer.status, decision.answer.extra, decision.known) == (Status.POW, 8,
                                                                                False)
    assert _decide(_put(stamped=True), Sender(S)) is Status.STORED
    assert _decide(_put(stamped=True), Sender(S), config=HolderConfig(pow_bits=30)) \
        is Status.POW


def test_the_order_of_refusals() -> None:
    put = _put()
    assert _decide(Put(b"junk"), Sender(S)) is Status.BAD
    assert _decide(_put(mailbox=A), Sender(S)) is Status.NOT_HERE
    assert _decide(put, Sender(S), mailbox=None) is Status.NOT_HERE
    assert _decide(put, Sender(S, blocked=True), held=True) is Status.BLOCKED
    assert _decide(put, Sender(S), held=True) is Status.DUPLICATE
    policy = replace(MAILBOX, followed_only=True)
    assert _decide(put, Sender(S), mailbox=policy) is Status.REFUSED
    assert _decide(put, Sender(A, follows=True), mailbox=policy) is Status.STORED
    assert _decide(put, Sender(A, follows=True),
                   mailbox=replace(MAILBOX, wraps=CONFIG.max_wraps)) is Status.FULL
    assert _decide(put, Sender(A, follows=True),
                   mailbox=replace(MAILBOX, size=CONFIG.max_bytes - 10)) is Status.FULL


def test_quotas_per_sender_and_for_all_strangers() -> None:
    stamped = _put(stamped=True)
    assert _decide(stamped, Sender(S, sent_today=4)) is Status.STORED
    assert _decide(stamped, Sender(S, sent_today=5)) is Status.QUOTA
    assert _decide(stamped, Sender(S), mailbox=replace(MAILBOX, strangers_today=50)) \
        is Status.QUOTA
    assert _decide(stamped, Sender(A, follows=True, sent_today=499),
                   mailbox=replace(MAILBOX, strangers_today=50)) is Status.STORED
    assert _decide(stamped, Sender(A, follows=True, sent_today=500)) is Status.QUOTA
    # over quota is answered before any stamp is asked for
    decision = decide_put(_put(), check_wrap(_put()), mailbox=MAILBOX,
                          sender=Sender(S, sent_today=5), held=False, now_ms=NOW,
                          config=CONFIG)
    assert decision.answer.extra == retry_after_s(NOW)


def test_retry_after_counts_to_the_next_utc_day() -> None:
    midnight = day_of(NOW) * DAY_MS + DAY_MS
    assert retry_after_s(midnight - 1000) == 1
    assert retry_after_s(midnight - 1) == 1
    assert retry_after_s(midnight) == 86_400


@pytest.mark.parametrize(("requester", "status"), [(B, Status.OK), (P, Status.OK),
                                                   (S, Status.FORBIDDEN), (A, Status.FORBIDDEN)])
def test_d6_only_current_devices_fetch(requester: bytes, status: Status) -> None:
    assert decide_access(requester, B, MAILBOX) is status
    assert decide_access(requester, A, MAILBOX) is Status.NOT_HERE
    assert decide_access(requester, B, None) is Status.NOT_HERE


def test_a_rotated_away_account_key_is_no_longer_a_device() -> None:
    rotated = Mailbox(account=B, devices=frozenset({P}))
    assert decide_access(B, B, rotated) is Status.FORBIDDEN


def test_expiry_after_every_device_acked_or_retention() -> None:
    hour = hour_of(NOW)
    wraps = [(1, hour), (2, hour), (3, hour + HOUR_MS)]
    devices = {B, P}
    assert plan_expiry(wraps, {B: 3}, devices, now_ms=NOW) == []
    assert plan_expiry(wraps, {B: 3, P: 1}, devices, now_ms=NOW) == [1]
    assert plan_expiry(wraps, {B: 3, P: 3}, devices, now_ms=NOW) == [1, 2, 3]
    assert plan_expiry(wraps, {}, devices, now_ms=hour + 1000, retention_ms=1000) == [1, 2]
    assert hour_of(NOW) % HOUR_MS == 0 and hour_of(NOW) <= NOW < hour_of(NOW) + HOUR_MS


def test_day_counters_forget_at_the_day_and_hide_the_sender() -> None:
    counters = DayCounters(day=day_of(NOW), salt=b"s" * 16)
    counters.stored(B, S, known=False)
    counters.stored(B, S, known=False)
    counters.stored(B, A, known=True)
    assert counters.sent_today(B, S) == 2 and counters.sent_today(B, A) == 1
    assert counters.strangers_today(B) == 2
    assert all(S not in key and A not in key for key in counters._per_sender)
    counters.roll(NOW + 1000, b"t" * 16)
    assert counters.sent_today(B, S) == 2
    counters.roll(NOW + DAY_MS, b"t" * 16)
    assert (counters.sent_today(B, S), counters.strangers_today(B)) == (0, 0)


@given(st.binary(max_size=300), st.booleans(), st.booleans(), st.integers(0, 600))
def test_any_put_gets_an_answer_never_an_exception(data: bytes, follows: bool, held: bool,
                                                   sent: int) -> None:
    put = Put(data)
    decision = decide_put(put, check_wrap(put), mailbox=MAILBOX,
                          sender=Sender(S, follows=follows, sent_today=sent), held=held,
                          now_ms=NOW, config=CONFIG)
    assert decision.answer.status is Status.BAD  # random bytes are no wrap
