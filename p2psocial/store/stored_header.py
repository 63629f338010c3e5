"""The stored form of a signed header in `entry_rows` (migration 0009), and the feed numbers
the row tables name feeds by.

Rules:
- A header is stored without what its row already says. The author key's 32 bytes, which
  follow `01 58 20` at a fixed place in every canonical header (bytes 6-37), are cut: the
  row's feed number names the key. The prev hash, if the entry before it in the feed is held,
  is cut too, with its `58 20` head: key 3 is then followed by `40` (an empty byte string,
  which no canonical header holds), and the hash is that held entry's `hash`.
- The view `entries` (0009_compact_entries.sql) rebuilds the header byte for byte in SQL;
  `full_form` is the same rule in Python, for the tests that check the two agree.
- A feed's held entries are one contiguous range [lo, hi] that only ever grows, until the
  whole feed is purged: every entry above its feed's lowest held one omits its prev (the
  write path decides with the feed's state after the batch).
- A feed keeps its number while any row names it; `purge_feed` removes the number with the
  feed's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from p2psocial.core.errors import StoreError
from p2psocial.store.rows import chunked

_AUTHOR_AT = 6  # the author key's first byte: after map head, `00 01` and `01 58 20`
_AUTHOR_HEAD = b"\x01\x58\x20"
_PREV_HEAD = b"\x03\x58\x20"
OMITTED_PREV = b"\x03\x40"  # key 3 and an empty byte string: the prev is the held entry's hash


def uint_length(value: int) -> int:
    """Bytes of a canonical CBOR unsigned integer (its head included)."""
    if value < 24:
        return 1
    if value < 256:
        return 2
    if value < 65536:
        return 3
    if value < 1 << 32:
        return 5
    return 9


def stored_form(header: bytes, seq: int, *, omit_prev: bool) -> bytes:
    """`header` (canonical, of entry `seq`) as `entry_rows` keeps it.

    Raises:
        StoreError: the header is not laid out as a canonical one is (never for a header
            that passed validation).
    """
    end = _AUTHOR_AT + 32
    if header[_AUTHOR_AT - 3:_AUTHOR_AT] != _AUTHOR_HEAD or header[end:end + 1] != b"\x02":
        raise StoreError("a header to store is not in canonical form")
    short = header[:_AUTHOR_AT] + header[end:]
    if not omit_prev or seq < 2:
        return short
    at = _AUTHOR_AT + 1 + uint_length(seq)  # key 3, in the short form
    if short[at:at + 3] != _PREV_HEAD:
        raise StoreError("a header to store is not in canonical form")
    return short[:at] + OMITTED_PREV + short[at + 35:]


def full_form(stored: bytes, seq: int, author: bytes, prev: bytes | None) -> bytes:
    """The signed header from its stored form (the rule the view `entries` applies); `prev`
    is the hash of entry `seq - 1` of the feed, used if the stored form omits it."""
    at = _AUTHOR_AT + 1 + uint_length(seq)
    if stored[at:at + 2] == OMITTED_PREV:
        if prev is None:
            raise StoreError(f"entry {seq} omits its prev, and the entry before it is missing")
        rest = stored[:at] + _PREV_HEAD + prev + stored[at + 2:]
    else:
        rest = stored
    return rest[:_AUTHOR_AT] + author + rest[_AUTHOR_AT:]


def feed_numbers(db: sqlite3.Connection, authors: Iterable[bytes]) -> dict[bytes, int]:
    """The number of each of `authors`, numbering those that have none (inside the caller's
    transaction)."""
    keys = list(dict.fromkeys(authors))
    out: dict[bytes, int] = {}
    for part, marks in chunked(keys):
        db.execute(f"INSERT OR IGNORE INTO feed_numbers (author) VALUES "
                   f"{', '.join(['(?)'] * len(part))}", part)
        out.update((bytes(a), int(i)) for i, a in db.execute(
            f"SELECT id, author FROM feed_numbers WHERE author IN ({marks})", part))
    return out
