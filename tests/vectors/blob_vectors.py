"""The `blobs` section of docs/test-vectors.json (docs/protocol.md §Blobs), built from the
reference (p2psocial/core/blobs.py); imported by tests/vectors/generate.py.

Blob bytes are made by a rule, not stored: byte i of a blob is i mod 251.
"""

from __future__ import annotations

from typing import Any

from p2psocial.core import limits
from p2psocial.core.blobs import (
    BLOB_CONTEXT,
    BLOB_PROTOCOL,
    BlobRequest,
    Busy,
    NotHere,
    Ok,
    encode_head,
    encode_request,
    manifest_of,
)
from p2psocial.core.content import Attachment
from p2psocial.core.encoding import encode

SIZES = {"one-byte": 1, "one-chunk": limits.BLOB_CHUNK_BYTES,
         "three-chunks": 2 * limits.BLOB_CHUNK_BYTES + 1000}


def pattern(size: int) -> bytes:
    """The bytes of a vector blob of `size` bytes."""
    return bytes(i % 251 for i in range(size))


def attachments() -> tuple[Attachment, ...]:
    """carol's picture and file in the `post-with-attachments` entry vector."""
    picture = manifest_of(pattern(SIZES["three-chunks"]))
    file = manifest_of(pattern(SIZES["one-byte"]))
    return (Attachment(picture.id, picture.size, "image/jpeg", alt="The river at dusk, "
                       "gold light on the water."),
            Attachment(file.id, file.size, "application/octet-stream", name="notes.bin"))


def _head(body: list[Any]) -> bytes:
    data = encode(body)
    return bytes([len(data)]) + data if len(data) < 128 else \
        bytes([len(data) & 0x7F | 0x80, len(data) >> 7]) + data


def build() -> dict[str, Any]:
    blobs = []
    for name, size in SIZES.items():
        m = manifest_of(pattern(size))
        blobs.append({"name": name, "pattern": "byte i is i mod 251", "size": size,
                      "chunks": m.chunks, "manifest": m.hashes.hex(), "id": m.id.hex()})
    three = manifest_of(pattern(SIZES["three-chunks"]))
    request = encode_request(BlobRequest(three.id, 1, three.size))
    ok = encode_head(Ok(three.size, three.hashes))
    short = _head([0, three.size, three.hashes[:-32]])
    too_big = _head([0, limits.MAX_BLOB_BYTES + 1, three.hashes])
    return {
        "protocol": BLOB_PROTOCOL,
        "context": BLOB_CONTEXT.hex(),
        "chunk_bytes": limits.BLOB_CHUNK_BYTES,
        "max_blob_bytes": limits.MAX_BLOB_BYTES,
        "blobs": blobs,
        "frames": {
            "request": {"id": three.id.hex(), "first": 1, "size": three.size,
                        "bytes": request.hex()},
            "ok_head": ok.hex(),
            "not_here_head": encode_head(NotHere()).hex(),
            "busy_head": {"retry_after": 5, "bytes": encode_head(Busy(5)).hex()},
            "ok_answer_from_chunk_1": {"head": ok.hex(), "chunks_after_head": "bytes 65536 "
                                       "to the end of three-chunks"},
        },
        "invalid": [
            {"name": "manifest-one-hash-short", "rule": "B5", "request": request.hex(),
             "head": short.hex(), "description": "The manifest lacks the last chunk's hash."},
            {"name": "size-over-limit", "rule": "B1", "request": request.hex(),
             "head": too_big.hex(), "description": "A size of 5 MiB + 1 byte."},
            {"name": "chunk-does-not-match", "rule": "B5", "request": request.hex(),
             "head": ok.hex(), "flip_last_byte_of_chunk": 2,
             "description": "three-chunks from chunk 1 with the last byte of chunk 2 flipped: "
                            "chunk 1 is kept, chunk 2 is refused."},
            {"name": "other-size-than-asked", "rule": "B5",
             "request": encode_request(BlobRequest(three.id, 0, three.size - 1)).hex(),
             "head": ok.hex(), "description": "The client asked for the size the attachment "
                                              "names, one byte less than the blob's."},
        ],
        "bad_requests": [
            {"name": "version-2", "bytes": encode([2, three.id, 0, 0]).hex()},
            {"name": "id-31-bytes", "bytes": encode([1, three.id[:31], 0, 0]).hex()},
            {"name": "five-items", "bytes": encode([1, three.id, 0, 0, 0]).hex()},
            {"name": "first-negative", "bytes": encode([1, three.id, -1, 0]).hex()},
        ],
    }
