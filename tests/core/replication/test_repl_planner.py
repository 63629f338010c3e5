"""The planner: rules 1-4 of "What a side sends", as a table, plus live push and its HAVE."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.feed import FeedState
from p2psocial.core.replication import SendRange, Span, plan_sends
from p2psocial.core.replication.planner import floor_of, plan_spans, unseen_above_floor

F = b"\x0f" * 32


def state(lo: int, hi: int) -> FeedState:
    return FeedState(F, lo, hi)


def runs(*pairs: tuple[int, int]) -> list[SendRange]:
    return [SendRange(F, first, last) for first, last in pairs]


# (wanter lo, hi, depth), (holder lo, hi), expected runs (first, last) in order
CASES = [
    # rule 2: an empty wanter gets the newest first, down to its depth
    ((0, 0, 0), (1, 50), [(50, 1)]),
    ((0, 0, 10), (1, 50), [(50, 41)]),
    ((0, 0, 1), (1, 50), [(50, 50)]),
    ((0, 0, 100), (1, 50), [(50, 1)]),
    ((0, 0, 10), (45, 50), [(50, 45)]),         # the holder has less than the depth
    ((0, 0, 0), (20, 50), [(50, 20)]),
    ((0, 0, 0), (0, 0), []),                    # nothing held, nothing sent
    # rule 3: forwards from the wanter's head
    ((1, 40, 0), (1, 50), [(41, 50)]),
    ((1, 40, 5), (1, 50), [(41, 50)]),           # forwards ignores depth: the chain must link
    ((1, 40, 0), (41, 50), [(41, 50)]),          # adjacent
    ((1, 40, 0), (42, 50), []),                  # a gap: nothing links
    ((1, 50, 0), (1, 50), []),                   # up to date
    ((1, 60, 0), (1, 50), []),                   # ahead of the holder
    # rule 4: backwards from the wanter's tail, down to the floor
    ((30, 50, 0), (1, 50), [(29, 1)]),
    ((30, 50, 30), (1, 50), [(29, 21)]),
    ((30, 50, 21), (1, 50), []),                 # the floor is 30: already deep enough
    ((30, 50, 0), (10, 25), []),                 # the holder's range does not reach lo - 1
    ((30, 50, 0), (10, 29), [(29, 10)]),
    ((30, 50, 0), (31, 60), [(51, 60)]),         # forwards only: nothing below 30 held
    # forwards, then backwards
    ((30, 40, 0), (1, 50), [(41, 50), (29, 1)]),
    ((30, 40, 25), (1, 50), [(41, 50), (29, 26)]),
    ((30, 40, 21), (1, 50), [(41, 50)]),         # floor 30 once the head is 50
    # the floor follows the newest head either side knows (rule 1)
    ((90, 100, 20), (1, 95), [(89, 81)]),
    ((90, 100, 20), (1, 100), [(89, 81)]),
    ((91, 100, 10), (1, 50), []),                # the holder's old entries are below the floor
    ((0, 0, 1), (7, 7), [(7, 7)]),
]


@pytest.mark.parametrize(("wanter", "holder", "expected"), CASES)
def test_rules(wanter: tuple[int, int, int], holder: tuple[int, int],
               expected: list[tuple[int, int]]) -> None:
    assert plan_sends(F, *wanter, state(*holder)) == runs(*expected)


@pytest.mark.parametrize(("depth", "wanter_hi", "holder_hi", "floor"), [
    (0, 0, 50, 1), (0, 90, 50, 1), (10, 0, 50, 41), (10, 60, 50, 51), (100, 0, 50, 1),
    (1, 0, 1, 1),
])
def test_floor(depth: int, wanter_hi: int, holder_hi: int, floor: int) -> None:
    assert floor_of(depth, wanter_hi, holder_hi) == floor


def test_send_range_helpers() -> None:
    down, up = SendRange(F, 9, 5), SendRange(F, 5, 9)
    assert down.descending and not up.descending
    assert down.count == up.count == 5
    assert list(down.seqs()) == [9, 8, 7, 6, 5]
    assert down.span == up.span == Span(5, 9)
    assert list(down.pages(2)) == [SendRange(F, 9, 8), SendRange(F, 7, 6), SendRange(F, 5, 5)]
    assert list(up.pages(5)) == [up]


def test_span_helpers() -> None:
    assert Span(1, 5).touches(Span(6, 9)) and Span(6, 9).touches(Span(1, 5))
    assert not Span(1, 5).touches(Span(7, 9)) and not Span().touches(Span(1, 1))
    assert Span(1, 5).hull(Span(7, 9)) == Span(1, 9)
    assert Span().hull(Span(3, 4)) == Span(3, 4) == Span(3, 4).hull(Span())
    assert Span(1, 9).covers(Span(2, 3)) and Span(1, 9).covers(Span())
    assert not Span().covers(Span(1, 1)) and not Span(2, 9).covers(Span(1, 3))
    assert Span(1, 9).clip_below(5) == Span(5, 9)
    assert Span(1, 4).clip_below(5) == Span()


@pytest.mark.parametrize(("known", "depth", "held", "tell"), [
    ((1, 101), 0, (1, 101), False),      # it has all I have
    ((91, 101), 10, (1, 101), False),    # it has all it wants of what I have
    ((1, 10), 0, (50, 100), True),       # I hold more that it cannot link to yet
    ((0, 0), 0, (50, 100), True),
    ((0, 0), 0, (0, 0), False),
    ((95, 100), 10, (1, 100), True),     # 91-94 are above its floor
])
def test_when_to_tell_the_peer_my_range(known: tuple[int, int], depth: int,
                                        held: tuple[int, int], tell: bool) -> None:
    assert unseen_above_floor(Span(*known), depth, Span(*held)) is tell


spans = st.one_of(st.just(Span()), st.tuples(st.integers(1, 60), st.integers(0, 40))
                  .map(lambda t: Span(t[0], t[0] + t[1])))


@given(wanter=spans, depth=st.integers(0, 50), held=spans)
def test_runs_always_link_and_never_resend(wanter: Span, depth: int, held: Span) -> None:
    """Each run starts next to what the wanter holds (or at the holder's head for an empty
    wanter), covers only entries the holder has and the wanter lacks, and after sending them
    the planner has nothing more to send."""
    have = set() if wanter.empty else set(range(wanter.lo, wanter.hi + 1))
    current = wanter
    for run in plan_spans(F, wanter, depth, held):
        seqs = list(run.seqs())
        assert all(held.lo <= s <= held.hi and s not in have for s in seqs)
        if current.empty:
            assert run.first == held.hi
        else:
            assert run.first in (current.hi + 1, current.lo - 1)
        have.update(seqs)
        current = current.hull(run.span)
    assert plan_spans(F, current, depth, held) == []
    if not held.empty:
        floor = floor_of(depth, wanter.hi, held.hi)
        if wanter.empty or held.lo <= wanter.hi + 1:
            assert current.hi >= held.hi
        if current.lo > floor:
            assert current.lo - 1 < held.lo or current.lo - 1 > held.hi
