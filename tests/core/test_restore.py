"""When a restored identity may write again (core.restore): rules R1–R4, no I/O."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.restore import RestoreGate

WINDOW = 5.0


def test_nothing_is_allowed_before_a_holder_has_caught_up() -> None:
    gate = RestoreGate(WINDOW)
    assert not gate.may_write(3, 100.0)
    gate.offered("stale", 3)
    assert not gate.may_write(3, 100.0)  # offered, not caught up: no window yet
    assert not gate.caught_up("empty", 1.0)  # a peer that holds none of my feed opens nothing
    assert gate.closes_at() is None


def test_a_stale_peer_alone_is_not_believed_within_the_window() -> None:
    gate = RestoreGate(WINDOW)
    gate.offered("stale", 3)
    assert gate.caught_up("stale", 10.0)
    assert gate.closes_at() == 15.0
    assert not gate.may_write(3, 14.9)
    gate.offered("fresh", 10)  # a newer head arrives within the window
    assert not gate.may_write(3, 15.0)  # I do not hold it yet
    assert not gate.may_write(9, 20.0)
    assert gate.may_write(10, 20.0)


def test_the_window_opens_once_and_a_late_offer_still_raises_the_target() -> None:
    gate = RestoreGate(WINDOW)
    gate.offered("a", 2)
    assert gate.caught_up("a", 0.0)
    gate.offered("b", 4)
    assert not gate.caught_up("b", 3.0)  # the window opened at 0 and stays so
    assert not gate.may_write(2, 6.0)
    gate.offered("c", 7)  # after the window, before writing was allowed
    assert not gate.may_write(4, 7.0)
    assert gate.may_write(7, 7.0)


def test_once_allowed_the_gate_is_done() -> None:
    gate = RestoreGate(WINDOW)
    gate.offered("a", 5)
    gate.caught_up("a", 0.0)
    assert gate.may_write(5, 5.0)
    gate.offered("b", 50)  # my own next entry, announced back to me, must not close it
    assert gate.target == 5 and gate.may_write(5, 6.0)
    assert not gate.caught_up("b", 7.0)


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 100)), max_size=20),
       st.integers(0, 100), st.floats(0, 20))
def test_writing_is_never_allowed_below_any_offered_head_or_inside_the_window(
        offers: list[tuple[str, int]], held: int, at: float) -> None:
    gate = RestoreGate(WINDOW)
    for peer, hi in offers:
        gate.offered(peer, hi)
    opened = any(gate.caught_up(peer, 0.0) for peer, _ in offers)
    allowed = gate.may_write(held, at)
    highest = max((hi for _, hi in offers), default=0)
    assert allowed == (opened and at >= WINDOW and held >= highest)
