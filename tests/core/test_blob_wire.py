"""core.blobs: manifests fed in any pieces, answers read however the stream cuts them, and
every way an answer can break B4/B5."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core import limits
from p2psocial.core.blobs import (
    Busy,
    ChunkReceiver,
    HeadReader,
    ManifestBuilder,
    NotHere,
    Ok,
    check_manifest,
    chunk_count,
    encode_head,
    manifest_of,
)
from p2psocial.core.errors import BlobError

CHUNK = limits.BLOB_CHUNK_BYTES
DATA = bytes((i * 7) % 256 for i in range(3 * CHUNK + 17))
WHOLE = manifest_of(DATA)


def _cuts(data: bytes, sizes: list[int]) -> list[bytes]:
    out, at = [], 0
    for size in sizes:
        out.append(data[at:at + size])
        at += size
    out.append(data[at:])
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2 * CHUNK), max_size=8))
def test_manifest_does_not_depend_on_how_bytes_are_fed(sizes: list[int]) -> None:
    builder = ManifestBuilder()
    for piece in _cuts(DATA, sizes):
        builder.update(piece)
    assert builder.finish() == WHOLE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3 * CHUNK), max_size=10), st.integers(0, 3))
def test_an_answer_is_read_the_same_however_it_is_cut(sizes: list[int], first: int) -> None:
    answer = encode_head(Ok(WHOLE.size, WHOLE.hashes)) + DATA[first * CHUNK:]
    reader, receiver, got = HeadReader(), None, []
    for piece in _cuts(answer, sizes):
        if receiver is None:
            parsed = reader.feed(piece)
            if parsed is None:
                continue
            head, rest = parsed
            assert isinstance(head, Ok)
            receiver = ChunkReceiver(check_manifest(WHOLE.id, head.size, head.manifest), first)
            got.extend(receiver.feed(rest))
            continue
        got.extend(receiver.feed(piece))
    assert receiver is not None and receiver.done
    assert [i for i, _ in got] == list(range(first, WHOLE.chunks))
    assert b"".join(c for _, c in got) == DATA[first * CHUNK:]


def test_sizes_at_the_edges() -> None:
    assert chunk_count(1) == 1 and chunk_count(CHUNK) == 1 and chunk_count(CHUNK + 1) == 2
    assert manifest_of(b"x" * limits.MAX_BLOB_BYTES).chunks == 80
    with pytest.raises(BlobError, match="B1"):
        manifest_of(b"")
    with pytest.raises(BlobError, match="B1"):
        manifest_of(b"x" * (limits.MAX_BLOB_BYTES + 1))


def test_bytes_past_the_last_chunk_are_refused_after_the_good_ones() -> None:
    receiver = ChunkReceiver(WHOLE, WHOLE.chunks - 1)
    got = []
    with pytest.raises(BlobError, match="B5"):
        for item in receiver.feed(DATA[(WHOLE.chunks - 1) * CHUNK:] + b"!"):
            got.append(item)
    assert [i for i, _ in got] == [WHOLE.chunks - 1]


def test_a_manifest_for_another_blob_is_refused() -> None:
    other = manifest_of(DATA[:-1])
    with pytest.raises(BlobError, match="B5"):
        check_manifest(WHOLE.id, other.size, other.hashes)


@pytest.mark.parametrize("raw", [
    b"\x80\x00",  # overlong varint
    b"\x81\x80",  # a third length byte
    b"\xa1\x20",  # 4,129 bytes: over MAX_BLOB_HEAD_BYTES
    b"\x00",  # empty head
    b"\x02\x81\x07",  # status 7
    b"\x03\x82\x02\x00",  # busy 0 s
    b"\x04\x83\x01\x01\x01",  # not-here with extra items
    b"\x02\xff\xff",  # not CBOR
])
def test_broken_heads_are_refused(raw: bytes) -> None:
    with pytest.raises(BlobError, match="B4"):
        HeadReader().feed(raw)


def test_heads_byte_by_byte() -> None:
    for head in (Ok(WHOLE.size, WHOLE.hashes), NotHere(), Busy(3600)):
        reader, result = HeadReader(), None
        raw = encode_head(head) + b"rest"
        for i in range(len(raw)):
            result = reader.feed(raw[i:i + 1])
            if result is not None:
                assert result == (head, b"")
                assert i == len(raw) - 5
                break
        assert result is not None


def test_a_cut_head_is_an_error_at_the_end() -> None:
    reader = HeadReader()
    assert reader.feed(encode_head(NotHere())[:2]) is None
    with pytest.raises(BlobError, match="B4"):
        reader.at_end()
