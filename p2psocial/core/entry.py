"""The log entry: a signed header plus an optional payload (docs/protocol.md §Entry).

Rules:
- The header is a canonical CBOR map with small integer keys (see `Field`). Key 3 (`prev`)
  is present exactly when seq > 1. Key 8 (`sig`) is the Ed25519 signature over
  SIGNING_CONTEXT followed by the canonical encoding of the header without key 8.
- The entry hash is BLAKE2b-256 of the signed header bytes exactly as received.
- The header commits to the payload by size and hash only, so a payload can be dropped later
  (deleted) and the chain still verifies.
- `decode_entry` checks every rule that needs no history (H1–H8, P1–P4) and returns an Entry;
  chain rules live in p2psocial.core.feed.
"""

from __future__ import annotations

import hashlib
import re
from enum import IntEnum
from typing import Any, NamedTuple

import cbor2

from p2psocial.core import limits
from p2psocial.core.content import (
    KNOWN_TYPES,
    Content,
    content_payload,
    parse_content,
    plain_post,
)
from p2psocial.core.encoding import DECODE_ERRORS, decode_canonical, digest, encode
from p2psocial.core.errors import FieldError, PayloadError, SignatureError
from p2psocial.core.identity import Identity, verify_signature

SIGNING_CONTEXT = b"p2psocial/entry/v1\n"
_TYPE_RE = re.compile(r"[a-z][a-z0-9_.-]{0,31}\Z")


class Field(IntEnum):
    """Header map keys."""

    VERSION = 0
    AUTHOR = 1
    SEQ = 2
    PREV = 3
    TIMESTAMP = 4
    TYPE = 5
    PAYLOAD_SIZE = 6
    PAYLOAD_HASH = 7
    SIGNATURE = 8


_REQUIRED = frozenset(Field) - {Field.PREV}
_ALL_KEYS = frozenset(int(f) for f in Field)


class Entry(NamedTuple):
    """A validated entry. `payload` is None when it was deleted or never received.

    A NamedTuple rather than a frozen dataclass: just as immutable, and three times cheaper
    to construct, which counts on the ingest path (one per received entry).
    """

    header: bytes
    payload: bytes | None
    hash: bytes
    author: bytes
    seq: int
    prev: bytes | None
    timestamp: int
    type: str
    payload_size: int
    payload_hash: bytes
    signature: bytes
    content: Content | None

    def without_payload(self) -> Entry:
        """The same entry with its payload dropped (as after a delete)."""
        return self._replace(payload=None, content=None)


def signing_bytes(fields: dict[int, Any]) -> bytes:
    """The bytes an author signs: the context prefix and the header without its signature."""
    unsigned = {k: v for k, v in fields.items() if k != Field.SIGNATURE}
    return SIGNING_CONTEXT + encode(unsigned)


# The signature field is the last map item of a canonical header (key 8 sorts last):
# 0x08 (key), 0x58 0x40 (a 64-byte string), the 64 signature bytes.
_SIGNATURE_ITEM_BYTES = 3 + limits.SIGNATURE_BYTES


def signed_message(header: bytes) -> bytes:
    """signing_bytes() of a header already known to be canonical, by slicing, not encoding.

    A canonical map of n < 24 items starts with the byte 0xA0 + n; dropping the last item
    gives 0xA0 + n - 1 followed by the other items unchanged.
    """
    return SIGNING_CONTEXT + bytes((header[0] - 1,)) + header[1:-_SIGNATURE_ITEM_BYTES]


# Every header that passes `decode_entry` starts 0xA8 or 0xA9 (a map of 8 or 9 items), 0x00 0x01
# (version 1), 0x01 0x58 0x20 (key 1, a 32-byte string): the author key is bytes 6 to 38.
_AUTHOR_BYTES = slice(6, 6 + limits.KEY_BYTES)


def signature_parts(header: bytes) -> tuple[bytes, bytes, bytes]:
    """(author key, signed message, signature) of a header, by slicing, without decoding.

    Exact for any header that passes `decode_entry`; for any other header the result is
    meaningless (the decoder rejects it anyway), and an empty header raises IndexError.
    """
    return (header[_AUTHOR_BYTES], signed_message(header),
            header[-limits.SIGNATURE_BYTES:])


