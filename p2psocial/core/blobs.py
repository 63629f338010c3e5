"""Blobs: ids, manifests, chunk checks and the messages of `/p2psocial/blob/1.0.0`
(docs/protocol.md §Blobs, B1-B6). Pure: no I/O, no event loop.

Rules:
- B1: a blob of `size` bytes (1 to MAX_BLOB_BYTES) is cut into BLOB_CHUNK_BYTES chunks; its
  manifest is the chunks' BLAKE2b-256 hashes back to back; its id is BLAKE2b-256 of
  BLOB_CONTEXT, the size (8 bytes big-endian) and the manifest. `ManifestBuilder` computes
  both from bytes fed in any pieces (a file read in parts).
- B3: a request is the canonical CBOR array [1, id, first, size]; `parse_request` refuses
  anything else (BlobError "B3").
- B4: an answer starts with a head (a varint length, at most 2 bytes, then a CBOR array):
  Ok(size, manifest) followed by the chunks from `first`, NotHere, or Busy(retry_after).
  `HeadReader` takes the answer's first bytes as they come and gives the head and what
  follows it; a head that breaks B4 raises BlobError "B4".
- B5: `check_manifest` checks an ok head against the id (and the size asked for) before any
  chunk is taken; `ChunkReceiver` cuts the bytes after the head into chunks and checks each
  against the manifest as soon as it is whole. A mismatch, or bytes past the last chunk,
  raises BlobError "B5"; the chunks it returned before stay good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import cbor2

from p2psocial.core.encoding import DECODE_ERRORS, encode
from p2psocial.core.errors import BlobError
from p2psocial.core.limits import (
    BLOB_CHUNK_BYTES,
    HASH_BYTES,
    MAX_BLOB_BYTES,
    MAX_BLOB_HEAD_BYTES,
    MAX_BLOB_REQUEST_BYTES,
)

BLOB_PROTOCOL = "/p2psocial/blob/1.0.0"
BLOB_CONTEXT = b"p2psocial-blob-v1"
BLOB_WIRE_VERSION = 1
MAX_RETRY_AFTER_S = 3_600
_OK, _NOT_HERE, _BUSY = 0, 1, 2


def _digest(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=HASH_BYTES).digest()


def chunk_count(size: int) -> int:
    """How many chunks a blob of `size` bytes has (B1)."""
    return -(-size // BLOB_CHUNK_BYTES)


def chunk_length(size: int, index: int) -> int:
    """The length of chunk `index` of a blob of `size` bytes."""
    return min(BLOB_CHUNK_BYTES, size - index * BLOB_CHUNK_BYTES)


def blob_id(size: int, manifest: bytes) -> bytes:
    """The id of a blob of `size` bytes with this manifest (B1)."""
    return _digest(BLOB_CONTEXT + size.to_bytes(8, "big") + manifest)


def check_size(size: int) -> None:
    """Raises BlobError("B1") unless 1 <= size <= MAX_BLOB_BYTES."""
    if not 0 < size <= MAX_BLOB_BYTES:
        raise BlobError("B1", "a blob is 1 byte to 5 MiB", expected=f"1..{MAX_BLOB_BYTES}",
                        found=size)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A blob's id, size and chunk hashes, checked against each other (B1)."""

    id: bytes
    size: int
    hashes: bytes

    @property
    def chunks(self) -> int:
        return len(self.hashes) // HASH_BYTES

    def chunk_hash(self, index: int) -> bytes:
        return self.hashes[index * HASH_BYTES:(index + 1) * HASH_BYTES]

    def chunk_length(self, index: int) -> int:
        return chunk_length(self.size, index)

    def matches(self, index: int, data: bytes | memoryview) -> bool:
        """True if `data` is chunk `index` of this blob."""
        return len(data) == self.chunk_length(index) and _digest(data) == self.chunk_hash(index)


def check_manifest(wanted: bytes, size: int, hashes: bytes, *, expected_size: int = 0
                   ) -> Manifest:
    """The manifest of an ok answer, checked before any chunk is taken (B5).

    Raises:
        BlobError: the size is out of range or not the one asked for, the manifest has the
            wrong length, or the id they give is not `wanted`.
    """
    check_size(size)
    if expected_size and size != expected_size:
        raise BlobError("B5", "the blob's size is not the attachment's",
                        expected=expected_size, found=size)
    if len(hashes) != chunk_count(size) * HASH_BYTES:
        raise BlobError("B5", "the manifest does not have one hash per chunk",
                        expected=chunk_count(size) * HASH_BYTES, found=len(hashes))
    if blob_id(size, hashes) != wanted:
        raise BlobError("B5", "the manifest is not the blob's", expected=wanted,
                        found=blob_id(size, hashes))
    return Manifest(wanted, size, hashes)


class ManifestBuilder:
    """Computes a blob's manifest and id from its bytes, fed in pieces of any size."""

    def __init__(self) -> None:
        self._hashes = bytearray()
        self._pending = bytearray()
        self._size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._size += len(data)
        self._pending += data
        while len(self._pending) >= BLOB_CHUNK_BYTES:
            self._hashes += _digest(memoryview(self._pending)[:BLOB_CHUNK_BYTES])
            del self._pending[:BLOB_CHUNK_BYTES]

    @property
    def size(self) -> int:
        return self._size

    def finish(self) -> Manifest:
        """The manifest of everything fed.

        Raises:
            BlobError: nothing was fed, or more than MAX_BLOB_BYTES (B1).
        """
        check_size(self._size)
        hashes = bytes(self._hashes) + (_digest(bytes(self._pending)) if self._pending else b"")
        return Manifest(blob_id(self._size, hashes), self._size, hashes)


