"""Canonical CBOR and the hash function.

Rules:
- Everything we sign or hash is deterministic CBOR (RFC 8949 §4.2.1: shortest-form integers
  and lengths, definite lengths only, no duplicate keys) with map keys in the length-first
  order of RFC 8949 §4.2.3 (shorter encoded key first, then bytewise), as cbor2 writes it.
- Only these CBOR types appear: unsigned and negative integers, byte strings, text strings,
  arrays, maps, true, false and null. No floats, tags or other simple values. Arrays and maps
  nest at most MAX_NESTING_DEPTH deep, the outermost counting 1 (so a map holding an array is
  2 deep; scalars add nothing). Types are checked by type: a bool is never an int.
- Received bytes are accepted only if re-encoding what they decode to yields the same bytes;
  this also rejects trailing data, indefinite lengths and non-shortest forms.
- The hash is BLAKE2b with a 32-byte digest (hashlib; nacl's wrapper is 9× slower).
"""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2

from p2psocial.core.errors import EncodingError
from p2psocial.core.limits import MAX_NESTING_DEPTH

# cbor2 raises these for malformed input; callers translate all of them to EncodingError.
DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError,
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
    except DECODE_ERRORS as exc:
        raise EncodingError(rule, f"{what} is not valid CBOR: {exc}") from exc
    if _plain(value) and cbor2.dumps(value) == data:
        return value
    if not _allowed(value):
        raise EncodingError(rule, f"{what} uses CBOR types outside the allowed set",
                            expected="int, bytes, text, array, map, bool, null",
                            found=type(value).__name__)
    try:
        again = encode(value)
    except DECODE_ERRORS as exc:
        raise EncodingError(rule, f"{what} holds values we cannot encode: {exc}") from exc
    if again != data:
        raise EncodingError(rule, f"{what} is not in canonical CBOR form",
                            expected=len(again), found=len(data))
    return value


_SCALARS = frozenset({int, bytes, str})
_ALLOWED_LEAVES = frozenset({int, bytes, str, bool, type(None)})
# CBOR integers are 64-bit; a wider Python int came from (or would become) a bignum tag 2/3.
_INT_MIN, _INT_END = -(2**64), 2**64


def _allowed(value: Any, depth: int = 1) -> bool:
    """True if `value` uses only the CBOR types the protocol allows; `depth` is the nesting
    depth of `value` itself if it is an array or a map (the outermost is 1)."""
    kind = type(value)
    if kind is int:
        return bool(_INT_MIN <= value < _INT_END)
    if kind in _ALLOWED_LEAVES:
        return True
    if depth > MAX_NESTING_DEPTH:
        return False
    if kind is list:
        return all(_allowed(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) in _ALLOWED_LEAVES and _allowed(k) and _allowed(v, depth + 1)
                   for k, v in value.items())
    return False


def _plain(value: Any) -> bool:
    """True if cbor2's ordinary encoding of `value` is already the canonical one.

    That holds for 64-bit ints, byte and text strings, lists of those, and maps of those whose
    keys are all non-negative ints in ascending order or all text strings in canonical order
    (shorter encodings first, then bytewise). Anything else takes the full canonical check.
    """
    if type(value) is not dict:
        return _plain_item(value)
    last_int = -1
    last_text: tuple[int, bytes] | None = None
    for key, item in value.items():
        kind = type(key)
        if kind is int and last_text is None:
            if key <= last_int or key >= _INT_END:
                return False
            last_int = key
        elif kind is str and last_int == -1:
            encoded = key.encode()
            rank = (len(encoded), encoded)
            if last_text is not None and rank <= last_text:
                return False
            last_text = rank
        else:
            return False
        if not _plain_item(item):
            return False
    return True


def _plain_item(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return bool(_INT_MIN <= value < _INT_END)
    if kind is bytes or kind is str:
        return True
    if kind is list:
        return all(type(item) is not list and _plain_item(item) for item in value)
    return False