def create_entry(identity: Identity, *, seq: int, prev: bytes | None, timestamp: int,
                 entry_type: str, payload: bytes) -> Entry:
    """Sign a new entry. The result passes `decode_entry` (it is checked before return)."""
    fields: dict[int, Any] = {
        Field.VERSION: limits.FORMAT_VERSION,
        Field.AUTHOR: identity.public_key,
        Field.SEQ: seq,
        Field.TIMESTAMP: timestamp,
        Field.TYPE: entry_type,
        Field.PAYLOAD_SIZE: len(payload),
        Field.PAYLOAD_HASH: digest(payload),
    }
    if prev is not None:
        fields[Field.PREV] = prev
    fields = {int(k): fields[k] for k in sorted(fields)}
    fields[int(Field.SIGNATURE)] = identity.sign(signing_bytes(fields))
    # we just signed it: every other rule is still checked, the signature need not be
    return decode_entry(encode(fields), payload, verify=False)


def create_content_entry(identity: Identity, *, seq: int, prev: bytes | None, timestamp: int,
                         content: Content) -> Entry:
    """Sign a new entry carrying a known content type."""
    return create_entry(identity, seq=seq, prev=prev, timestamp=timestamp,
                        entry_type=content.TYPE, payload=content_payload(content))


def decode_entry(header: bytes, payload: bytes | None, *, verify: bool = True) -> Entry:
    """Decode and check an entry against every rule that needs no other entry.

    Args:
        header: the signed header bytes as received.
        payload: the payload bytes, or None if the payload is absent (deleted).
        verify: check the signature (H8). Only stores re-reading their own rows skip it.

    Raises:
        ValidationError: a subclass naming the broken rule.
    """
    if len(header) > _MAX_HEADER_BYTES:
        raise FieldError("H1", "header too large", expected=f"<= {limits.MAX_HEADER_BYTES}",
                         found=len(header))
    checked = _fast_header(header)
    if checked is None:  # anything unusual: the full checks name the exact rule broken
        checked = _check_fields(decode_canonical(header, rule="H2", what="header"))
    author, seq, prev, ts, etype, size, phash, sig = checked
    if verify and not verify_signature(author, signed_message(header), sig):
        raise SignatureError("H8", "signature does not verify under the author key")
    content: Content | None = None
    if payload is not None:
        if len(payload) != size:
            raise PayloadError("P1", "payload size differs from the header", expected=size,
                               found=len(payload))
        if _blake2b(payload, digest_size=32).digest() != phash:
            raise PayloadError("P2", "payload hash differs from the header", expected=phash,
                               found=digest(payload))
        # a plain post (the common case) is recognised directly; None: the full parse
        content = plain_post(payload) if etype == "post" else None
        if content is None:
            content = parse_content(etype, payload)
    return _new_tuple(Entry, (header, payload, _blake2b(header, digest_size=32).digest(),
                              author, seq, prev, ts, etype, size, phash, sig, content))


_Checked = tuple[bytes, int, bytes | None, int, str, int, bytes, bytes]
_KEYS_FIRST = (0, 1, 2, 4, 5, 6, 7, 8)
_KEYS_LATER = (0, 1, 2, 3, 4, 5, 6, 7, 8)
_INT_KEY_TYPES = {len(keys): [int] * len(keys) for keys in (_KEYS_FIRST, _KEYS_LATER)}
# Hot-path names: globals are cheaper to look up than module attributes.
_loads, _dumps, _blake2b, _new_tuple = cbor2.loads, cbor2.dumps, hashlib.blake2b, tuple.__new__
_MAX_HEADER_BYTES, _VERSION_1 = limits.MAX_HEADER_BYTES, limits.FORMAT_VERSION
_KEY_LEN, _HASH_LEN, _SIG_LEN = limits.KEY_BYTES, limits.HASH_BYTES, limits.SIGNATURE_BYTES
_MAX_SEQ, _MAX_TS, _MAX_SIZE = limits.MAX_SEQ, limits.MAX_TIMESTAMP_MS, limits.MAX_PAYLOAD_BYTES
# the known types are valid type names (checked here), so they skip the regular expression
_VALID_TYPES = frozenset(t for t in KNOWN_TYPES if _TYPE_RE.match(t))
assert len(_VALID_TYPES) == len(KNOWN_TYPES)


