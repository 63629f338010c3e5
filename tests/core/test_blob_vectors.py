"""The `blobs` vectors of docs/test-vectors.json, checked against the core
(docs/protocol.md §Blobs), and the spec's table of blob messages.

The file being what tests/vectors/generate.py writes is checked by test_vectors.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from p2psocial.core import blobs, limits
from p2psocial.core.blobs import (
    BlobRequest,
    ChunkReceiver,
    HeadReader,
    Ok,
    check_manifest,
    manifest_of,
    parse_request,
)
from p2psocial.core.content import Post, parse_content
from p2psocial.core.encoding import digest
from p2psocial.core.entry import decode_entry
from p2psocial.core.errors import BlobError

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((ROOT / "docs" / "test-vectors.json").read_text("utf-8"))
BLOBS: dict[str, Any] = VECTORS["blobs"]
SPEC = (ROOT / "docs" / "protocol.md").read_text("utf-8")
CHUNK = limits.BLOB_CHUNK_BYTES


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def _by_name(name: str) -> dict[str, Any]:
    return next(b for b in BLOBS["blobs"] if b["name"] == name)


def test_constants() -> None:
    assert BLOBS["protocol"] == blobs.BLOB_PROTOCOL == "/p2psocial/blob/1.0.0"
    assert bytes.fromhex(BLOBS["context"]) == blobs.BLOB_CONTEXT == b"p2psocial-blob-v1"
    assert BLOBS["chunk_bytes"] == CHUNK == 65536
    assert BLOBS["max_blob_bytes"] == limits.MAX_BLOB_BYTES == 5 * 1024 * 1024


@pytest.mark.parametrize("vec", BLOBS["blobs"], ids=[b["name"] for b in BLOBS["blobs"]])
def test_blob_id(vec: dict[str, Any]) -> None:
    data = pattern(vec["size"])
    manifest = bytes.fromhex(vec["manifest"])
    # B1 by hand: BLAKE2b-256 per chunk, then over context, size and manifest
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    assert len(chunks) == vec["chunks"]
    assert manifest == b"".join(digest(c) for c in chunks)
    expected = digest(b"p2psocial-blob-v1" + vec["size"].to_bytes(8, "big") + manifest)
    assert bytes.fromhex(vec["id"]) == expected
    m = manifest_of(data)
    assert (m.id, m.size, m.hashes) == (expected, vec["size"], manifest)


def test_request_frame() -> None:
    frame = BLOBS["frames"]["request"]
    request = BlobRequest(bytes.fromhex(frame["id"]), frame["first"], frame["size"])
    assert blobs.encode_request(request).hex() == frame["bytes"]
    assert parse_request(bytes.fromhex(frame["bytes"])) == request


@pytest.mark.parametrize("vec", BLOBS["bad_requests"], ids=[b["name"] for b in
                                                            BLOBS["bad_requests"]])
def test_bad_request(vec: dict[str, Any]) -> None:
    with pytest.raises(BlobError) as caught:
        parse_request(bytes.fromhex(vec["bytes"]))
    assert caught.value.rule == "B3"


def test_heads() -> None:
    frames = BLOBS["frames"]
    three = _by_name("three-chunks")
    ok = blobs.encode_head(Ok(three["size"], bytes.fromhex(three["manifest"])))
    assert ok.hex() == frames["ok_head"]
    assert blobs.encode_head(blobs.NotHere()).hex() == frames["not_here_head"]
    assert blobs.encode_head(blobs.Busy(5)).hex() == frames["busy_head"]["bytes"]
    for hexed, head in ((frames["ok_head"], Ok(three["size"], bytes.fromhex(three["manifest"]))),
                        (frames["not_here_head"], blobs.NotHere()),
                        (frames["busy_head"]["bytes"], blobs.Busy(5))):
        parsed = HeadReader().feed(bytes.fromhex(hexed))
        assert parsed == (head, b"")


def test_ok_answer_from_chunk_1_is_taken() -> None:
    three = _by_name("three-chunks")
    data = pattern(three["size"])
    answer = bytes.fromhex(BLOBS["frames"]["ok_answer_from_chunk_1"]["head"]) + data[CHUNK:]
    parsed = HeadReader().feed(answer)
    assert parsed is not None
    head, rest = parsed
    assert isinstance(head, Ok)
    manifest = check_manifest(bytes.fromhex(three["id"]), head.size, head.manifest,
                              expected_size=three["size"])
    got = list(ChunkReceiver(manifest, 1).feed(rest))
    assert [i for i, _ in got] == [1, 2]
    assert b"".join(c for _, c in got) == data[CHUNK:]


@pytest.mark.parametrize("vec", BLOBS["invalid"], ids=[b["name"] for b in BLOBS["invalid"]])
def test_invalid_answer(vec: dict[str, Any]) -> None:
    three = _by_name("three-chunks")
    request = parse_request(bytes.fromhex(vec["request"]))
    data = pattern(three["size"])
    parsed = HeadReader().feed(bytes.fromhex(vec["head"]))
    assert parsed is not None and isinstance(parsed[0], Ok)
    head = parsed[0]
    flip = vec.get("flip_last_byte_of_chunk")
    with pytest.raises(BlobError) as caught:
        manifest = check_manifest(request.id, head.size, head.manifest,
                                  expected_size=request.size)
        assert flip is not None, "the head alone should have been refused"
        body = bytearray(data[request.first * CHUNK:])
        body[(flip - request.first) * CHUNK + manifest.chunk_length(flip) - 1] ^= 1
        receiver = ChunkReceiver(manifest, request.first)
        kept = []
        try:
            for index, _chunk in receiver.feed(bytes(body)):
                kept.append(index)
        finally:
            assert kept == list(range(request.first, flip))
    assert caught.value.rule == vec["rule"]


def test_post_with_attachments_vector() -> None:
    vec = next(v for v in VECTORS["valid"] if v["name"] == "post-with-attachments")
    entry = decode_entry(bytes.fromhex(vec["header"]), bytes.fromhex(vec["payload"]))
    content = parse_content("post", bytes.fromhex(vec["payload"]))
    assert isinstance(content, Post) and entry.content == content
    picture, file = content.attachments
    three, one = _by_name("three-chunks"), _by_name("one-byte")
    assert (picture.blob.hex(), picture.size, picture.type) == (three["id"], three["size"],
                                                               "image/jpeg")
    assert picture.is_image and picture.alt
    assert (file.blob.hex(), file.size, file.name) == (one["id"], 1, "notes.bin")
    assert not file.is_image


def test_spec_table_matches_the_code() -> None:
    rows = dict(re.findall(r"^\| (request, id[^|]*|head [^|]*) \| `([0-9a-f]+)` \|$", SPEC,
                           re.MULTILINE))
    request = BlobRequest(bytes([0x11]) * 32, 2, 131_073)
    assert rows["request, id `0x11` × 32, first 2, size 131,073"] == \
        blobs.encode_request(request).hex()
    assert rows["head not-here"] == blobs.encode_head(blobs.NotHere()).hex()
    assert rows["head busy, retry_after 5"] == blobs.encode_head(blobs.Busy(5)).hex()
