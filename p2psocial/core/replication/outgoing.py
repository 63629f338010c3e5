"""Cutting what a side sends into frames that the peer accepts.

Rules:
- WANT, HAVE and UNWANT carry at most MAX_NOTES items and are cut to fit MIN_FRAME, the
  smallest max_frame any peer may announce: they may go out before the peer's HELLO arrives.
- ENTRIES carry at most MAX_ENTRIES entries and are cut to fit the peer's max_frame. One
  entry always fits: a header (512) and a payload (16 KiB) are far below MIN_FRAME.
- Cutting keeps the order of the items; a run of entries cut in pieces is a run of runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from p2psocial.core.replication.framing import MIN_FRAME, encode_frame
from p2psocial.core.replication.messages import (
    MAX_ENTRIES,
    MAX_NOTES,
    Entries,
    Message,
    RawEntry,
    encode_message,
)

T = TypeVar("T")
_ENTRIES_OVERHEAD = 1 + 1 + 2 + 32 + 3   # array(3), type, feed (head + 32), array head


def framed(msg: Message) -> bytes:
    """One message, encoded and framed."""
    return encode_frame(encode_message(msg))


def note_frames(make: Callable[[tuple[T, ...]], Message], items: Sequence[T]) -> list[bytes]:
    """Frames of `make(chunk)` for chunks of `items`, each within MAX_NOTES and MIN_FRAME."""
    frames: list[bytes] = []
    for start in range(0, len(items), MAX_NOTES):
        _fit(make, tuple(items[start:start + MAX_NOTES]), frames)
    return frames


def _fit(make: Callable[[tuple[T, ...]], Message], chunk: tuple[T, ...], out: list[bytes]
         ) -> None:
    body = encode_message(make(chunk))
    if len(body) <= MIN_FRAME or len(chunk) == 1:
        out.append(encode_frame(body))
        return
    half = len(chunk) // 2
    _fit(make, chunk[:half], out)
    _fit(make, chunk[half:], out)


def entries_frames(feed: bytes, entries: Sequence[RawEntry], max_frame: int) -> list[bytes]:
    """Frames of ENTRIES for `feed`, in order, each within MAX_ENTRIES and `max_frame`."""
    frames: list[bytes] = []
    chunk: list[RawEntry] = []
    size = _ENTRIES_OVERHEAD
    for item in entries:
        item_size = _item_size(item)
        if chunk and (len(chunk) == MAX_ENTRIES or size + item_size > max_frame):
            frames.append(framed(Entries(feed, tuple(chunk))))
            chunk, size = [], _ENTRIES_OVERHEAD
        chunk.append(item)
        size += item_size
    if chunk:
        frames.append(framed(Entries(feed, tuple(chunk))))
    return frames


def _item_size(item: RawEntry) -> int:
    header, payload = item
    return 1 + _bytes_size(len(header)) + (1 if payload is None else _bytes_size(len(payload)))


def _bytes_size(length: int) -> int:
    """Encoded size of a CBOR byte string of `length` bytes."""
    if length < 24:
        return 1 + length
    if length < 256:
        return 2 + length
    if length < 65536:
        return 3 + length
    return 5 + length
