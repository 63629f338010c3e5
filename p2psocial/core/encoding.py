"""Canonical CBOR and the hash function.

Rules:
- Everything we sign or hash is deterministic CBOR (RFC 8949 §4.2.1): shortest-form integers
  and lengths, definite lengths only, map keys sorted by their encoded bytes, no duplicate keys.
- Received bytes are accepted only if re-encoding what they decode to yields the same bytes;
  this also rejects trailing data, indefinite lengths and non-shortest forms.
- The hash is BLAKE2b with a 32-byte digest (hashlib; nacl's wrapper is 9× slower).
"""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2

from p2psocial.core.errors import EncodingError

# cbor2 raises these for malformed input; we translate all of them to EncodingError.
_DECODE_ERRORS = (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError,
                  RecursionError, MemoryError, LookupError)


def digest(data: bytes) -> bytes:
    """BLAKE2b-256 of `data`."""
    return hashlib.blake2b(data, digest_size=32).digest()


def encode(value: Any) -> bytes:
    """Canonical CBOR encoding of `value` (maps, lists, ints, text, bytes, bools, None)."""
    return bytes(cbor2.dumps(value, canonical=True))


def decode_canonical(data: bytes, *, rule: str, what: str) -> Any:
    """Decode `data` and insist that it is the canonical encoding of the result.

    Raises:
        EncodingError: `data` is not CBOR, has trailing bytes, or is not canonical.
    """
    try:
        value = cbor2.loads(data)
    except _DECODE_ERRORS as exc:
        raise EncodingError(rule, f"{what} is not valid CBOR: {exc}") from exc
    try:
        again = encode(value)
    except _DECODE_ERRORS as exc:
        raise EncodingError(rule, f"{what} holds values we cannot encode: {exc}") from exc
    if again != data:
        raise EncodingError(rule, f"{what} is not in canonical CBOR form",
                            expected=len(again), found=len(data))
    return value
