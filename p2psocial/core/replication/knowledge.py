"""What one side of a session knows: what each side wants, and what the peer holds.

Rules (docs/protocol.md, "What the peer holds", "Live", "Asking again"):
- Per feed, three ranges of what the peer holds, each inside the next. `stated` is the union
  of the peer's own statements: WANT and HAVE notes, entries it sent ("nothing" states
  nothing). `sure` adds the runs sent next to `sure`: they land for certain, as the peer's
  range is contiguous and holds `sure`. The belief adds the runs sent next to the belief,
  including a run sent newest first to a peer believed empty: a guess, which lands in a gap
  if the peer meanwhile started its range from another head.
- Rules 2-4 run against the belief. A WANT note drops the guesses (the belief becomes `sure`);
  so does a statement that does not touch the belief. An UNWANT drops what was sent too:
  entries in flight when it left were dropped.
- After a push, if I still hold entries at or above the peer's floor that it is not believed
  to hold, the peer hears my range in a HAVE, once per change of my range.
- For a feed I want, once caught up, I ask again (a fresh WANT note with my range) when the
  peer's range offers entries that would grow mine, never twice for the same two ranges (a
  peer whose statements overstate cannot make me ask forever). While not caught up the
  check waits, and the feed is remembered for when SYNCED arrives.
- A peer whose account summary matched (A4) wants a whole account's feeds at once, holding
  what I hold: those notes are kept as they came (`defer_peer_wants`) and each is applied
  the first time anything asks about its feed, so a reconnect of thousands of unchanged
  feeds does no per-feed work beyond a dict entry.
- Only feeds one side wants are tracked, so a peer cannot grow this state with HAVEs of
  feeds nobody asked about; and a statement of nothing keeps no range (a relay wants every
  member's feed and hears "nothing" of most of them from each member: members squared).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from p2psocial.core.feed import FeedState
from p2psocial.core.replication.messages import HaveNote, WantNote
from p2psocial.core.replication.planner import (
    EMPTY,
    SendRange,
    Span,
    plan_spans,
    unseen_above_floor,
)


@dataclass(slots=True)
class PeerRange:
    """What the peer holds of one feed: stated, inside sure, inside the belief."""

    stated: Span = EMPTY
    sure: Span = EMPTY
    belief: Span = EMPTY

    def state(self, span: Span) -> None:
        """The peer says it holds `span`."""
        if span.empty:
            return
        self.stated = self.stated.hull(span)
        self.sure = self.sure.hull(span)
        if self.belief.empty or self.belief.touches(span):
            self.belief = self.belief.hull(span)
        else:
            self.belief = self.sure

    def drop_guesses(self) -> None:
        """Believe only what is sure."""
        self.belief = self.sure

    def drop_sent(self) -> None:
        """Believe only what the peer stated."""
        self.sure = self.belief = self.stated

    def send(self, span: Span) -> None:
        """Entries covering `span` go to the peer."""
        if self.sure.touches(span):
            self.sure = self.sure.hull(span)
        if self.belief.empty or self.belief.touches(span):
            self.belief = self.belief.hull(span)


class Knowledge:
    """The bookkeeping of one session (pure; the session turns its answers into messages)."""

    def __init__(self, wants: Iterable[WantNote]) -> None:
        self.mine: dict[bytes, WantNote] = {note.feed: note for note in wants}
        self.peer_depth: dict[bytes, int] = {}
        self._ranges: dict[bytes, PeerRange] = {}
        self._told: dict[bytes, Span] = {}
        self._asked: dict[bytes, tuple[Span, Span]] = {}
        self._recheck: set[bytes] = set()
        # WANT notes of matched accounts (A4), not applied yet: feed -> (lo, hi, depth)
        self._deferred: dict[bytes, tuple[int, int, int]] = {}

    def tracks(self, feed: bytes) -> bool:
        """True if one side wants `feed`."""
        return feed in self.mine or self.wanted_by_peer(feed)

    def wanted_by_peer(self, feed: bytes) -> bool:
        """True if the peer wants `feed`."""
        return feed in self.peer_depth or feed in self._deferred

    def peer_want_count(self) -> int:
        """How many feeds the peer wants."""
        return len(self.peer_depth) + len(self._deferred)

    def in_common(self, feeds: Iterable[bytes]) -> int:
        """How many of `feeds` the peer wants or is believed to hold, for display: unlike
        `holds`, it applies no deferred note (a poll must not undo A4's deferral)."""
        asked = feeds if isinstance(feeds, set | frozenset) else set(feeds)
        wanted = self.peer_depth.keys() & asked  # set operations: `peers` is polled
        count = len(wanted) + len(self._deferred.keys() & asked)  # disjoint (_settle)
        for feed in (self._ranges.keys() & asked) - wanted:
            count += not self._ranges[feed].belief.empty
        return count

    def holds(self, feed: bytes) -> Span:
        """What I believe the peer holds of `feed`."""
        self._settle(feed)
        known = self._ranges.get(feed)
        return EMPTY if known is None else known.belief

    def defer_peer_wants(self, notes: Iterable[tuple[bytes, int, int, int]]) -> None:
        """WANT notes `(feed, lo, hi, depth)` the peer stands for by a matched summary (A4),
        applied as `peer_wants` when their feed is first asked about."""
        for feed, lo, hi, depth in notes:
            if feed in self.peer_depth or feed in self._deferred:
                self.peer_wants(WantNote(feed, lo, hi, depth))
            else:
                self._deferred[feed] = (lo, hi, depth)

    def _settle(self, feed: bytes) -> None:
        deferred = self._deferred.pop(feed, None) if self._deferred else None
        if deferred is not None:
            self.peer_wants(WantNote(feed, *deferred))

    def peer_wants(self, note: WantNote) -> None:
        """The peer sent a WANT note: its word, and what is sure, replace my guesses."""
        self._settle(note.feed)
        self.peer_depth[note.feed] = note.depth
        known = self._range(note.feed)
        known.state(Span(note.lo, note.hi))
        known.drop_guesses()

    def peer_unwants(self, feed: bytes) -> None:
        """The peer sent UNWANT for `feed`."""
        self._settle(feed)
        self.peer_depth.pop(feed, None)
        self._told.pop(feed, None)
        if feed in self.mine:
            self._range(feed).drop_sent()
        else:
            self._ranges.pop(feed, None)

    def i_want(self, note: WantNote) -> None:
        """I sent a WANT note."""
        self.mine[note.feed] = note

    def i_unwant(self, feed: bytes) -> None:
        """I sent UNWANT for `feed`."""
        self._settle(feed)
        self.mine.pop(feed, None)
        self._asked.pop(feed, None)
        self._recheck.discard(feed)
        if feed not in self.peer_depth:
            self._ranges.pop(feed, None)

    def stated(self, feed: bytes, span: Span) -> None:
        """The peer says it holds `span` (a HAVE note, or entries it sent)."""
        self._settle(feed)
        if self.tracks(feed) and not span.empty:  # "nothing" states nothing: no range kept
            self._range(feed).state(span)

    def sent(self, feed: bytes, span: Span) -> None:
        """Entries covering `span` go to the peer."""
        self._settle(feed)
        self._range(feed).send(span)

    def answer(self, note: WantNote, held: Span) -> list[SendRange]:
        """The runs answering the peer's `note` (my HAVE tells it `held`)."""
        self._settle(note.feed)
        if note.feed not in self.peer_depth:
            return []
        self._told[note.feed] = held
        return self._promise(note.feed, note.depth, held)

    def push(self, feed: bytes, held: Span) -> tuple[list[SendRange], HaveNote | None]:
        """My range of `feed` is `held`: the runs that extend the peer's, and maybe a HAVE."""
        self._settle(feed)
        depth = self.peer_depth.get(feed)
        if depth is None:
            return [], None
        runs = self._promise(feed, depth, held)
        if held == self._told.get(feed, EMPTY):
            return runs, None
        if not unseen_above_floor(self.holds(feed), depth, held):
            return runs, None
        self._told[feed] = held
        return runs, HaveNote(feed, held.lo, held.hi)

    def ask_again(self, feed: bytes, state: FeedState, caught_up: bool) -> WantNote | None:
        """A fresh WANT note for `feed` if the peer holds what would grow my range."""
        self._settle(feed)
        mine = self.mine.get(feed)
        if mine is None or state.forked:
            return None
        if not caught_up:
            self._recheck.add(feed)
            return None
        held, theirs = Span.of(state), self.holds(feed)
        if self._asked.get(feed) == (held, theirs):
            return None
        if not plan_spans(feed, held, mine.depth, theirs):
            return None
        self._asked[feed] = (held, theirs)
        return WantNote(feed, held.lo, held.hi, mine.depth)

    def take_recheck(self) -> tuple[bytes, ...]:
        """The feeds whose check waited for SYNCED, now due."""
        due = tuple(sorted(self._recheck & self.mine.keys()))
        self._recheck.clear()
        return due

    def ranges_kept(self) -> int:
        """How many feeds' peer ranges this session keeps (its memory grows with these),
        deferred ones included."""
        return len(self._ranges) + len(self._deferred)

    def _range(self, feed: bytes) -> PeerRange:
        self._settle(feed)
        known = self._ranges.get(feed)
        if known is None:
            known = self._ranges[feed] = PeerRange()
        return known

    def _promise(self, feed: bytes, depth: int, held: Span) -> list[SendRange]:
        runs = plan_spans(feed, self.holds(feed), depth, held)
        for run in runs:
            self.sent(feed, run.span)
        return runs
