"""The entries stored last, kept in memory for serving: a live push reads no database.

Rules:
- A relay stores an author's new entry once and pushes it to every follower's session; each
  session asked the database for the same row (`raw_range`), one thread round trip per
  follower per entry. FreshRows keeps the (header, payload) of the last CAPACITY entries
  written, by (author, seq), so those reads are answered from memory.
- Exactly what the database holds: the store's write (in its database thread) adds rows
  right after their transaction committed, as they were written: an entry stored without
  its payload (a delete already held covers it) is kept without it. An author whose batch
  deletes anything is dropped from here entirely (its held entries lost payloads), and
  none of its entries of that batch are kept: a payload a delete removed is never served
  from memory. Any other write that changes or removes stored rows must call
  `forget(author)` (or `clear()`).
- `range` answers only when every seq asked for is here (a page is all or nothing), else
  None and the caller reads the database. Bounded: the oldest entry leaves first.
- Written from the database thread, read from the event loop: every access holds a lock
  (held for microseconds).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable

from p2psocial.core.entry import Entry

CAPACITY = 4096
MAX_RANGE = 64  # longer runs are catch-up reads, which the database serves


class FreshRows:
    """(header, payload) of recently written entries, by (author, seq)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._rows: OrderedDict[tuple[bytes, int], tuple[bytes, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def written(self, entries: Iterable[Entry], *, bare: Collection[tuple[bytes, bytes]],
                deleting: Collection[bytes]) -> None:
        """These entries were committed: those whose (hash, author) is in `bare` without
        their payload; `deleting` are the authors whose held entries the batch deleted."""
        with self._lock:
            for author in deleting:
                self._forget(author)
            for entry in entries:
                if entry.author in deleting:
                    continue
                payload = None if (entry.hash, entry.author) in bare else entry.payload
                self._rows[(entry.author, entry.seq)] = (entry.header, payload)
            while len(self._rows) > self._capacity:
                self._rows.popitem(last=False)

    def forget(self, author: bytes) -> None:
        """Drop every row of `author` (its stored rows changed)."""
        with self._lock:
            self._forget(author)

    def _forget(self, author: bytes) -> None:
        for key in [k for k in self._rows if k[0] == author]:
            del self._rows[key]

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def range(self, author: bytes, lo: int, hi: int, *, descending: bool,
              limit: int) -> list[tuple[int, bytes, bytes | None]] | None:
        """(seq, header, payload) for lo..hi as `Store.raw_range` returns them, if all here."""
        if hi < lo:
            return []
        seqs = range(hi, lo - 1, -1) if descending else range(lo, hi + 1)
        seqs = seqs[:limit]
        if len(seqs) > MAX_RANGE:
            return None
        out: list[tuple[int, bytes, bytes | None]] = []
        with self._lock:
            for seq in seqs:
                row = self._rows.get((author, seq))
                if row is None:
                    return None
                out.append((seq, row[0], row[1]))
        return out
