"""The states of recently read or written feeds, kept beside the `feeds` table.

Rules:
- Every read and every change goes through the database thread (Store._in_db_thread), where
  aiosqlite runs each statement: a state is put after the transaction that wrote it commits,
  or when a read found it, never from another thread, so the cache cannot miss a write that
  lands between a read and its put.
- The only writer of `feeds` is Store._write_plan, which calls `written` after its COMMIT.
- Bounded: at most MAX_STATES states; the oldest put goes first. A feed not held is not
  cached (it is read again: cheap, and the answer changes on its first entry).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping

from p2psocial.core.feed import FeedState

MAX_STATES = 20_000


class FeedStateCache:
    """FeedStates by author, for `Store.feed_states` (see the module rules)."""

    def __init__(self, max_states: int = MAX_STATES) -> None:
        self._states: dict[bytes, FeedState] = {}
        self._max = max_states

    def __len__(self) -> int:
        return len(self._states)

    def read(self, db: sqlite3.Connection, authors: Iterable[bytes],
             select: Callable[[sqlite3.Connection, Iterable[bytes]], dict[bytes, FeedState]]
             ) -> dict[bytes, FeedState]:
        """The held states of `authors`, from the cache or by `select` (in the db thread)."""
        found: dict[bytes, FeedState] = {}
        missing: list[bytes] = []
        for author in authors:
            state = self._states.get(author)
            if state is None:
                missing.append(author)
            else:
                found[author] = state
        if missing:
            read = select(db, missing)
            self._put(read)
            found.update(read)
        return found

    def forget(self, authors: Iterable[bytes]) -> None:
        """`authors` left `feeds` (in the db thread, after the commit)."""
        for author in authors:
            self._states.pop(author, None)

    def written(self, states: Mapping[bytes, FeedState]) -> None:
        """`states` were committed to `feeds` (in the db thread)."""
        self._put(states)

    def _put(self, states: Mapping[bytes, FeedState]) -> None:
        for author, state in states.items():
            self._states.pop(author, None)
            self._states[author] = state
        while len(self._states) > self._max:
            del self._states[next(iter(self._states))]
