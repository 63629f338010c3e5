"""What a side sends: the seq ranges a wanter lacks, newest first (docs/protocol.md, rules 1-4).

Rules, for a wanter holding [lo_w, hi_w] ((0, 0): nothing) and wanting at least the newest
`depth` entries (0: all), and a holder holding [lo_h, hi_h]:
1. floor = 1 if depth = 0, else max(1, max(hi_w, hi_h) - depth + 1).
2. If the wanter holds nothing: hi_h, hi_h - 1, ..., max(lo_h, floor): newest first, so the
   wanter's range grows down from a signed head.
3. Otherwise forwards: if hi_h > hi_w and lo_h <= hi_w + 1: hi_w + 1, ..., hi_h.
4. Then backwards: if lo_w > floor and lo_h <= lo_w - 1 <= hi_h: lo_w - 1, ..., max(lo_h, floor).
Every range sent thus starts next to what the wanter holds, so each entry links by hash to one
the wanter already accepted. Live push is the same computation against what the peer is known
to hold. Everything here is a pure function of its arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from p2psocial.core.feed import FeedState


class Span(NamedTuple):
    """A contiguous seq range [lo, hi]; (0, 0) is the empty range."""

    lo: int = 0
    hi: int = 0

    @classmethod
    def of(cls, state: FeedState) -> Span:
        """The range a FeedState holds."""
        return EMPTY if state.empty else cls(state.lo, state.hi)

    @property
    def empty(self) -> bool:
        """True for the empty range."""
        return self.hi == 0

    def touches(self, other: Span) -> bool:
        """True if both are non-empty and overlap or are adjacent (their union is contiguous)."""
        return (not self.empty and not other.empty
                and other.lo <= self.hi + 1 and self.lo <= other.hi + 1)

    def hull(self, other: Span) -> Span:
        """The smallest range holding both."""
        if self.empty:
            return other
        if other.empty:
            return self
        return Span(min(self.lo, other.lo), max(self.hi, other.hi))

    def covers(self, other: Span) -> bool:
        """True if every seq of `other` lies in this range."""
        return other.empty or (not self.empty and self.lo <= other.lo and other.hi <= self.hi)

    def clip_below(self, floor: int) -> Span:
        """The part of this range at or above `floor`."""
        if self.empty or self.hi < floor:
            return EMPTY
        return Span(max(self.lo, floor), self.hi)


EMPTY = Span()


@dataclass(frozen=True, slots=True)
class SendRange:
    """Entries of `feed` to send in this order: first, first ± 1, ..., last.

    Descending (first > last) for newest-first runs, ascending otherwise.
    """

    feed: bytes
    first: int
    last: int

    @property
    def descending(self) -> bool:
        """True if the run goes from newer to older entries."""
        return self.first > self.last

    @property
    def count(self) -> int:
        """How many entries the run holds."""
        return abs(self.first - self.last) + 1

    @property
    def span(self) -> Span:
        """The seqs covered, as a range."""
        return Span(min(self.first, self.last), max(self.first, self.last))

    def seqs(self) -> range:
        """The seqs in sending order."""
        step = -1 if self.descending else 1
        return range(self.first, self.last + step, step)

    def pages(self, size: int) -> Iterator[SendRange]:
        """The run cut into consecutive runs of at most `size` entries (to read in pages)."""
        seqs = self.seqs()
        for start in range(0, len(seqs), size):
            chunk = seqs[start:start + size]
            yield SendRange(self.feed, chunk[0], chunk[-1])


def floor_of(depth: int, wanter_hi: int, holder_hi: int) -> int:
    """Rule 1: the oldest seq the wanter asks for."""
    if depth == 0:
        return 1
    return max(1, max(wanter_hi, holder_hi) - depth + 1)


def plan_spans(feed: bytes, wanter: Span, depth: int, held: Span) -> list[SendRange]:
    """Rules 2-4: the runs to send a wanter holding `wanter` from a holder holding `held`."""
    if held.empty:
        return []
    floor = floor_of(depth, wanter.hi, held.hi)
    if wanter.empty:
        return [SendRange(feed, held.hi, max(held.lo, floor))]
    runs = []
    if held.hi > wanter.hi and held.lo <= wanter.hi + 1:
        runs.append(SendRange(feed, wanter.hi + 1, held.hi))
    if wanter.lo > floor and held.lo <= wanter.lo - 1 <= held.hi:
        runs.append(SendRange(feed, wanter.lo - 1, max(held.lo, floor)))
    return runs


def plan_sends(feed: bytes, lo_w: int, hi_w: int, depth: int, state: FeedState
               ) -> list[SendRange]:
    """What to send for a WANT note (lo_w, hi_w, depth) of `feed` given what I hold."""
    return plan_spans(feed, Span(lo_w, hi_w), depth, Span.of(state))


def unseen_above_floor(known: Span, depth: int, held: Span) -> bool:
    """True if I hold entries at or above the peer's floor that it is not known to hold.

    After a live push, this says whether the peer should hear my range (a HAVE): it may be
    able to take those entries later, once its own range reaches them.
    """
    floor = floor_of(depth, known.hi, held.hi)
    return not known.covers(held.clip_below(floor))
