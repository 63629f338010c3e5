"""Chain rules (C1–C6): placing entries forwards and backwards, forks, and batch planning."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core.entry import Entry, create_entry
from p2psocial.core.errors import ChainError, ForkError
from p2psocial.core.feed import (
    BatchPlan,
    FeedState,
    ForkProof,
    Placement,
    order_for_ingest,
    place,
    plan_batch,
)
from p2psocial.testing import FeedBuilder, identity_for, make_feed

ALICE = identity_for("alice")
BOB = identity_for("bob")
N = 12
FEED = make_feed(ALICE, N)            # FEED[i] has seq i + 1
BOB_FEED = make_feed(BOB, 4)
ACCEPTING = {Placement.FIRST, Placement.NEXT, Placement.PREVIOUS}


def at(seq: int, feed: list[Entry] = FEED) -> Entry:
    return feed[seq - 1]


class Holder:
    """One feed held in memory the way a store would: state plus the hash at each seq."""

    def __init__(self, author: bytes = ALICE.public_key) -> None:
        self.state = FeedState(author)
        self.hashes: dict[int, bytes] = {}

    def place(self, entry: Entry) -> Placement:
        self.state, placement = place(self.state, entry, self.hashes.get(entry.seq))
        if placement in ACCEPTING:
            self.hashes[entry.seq] = entry.hash
        return placement

    def place_all(self, entries: Iterable[Entry]) -> list[Placement]:
        return [self.place(e) for e in entries]


def holding(lo: int, hi: int, feed: list[Entry] = FEED) -> Holder:
    """A holder that took feed[lo..hi] forwards."""
    holder = Holder(feed[0].author)
    holder.place_all(at(s, feed) for s in range(lo, hi + 1))
    return holder


def held_range(state: FeedState) -> set[int]:
    return set() if state.empty else set(range(state.lo, state.hi + 1))


def hash_lookup(*feeds: list[Entry]) -> dict[tuple[bytes, int], bytes]:
    return {(e.author, e.seq): e.hash for feed in feeds for e in feed}


def forked_after(seq: int, count: int) -> list[Entry]:
    """`count` entries by ALICE that continue FEED's seq `seq` differently from FEED."""
    builder = FeedBuilder(ALICE, after=at(seq), start_ts=at(seq).timestamp + 7)
    for i in range(count):
        builder.post(f"the other history {i}")
    return builder.entries


def entry(seq: int, prev: bytes | None, ts: int, text: bytes = b"x") -> Entry:
    return create_entry(ALICE, seq=seq, prev=prev, timestamp=ts, entry_type="x.t", payload=text)


# --- FeedState -----------------------------------------------------------------------------


def test_empty_state_holds_nothing() -> None:
    state = FeedState(ALICE.public_key)
    assert state.empty and not state.complete and not state.forked
    assert not any(state.holds(s) for s in range(0, 5))


def test_state_holds_exactly_its_range() -> None:
    state = holding(3, 6).state
    assert not state.empty and not state.complete
    assert [s for s in range(0, 9) if state.holds(s)] == [3, 4, 5, 6]
    assert holding(1, 2).state.complete


# --- forwards ------------------------------------------------------------------------------


def test_first_entry_of_an_empty_feed_starts_the_range_anywhere() -> None:
    e = at(5)
    state, placement = place(FeedState(ALICE.public_key), e)
    assert placement is Placement.FIRST
    assert (state.lo, state.hi) == (5, 5)
    assert state.lo_prev == e.prev == at(4).hash
    assert state.hi_hash == e.hash
    assert state.lo_ts == state.hi_ts == e.timestamp


def test_forwards_from_seq_one_is_first_then_next() -> None:
    holder = Holder()
    assert holder.place_all(FEED) == [Placement.FIRST] + [Placement.NEXT] * (N - 1)
    state = holder.state
    assert (state.lo, state.hi, state.hi_hash, state.hi_ts) == (
        1, N, at(N).hash, at(N).timestamp)
    assert state.lo_prev is None and state.complete


def test_next_updates_only_the_high_end() -> None:
    before = holding(3, 4).state
    after, placement = place(before, at(5))
    assert placement is Placement.NEXT
    assert (after.lo, after.lo_prev, after.lo_ts) == (before.lo, before.lo_prev, before.lo_ts)
    assert (after.hi, after.hi_hash, after.hi_ts) == (5, at(5).hash, at(5).timestamp)


