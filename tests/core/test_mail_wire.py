"""The mail protocol's messages (docs/protocol.md §Private messages, M15)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.encoding import encode
from p2psocial.core.errors import MailError
from p2psocial.core.limits import MAX_MAIL_REQUEST_BYTES, MAX_WRAP_BYTES
from p2psocial.core.mail.wire import (
    Answer,
    MailboxRequest,
    Op,
    Put,
    Stamp,
    Status,
    encode_answer,
    encode_request,
    parse_answer,
    parse_request,
)

ACCOUNT = bytes(range(32))


@pytest.mark.parametrize("request_", [
    Put(b"wrap"),
    Put(b"\x01" * MAX_WRAP_BYTES, Stamp(bytes(8), 2**32 - 1)),
    MailboxRequest(Op.FETCH, ACCOUNT, 0),
    MailboxRequest(Op.ACK, ACCOUNT, 2**53 - 1),
    MailboxRequest(Op.NOTIFY, ACCOUNT, 7),
    MailboxRequest(Op.POLICY, ACCOUNT, 1),
])
def test_requests_round_trip(request_: Put | MailboxRequest) -> None:
    raw = encode_request(request_)
    assert len(raw) <= MAX_MAIL_REQUEST_BYTES
    assert parse_request(raw) == request_


@pytest.mark.parametrize("answer", [
    Answer(Status.STORED), Answer(Status.POW, 20), Answer(Status.QUOTA, 3600),
    Answer(Status.OK), Answer(Status.OK, items=((1, b"w1"), (3, b"w3")), more=True),
    *(Answer(s) for s in Status if s not in (Status.POW, Status.QUOTA)),
])
def test_answers_round_trip(answer: Answer) -> None:
    assert parse_answer(encode_answer(answer)) == answer


def test_byte_exact_examples() -> None:
    assert encode_answer(Answer(Status.STORED)).hex() == "a1006673746f726564"
    assert encode_answer(Answer(Status.POW, 20)).hex() == "a20063706f770114"
    fetch = encode_request(MailboxRequest(Op.FETCH, ACCOUNT, 0))
    assert fetch.hex() == "a400010101025820" + ACCOUNT.hex() + "0300"


def test_unknown_keys_are_ignored() -> None:
    raw = encode({0: 1, 1: 1, 2: ACCOUNT, 3: 5, 9: "later"})
    assert parse_request(raw) == MailboxRequest(Op.FETCH, ACCOUNT, 5)
    assert parse_answer(encode({0: "ok", 7: [1]})) == Answer(Status.OK)


@pytest.mark.parametrize("fields", [
    {0: 2, 1: 0, 2: b"w"}, {0: 1, 1: 5, 2: ACCOUNT, 3: 0}, {0: 1, 1: 1, 2: ACCOUNT},
    {0: 1, 1: 1, 2: ACCOUNT[:31], 3: 0}, {0: 1, 1: 4, 2: ACCOUNT, 3: 2},
    {0: 1, 1: 0, 2: b"w", 3: bytes(7), 4: 1}, {0: 1, 1: 0, 2: b"w", 3: bytes(8)},
    {0: 1, 1: 0, 2: "w"}, {0: True, 1: 0, 2: b"w"}, {0: 1, 1: 0, 2: b"w" * (MAX_WRAP_BYTES + 1)},
])
def test_bad_requests_are_m15(fields: dict[Any, Any]) -> None:
    with pytest.raises(MailError) as caught:
        parse_request(encode(fields))
    assert caught.value.rule == "M15"


@pytest.mark.parametrize("fields", [
    {0: "maybe"}, {0: "pow"}, {0: "quota", 1: -1}, {0: "ok", 2: [[0, b"w"]], 3: 0},
    {0: "ok", 2: [[2, b"w"], [1, b"v"]], 3: 0}, {0: "ok", 2: [[1, b"w"]]},
    {0: "ok", 2: [[n + 1, b"w"] for n in range(17)], 3: 0},
])
def test_bad_answers_are_m15(fields: dict[Any, Any]) -> None:
    with pytest.raises(MailError) as caught:
        parse_answer(encode(fields))
    assert caught.value.rule == "M15"


def test_non_canonical_or_oversized_is_m15() -> None:
    raw = encode_request(MailboxRequest(Op.FETCH, ACCOUNT, 0))
    for bad in (raw + b"\x00", b"\xbf" + raw[1:] + b"\xff", bytes(MAX_MAIL_REQUEST_BYTES + 1)):
        with pytest.raises(MailError):
            parse_request(bad)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_mail_error(data: bytes) -> None:
    for parse in (parse_request, parse_answer):
        with contextlib.suppress(MailError):
            parse(data)


_VALUES = st.one_of(st.integers(-2, 2**64 - 1), st.binary(max_size=40), st.text(max_size=5),
                    st.none(), st.booleans(),
                    st.lists(st.lists(st.one_of(st.integers(-1, 5), st.binary(max_size=3)),
                                      max_size=3), max_size=3))


@given(st.dictionaries(st.integers(0, 5), _VALUES))
def test_any_map_parses_or_raises_mail_error(fields: dict[int, Any]) -> None:
    for parse in (parse_request, parse_answer):
        with contextlib.suppress(MailError):
            parse(encode(fields))
