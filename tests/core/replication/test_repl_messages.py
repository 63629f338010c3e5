"""Messages: every type round-trips; anything malformed is a ProtocolError and nothing else;
unknown types decode to None."""

from __future__ import annotations

import datetime
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from repl_strategies import cbor_values, messages

from p2psocial.core.errors import ProtocolError
from p2psocial.core.replication import Code, decode_message, encode_message
from p2psocial.core.replication.messages import (
    MAX_ENTRIES,
    MAX_NOTES,
    MAX_UINT,
    Bye,
    Entries,
    Error,
    Have,
    HaveNote,
    Hello,
    Message,
    Synced,
    Unwant,
    Want,
    WantNote,
    check_message,
)

F1, F2 = b"\x01" * 32, b"\x02" * 32

EXAMPLES: list[Message] = [
    Hello(1, "p2psocial/0.1", 1 << 20),
    Hello(7, "", 0),
    Want(()),
    Want((WantNote(F1, 0, 0, 0), WantNote(F2, 3, 9, 50))),
    Want(tuple(WantNote(bytes([i % 256, i // 256]) * 16, 1, MAX_UINT, MAX_UINT)
               for i in range(MAX_NOTES))),
    Have((HaveNote(F1, 1, 1), HaveNote(F2, 0, 0))),
    Entries(F1, ((b"header", b"payload"), (b"h2", None), (b"", b""))),
    Entries(F2, tuple((bytes(512), bytes(16384)) for _ in range(3))),
    Unwant((F1, F2)),
    Unwant(()),
    Synced(0),
    Synced(MAX_UINT),
    Bye("done"),
    Bye("é" * 256),
    Error("frame-too-large", "detail"),
]


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Message) -> None:
    assert decode_message(encode_message(msg)) == msg
    check_message(msg)


def test_wire_form_is_the_documented_array() -> None:
    assert cbor2.loads(encode_message(Want((WantNote(F1, 3, 9, 50),)))) == [1, [[F1, 3, 9, 50]]]
    assert cbor2.loads(encode_message(Entries(F1, ((b"h", None),)))) == [3, F1, [[b"h", None]]]
    assert encode_message(Synced(2)) == b"\x82\x05\x02"


def cbor(value: Any) -> bytes:
    return bytes(cbor2.dumps(value))


BAD: dict[str, bytes] = {
    "empty": b"",
    "not cbor": b"\xff\xff",
    "truncated": cbor([0, 1, "agent", 65536])[:-1],
    "trailing bytes": cbor([5, 1]) + b"\x00",
    "not an array": cbor({"type": 0}),
    "empty array": cbor([]),
    "type is text": cbor(["0"]),
    "type is bool": cbor([True, 1]),
    "type is negative": cbor([-1]),
    "hello short": cbor([0, 1, "agent"]),
    "hello long": cbor([0, 1, "agent", 65536, "extra"]),
    "hello version text": cbor([0, "1", "agent", 65536]),
    "hello agent bytes": cbor([0, 1, b"agent", 65536]),
    "hello agent too long": cbor([0, 1, "a" * 257, 65536]),
    "hello max_frame float": cbor([0, 1, "a", 65536.0]),
    "hello max_frame bool": cbor([0, 1, "a", True]),
    "want notes not array": cbor([1, {F1: 1}]),
    "want feed short": cbor([1, [[F1[:31], 0, 0, 0]]]),
    "want feed text": cbor([1, [["x" * 32, 0, 0, 0]]]),
    "want note short": cbor([1, [[F1, 0, 0]]]),
    "want lo above hi": cbor([1, [[F1, 5, 4, 0]]]),
    "want lo zero hi not": cbor([1, [[F1, 0, 4, 0]]]),
    "want hi zero lo not": cbor([1, [[F1, 4, 0, 0]]]),
    "want uint too large": cbor([1, [[F1, 1, MAX_UINT + 1, 0]]]),
    "want depth negative": cbor([1, [[F1, 0, 0, -1]]]),
    "want too many notes": cbor([1, [[bytes([i % 256, i // 256]) * 16, 0, 0, 0]
                                     for i in range(MAX_NOTES + 1)]]),
    "want feed twice": cbor([1, [[F1, 0, 0, 0], [F1, 1, 2, 0]]]),
    "have note long": cbor([2, [[F1, 0, 0, 0]]]),
    "have feed twice": cbor([2, [[F1, 0, 0], [F1, 0, 0]]]),
    "entries none": cbor([3, F1, []]),
    "entries too many": cbor([3, F1, [[b"h", None]] * (MAX_ENTRIES + 1)]),
    "entries item short": cbor([3, F1, [[b"h"]]]),
    "entries header text": cbor([3, F1, [["h", None]]]),
    "entries header too long": cbor([3, F1, [[bytes(513), None]]]),
    "entries payload too long": cbor([3, F1, [[b"h", bytes(16385)]]]),
    "entries payload false": cbor([3, F1, [[b"h", False]]]),
    "entries feed null": cbor([3, None, [[b"h", None]]]),
    "unwant feed short": cbor([4, [b"x"]]),
    "unwant feed twice": cbor([4, [F1, F1]]),
    "synced text": cbor([5, "1"]),
    "bye null": cbor([6, None]),
    "error short": cbor([7, "code"]),
    "tagged datetime": cbor([6, datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)]),
    "bignum": cbor([5, 2**70]),
    "float type": cbor([1.0, []]),
    "invalid utf-8": b"\x82\x06\x62\xff\xfe",
    "deep nesting": b"\x82\x06" + b"\x81" * 10000,
    "huge declared length": b"\x82\x06\x7b" + b"\xff" * 8,
}


@pytest.mark.parametrize("data", BAD.values(), ids=BAD.keys())
def test_malformed_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(data)
    assert info.value.code == Code.MALFORMED


@pytest.mark.parametrize("data", [cbor([11]), cbor([11, "anything", {"x": [1.5]}]),
                                  cbor([2**60, None]), cbor([MAX_UINT + 7])])
def test_unknown_types_decode_to_none(data: bytes) -> None:
    assert decode_message(data) is None


def test_check_message_catches_our_own_mistakes() -> None:
    with pytest.raises(ProtocolError):
        check_message(Want((WantNote(b"short", 0, 0, 0),)))
    with pytest.raises(ProtocolError):
        check_message(Bye("x" * 300))
    with pytest.raises(ProtocolError):
        check_message(Unwant([F1]))  # type: ignore[arg-type]  # a list is not the tuple sent


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_every_message_round_trips(msg: Message) -> None:
    assert decode_message(encode_message(msg)) == msg


@settings(max_examples=500)
@given(st.integers(0, 9), st.lists(cbor_values, max_size=4))
def test_structured_junk_is_a_message_none_or_protocol_error(kind: int, items: list[Any]
                                                             ) -> None:
    try:
        decode_message(cbor([kind, *items]))
    except ProtocolError as exc:
        assert exc.code == Code.MALFORMED


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_any_bytes_are_a_message_none_or_protocol_error(data: bytes) -> None:
    try:
        decode_message(data)
    except ProtocolError as exc:
        assert exc.code == Code.MALFORMED


@settings(max_examples=300)
@given(st.sampled_from(EXAMPLES), st.data())
def test_mutated_messages_are_a_message_none_or_protocol_error(msg: Message,
                                                               data: st.DataObject) -> None:
    encoded = bytearray(encode_message(msg))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    try:
        decode_message(bytes(encoded[:cut]))
    except ProtocolError as exc:
        assert exc.code == Code.MALFORMED