def test_equal_timestamps_are_allowed_forwards() -> None:
    one = entry(1, None, 1000)
    two = entry(2, one.hash, 1000)
    holder = Holder()
    assert holder.place_all([one, two]) == [Placement.FIRST, Placement.NEXT]


# --- backwards -----------------------------------------------------------------------------


def test_backwards_from_a_signed_head_is_first_then_previous() -> None:
    holder = Holder()
    placements = holder.place_all(reversed(FEED))
    assert placements == [Placement.FIRST] + [Placement.PREVIOUS] * (N - 1)
    state = holder.state
    assert (state.lo, state.hi) == (1, N) and state.complete
    assert state.hi_hash == at(N).hash and state.lo_prev is None
    assert state.lo_ts == at(1).timestamp


def test_previous_updates_only_the_low_end() -> None:
    before = holding(5, 7).state
    after, placement = place(before, at(4))
    assert placement is Placement.PREVIOUS
    assert (after.hi, after.hi_hash, after.hi_ts) == (before.hi, before.hi_hash, before.hi_ts)
    assert (after.lo, after.lo_prev, after.lo_ts) == (4, at(3).hash, at(4).timestamp)


def test_a_range_grows_at_both_ends() -> None:
    holder = holding(6, 6)
    assert holder.place_all([at(7), at(5), at(8), at(4)]) == [
        Placement.NEXT, Placement.PREVIOUS, Placement.NEXT, Placement.PREVIOUS]
    assert (holder.state.lo, holder.state.hi) == (4, 8)


# --- held, gap, refused --------------------------------------------------------------------


def test_duplicates_inside_the_range_are_held_and_change_nothing() -> None:
    holder = holding(2, 6)
    before = holder.state
    for seq in range(2, 7):
        assert holder.place(at(seq)) is Placement.HELD
    assert holder.state == before


def test_a_position_inside_the_range_needs_the_held_hash() -> None:
    with pytest.raises(ValueError, match="held_hash"):
        place(holding(2, 4).state, at(3))


@pytest.mark.parametrize("seq", [1, 2, 8, 9, 12])
def test_entries_not_touching_the_range_are_gaps(seq: int) -> None:
    holder = holding(4, 6)
    before = holder.state
    assert holder.place(at(seq)) is Placement.GAP
    assert holder.state == before


def test_a_forked_feed_refuses_everything() -> None:
    state = FeedState(ALICE.public_key, forked=True)
    for e in (at(1), at(5)):
        assert place(state, e) == (state, Placement.REFUSED)
    held = holding(1, 3).state
    forked = dataclasses.replace(held, forked=True)
    assert place(forked, at(4)) == (forked, Placement.REFUSED)
    assert place(forked, at(2), at(2).hash) == (forked, Placement.REFUSED)


# --- forks and timestamp rules -------------------------------------------------------------


def test_c2_a_second_entry_for_a_held_position_is_a_fork() -> None:
    other = forked_after(3, 2)[0]  # seq 4, not FEED's seq 4
    assert other.seq == 4 and other.hash != at(4).hash
    holder = holding(1, 6)
    with pytest.raises(ForkError) as info:
        holder.place(other)
    error = info.value
    assert error.rule == "C2" and error.author == ALICE.public_key and error.seq == 4
    assert error.expected == at(4).hash and error.found == other.hash


def test_c3_next_entry_linking_to_another_predecessor_is_a_fork() -> None:
    other = forked_after(3, 2)[1]  # seq 5 whose prev is the other seq 4
    holder = holding(1, 4)
    with pytest.raises(ForkError) as info:
        holder.place(other)
    error = info.value
    assert error.rule == "C3" and error.seq == 5 and error.author == ALICE.public_key
    assert error.expected == at(4).hash and error.found == other.prev


def test_c5_previous_entry_that_is_not_the_named_predecessor_is_a_fork() -> None:
    other = forked_after(2, 1)[0]  # seq 3, not FEED's seq 3
    holder = holding(4, 6)
    with pytest.raises(ForkError) as info:
        holder.place(other)
    error = info.value
    assert error.rule == "C5" and error.seq == 3 and error.author == ALICE.public_key
    assert error.expected == at(3).hash == at(4).prev and error.found == other.hash


