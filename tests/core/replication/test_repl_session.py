"""Two SyncSessions wired in memory, each driven by an in-memory node holding real feeds."""

from __future__ import annotations

import pytest
from repl_harness import Node, connect, run

from p2psocial.core.errors import LocalProtocolError
from p2psocial.core.feed import FeedState
from p2psocial.core.replication import (
    LIMITED_FRAME,
    MIN_FRAME,
    NEED_DATA,
    EntriesReceived,
    PeerClosed,
    PeerHas,
    PeerHello,
    PeerSynced,
    PeerUnwants,
    PeerWants,
    SendRange,
    State,
    SyncSession,
    WantNote,
    decode_message,
)
from p2psocial.core.replication.framing import FrameDecoder
from p2psocial.core.replication.messages import Entries, Want
from p2psocial.core.replication.session import DEFAULT_MAX_FRAME
from p2psocial.testing import FeedBuilder, identity_for, make_feed, raw_entries

ALICE, BOB = identity_for("alice"), identity_for("bob")
A, B = ALICE.public_key, BOB.public_key
A_FEED = make_feed(ALICE, 60)
B_FEED = make_feed(BOB, 5)


def holder(name: str = "holder", upto: int = 50, wants: dict[bytes, int] | None = None) -> Node:
    node = Node(name, wants)
    node.hold(A_FEED[:upto])
    return node


def received_seqs(node: Node, feed: bytes = A) -> list[int]:
    return [seq for author, seq in node.received if author == feed]


def test_handshake_states_and_hello() -> None:
    link = connect(holder(), Node("follower", {A: 0}), start=False)
    a, b = link.a.session, link.b.session
    assert a.state is State.START
    link.a.send(a.initiate())
    assert a.state is State.AWAIT_HELLO and a.caught_up  # no wants: nothing to wait for
    link.b.send(b.initiate())
    assert b.state is State.AWAIT_HELLO and not b.caught_up
    run([link])
    assert a.state is b.state is State.OPEN
    assert link.a.events[0] == PeerHello(1, "follower", DEFAULT_MAX_FRAME)
    assert a.peer_hello is not None and a.peer_hello.agent == "follower"
    assert b.caught_up and b.wants_sent == 1


def test_new_follower_gets_the_head_first_then_backfills_newest_first_to_depth() -> None:
    follower = Node("follower", {A: 20})
    link = connect(holder(), follower)
    run([link])
    assert received_seqs(follower) == list(range(50, 30, -1))
    assert follower.held(A) == (31, 50)
    assert link.b.session.caught_up
    kinds = [type(e) for e in link.b.events]
    assert kinds == [PeerHello, PeerHas, EntriesReceived, PeerSynced]


def test_depth_zero_takes_the_whole_feed_newest_first() -> None:
    follower = Node("follower", {A: 0})
    run([connect(holder(), follower)])
    assert received_seqs(follower) == list(range(50, 0, -1))
    assert follower.held(A) == (1, 50)


def test_up_to_date_follower_receives_only_what_is_new() -> None:
    follower = holder("follower", upto=40, wants={A: 0})
    link = connect(holder(), follower)
    run([link])
    assert received_seqs(follower) == list(range(41, 51))
    assert link.a.session.stats.entries_out == 10
    assert link.b.session.stats.entries_in == 10
    assert follower.duplicates == 0


def test_follower_that_is_ahead_receives_nothing() -> None:
    follower = holder("follower", upto=55, wants={A: 0})
    link = connect(holder(), follower)
    run([link])
    assert link.a.session.stats.entries_out == 0
    assert link.b.session.caught_up


def test_forwards_then_backwards_for_a_middle_range() -> None:
    follower = Node("follower", {A: 0})
    follower.hold(A_FEED[29:40][::-1])           # seqs 40 down to 30
    run([connect(holder(), follower)])
    assert received_seqs(follower) == [*range(41, 51), *range(29, 0, -1)]
    assert follower.held(A) == (1, 50)


def test_live_push_after_the_initial_exchange() -> None:
    author = Node("author")
    author.hold(A_FEED[:10])
    follower = Node("follower", {A: 0})
    link = connect(author, follower)
    run([link])
    assert follower.held(A) == (1, 10)
    for entry in A_FEED[10:13]:
        author.append(entry)
    run([link])
    assert follower.held(A) == (1, 13)
    assert received_seqs(follower)[-3:] == [11, 12, 13]
    assert link.a.session.stats.entries_out == 13
    assert follower.duplicates == 0


