"""The proof-of-work stamp a stranger's PUT carries (docs/protocol.md §Private messages, M25).

Rules:
- A stamp is 8 bytes `n` and a UTC day `d` (ms // 86400000). It is good for `bits` if
  BLAKE2b-256(wrap hash || u32be(d) || n, personal "p2ps/mail/pow/1") starts with at least
  `bits` zero bits and `d` is the holder's today or yesterday.
- `make_stamp` counts n up from 0 (u64be) and returns the first good one: a pure loop that
  the runtime runs off the event loop. `bits` is at most MAX_POW_BITS.
"""

from __future__ import annotations

import hashlib

from p2psocial.core.errors import UsageError
from p2psocial.core.limits import MAX_POW_BITS

POW_PERSON = b"p2ps/mail/pow/1"
STAMP_BYTES = 8
DAY_MS = 86_400_000


def day_of(now_ms: int) -> int:
    """The UTC day number of a time in ms."""
    return now_ms // DAY_MS


def stamp_hash(wrap_hash: bytes, day: int, n: bytes) -> bytes:
    """The hash whose leading zero bits the stamp is worth."""
    data = wrap_hash + day.to_bytes(4, "big") + n
    return hashlib.blake2b(data, digest_size=32, person=POW_PERSON).digest()


def zero_bits(value: bytes) -> int:
    """How many leading bits of `value` are zero."""
    number = int.from_bytes(value, "big")
    return len(value) * 8 - number.bit_length()


def stamp_is_good(wrap_hash: bytes, day: int, n: bytes, *, bits: int, now_ms: int) -> bool:
    """M25: `n` and `day` make a good stamp for `bits` at the holder's time `now_ms`."""
    if len(n) != STAMP_BYTES or not 0 <= day_of(now_ms) - day <= 1:
        return False
    return zero_bits(stamp_hash(wrap_hash, day, n)) >= bits


def make_stamp(wrap_hash: bytes, day: int, bits: int) -> bytes:
    """The first `n` (counting from 0) that makes a good stamp for `bits`.

    Raises:
        UsageError: `bits` is above MAX_POW_BITS (no holder may ask that much).
    """
    if not 0 <= bits <= MAX_POW_BITS:
        raise UsageError(f"a stamp of {bits} bits is more than any holder may ask")
    prefix = wrap_hash + day.to_bytes(4, "big")
    counter = 0
    while True:
        n = counter.to_bytes(STAMP_BYTES, "big")
        digest = hashlib.blake2b(prefix + n, digest_size=32, person=POW_PERSON).digest()
        if zero_bits(digest) >= bits:
            return n
        counter += 1