def _fast_header(header: bytes) -> _Checked | None:
    """The fields of a well-formed canonical header, or None if anything is irregular.

    For the common case only: keys exactly the ints 0-8 in order, every value of its exact
    type and range. Then cbor2's plain encoding is the canonical one, so one comparison checks
    H2. None sends the header through the full checks, which report the precise rule.
    Keys and values are checked by type, not only by value: `False == 0`, `True == 1` and
    `1.0 == 1` in Python, and cbor2 writes each back as it read it (f4, f5, fb …).
    """
    try:
        f = _loads(header)
    except DECODE_ERRORS:  # the checked path decodes again and reports it
        return None
    if type(f) is not dict:
        return None
    keys = tuple(f)
    if keys == _KEYS_LATER:
        version, author, seq, prev, ts, etype, size, phash, sig = f.values()
        if type(prev) is not bytes or len(prev) != _HASH_LEN or seq == 1:
            return None
    elif keys == _KEYS_FIRST:
        version, author, seq, ts, etype, size, phash, sig = f.values()
        prev = None
        if seq != 1:
            return None
    else:
        return None
    if (list(map(type, keys)) != _INT_KEY_TYPES[len(keys)]  # equal by value: a bool, 1.0 …
            or type(version) is not int or version != _VERSION_1
            or type(author) is not bytes or len(author) != _KEY_LEN
            or type(seq) is not int or not 1 <= seq <= _MAX_SEQ
            or type(ts) is not int or not 0 <= ts <= _MAX_TS
            or type(etype) is not str
            or (etype not in _VALID_TYPES and not _TYPE_RE.match(etype))
            or type(size) is not int or not 0 <= size <= _MAX_SIZE
            or type(phash) is not bytes or len(phash) != _HASH_LEN
            or type(sig) is not bytes or len(sig) != _SIG_LEN
            or _dumps(f) != header):
        return None
    return author, seq, prev, ts, etype, size, phash, sig


def _check_fields(fields: Any) -> _Checked:
    if not isinstance(fields, dict):
        raise FieldError("H3", "header must be a map", expected="map",
                         found=type(fields).__name__)
    if any(type(k) is not int for k in fields):
        raise FieldError("H3", "header keys must be the integers 0-8", expected="int keys",
                         found=sorted({type(k).__name__ for k in fields}))
    keys = set(fields)
    unknown = keys - _ALL_KEYS
    if unknown:
        raise FieldError("H3", "header has unknown keys", expected="keys 0-8",
                         found=sorted(map(repr, unknown)))
    missing = _REQUIRED - keys
    if missing:
        raise FieldError("H3", "header lacks required keys", expected=sorted(_REQUIRED),
                         found=sorted(int(k) for k in keys))
    version = fields[_VERSION]
    if version != limits.FORMAT_VERSION or type(version) is not int:
        raise FieldError("H4", "unsupported format version", expected=limits.FORMAT_VERSION,
                         found=version)
    author = _exact_bytes(fields, _AUTHOR, limits.KEY_BYTES)
    seq = _uint(fields, _SEQ, 1, limits.MAX_SEQ)
    prev = fields.get(_PREV)
    if seq == 1 and _PREV in fields:
        raise FieldError("H6", "the first entry has no prev", expected="no key 3", found=prev)
    if seq > 1:
        if prev is None:
            raise FieldError("H6", "entries after the first need prev", expected="32 bytes",
                             found=None)
        prev = _exact_bytes(fields, _PREV, limits.HASH_BYTES)
    ts = _uint(fields, _TIMESTAMP, 0, limits.MAX_TIMESTAMP_MS)
    etype = fields[_TYPE]
    if not isinstance(etype, str) or not _TYPE_RE.match(etype):
        raise FieldError("H7", "type must be 1-32 characters of a-z 0-9 _ . - starting with a "
                         "letter", expected="type name", found=etype)
    size = _uint(fields, _PAYLOAD_SIZE, 0, limits.MAX_PAYLOAD_BYTES)
    phash = _exact_bytes(fields, _PAYLOAD_HASH, limits.HASH_BYTES)
    sig = _exact_bytes(fields, _SIGNATURE, limits.SIGNATURE_BYTES)
    return author, seq, prev, ts, etype, size, phash, sig


# Plain-int keys for the hot path (IntEnum lookups cost several times more).
_VERSION, _AUTHOR, _SEQ, _PREV, _TIMESTAMP, _TYPE, _PAYLOAD_SIZE, _PAYLOAD_HASH, _SIGNATURE = (
    int(f) for f in Field)


def _exact_bytes(fields: dict[Any, Any], key: int, size: int) -> bytes:
    value = fields[key]
    if type(value) is not bytes or len(value) != size:
        raise FieldError("H5", f"{Field(key).name.lower()} must be {size} bytes",
                         expected=f"{size} bytes",
                         found=len(value) if isinstance(value, bytes) else type(value).__name__)
    return value


def _uint(fields: dict[Any, Any], key: int, low: int, high: int) -> int:
    value = fields[key]
    if type(value) is not int or not low <= value <= high:
        raise FieldError("H5", f"{Field(key).name.lower()} out of range",
                         expected=f"{low}..{high}", found=value)
    return value
