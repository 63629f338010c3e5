"""Frames: LEB128 length + payload, decoded the same whole or a byte at a time; bad lengths
are refused as soon as the prefix is complete."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core.errors import ProtocolError
from p2psocial.core.replication import MAX_FRAME, MIN_FRAME, Code, FrameDecoder, encode_frame

SIZES = [0, 1, 127, 128, 300, 16383, 16384, 65536, MAX_FRAME]


def frames_of(chunks: list[bytes], max_frame: int = MAX_FRAME) -> list[bytes]:
    decoder = FrameDecoder(max_frame)
    return [frame for chunk in chunks for frame in decoder.feed(chunk)]


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_whole(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert frames_of([encode_frame(payload)]) == [payload]


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 16384])
def test_round_trip_byte_by_byte(size: int) -> None:
    payload = b"\x07" * size
    assert frames_of(one_byte_at_a_time(encode_frame(payload) * 2)) == [payload, payload]


@pytest.mark.parametrize(("size", "prefix"), [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
    (16384, b"\x80\x80\x01"), (MAX_FRAME, b"\x80\x80\x40"),
])
def test_prefix_is_unsigned_leb128(size: int, prefix: bytes) -> None:
    assert encode_frame(bytes(size))[:len(prefix)] == prefix
    assert len(encode_frame(bytes(size))) == size + len(prefix)


def test_several_frames_in_one_chunk_and_a_partial_one() -> None:
    data = encode_frame(b"a") + encode_frame(b"bc") + encode_frame(b"def")
    decoder = FrameDecoder()
    assert list(decoder.feed(data[:-2])) == [b"a", b"bc"]
    assert decoder.buffered == len(encode_frame(b"def")) - 2
    assert list(decoder.feed(data[-2:])) == [b"def"]
    assert decoder.buffered == 0


def test_encoder_refuses_what_no_one_may_send() -> None:
    with pytest.raises(ValueError, match="MAX_FRAME"):
        encode_frame(bytes(MAX_FRAME + 1))


def test_length_above_max_frame_is_refused_before_the_body_arrives() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError) as info:
        list(decoder.feed(b"\x81\x80\x40"))  # MAX_FRAME + 1, and no body yet
    assert info.value.code == Code.FRAME_TOO_LARGE
    assert decoder.buffered == 3


def test_announced_max_frame_is_the_limit() -> None:
    decoder = FrameDecoder(MIN_FRAME)
    assert list(decoder.feed(encode_frame(bytes(MIN_FRAME)))) == [bytes(MIN_FRAME)]
    with pytest.raises(ProtocolError) as info:
        list(decoder.feed(encode_frame(bytes(MIN_FRAME + 1))[:3]))
    assert info.value.code == Code.FRAME_TOO_LARGE


def test_too_large_is_found_byte_by_byte_too() -> None:
    decoder = FrameDecoder()
    decoder.receive(b"\xff")
    assert decoder.next_frame() is None
    decoder.receive(b"\xff")
    assert decoder.next_frame() is None
    decoder.receive(b"\x7f")
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.next_frame()


@pytest.mark.parametrize("prefix", [
    b"\x80\x00",              # 0 in two bytes
    b"\x85\x00",              # 5 in two bytes
    b"\x80\x80\x00",          # 0 in three bytes
    b"\x80\x80\x80\x00",      # 0 in four bytes
    b"\x80\x80\x80\x80\x00",  # five bytes
    b"\xff\xff\xff\xff\x01",  # five bytes
])
def test_overlong_or_long_prefixes_are_malformed(prefix: bytes) -> None:
    for chunks in ([prefix], one_byte_at_a_time(prefix)):
        decoder = FrameDecoder()
        with pytest.raises(ProtocolError) as info:
            for chunk in chunks:
                list(decoder.feed(chunk))
        assert info.value.code == Code.BAD_FRAME


def test_a_broken_decoder_stays_broken() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        list(decoder.feed(b"\x80\x00"))
    with pytest.raises(ProtocolError):
        decoder.next_frame()


def test_decoder_refuses_an_impossible_max_frame() -> None:
    with pytest.raises(ValueError, match="max_frame"):
        FrameDecoder(MAX_FRAME + 1)
    with pytest.raises(ValueError, match="max_frame"):
        FrameDecoder(MIN_FRAME - 1)


@settings(max_examples=200)
@given(payloads=st.lists(st.binary(max_size=600), max_size=8), data=st.data())
def test_any_split_gives_the_same_frames(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert frames_of(chunks) == payloads


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_any_bytes_give_frames_or_protocol_error(data: bytes) -> None:
    for chunks in ([data], one_byte_at_a_time(data)):
        decoder = FrameDecoder(MIN_FRAME)
        try:
            for chunk in chunks:
                for frame in decoder.feed(chunk):
                    assert len(frame) <= MIN_FRAME
        except ProtocolError as exc:
            assert exc.code in (Code.BAD_FRAME, Code.FRAME_TOO_LARGE)
