"""core.replication.peer_book: strikes, refusals, forgetting, and two sessions with one peer."""

from __future__ import annotations

import pytest

from p2psocial.core.replication.peer_book import (
    BAN_SECONDS,
    STRIKE_MEMORY_SECONDS,
    PeerBook,
    keeps_existing,
)


def test_each_strike_refuses_the_peer_longer_and_only_that_peer() -> None:
    book = PeerBook()
    assert book.strike("bad", now=100.0) == BAN_SECONDS
    assert book.refusing("bad", 100.0 + BAN_SECONDS - 1)
    assert not book.refusing("bad", 100.0 + BAN_SECONDS + 1)
    assert not book.refusing("good", 101.0) and not book.waiting("good", 101.0)
    later = 100.0 + BAN_SECONDS + 10
    assert book.strike("bad", now=later) == 2 * BAN_SECONDS
    assert book.refused_until("bad") == later + 2 * BAN_SECONDS
    assert book.waiting("bad", later + 2 * BAN_SECONDS - 1)


def test_strikes_are_forgotten_an_hour_after_the_ban_ends() -> None:
    book = PeerBook()
    book.strike("bad", now=0.0)
    ends = BAN_SECONDS
    book.forget_old(ends + STRIKE_MEMORY_SECONDS - 1)
    assert len(book) == 1
    assert book.strike("bad", now=ends + STRIKE_MEMORY_SECONDS - 1) == 2 * BAN_SECONDS
    again = ends + STRIKE_MEMORY_SECONDS - 1 + 2 * BAN_SECONDS + STRIKE_MEMORY_SECONDS + 1
    assert book.strike("bad", now=again) == BAN_SECONDS  # forgotten: a first strike again


def test_a_refusal_from_a_peer_stops_dialling_it_but_is_not_my_refusal() -> None:
    book = PeerBook()
    book.refused_me("relay", 30.0, now=10.0)
    assert book.waiting("relay", 39.0)
    assert not book.refusing("relay", 39.0)
    assert not book.waiting("relay", 41.0)
    book.refused_me("relay", 5.0, now=11.0)  # a shorter one does not cut the first
    assert book.waiting("relay", 39.0)
    assert book.asked_to_wait("relay")


def test_thousands_of_throwaway_peers_leave_the_book_once_their_time_is_past() -> None:
    book = PeerBook()
    for i in range(5000):
        book.strike(f"striker{i}", now=0.0)
        book.refused_me(f"refuser{i}", 60.0, now=0.0)
    assert len(book) == 10_000
    book.refused_me("one", 60.0, now=61.0)  # the refusals' time is past; the bans are not
    assert len(book) == 5001
    book.strike("last", now=BAN_SECONDS + STRIKE_MEMORY_SECONDS + 1)
    assert len(book) == 1


@pytest.mark.parametrize(("existing_outbound", "new_outbound", "i_am_lower", "keeps"), [
    (True, False, True, True),     # I opened it and my key is lower: mine stays
    (False, True, False, True),    # the peer opened it and its key is lower: its stays
    (True, False, False, False),   # mine, but the peer's key is lower: the peer's new wins
    (False, True, True, False),    # the peer's, but my key is lower: my new one wins
    (True, True, True, False),     # both mine: I am done with the old one
    (False, False, False, False),  # both the peer's: it is done with the old one
])
def test_of_two_sessions_the_lower_keys_side_stays_and_a_same_side_one_replaces(
        existing_outbound: bool, new_outbound: bool, i_am_lower: bool, keeps: bool) -> None:
    assert keeps_existing(existing_outbound, new_outbound, i_am_lower) is keeps