def test_c4_timestamp_going_back_forwards() -> None:
    one = entry(1, None, 1000)
    two = entry(2, one.hash, 999)
    holder = Holder()
    holder.place(one)
    with pytest.raises(ChainError) as info:
        holder.place(two)
    error = info.value
    assert not isinstance(error, ForkError)
    assert error.rule == "C4" and error.expected == ">= 1000" and error.found == 999


def test_c6_timestamp_going_back_backwards() -> None:
    one = entry(1, None, 2000)
    two = entry(2, one.hash, 1000)
    holder = Holder()
    assert holder.place(two) is Placement.FIRST
    with pytest.raises(ChainError) as info:
        holder.place(one)
    error = info.value
    assert not isinstance(error, ForkError)
    assert error.rule == "C6" and error.expected == "<= 1000" and error.found == 2000


def test_a_failed_placement_leaves_the_state_unchanged() -> None:
    holder = holding(1, 4)
    before = holder.state
    with pytest.raises(ForkError):
        holder.place(forked_after(3, 2)[1])
    assert holder.state == before


# --- plan_batch ----------------------------------------------------------------------------


def no_history(author: bytes, seq: int) -> bytes | None:
    raise AssertionError(f"held_hash asked for {seq} of a feed with no history")


def test_plan_batch_accepts_a_whole_honest_feed() -> None:
    plan = plan_batch({}, FEED, no_history)
    assert plan.accepted == FEED
    assert plan.placements == [Placement.FIRST] + [Placement.NEXT] * (N - 1)
    assert plan.error is None and plan.error_index is None
    assert not (plan.forks or plan.gaps or plan.refused) and plan.duplicates == 0
    assert plan.states[ALICE.public_key].hi == N


def test_plan_batch_stops_at_the_first_chain_error_keeping_the_valid_prefix() -> None:
    one = entry(1, None, 5000)
    two = entry(2, one.hash, 6000)
    bad = entry(3, two.hash, 10)            # C4
    four = entry(4, bad.hash, 7000)
    plan = plan_batch({}, [BOB_FEED[0], one, two, bad, four, BOB_FEED[1]], no_history)
    assert plan.error is not None and plan.error.rule == "C4"
    assert plan.error_index == 3
    assert plan.accepted == [BOB_FEED[0], one, two]
    assert plan.states[ALICE.public_key].hi == 2
    assert plan.states[BOB.public_key].hi == 1  # nothing after the error, of any feed


def test_plan_batch_records_forks_and_goes_on_with_other_feeds() -> None:
    held = hash_lookup(FEED[:3])
    states = {ALICE.public_key: holding(1, 3).state}
    fork4 = forked_after(2, 2)[1]  # seq 4 linking to another seq 3: C3
    batch = [BOB_FEED[0], fork4, BOB_FEED[1], at(4), at(5), BOB_FEED[2]]
    plan = plan_batch(states, batch, lambda a, s: held.get((a, s)))
    assert plan.error is None
    assert plan.forks == [ForkProof(ALICE.public_key, 4, fork4.header, "C3")]
    assert plan.states[ALICE.public_key].forked
    assert plan.refused == [at(4), at(5)]
    assert plan.accepted == BOB_FEED[:3]
    assert plan.states[BOB.public_key].hi == 3


def test_plan_batch_counts_duplicates_of_held_entries() -> None:
    held = hash_lookup(FEED[:3])
    states = {ALICE.public_key: holding(1, 3).state}
    plan = plan_batch(states, [at(2), at(3), at(4), at(1)], lambda a, s: held.get((a, s)))
    assert plan.duplicates == 3
    assert plan.accepted == [at(4)] and plan.placements == [Placement.NEXT]


def test_plan_batch_recognises_entries_accepted_earlier_in_the_same_batch() -> None:
    fork2 = FeedBuilder(ALICE, after=at(1), start_ts=at(1).timestamp + 3).post("other two")
    plan = plan_batch({}, [at(1), at(2), at(1), at(2), at(3), fork2], no_history)
    assert plan.accepted == [at(1), at(2), at(3)]
    assert plan.duplicates == 2
    assert plan.forks == [ForkProof(ALICE.public_key, 2, fork2.header, "C2")]