def manifest_of(data: bytes) -> Manifest:
    """The manifest of a whole blob held in memory."""
    builder = ManifestBuilder()
    builder.update(data)
    return builder.finish()


# --- the wire (B3, B4) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobRequest:
    """Send me blob `id` from chunk `first`; `size` is the size I expect (0: unknown)."""

    id: bytes
    first: int = 0
    size: int = 0


def encode_request(request: BlobRequest) -> bytes:
    return encode([BLOB_WIRE_VERSION, request.id, request.first, request.size])


def parse_request(data: bytes) -> BlobRequest:
    """Raises BlobError("B3") for anything but a request of exactly B3's shape."""
    if len(data) > MAX_BLOB_REQUEST_BYTES:
        raise BlobError("B3", "a blob request is too long", expected=MAX_BLOB_REQUEST_BYTES,
                        found=len(data))
    try:
        value = cbor2.loads(data)
    except DECODE_ERRORS as exc:
        raise BlobError("B3", f"a blob request is not CBOR: {exc}") from exc
    if not (type(value) is list and len(value) == 4 and value[0] == BLOB_WIRE_VERSION
            and type(value[0]) is int and type(value[1]) is bytes
            and len(value[1]) == HASH_BYTES and type(value[2]) is int and value[2] >= 0
            and type(value[3]) is int and 0 <= value[3] <= MAX_BLOB_BYTES):
        raise BlobError("B3", "not a blob request", expected="[1, id, first, size]",
                        found=value)
    if encode(value) != data:
        raise BlobError("B3", "a blob request is not canonical CBOR")
    return BlobRequest(value[1], value[2], value[3])


@dataclass(frozen=True, slots=True)
class Ok:
    """I hold the blob: its size and manifest; the chunks follow."""

    size: int
    manifest: bytes


@dataclass(frozen=True, slots=True)
class NotHere:
    """I do not hold the whole blob (or the request names no chunk of it)."""


@dataclass(frozen=True, slots=True)
class Busy:
    """Ask again no sooner than `retry_after` seconds."""

    retry_after: int


Head = Ok | NotHere | Busy


def encode_head(head: Head) -> bytes:
    """A head with its varint length (B4)."""
    match head:
        case Ok(size, manifest):
            body = encode([_OK, size, manifest])
        case NotHere():
            body = encode([_NOT_HERE])
        case Busy(retry_after):
            body = encode([_BUSY, retry_after])
    return _varint(len(body)) + body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _parse_head(body: bytes) -> Head:
    try:
        value = cbor2.loads(body)
    except DECODE_ERRORS as exc:
        raise BlobError("B4", f"a blob answer's head is not CBOR: {exc}") from exc
    if type(value) is list and value and type(value[0]) is int:
        if value[0] == _OK and len(value) == 3 and type(value[1]) is int \
                and type(value[2]) is bytes:
            return Ok(value[1], value[2])
        if value[0] == _NOT_HERE and len(value) == 1:
            return NotHere()
        if value[0] == _BUSY and len(value) == 2 and type(value[1]) is int \
                and 0 < value[1] <= MAX_RETRY_AFTER_S:
            return Busy(value[1])
    raise BlobError("B4", "not a blob answer's head", expected="[0, size, manifest], [1] or "
                    "[2, retry_after]", found=value)


class HeadReader:
    """Reads an answer's head from its first bytes, however they are cut."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> tuple[Head, bytes] | None:
        """The head and the bytes after it once the head is whole, else None (feed more).

        Raises:
            BlobError("B4"): the length is over MAX_BLOB_HEAD_BYTES, not in the fewest bytes,
                or the head is not one of B4's.
        """
        self._buffer += data
        buf = self._buffer
        if not buf:
            return None
        length, used = buf[0] & 0x7F, 1
        if buf[0] & 0x80:
            if len(buf) < 2:
                return None
            if buf[1] & 0x80 or buf[1] == 0:
                raise BlobError("B4", "a blob answer's head length is not a 1-2 byte varint")
            length, used = length | buf[1] << 7, 2
        if not 0 < length <= MAX_BLOB_HEAD_BYTES:
            raise BlobError("B4", "a blob answer's head is too long",
                            expected=MAX_BLOB_HEAD_BYTES, found=length)
        if len(buf) < used + length:
            return None
        return _parse_head(buf[used:used + length]), buf[used + length:]

    def at_end(self) -> None:
        """The stream ended: raises BlobError("B4") if a head was cut (or never came)."""
        raise BlobError("B4", "the answer ended before its head was whole",
                        found=len(self._buffer))


class ChunkReceiver:
    """Cuts the bytes after an ok head into chunks and checks each one (B5)."""

    def __init__(self, manifest: Manifest, first: int) -> None:
        if not 0 <= first < manifest.chunks:
            raise ValueError(f"chunk {first} is not one of {manifest.chunks}")
        self.manifest = manifest
        self.next = first  # the index of the chunk being received
        self._buffer = bytearray()

    @property
    def done(self) -> bool:
        return self.next >= self.manifest.chunks

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """The chunks that `data` completes, each checked, in order.

        Raises:
            BlobError("B5"): a chunk does not match its hash, or bytes come past the last
                chunk. Chunks yielded before the error are good.
        """
        self._buffer += data
        while self._buffer:
            if self.done:
                raise BlobError("B5", "bytes past the blob's last chunk",
                                found=len(self._buffer))
            want = self.manifest.chunk_length(self.next)
            if len(self._buffer) < want:
                return
            chunk = bytes(self._buffer[:want])
            del self._buffer[:want]
            if not self.manifest.matches(self.next, chunk):
                raise BlobError("B5", f"chunk {self.next} does not match the manifest")
            self.next += 1
            yield self.next - 1, chunk
