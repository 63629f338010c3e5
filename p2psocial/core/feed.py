"""A feed's chain: which entries fit the range we hold, in both directions (rules C2–C6).

Rules:
- We hold one contiguous range [lo, hi] of each feed. An entry is accepted only if it extends
  the range by one at either end, so every held entry is linked by hash to a signed neighbour:
  forwards (seq hi+1 names hi's hash as prev) or backwards (seq lo-1 hashes to lo's prev).
  This is what lets a follower take a feed newest-first and backfill.
- Timestamps never decrease along a feed.
- A second validly signed entry for a held position, or a neighbour whose link disagrees with
  what we hold, is a fork: proof that the author signed two histories. The feed is marked
  forked and accepts nothing more until its owner's user decides.
- An entry that is valid but does not touch the range (a gap) is not stored and not an error.
- Everything here is pure: the caller supplies the hash held at a position when asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from p2psocial.core.entry import Entry
from p2psocial.core.errors import ChainError, ForkError, ValidationError


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we hold of one feed: the range [lo, hi] and the links at both ends."""

    author: bytes
    lo: int = 0
    hi: int = 0
    lo_prev: bytes | None = None
    lo_ts: int = 0
    hi_hash: bytes | None = None
    hi_ts: int = 0
    forked: bool = False

    @property
    def empty(self) -> bool:
        """True if nothing of this feed is held."""
        return self.hi == 0

    @property
    def complete(self) -> bool:
        """True if we hold the feed from its first entry."""
        return self.lo == 1

    def holds(self, seq: int) -> bool:
        """True if `seq` lies within the held range."""
        return self.lo <= seq <= self.hi and not self.empty


class Placement(Enum):
    """Where a valid entry lands relative to the held range."""

    FIRST = "first"          # the feed was empty; this entry starts the range
    NEXT = "next"            # extends the range forwards (seq = hi + 1)
    PREVIOUS = "previous"    # extends the range backwards (seq = lo - 1)
    HELD = "held"            # already held: a harmless duplicate
    GAP = "gap"              # does not touch the range; not stored
    REFUSED = "refused"      # the feed is forked; nothing more is accepted


def place(state: FeedState, entry: Entry, held_hash: bytes | None = None
          ) -> tuple[FeedState, Placement]:
    """Decide where `entry` fits and return the new state.

    Args:
        state: the feed's state; `entry.author` must equal `state.author`.
        entry: an entry that already passed `decode_entry`.
        held_hash: the hash we hold at `entry.seq`, required when `state.holds(entry.seq)`.

    Raises:
        ForkError: the entry proves a fork (C2, C3 or C5).
        ChainError: the entry breaks the timestamp order (C4, C6).
    """
    if state.forked:
        return state, Placement.REFUSED
    if state.empty:
        return _with_single(state, entry), Placement.FIRST
    seq = entry.seq
    if state.holds(seq):
        if held_hash is None:
            raise ValueError("held_hash is required for a position inside the held range")
        if held_hash == entry.hash:
            return state, Placement.HELD
        raise ForkError("C2", "a second entry for a held position", author=entry.author,
                        seq=seq, expected=held_hash, found=entry.hash)
    if seq == state.hi + 1:
        if entry.prev != state.hi_hash:
            raise ForkError("C3", "entry links to a different predecessor than the one held",
                            author=entry.author, seq=seq, expected=state.hi_hash,
                            found=entry.prev)
        if entry.timestamp < state.hi_ts:
            raise ChainError("C4", "timestamp earlier than its predecessor's",
                             expected=f">= {state.hi_ts}", found=entry.timestamp)
        return FeedState(state.author, state.lo, seq, state.lo_prev, state.lo_ts, entry.hash,
                         entry.timestamp, state.forked), Placement.NEXT
    if seq == state.lo - 1:
        if entry.hash != state.lo_prev:
            raise ForkError("C5", "entry is not the predecessor the held chain names",
                            author=entry.author, seq=seq, expected=state.lo_prev,
                            found=entry.hash)
        if entry.timestamp > state.lo_ts:
            raise ChainError("C6", "timestamp later than its successor's",
                             expected=f"<= {state.lo_ts}", found=entry.timestamp)
        return FeedState(state.author, seq, state.hi, entry.prev, entry.timestamp,
                         state.hi_hash, state.hi_ts, state.forked), Placement.PREVIOUS
    return state, Placement.GAP


def _with_single(state: FeedState, entry: Entry) -> FeedState:
    return FeedState(state.author, entry.seq, entry.seq, entry.prev, entry.timestamp,
                     entry.hash, entry.timestamp, state.forked)