def test_live_push_to_a_peer_that_wants_only_the_newest() -> None:
    author = Node("author")
    author.hold(A_FEED[:30])
    follower = Node("follower", {A: 5})
    link = connect(author, follower)
    run([link])
    author.append(A_FEED[30])
    run([link])
    assert follower.held(A) == (26, 31)
    have_after_push = [e for e in link.b.events[4:] if isinstance(e, PeerHas)]
    assert have_after_push == []  # it holds all it wants: no HAVE with the push


def test_deeper_backfill_through_a_later_want() -> None:
    follower = Node("follower", {A: 10})
    link = connect(holder(), follower)
    run([link])
    assert follower.held(A) == (41, 50)
    session = link.b.session
    follower.wants[A] = 30
    link.b.send(session.want([WantNote(A, 41, 50, 30)]))
    assert not session.caught_up
    run([link])
    assert received_seqs(follower)[10:] == list(range(40, 20, -1))
    assert follower.held(A) == (21, 50)
    assert session.caught_up and session.wants_sent == 2
    assert [e.count for e in link.b.events if isinstance(e, PeerSynced)] == [1, 2]


def test_both_sides_want_each_others_feeds() -> None:
    alice = Node("alice", {B: 0})
    alice.hold(A_FEED[:8])
    bob = Node("bob", {A: 3})
    bob.hold(B_FEED)
    link = connect(alice, bob)
    run([link])
    assert alice.held(B) == (1, 5) and bob.held(A) == (6, 8)
    assert link.a.session.caught_up and link.b.session.caught_up


def test_a_relay_forwards_what_it_receives() -> None:
    """author -> relay -> follower: the relay wants the feed, so it pushes on what it gets."""
    author = Node("author")
    author.hold(A_FEED[:5])
    relay, follower = Node("relay", {A: 0}), Node("follower", {A: 0})
    links = [connect(author, relay), connect(relay, follower)]
    run(links)
    assert follower.held(A) == (1, 5)
    for entry in A_FEED[5:9]:
        author.append(entry)
    run(links)
    assert relay.held(A) == follower.held(A) == (1, 9)
    assert relay.duplicates == follower.duplicates == 0


def test_a_peer_that_grows_elsewhere_is_told_what_it_can_now_take() -> None:
    """P holds 1-10 and Q 70-100: nothing links. P then gets 11-60 elsewhere and Q 50-69: now
    each can take from the other; a HAVE tells Q what P grew to, and both complete."""
    p = Node("p", {A: 0})
    p.hold(A_FEED[:10])
    q = Node("q", {A: 0})
    builder = FeedBuilder(ALICE, after=A_FEED[-1], start_ts=A_FEED[-1].timestamp + 1000)
    for i in range(40):
        builder.post(f"more {i}")
    long_feed = A_FEED + builder.entries                    # seqs 1-100
    q.hold(long_feed[69:100][::-1])                         # 100 down to 70
    s = Node("s")
    s.hold(long_feed[:60])
    r = Node("r")
    r.hold(long_feed[49:100][::-1])
    pq = connect(p, q)
    run([pq])
    assert p.held(A) == (1, 10) and q.held(A) == (70, 100)
    run([connect(p, s)])
    assert p.held(A) == (1, 60)
    run([pq])
    run([connect(q, r)])
    run([pq])
    assert p.held(A) == (1, 100) and q.held(A) == (1, 100)
    told = [(n.lo, n.hi) for e in pq.b.events if isinstance(e, PeerHas) for n in e.notes]
    assert told == [(1, 10), (1, 60), (1, 100)]   # answer, news of P's growth, answer
    assert pq.b.session.wants_sent == 2           # Q asked P again
    # P pushed 60-1 on its stale belief that Q held 61-100 (60-50 were duplicates); Q's
    # fresh WANT crossed that push, and P, sure those entries land, did not send them again
    assert pq.a.session.stats.entries_in == 40 and pq.b.session.stats.entries_in == 60
    assert q.duplicates == 11


def test_a_sender_that_guessed_wrong_is_corrected_by_a_fresh_want() -> None:
    """A new follower hears from two holders; the one with the newer head answers the
    follower's empty note newest first, but the follower already started from the other's
    head, so 55-52 land in a gap. Once caught up, the follower asks again with its real range
    and gets them."""
    old, new = holder("old", upto=50), holder("new", upto=55)
    follower = Node("follower", {A: 10})
    to_old, to_new = connect(follower, old), connect(follower, new)
    run([to_old])
    assert follower.held(A) == (41, 50)
    run([to_new])
    assert received_seqs(follower)[10:] == [*range(55, 45, -1), 52, 53, 54, 55]
    assert follower.gaps == 4 and follower.duplicates == 5
    assert to_new.a.session.wants_sent == 2  # the fresh WANT
    assert follower.held(A) == (41, 55)


