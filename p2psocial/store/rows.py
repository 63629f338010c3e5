"""Rows of the store's tables read back into values, and the pieces of SQL every part of the
store shares.

Rules:
- A stored entry is decoded without checking its signature again (it was checked on the way
  in); one that no longer decodes is a damaged database (StoreError), never a crash.
- Queries naming many keys go in chunks of IN_CHUNK (`IN (…)` with bound parameters).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import StoreError, ValidationError
from p2psocial.core.feed import FeedState

# Entries are found by hash through an index on this expression (migration 0002): a query by
# hash says `HASH_KEY = substr(?, 1, 8) AND hash = ?`, and SQLite uses the index.
HASH_KEY = "substr(hash, 1, 8)"


STATE_COLUMNS = "author, lo, hi, lo_prev, lo_ts, hi_hash, hi_ts, forked"


IN_CHUNK = 500  # keys per `IN (…)` query


def chunked(keys: Iterable[Any]) -> Iterator[tuple[list[Any], str]]:
    """`keys` in lists of up to IN_CHUNK, each with its `?, ?, …` placeholders."""
    listed = list(keys)
    for i in range(0, len(listed), IN_CHUNK):
        part = listed[i:i + IN_CHUNK]
        yield part, ",".join("?" * len(part))


def state_of_row(row: Sequence[Any]) -> FeedState:
    return FeedState(bytes(row[0]), int(row[1]), int(row[2]),
                     None if row[3] is None else bytes(row[3]), int(row[4]),
                     None if row[5] is None else bytes(row[5]), int(row[6]), bool(row[7]))


def entry_of_row(row: Sequence[Any]) -> Entry:
    try:
        return decode_entry(bytes(row[0]), None if row[1] is None else bytes(row[1]),
                            verify=False)
    except ValidationError as exc:
        raise StoreError(f"a stored entry no longer decodes ({exc}); run `p2psocial verify`"
                         ) from exc


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
