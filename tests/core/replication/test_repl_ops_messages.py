"""OPS (type 8, spec O1): its wire form, its limits (1-64 ops of at most 1,024 bytes, a
32-byte account; anything else is malformed), and frames cut to fit the peer's max_frame."""

from __future__ import annotations

import itertools
from typing import Any

import cbor2
import pytest

from p2psocial.core.errors import ProtocolError
from p2psocial.core.replication import Code, decode_message, encode_message
from p2psocial.core.replication.account_ops import ops_frames
from p2psocial.core.replication.framing import MIN_FRAME, FrameDecoder
from p2psocial.core.replication.messages import (
    MAX_OP_BYTES,
    MAX_OPS,
    SYNC_1_0_TYPES,
    Ops,
    check_message,
)

ACCOUNT, OTHER = b"\xa1" * 32, b"\xb2" * 32


def cbor(value: Any) -> bytes:
    return bytes(cbor2.dumps(value))


@pytest.mark.parametrize("msg", [
    Ops(ACCOUNT, (b"op",)),
    Ops(ACCOUNT, tuple(bytes([i]) * MAX_OP_BYTES for i in range(MAX_OPS))),
    Ops(OTHER, (b"", b"\x00" * 24)),
])
def test_ops_round_trip(msg: Ops) -> None:
    assert decode_message(encode_message(msg)) == msg
    check_message(msg)


def test_wire_form_is_the_documented_array() -> None:
    assert cbor2.loads(encode_message(Ops(ACCOUNT, (b"a", b"b")))) == [8, ACCOUNT, [b"a", b"b"]]


BAD: dict[str, bytes] = {
    "no ops": cbor([8, ACCOUNT, []]),
    "too many ops": cbor([8, ACCOUNT, [b"x"] * (MAX_OPS + 1)]),
    "op too long": cbor([8, ACCOUNT, [bytes(MAX_OP_BYTES + 1)]]),
    "op is text": cbor([8, ACCOUNT, ["op"]]),
    "op is null": cbor([8, ACCOUNT, [None]]),
    "ops not an array": cbor([8, ACCOUNT, b"op"]),
    "account short": cbor([8, ACCOUNT[:31], [b"op"]]),
    "account long": cbor([8, ACCOUNT + b"\x00", [b"op"]]),
    "account text": cbor([8, "a" * 32, [b"op"]]),
    "two items": cbor([8, ACCOUNT]),
    "four items": cbor([8, ACCOUNT, [b"op"], 1]),
}


@pytest.mark.parametrize("data", BAD.values(), ids=BAD.keys())
def test_malformed_ops_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(data)
    assert info.value.code == Code.MALFORMED


def test_check_message_catches_our_own_mistakes() -> None:
    with pytest.raises(ProtocolError):
        check_message(Ops(ACCOUNT, ()))
    with pytest.raises(ProtocolError):
        check_message(Ops(ACCOUNT, (bytes(MAX_OP_BYTES + 1),)))


def test_the_new_codes_are_the_spec_names() -> None:
    assert (Code.INVALID_OP, Code.WRONG_ACCOUNT) == ("invalid-op", "wrong-account")


def test_types_above_8_are_unknown_to_a_1_0_session() -> None:
    assert decode_message(cbor([9, ACCOUNT, [b"op"]]), known=SYNC_1_0_TYPES) is None
    assert decode_message(cbor([10]), known=SYNC_1_0_TYPES) is None
    assert decode_message(cbor([11, ACCOUNT, [b"op"]])) is None
    assert decode_message(cbor([8, ACCOUNT, [b"op"]])) == Ops(ACCOUNT, (b"op",))


@pytest.mark.parametrize("max_frame", [MIN_FRAME, 16_384, 4_000])
@pytest.mark.parametrize("count,size", [(1, 1), (64, 1024), (65, 1024), (200, 300),
                                        (130, 10)])
def test_ops_frames_fit_the_limits_and_keep_the_order(max_frame: int, count: int,
                                                      size: int) -> None:
    ops = [i.to_bytes(2, "big") * (size // 2) or b"x" for i in range(count)]
    frames = ops_frames(ACCOUNT, ops, max_frame)
    decoder = FrameDecoder(1 << 20)
    decoder.receive(b"".join(frames))
    chunks: list[tuple[bytes, ...]] = []
    while (body := decoder.next_frame()) is not None:
        assert len(body) <= max_frame
        msg = decode_message(body)
        assert isinstance(msg, Ops) and msg.account == ACCOUNT and 1 <= len(msg.ops) <= MAX_OPS
        chunks.append(msg.ops)
    assert [op for chunk in chunks for op in chunk] == ops
    for chunk, following in itertools.pairwise(chunks):  # no frame cut too soon
        fuller = encode_message(Ops(ACCOUNT, (*chunk, following[0])))
        assert len(chunk) == MAX_OPS or len(fuller) > max_frame