def test_entries_are_cut_to_256_per_frame_and_to_the_peers_max_frame() -> None:
    builder = FeedBuilder(ALICE)
    for i in range(600):
        builder.add_raw("x.big", bytes([i % 256]) * (8000 if i < 20 else 10))
    entries = raw_entries(builder.entries)
    me = SyncSession()
    me.initiate()
    peer = SyncSession([WantNote(A, 0, 0, 0)], max_frame=MIN_FRAME)
    me.receive_data(peer.initiate())
    assert isinstance(me.next_event(), PeerHello)
    assert isinstance(me.next_event(), PeerWants)
    data = me.entries_frames(A, entries[::-1])
    frames = list(FrameDecoder().feed(data))
    counts = [len(decoded.entries) for frame in frames
              if isinstance(decoded := decode_message(frame), Entries)]
    assert sum(counts) == 600 and max(counts) == 256
    assert all(len(frame) <= MIN_FRAME for frame in frames)
    assert counts == [256, 256, 74, 7, 7]  # seven 8 KB payloads fill a 64 KiB frame
    assert me.peer_holds(A) == (1, 600)


def test_a_send_frame_below_the_peers_max_frame_cuts_entries_smaller() -> None:
    """Spec L1: on a relayed connection ENTRIES frames stay within LIMITED_FRAME, whatever
    the peer announced; one entry larger than that still goes, alone in its frame."""
    builder = FeedBuilder(ALICE)
    for i in range(60):
        builder.add_raw("x.big", bytes([i % 256]) * (2500 if i else 16_384))
    entries = raw_entries(builder.entries)
    me = SyncSession(send_frame=LIMITED_FRAME)
    me.initiate()
    peer = SyncSession([WantNote(A, 0, 0, 0)])
    me.receive_data(peer.initiate())
    assert isinstance(me.next_event(), PeerHello)
    assert isinstance(me.next_event(), PeerWants)
    frames = list(FrameDecoder().feed(me.entries_frames(A, entries[::-1])))
    counts = [len(decoded.entries) for frame in frames
              if isinstance(decoded := decode_message(frame), Entries)]
    assert sum(counts) == 60 and counts[-1] == 1   # entry 1 (16 KiB) alone
    assert all(len(frame) <= LIMITED_FRAME for frame in frames[:-1])
    assert LIMITED_FRAME < len(frames[-1]) < MIN_FRAME
    with pytest.raises(LocalProtocolError, match="send_frame"):
        SyncSession(send_frame=0)


def test_unwant_stops_the_sender_and_late_entries_are_dropped_and_counted() -> None:
    author = Node("author")
    author.hold(A_FEED[:10])
    follower = Node("follower", {A: 0})
    link = connect(author, follower)
    run([link])
    link.b.send(link.b.session.unwant([A]))
    author.append(A_FEED[10])          # pushed before the UNWANT arrives
    run([link])
    assert follower.held(A) == (1, 10)
    assert link.b.session.stats.unsolicited == 1
    assert isinstance(link.a.events[-1], PeerUnwants)
    author.append(A_FEED[11])           # after it: nothing is sent
    assert not link.a.outbox
    assert not link.a.session.peer_wants(A)


def test_entries_for_a_feed_the_peer_stopped_wanting_are_not_framed() -> None:
    me, peer = opened()
    while me.next_event() is not NEED_DATA:
        pass
    assert me.peer_wants(A)
    me.receive_data(peer.unwant([A]))
    assert isinstance(me.next_event(), PeerUnwants)
    assert me.entries_frames(A, raw_entries(A_FEED[:3])) == b""


def test_bye_closes_both_sides() -> None:
    link = connect(holder(), Node("follower", {A: 0}))
    run([link])
    link.a.send(link.a.session.bye("shutting down"))
    assert link.a.session.state is State.CLOSED
    run([link])
    assert link.b.events[-1] == PeerClosed("shutting down")
    assert link.b.session.state is State.CLOSED
    assert "BYE" in (link.b.session.close_reason or "")
    with pytest.raises(LocalProtocolError):
        link.b.session.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        link.b.session.next_event()
    link.b.session.bye("bye too")  # a last word is still allowed once
    with pytest.raises(LocalProtocolError):
        link.b.session.bye("again")


def test_end_of_stream() -> None:
    me, peer = SyncSession(), SyncSession()
    me.initiate()
    me.receive_data(peer.initiate())
    me.receive_eof()
    assert isinstance(me.next_event(), PeerHello)
    assert me.next_event() == PeerClosed(None)
    assert me.state is State.CLOSED


