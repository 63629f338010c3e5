"""Announcement limits and the choice of feeds provided on the DHT (core.announce)."""

from __future__ import annotations

import pytest

from p2psocial.core.announce import AnnounceGate, HeardHeads, choose_provided

A, B, C, ME = (bytes([n]) * 32 for n in (1, 2, 3, 9))


def test_a_feed_is_announced_at_most_once_per_interval() -> None:
    gate = AnnounceGate(per_feed_seconds=1.0, per_second=100, burst=100)
    assert gate.due(A, 10.0) == 0
    gate.sent(A, 10.0)
    assert gate.due(A, 10.25) == pytest.approx(0.75)
    assert gate.due(B, 10.25) == 0  # another feed is not held back
    assert gate.due(A, 11.0) == 0


def test_all_feeds_together_stay_under_the_overall_rate() -> None:
    gate = AnnounceGate(per_feed_seconds=0, per_second=5, burst=2)
    feeds = [bytes([n]) * 32 for n in range(10)]
    gate.sent(feeds[0], 0.0)
    gate.sent(feeds[1], 0.0)
    assert gate.due(feeds[2], 0.0) == pytest.approx(0.2)  # burst spent: one per 1/5 s
    assert gate.due(feeds[2], 0.2) == 0
    gate.sent(feeds[2], 0.2)
    assert gate.due(feeds[3], 0.2) > 0
    sent, now = 0, 0.2
    while now < 10.2:  # ten seconds of asking as often as allowed
        feed = feeds[sent % len(feeds)]
        wait = gate.due(feed, now)
        if wait == 0:
            gate.sent(feed, now)
            sent += 1
        now += 0.01
    assert 48 <= sent <= 52


def test_the_per_feed_table_is_bounded() -> None:
    gate = AnnounceGate(per_feed_seconds=60, per_second=1e9, burst=10**9, max_feeds=100)
    for n in range(1000):
        gate.sent(n.to_bytes(32, "big"), float(n))
    assert len(gate._last) <= 100
    assert gate.due((999).to_bytes(32, "big"), 999.0) > 0  # the newest are kept


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        AnnounceGate(per_feed_seconds=1, per_second=0, burst=1)


def test_followed_feeds_are_provided_first_within_the_limit() -> None:
    chosen = choose_provided([C, B, A, ME], [C], me=ME, limit=2)
    assert chosen == [C, A]
    assert choose_provided([A, B, C, ME], [], me=ME, limit=10) == [A, B, C]
    assert choose_provided([A], [A], me=ME, limit=0) == []


def test_a_head_heard_announced_is_not_announced_again() -> None:
    heads = HeardHeads(max_feeds=2)
    assert heads.worth_announcing(A, 1)
    heads.heard(A, 5)
    assert not heads.worth_announcing(A, 5)
    assert not heads.worth_announcing(A, 4)
    assert heads.worth_announcing(A, 6)
    heads.heard(A, 3)  # an older announcement heard late lowers nothing
    assert not heads.worth_announcing(A, 5)
    heads.heard(B, 1)
    heads.heard(C, 1)  # bounded: A, heard longest ago, is forgotten
    assert heads.worth_announcing(A, 5)
    assert not heads.worth_announcing(C, 1)
