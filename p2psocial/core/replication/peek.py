"""Peek at the author and seq of headers without validating them; check that they form a run.

Rules:
- The session needs only these two fields: to check that an entry belongs to the frame's feed
  and that a frame's entries form a run. Validation (signature, chain) is the store's job and
  runs later, off the event loop.
- A canonical header (the only kind a valid entry has) starts with a fixed layout, read here by
  slicing; anything else is decoded with cbor2. A header from which no author and seq can be
  read is not a valid entry of any feed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cbor2

from p2psocial.core import limits
from p2psocial.core.encoding import DECODE_ERRORS
from p2psocial.core.errors import ProtocolError
from p2psocial.core.replication.codes import Code

# a8|a9 (map of 8|9), 00 01 (version 1), 01 58 20 (author: 32-byte string), then 02 (seq key)
_LAYOUT = b"\x00\x01\x01\x58\x20"
_AUTHOR_AT = 6
_SEQ_KEY_AT = _AUTHOR_AT + limits.KEY_BYTES
_UINT_SIZES = {0x18: 1, 0x19: 2, 0x1A: 4, 0x1B: 8}


def peek_author_seq(header: bytes) -> tuple[bytes, int] | None:
    """(author, seq) named by `header`, or None if the header does not name both."""
    if header[1:6] == _LAYOUT and header[:1] in (b"\xa8", b"\xa9") and len(header) > 40:
        fast = _fast(header)
        if fast is not None:
            return fast
    try:
        fields: Any = cbor2.loads(header)
    except DECODE_ERRORS:
        return None
    if type(fields) is not dict:
        return None
    author, seq = fields.get(1), fields.get(2)
    if type(author) is not bytes or len(author) != limits.KEY_BYTES:
        return None
    if type(seq) is not int or not 1 <= seq <= limits.MAX_SEQ:
        return None
    return author, seq


def _fast(header: bytes) -> tuple[bytes, int] | None:
    if header[_SEQ_KEY_AT] != 0x02:
        return None
    initial = header[_SEQ_KEY_AT + 1]
    if initial < 0x18:
        seq = initial
    else:
        size = _UINT_SIZES.get(initial)
        start = _SEQ_KEY_AT + 2
        if size is None or len(header) < start + size:
            return None
        seq = int.from_bytes(header[start:start + size], "big")
    if not 1 <= seq <= limits.MAX_SEQ:
        return None
    return header[_AUTHOR_AT:_SEQ_KEY_AT], seq


def run_of(feed: bytes, headers: Iterable[bytes]) -> tuple[int, int]:
    """(first seq, last seq) of headers that form a run of `feed`: every header names `feed`
    as author, and the seqs step by +1 throughout or by -1 throughout.

    Raises:
        ProtocolError: INVALID_ENTRY (no author or seq), WRONG_AUTHOR, or BAD_RUN.
    """
    first = previous = step = 0
    for index, header in enumerate(headers):
        named = peek_author_seq(header)
        if named is None:
            raise ProtocolError(Code.INVALID_ENTRY, f"entry {index} names no author and seq")
        author, seq = named
        if author != feed:
            raise ProtocolError(Code.WRONG_AUTHOR,
                                f"entry {index} is by {author.hex()[:16]}, not the frame's feed")
        if index == 0:
            first = seq
        elif seq - previous not in (1, -1) or (step and seq - previous != step):
            raise ProtocolError(Code.BAD_RUN, f"entry {index} has seq {seq} after {previous}")
        else:
            step = seq - previous
        previous = seq
    if not first:
        raise ProtocolError(Code.BAD_RUN, "no entries")
    return first, previous
