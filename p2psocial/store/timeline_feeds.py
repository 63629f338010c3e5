"""The feeds a viewer's timeline may show, kept in a temp table while accounts are active.

Rules:
- temp.timeline_feeds (one connection's, in memory) holds account_queries.followed_feeds for
  one viewer: the accounts its account follows and its own, with all their device feeds. The
  timeline query probes it row by row, so no list is built per call; built per call, the
  list of 1,000 followed accounts of 3 devices cost ~0.3 ms more than today's list of 1,000
  feeds, and checking each row's account instead (no list) cost 100x more when few of the
  feeds held are followed.
- What it holds depends only on the contacts of the viewer account's feeds and on the
  account ops. So it is refilled when the viewer changes, when the ops change (the
  AccountBook generation), or when the store writes one of the viewer account's feeds
  (`written`, called by the store after each write).
- It is filled in the database thread in one call, never inside an open transaction (a
  rollback would undo the fill behind our back): the timeline then asks inline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from p2psocial.store.account_queries import MINE_FEEDS, followed_feeds

InDbThread = Callable[..., Awaitable[Any]]


class TimelineFeeds:
    """The viewer whose timeline feeds the temp table holds, and when to refill it."""

    def __init__(self) -> None:
        self._viewer: bytes | None = None
        self._generation = -1
        self._watched: frozenset[bytes] = frozenset()

    def written(self, authors: Iterable[bytes]) -> None:
        """The store wrote entries of `authors`: forget the table if the viewer's follows may
        have changed."""
        if self._viewer is not None and not self._watched.isdisjoint(authors):
            self._viewer = None

    async def ready(self, run: InDbThread, viewer: bytes, generation: int,
                    single: bool) -> bool:
        """True if the table holds `viewer`'s feeds (filling it if needed); False if it
        cannot be filled now (a transaction is open)."""
        if self._viewer == viewer and self._generation == generation:
            return True
        self._viewer = None
        watched: frozenset[bytes] | None = await run(_fill, viewer, single)
        if watched is None:
            return False
        self._viewer, self._generation, self._watched = viewer, generation, watched
        return True


def _fill(db: sqlite3.Connection, viewer: bytes, single: bool) -> frozenset[bytes] | None:
    """Refill temp.timeline_feeds for `viewer`; returns the viewer account's feeds."""
    if db.in_transaction:
        return None
    db.execute("CREATE TEMP TABLE IF NOT EXISTS timeline_feeds (feed BLOB PRIMARY KEY) "
               "WITHOUT ROWID")
    db.execute("BEGIN")
    try:
        db.execute("DELETE FROM temp.timeline_feeds")
        db.execute(f"INSERT OR IGNORE INTO temp.timeline_feeds {followed_feeds(single)}",
                   {"me": viewer})
        watched = frozenset(bytes(r[0]) for r in db.execute(MINE_FEEDS, {"me": viewer}))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return watched