@dataclass(frozen=True, slots=True)
class ForkProof:
    """A validly signed entry that conflicts with what we hold for its position."""

    author: bytes
    seq: int
    header: bytes
    rule: str


@dataclass(slots=True)
class BatchPlan:
    """What to do with a batch of decoded entries (see `plan_batch`)."""

    accepted: list[Entry] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    duplicates: int = 0
    gaps: list[Entry] = field(default_factory=list)
    refused: list[Entry] = field(default_factory=list)
    forks: list[ForkProof] = field(default_factory=list)
    states: dict[bytes, FeedState] = field(default_factory=dict)
    error: ValidationError | None = None
    error_index: int | None = None


def plan_batch(states: Mapping[bytes, FeedState], entries: Iterable[Entry],
               held_hash: Callable[[bytes, int], bytes | None]) -> BatchPlan:
    """Place a batch of entries in order against the feeds' states.

    Entries are taken in the given order; each one sees the range as extended by those before
    it. The first entry that breaks a chain rule other than a fork stops the batch: what came
    before it is accepted, it and the rest are not (`error`, `error_index`). A fork records
    its proof, marks the feed forked, and the batch goes on with the other feeds.

    Args:
        states: current states by author; missing authors start empty.
        entries: entries that passed `decode_entry`, in arrival order.
        held_hash: looks up the hash held at (author, seq) before this batch.
    """
    plan = BatchPlan(states=dict(states))
    accepted_here: dict[tuple[bytes, int], bytes] = {}
    entries = list(entries)
    index, count = 0, len(entries)
    while index < count:
        entry = entries[index]
        state = plan.states.get(entry.author) or FeedState(entry.author)
        run_end = _run_extending_head(state, entries, index)
        if run_end > index:  # the common case, taken in one step: see _run_extending_head
            run = entries[index:run_end]
            last = run[-1]
            plan.states[state.author] = FeedState(state.author, state.lo, last.seq,
                                                  state.lo_prev, state.lo_ts, last.hash,
                                                  last.timestamp, state.forked)
            plan.accepted += run
            plan.placements += [Placement.NEXT] * len(run)
            accepted_here.update(((e.author, e.seq), e.hash) for e in run)
            index = run_end
            continue
        held = None
        if state.holds(entry.seq):
            held = accepted_here.get((entry.author, entry.seq)) or held_hash(entry.author,
                                                                              entry.seq)
        try:
            new_state, placement = place(state, entry, held)
        except ForkError as exc:
            plan.forks.append(ForkProof(entry.author, entry.seq, entry.header, exc.rule))
            plan.states[entry.author] = dataclasses.replace(state, forked=True)
            index += 1
            continue
        except ChainError as exc:
            plan.error, plan.error_index = exc, index
            break
        plan.states[entry.author] = new_state
        if placement is Placement.HELD:
            plan.duplicates += 1
        elif placement is Placement.GAP:
            plan.gaps.append(entry)
        elif placement is Placement.REFUSED:
            plan.refused.append(entry)
        else:
            plan.accepted.append(entry)
            plan.placements.append(placement)
            accepted_here[(entry.author, entry.seq)] = entry.hash
        index += 1
    return plan


def _run_extending_head(state: FeedState, entries: list[Entry], start: int) -> int:
    """The end of the run of entries from `start` that `place` would each place NEXT: same
    author, seq one above the head, prev naming the head's hash, timestamp not earlier.
    The same checks as `place`, without a new state per entry."""
    if state.forked or state.empty:
        return start
    author, seq, head, ts = state.author, state.hi, state.hi_hash, state.hi_ts
    end, count = start, len(entries)
    while end < count:
        entry = entries[end]
        if (entry.author != author or entry.seq != seq + 1 or entry.prev != head
                or entry.timestamp < ts):
            break
        seq, head, ts = entry.seq, entry.hash, entry.timestamp
        end += 1
    return end


def order_for_ingest(entries: list[Entry], state: FeedState) -> list[Entry]:
    """Order one feed's entries so that each extends the range: forwards above it, then
    backwards below it (newest first), so a batch in any order is placed without gaps."""
    above = sorted((e for e in entries if e.seq > state.hi), key=lambda e: e.seq)
    below = sorted((e for e in entries if e.seq <= state.hi), key=lambda e: -e.seq)
    if state.empty and above:
        # start at the newest entry and extend backwards: newest-first for a new follower
        above.reverse()
    return above + below
