"""Padding of inner messages to a few fixed sizes (docs/protocol.md §Private messages, M7).

Rules:
- P = u16be(len(I)) || I || zero bytes, its length the smallest bucket >= len(I) + 2; the
  buckets are 512, 1024, ..., 16384 (the smallest holds any short message: its fields take
  some 200 bytes). I is at most MAX_INNER_BYTES (16382) long.
- `unpad` rejects (M7) a length that is not a bucket, a length field above len(P) - 2, a P
  longer than the smallest bucket that holds I, and a pad byte that is not zero.
"""

from __future__ import annotations

from p2psocial.core.errors import MailError, UsageError
from p2psocial.core.limits import MAX_INNER_BYTES

BUCKETS = (512, 1024, 2048, 4096, 8192, 16384)


def bucket_for(size: int) -> int:
    """The padded length of an inner message of `size` bytes.

    Raises:
        UsageError: `size` is above MAX_INNER_BYTES.
    """
    if not 0 <= size <= MAX_INNER_BYTES:
        raise UsageError(f"a message is at most {MAX_INNER_BYTES} bytes, not {size}")
    return next(b for b in BUCKETS if b >= size + 2)


def pad(inner: bytes) -> bytes:
    """P for inner bytes I (M7). Raises UsageError if I is too long."""
    size = len(inner)
    return size.to_bytes(2, "big") + inner + bytes(bucket_for(size) - size - 2)


def unpad(padded: bytes) -> bytes:
    """I from P. Raises MailError("M7") if P breaks the padding rule."""
    if len(padded) not in BUCKETS:
        raise MailError("M7", "padded length is not a bucket", found=len(padded))
    size = int.from_bytes(padded[:2], "big")
    if size > len(padded) - 2 or bucket_for(size) != len(padded):
        raise MailError("M7", "the length field does not fit the bucket",
                        expected=len(padded), found=size)
    if any(padded[2 + size:]):
        raise MailError("M7", "a pad byte is not zero")
    return padded[2:2 + size]
