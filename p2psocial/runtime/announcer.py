"""Spreading news of the feeds a node holds: gossip head announcements and DHT provider records.

Rules:
- A feed's head is announced on its topic (topic_of) when it ADVANCES by replication: after
  the entries were verified and stored (IngestReport.accepted), never for a head that only
  arrived by gossip. Backfill below the held head announces nothing. My own appends are
  announced by the replicator itself (at once, not rate-limited here).
- Not when the head was heard announced on gossip already at that seq or later (the author's
  own announcement, or another holder's): news is re-announced only where it did not travel
  by gossip (core.announce.HeardHeads), checked when stored and again when its turn comes,
  a time drawn at random in ANNOUNCE_HOLD (2-6 s) after storing: gossip reaches a topic's
  peers outside the mesh at the next heartbeat, so by then the author's own announcement
  (or the first holder's) has arrived and stops the others. A relay's followers all get a
  post by their sessions before its gossip; with a short fixed hold each re-announced it
  (N messages per post, each forwarded by the relay: most of a relay's CPU at 100 members).
- Limits (core.announce): one announcement per feed per ANNOUNCE_FEED_SECONDS, overall at most
  ANNOUNCE_PER_SECOND (bursts of ANNOUNCE_BURST); a newer head that comes while its feed waits
  replaces the waiting one, so a busy feed costs one message per interval, not one per entry.
  At most MAX_WAITING feeds wait at once; beyond that a head is not announced (peers still
  get it by their sync sessions).
- Provider records: the feeds I hold, those I follow first, at most PROVIDE_LIMIT, announced
  on the DHT when first held and again every PROVIDE_SECONDS (records expire on the DHT),
  one at a time: a provide is a DHT lookup (tens of query streams), and a relay whose
  members joined together started one per member at once (~300 query streams open at 30).
- Network failures are logged at debug level: announcing is best effort.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from p2psocial.core.announce import AnnounceGate, HeardHeads, choose_provided
from p2psocial.core.entry import Entry
from p2psocial.core.errors import NetError
from p2psocial.core.feed import FeedState
from p2psocial.core.identity import handle_of

log = logging.getLogger(__name__)

ANNOUNCE_HOLD = (2.0, 6.0)  # seconds, drawn uniformly per announcement
ANNOUNCE_FEED_SECONDS = 1.0
ANNOUNCE_PER_SECOND = 5.0   # gossipsub: ~2-3 ms per message on every node of the topic
ANNOUNCE_BURST = 10
MAX_WAITING = 256
PROVIDE_LIMIT = 50
PROVIDE_SECONDS = 600.0

Publish = Callable[[bytes, bytes], Awaitable[object]]  # (feed, head header)
Provide = Callable[[bytes], Awaitable[object]]         # (feed)
Spawn = Callable[[Awaitable[Any], str], Any]
Holdings = Callable[[], tuple[list[bytes], list[bytes]]]  # (held feeds, followed feeds)


class Announcer:
    """Announces heads of held feeds on gossip and provides held feeds on the DHT."""

    def __init__(self, me: bytes, *, publish: Publish | None, provide: Provide | None, spawn: Spawn,
                 holdings: Holdings, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self._me = me
        self._publish = publish
        self._provide = provide
        self._spawn = spawn
        self._holdings = holdings
        self._clock = clock
        self._random = rng or random.Random()
        self._gate = AnnounceGate(per_feed_seconds=ANNOUNCE_FEED_SECONDS,
                                  per_second=ANNOUNCE_PER_SECOND, burst=ANNOUNCE_BURST)
        self._waiting: dict[bytes, Entry] = {}
        self._heard = HeardHeads()
        self._provided: set[bytes] = set()
        self._providing = False  # a provide_held loop runs
        self.announced = 0

    def stored(self, accepted: Iterable[Entry], states: Mapping[bytes, FeedState]) -> None:
        """Entries were verified and stored: announce each feed whose head they advanced."""
        for entry in accepted:
            state = states.get(entry.author)
            if entry.author == self._me or state is None or entry.seq != state.hi:
                continue  # mine (announced on append), or not the held head (backfill)
            if self._provide is not None and not self._providing \
                    and entry.author not in self._provided \
                    and len(self._provided) < PROVIDE_LIMIT:
                self._providing = True  # until the loop it starts ends (no second one)
                self._spawn(self._provide_loop(), "provide held")
            if not self._heard.worth_announcing(entry.author, entry.seq):
                continue  # the news travelled by gossip already
            waiting = self._waiting.get(entry.author)
            if waiting is not None:
                if entry.seq > waiting.seq:
                    self._waiting[entry.author] = entry
            elif self._publish is not None and len(self._waiting) < MAX_WAITING:
                self._waiting[entry.author] = entry
                self._spawn(self._announce(entry.author), "announce")

    def heard(self, feed: bytes, seq: int) -> None:
        """A head of `feed` at `seq` was announced on gossip (by its author or a holder)."""
        self._heard.heard(feed, seq)

    async def _announce(self, feed: bytes) -> None:
        assert self._publish is not None
        taken = False
        try:
            await asyncio.sleep(self._random.uniform(*ANNOUNCE_HOLD))
            while (wait := self._gate.due(feed, self._clock())) > 0:
                await asyncio.sleep(wait)
            entry = self._waiting.pop(feed)  # the newest head that came meanwhile
            taken = True
            if not self._heard.worth_announcing(feed, entry.seq):
                return  # someone announced it while it waited
            self._gate.sent(feed, self._clock())
            try:
                await self._publish(feed, entry.header)
                self.announced += 1
            except NetError as exc:
                log.debug("announcing %s: %s", handle_of(feed), exc)
        finally:
            if not taken:  # cancelled while waiting: a later head may start afresh
                self._waiting.pop(feed, None)

    async def provide_held(self) -> None:
        """Provide the chosen held feeds not provided yet (followed first, bounded), one
        after another; returns at once if a loop doing so runs already (it takes up the
        feeds held meanwhile: the choice is made again before each provide)."""
        if self._provide is None or self._providing:
            return
        self._providing = True
        await self._provide_loop()

    async def _provide_loop(self) -> None:
        try:
            while True:
                held, followed = self._holdings()
                chosen = choose_provided(held, followed, me=self._me, limit=PROVIDE_LIMIT)
                feed = next((f for f in chosen if f not in self._provided), None)
                if feed is None:
                    return
                self._provided.add(feed)
                await self._provide_one(feed)
        finally:
            self._providing = False

    async def keep_provided(self) -> None:
        """Provide the chosen held feeds now and again every PROVIDE_SECONDS."""
        while True:
            self._provided.clear()
            await self.provide_held()
            await asyncio.sleep(PROVIDE_SECONDS)

    async def _provide_one(self, feed: bytes) -> None:
        assert self._provide is not None
        try:
            await self._provide(feed)
        except NetError as exc:
            log.debug("providing %s: %s", handle_of(feed), exc)
