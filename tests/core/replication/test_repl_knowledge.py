"""What a side knows of the peer: statements, sure sends, guesses; live HAVE; asking again."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core.feed import FeedState
from p2psocial.core.replication import SendRange, Span, WantNote
from p2psocial.core.replication.knowledge import Knowledge, PeerRange
from p2psocial.core.replication.messages import HaveNote
from p2psocial.core.replication.planner import EMPTY

F = b"\x0f" * 32


def test_a_run_sent_to_a_peer_believed_empty_is_a_guess_that_a_want_drops() -> None:
    known = PeerRange()
    known.send(Span(46, 55))
    assert known.belief == Span(46, 55) and known.sure == Span()
    known.state(Span(41, 51))           # the peer's WANT note: it started from another head
    known.drop_guesses()
    assert known.belief == Span(41, 51)


def test_runs_sent_next_to_what_is_sure_survive_a_crossing_want() -> None:
    known = PeerRange()
    known.state(Span(61, 100))
    known.send(Span(1, 60))
    assert known.sure == known.belief == Span(1, 100)
    known.state(Span(50, 100))          # a WANT the peer sent before my entries arrived
    known.drop_guesses()
    assert known.belief == Span(1, 100)


def test_a_statement_that_does_not_touch_the_belief_replaces_the_guesses() -> None:
    known = PeerRange()
    known.send(Span(91, 100))
    known.state(Span(50, 60))
    assert known.belief == known.sure == Span(50, 60)
    known.state(Span(0, 0))             # "nothing" states nothing
    assert known.belief == Span(50, 60)


def test_unwant_forgets_what_was_sent_but_not_what_was_stated() -> None:
    knowledge = Knowledge([WantNote(F, 0, 0, 0)])
    knowledge.peer_wants(WantNote(F, 1, 10, 0))
    knowledge.sent(F, Span(11, 20))
    assert knowledge.holds(F) == Span(1, 20)
    knowledge.peer_unwants(F)
    assert knowledge.holds(F) == Span(1, 10)
    other = Knowledge([])
    other.peer_wants(WantNote(F, 1, 10, 0))
    other.peer_unwants(F)
    assert other.holds(F) == Span()


def test_statements_about_feeds_nobody_wants_are_not_kept() -> None:
    knowledge = Knowledge([])
    knowledge.stated(F, Span(1, 5))
    assert knowledge.holds(F) == Span()


def test_push_then_have_once_per_change_of_my_range() -> None:
    knowledge = Knowledge([])
    knowledge.peer_wants(WantNote(F, 1, 10, 0))
    assert knowledge.push(F, Span(50, 100)) == ([], HaveNote(F, 50, 100))
    assert knowledge.push(F, Span(50, 100)) == ([], None)
    assert knowledge.push(F, Span(11, 100)) == ([SendRange(F, 11, 100)], None)


def test_answers_promise_runs_and_count_them_as_held() -> None:
    knowledge = Knowledge([])
    note = WantNote(F, 0, 0, 5)
    knowledge.peer_wants(note)
    assert knowledge.answer(note, Span(1, 30)) == [SendRange(F, 30, 26)]
    assert knowledge.push(F, Span(1, 31)) == ([SendRange(F, 31, 31)], None)
    assert knowledge.holds(F) == Span(26, 31)


def test_ask_again_only_when_caught_up_and_never_twice_for_the_same_ranges() -> None:
    knowledge = Knowledge([WantNote(F, 91, 100, 0)])
    knowledge.stated(F, Span(1, 100))          # the peer says it holds it all
    mine = FeedState(F, 91, 100)
    assert knowledge.ask_again(F, mine, caught_up=False) is None
    assert knowledge.take_recheck() == (F,)
    assert knowledge.ask_again(F, mine, caught_up=True) == WantNote(F, 91, 100, 0)
    # it answered nothing (it overstated): asking again would loop
    assert knowledge.ask_again(F, mine, caught_up=True) is None
    grown = FeedState(F, 80, 100)
    assert knowledge.ask_again(F, grown, caught_up=True) == WantNote(F, 80, 100, 0)
    forked = FeedState(F, 80, 100, forked=True)
    knowledge.stated(F, Span(1, 101))
    assert knowledge.ask_again(F, forked, caught_up=True) is None


def test_a_have_of_nothing_keeps_no_range() -> None:
    # a relay wants every member's feed, and each member answers each WANT note with a HAVE,
    # most of them "nothing": a range kept per (session, feed) for that grew a relay by
    # members squared (issue 10: ~63 ranges per member at 60 members)
    known = Knowledge([WantNote(F, 0, 0, 10)])
    known.stated(F, Span())
    assert known.ranges_kept() == 0 and known.holds(F) == Span()
    known.stated(F, Span(1, 5))
    assert known.ranges_kept() == 1 and known.holds(F) == Span(1, 5)


def _ops_strategy() -> st.SearchStrategy[list[tuple[str, bytes, Span]]]:
    feeds = st.sampled_from([bytes([i]) * 32 for i in range(1, 4)])
    span = st.tuples(st.integers(0, 6), st.integers(0, 6)).map(
        lambda t: Span(min(t), max(t)) if min(t) > 0 else Span(0, 0))
    return st.lists(st.one_of(
        st.tuples(st.just("push"), feeds, span),
        st.tuples(st.just("stated"), feeds, span),
        st.tuples(st.just("unwant"), feeds, span),
        st.tuples(st.just("want"), feeds, span),
        st.tuples(st.just("ask"), feeds, span),
    ), max_size=12)


def test_deferred_peer_wants_behave_as_applied_ones() -> None:
    """A4: notes kept by defer_peer_wants answer every later question as peer_wants would."""
    @settings(max_examples=300, deadline=None)
    @given(ops=_ops_strategy())
    def check(ops: list[tuple[str, bytes, Span]]) -> None:
        notes = [(bytes([i]) * 32, 1 if i != 3 else 0, 4 if i != 3 else 0, 2) for i in (1, 2, 3)]
        mine = [WantNote(bytes([1]) * 32, 1, 4, 0), WantNote(bytes([2]) * 32, 1, 4, 0)]
        eager, lazy = Knowledge(mine), Knowledge(mine)
        for feed, lo, hi, depth in notes:
            eager.peer_wants(WantNote(feed, lo, hi, depth))
        lazy.defer_peer_wants(notes)
        for kind, feed, span in ops:
            assert lazy.tracks(feed) is eager.tracks(feed)
            if kind == "push":
                assert eager.push(feed, span) == lazy.push(feed, span)
            elif kind == "stated":
                eager.stated(feed, span)
                lazy.stated(feed, span)
            elif kind == "unwant":
                eager.peer_unwants(feed)
                lazy.peer_unwants(feed)
            elif kind == "want":
                note = WantNote(feed, span.lo, span.hi, 0)
                eager.peer_wants(note)
                lazy.peer_wants(note)
            else:
                state = FeedState(feed, span.lo, span.hi)
                assert eager.ask_again(feed, state, True) == lazy.ask_again(feed, state, True)
            feeds = [bytes([i]) * 32 for i in range(1, 4)]
            assert lazy.in_common(feeds) == eager.in_common(feeds) == sum(
                1 for f in feeds if eager.wanted_by_peer(f) or not eager.holds(f).empty)
            assert eager.holds(feed) == lazy.holds(feed)
            assert eager.wanted_by_peer(feed) is lazy.wanted_by_peer(feed)
            assert eager.peer_want_count() == lazy.peer_want_count()
    check()


def test_counting_feeds_in_common_applies_no_deferred_note() -> None:
    """`peers` polls the count: it must not undo A4's deferral (it did, through `holds`,
    settling every deferred note at each poll and slowing a reconnect being watched)."""
    feeds = [bytes([i]) * 32 for i in range(1, 101)]
    known = Knowledge([WantNote(f, 1, 4, 0) for f in feeds])
    known.defer_peer_wants([(f, 1, 4, 2) for f in feeds])
    assert known.in_common(feeds) == 100
    assert len(known._deferred) == 100  # white-box: nothing applied (the deferral is internal)
    known.holds(feeds[0])
    assert len(known._deferred) == 99 and known.in_common(feeds) == 100


def test_feeds_in_common_counts_wanted_deferred_and_held_feeds_once_each() -> None:
    """`in_common` (set operations, as `peers` polls it) counts a feed the peer wants, one a
    matched summary stands for, and one it is believed to hold, each once; not one it
    stated nothing of."""
    wanted, deferred, held, empty, other = (bytes([i]) * 32 for i in range(1, 6))
    known = Knowledge([WantNote(f, 0, 0, 0) for f in (held, empty, other)])
    known.peer_wants(WantNote(wanted, 1, 3, 0))
    known.defer_peer_wants([(deferred, 1, 3, 0)])
    known.stated(held, Span(1, 5))
    known.stated(empty, EMPTY)
    everything = [wanted, deferred, held, empty, other]
    assert known.in_common(everything) == known.in_common(set(everything)) == 3
    assert known.in_common(iter([held, held, other])) == 1
    assert known.in_common({wanted: 1, deferred: 2}) == 2  # a mapping: its keys