def test_plan_batch_lists_gaps_and_does_not_store_them() -> None:
    plan = plan_batch({}, [at(1), at(3), at(5), at(2)], no_history)
    assert plan.gaps == [at(3), at(5)]
    assert plan.accepted == [at(1), at(2)]
    assert plan.states[ALICE.public_key].hi == 2


def test_plan_batch_does_not_mutate_the_given_states() -> None:
    states = {ALICE.public_key: holding(1, 2).state}
    snapshot = dict(states)
    held = hash_lookup(FEED[:2])
    plan = plan_batch(states, [at(3)], lambda a, s: held.get((a, s)))
    assert states == snapshot
    assert plan.states[ALICE.public_key].hi == 3


def test_plan_batch_of_nothing_is_empty() -> None:
    assert plan_batch({}, [], no_history) == BatchPlan()


# --- properties: arrival order does not matter for an honest feed --------------------------


def feed_one_at_a_time(entries: list[Entry]) -> Holder:
    """Offer entries one by one, retrying the gaps until no more progress, like a sync."""
    holder = Holder()
    pending = list(entries)
    while pending:
        retry = []
        for e in pending:
            placement = holder.place(e)
            assert placement is not Placement.REFUSED
            if placement is Placement.GAP:
                retry.append(e)
            state = holder.state
            assert set(holder.hashes) == held_range(state)
        if len(retry) == len(pending):
            break
        pending = retry
    return holder


@given(st.permutations(FEED))
@settings(max_examples=150)
def test_any_arrival_order_ends_with_the_whole_feed(order: list[Entry]) -> None:
    holder = feed_one_at_a_time(order)
    state = holder.state
    assert (state.lo, state.hi) == (1, N) and not state.forked
    assert holder.hashes == {e.seq: e.hash for e in FEED}
    assert state.hi_hash == at(N).hash and state.hi_ts == at(N).timestamp


@given(st.lists(st.sampled_from(FEED), max_size=3 * N))
@settings(max_examples=150)
def test_any_arrival_with_repeats_and_omissions_keeps_a_contiguous_range(
        arrivals: list[Entry]) -> None:
    holder = feed_one_at_a_time(arrivals)
    state = holder.state
    assert set(holder.hashes) == held_range(state)
    for seq, h in holder.hashes.items():
        assert at(seq).hash == h


@given(st.permutations(FEED), st.integers(0, N), st.integers(0, N))
@settings(max_examples=150)
def test_order_for_ingest_places_any_shuffled_batch_without_gaps(
        shuffled: list[Entry], a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    holder = holding(lo, hi) if lo >= 1 else Holder()
    held = {(ALICE.public_key, s): h for s, h in holder.hashes.items()}
    ordered = order_for_ingest(shuffled, holder.state)
    assert sorted(e.seq for e in ordered) == list(range(1, N + 1))
    plan = plan_batch({ALICE.public_key: holder.state}, ordered,
                      lambda author, seq: held.get((author, seq)))
    assert plan.error is None and not plan.forks
    assert plan.gaps == []
    assert plan.duplicates == len(holder.hashes)
    state = plan.states[ALICE.public_key]
    assert (state.lo, state.hi) == (1, N)


def test_order_for_ingest_of_an_empty_feed_is_newest_first() -> None:
    shuffled = random.Random(7).sample(FEED, len(FEED))
    ordered = order_for_ingest(shuffled, FeedState(ALICE.public_key))
    assert ordered == list(reversed(FEED))
    plan = plan_batch({}, ordered, no_history)
    assert plan.placements == [Placement.FIRST] + [Placement.PREVIOUS] * (N - 1)


def test_order_for_ingest_extends_forwards_above_then_backwards_below() -> None:
    holder = holding(5, 7)
    shuffled = random.Random(3).sample(FEED, len(FEED))
    ordered = order_for_ingest(shuffled, holder.state)
    assert [e.seq for e in ordered] == [8, 9, 10, 11, 12, 7, 6, 5, 4, 3, 2, 1]
