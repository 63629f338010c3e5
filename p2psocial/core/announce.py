"""When a node may announce a feed's head on gossip, and which held feeds it provides on the DHT.

Rules (pure: the caller passes the time):
- A head is announced at most once per `per_feed_seconds` per feed; a newer head that comes
  sooner waits for that feed's next turn (the caller keeps only the newest one waiting).
- All announcements together stay under `per_second` on average with bursts of at most
  `burst` (a token bucket): gossipsub costs every node on a topic ~2-3 ms per message, and a
  node holding many busy feeds must not flood its peers.
- The per-feed table is bounded: feeds whose turn has come round are forgotten first.
- A head is worth announcing only if no announcement of that feed at that seq or later was
  heard on gossip (the author's own, or another holder's): each holder that stores a head
  re-announcing it would cost a topic of n holders n messages per post, each sent to all n.
  The table of heard heads is bounded (oldest forgotten first).
- Provided feeds: at most `limit`, the feeds I follow (hop 1) first, then the other feeds I
  hold, each group in a stable order; my own feed is provided separately and never counted.
"""

from __future__ import annotations

from collections.abc import Iterable


class AnnounceGate:
    """Rate limits for head announcements, per feed and overall."""

    def __init__(self, *, per_feed_seconds: float, per_second: float, burst: int,
                 max_feeds: int = 4096) -> None:
        if per_feed_seconds < 0 or per_second <= 0 or burst < 1 or max_feeds < 1:
            raise ValueError("announce limits must be positive")
        self._per_feed = per_feed_seconds
        self._rate = per_second
        self._burst = float(burst)
        self._max_feeds = max_feeds
        self._last: dict[bytes, float] = {}
        self._tokens = float(burst)
        self._filled_at: float | None = None

    def due(self, feed: bytes, now: float) -> float:
        """Seconds to wait before `feed`'s head may be announced (0: now)."""
        self._refill(now)
        last = self._last.get(feed)
        feed_wait = 0.0 if last is None else max(0.0, last + self._per_feed - now)
        bucket_wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate
        return max(feed_wait, bucket_wait)

    def sent(self, feed: bytes, now: float) -> None:
        """Record an announcement of `feed` at `now` (call only when `due` said 0)."""
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1)
        self._last.pop(feed, None)
        self._last[feed] = now
        if len(self._last) > self._max_feeds:
            self._forget(now)

    def _refill(self, now: float) -> None:
        if self._filled_at is not None and now > self._filled_at:
            self._tokens = min(self._burst, self._tokens + (now - self._filled_at) * self._rate)
        if self._filled_at is None or now > self._filled_at:
            self._filled_at = now

    def _forget(self, now: float) -> None:
        for feed, last in list(self._last.items()):
            if last + self._per_feed <= now:  # its turn has come round: nothing to remember
                del self._last[feed]
        while len(self._last) > self._max_feeds:  # all recent: the oldest goes
            del self._last[next(iter(self._last))]

class HeardHeads:
    """The highest head seq heard announced per feed (bounded)."""

    def __init__(self, max_feeds: int = 4096) -> None:
        if max_feeds < 1:
            raise ValueError("max_feeds must be positive")
        self._max_feeds = max_feeds
        self._seq: dict[bytes, int] = {}

    def heard(self, feed: bytes, seq: int) -> None:
        """An announcement of `feed` at `seq` was heard."""
        best = max(seq, self._seq.pop(feed, 0))
        self._seq[feed] = best  # most recently heard last
        while len(self._seq) > self._max_feeds:
            del self._seq[next(iter(self._seq))]

    def worth_announcing(self, feed: bytes, seq: int) -> bool:
        """True unless `feed` was heard announced at `seq` or later."""
        return self._seq.get(feed, 0) < seq


def choose_provided(held: Iterable[bytes], followed: Iterable[bytes], *, me: bytes,
                    limit: int) -> list[bytes]:
    """The held feeds to provide on the DHT: followed ones first, at most `limit`."""
    held_set = set(held) - {me}
    first = sorted(held_set & set(followed))
    rest = sorted(held_set - set(first))
    return (first + rest)[:max(0, limit)]