def test_end_of_stream_inside_a_frame_is_a_cut_connection_not_an_error() -> None:
    # a peer that crashes (or whose connection is cut) mid-frame is not misbehaving
    me, peer = SyncSession(), SyncSession()
    me.initiate()
    me.receive_data(peer.initiate() + b"\x05\x00")  # a frame of 5 bytes, cut after one
    me.receive_eof()
    assert isinstance(me.next_event(), PeerHello)
    event = me.next_event()
    assert isinstance(event, PeerClosed) and "inside a frame" in (event.reason or "")
    assert me.state is State.CLOSED and me.error is None


def opened(wants: list[WantNote] | None = None) -> tuple[SyncSession, SyncSession]:
    me, peer = SyncSession(wants or []), SyncSession([WantNote(A, 0, 0, 0)])
    to_me = peer.initiate()
    peer.receive_data(me.initiate())
    me.receive_data(to_me)
    assert isinstance(me.next_event(), PeerHello)
    return me, peer


def test_local_misuse_raises_local_errors() -> None:
    fresh = SyncSession()
    for call in (lambda: fresh.receive_data(b"x"), fresh.next_event, fresh.bye,
                 lambda: fresh.want([]), lambda: fresh.update({})):
        with pytest.raises(LocalProtocolError):
            call()
    fresh.initiate()
    with pytest.raises(LocalProtocolError):
        fresh.initiate()
    with pytest.raises(LocalProtocolError, match="HELLO"):
        fresh.entries_frames(A, raw_entries(A_FEED[:1]))
    with pytest.raises(LocalProtocolError):
        SyncSession(max_frame=100)
    with pytest.raises(LocalProtocolError):
        SyncSession(agent="x" * 300)
    with pytest.raises(LocalProtocolError):
        SyncSession([WantNote(A, 5, 1, 0)])


def test_answers_go_in_order() -> None:
    me, _ = opened()
    wants = me.next_event()
    assert isinstance(wants, PeerWants) and wants.index == 1
    early = PeerWants(2, wants.notes)
    with pytest.raises(LocalProtocolError, match="answer WANT 1"):
        me.answer(early, {})
    out = me.answer(wants, {A: FeedState(A)})
    assert len(out) == 2  # HAVE (0, 0), SYNCED: nothing held, nothing to send
    decoded = [decode_message(f) for item in out if isinstance(item, bytes)
               for f in FrameDecoder().feed(item)]
    assert [type(m).__name__ for m in decoded] == ["Have", "Synced"]


def test_entries_to_send_must_form_a_run_of_the_feed() -> None:
    me, _ = opened()
    assert isinstance(me.next_event(), PeerWants)
    for bad in (raw_entries([A_FEED[0], A_FEED[2]]),
                raw_entries([A_FEED[0], A_FEED[1], A_FEED[0]]),
                raw_entries([A_FEED[0], B_FEED[1]]),
                [(b"junk", None)], [(bytes(600), None)]):
        with pytest.raises(LocalProtocolError):
            me.entries_frames(A, bad)
    with pytest.raises(LocalProtocolError):
        me.want([WantNote(A, 0, 0, 0), WantNote(A, 0, 0, 1)])
    with pytest.raises(LocalProtocolError):
        me.unwant([b"short"])


def test_update_plans_pushes_in_order_with_runs() -> None:
    me, _ = opened()
    wants = me.next_event()
    assert isinstance(wants, PeerWants)
    out = me.answer(wants, {A: FeedState(A, 1, 3)})
    assert SendRange(A, 3, 1) in out
    pushed = me.update({A: FeedState(A, 1, 5)})
    assert pushed == [SendRange(A, 4, 5)]
    assert me.update({A: FeedState(A, 1, 5)}) == []  # idempotent


def test_want_messages_are_split_to_fit_any_peer() -> None:
    notes = [WantNote(bytes([i % 256, i // 256]) * 16, 2**40, 2**52, 2**52)
             for i in range(3000)]
    session = SyncSession(notes)
    data = session.initiate()
    frames = list(FrameDecoder().feed(data))
    wants = [m for f in frames if isinstance(m := decode_message(f), Want)]
    assert sum(len(w.notes) for w in wants) == 3000
    assert all(len(f) <= MIN_FRAME for f in frames)
    assert session.wants_sent == len(wants) >= 3


def test_stats_count_frames_and_bytes_both_ways() -> None:
    follower = Node("follower", {A: 0})
    link = connect(holder(), follower)
    run([link])
    a, b = link.a.session.stats, link.b.session.stats
    assert a.frames_out == b.frames_in and a.bytes_out == b.bytes_in
    assert b.frames_out == a.frames_in and b.bytes_out == a.bytes_in
    assert a.entries_out == b.entries_in == 50
