"""The fuzz rule: whatever bytes arrive, fed whole or split anywhere, a session only ever
yields events or raises ProtocolError; never another exception, never a hang."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from repl_harness import Node, connect, run
from repl_strategies import messages

from p2psocial.core.errors import ProtocolError
from p2psocial.core.feed import FeedState
from p2psocial.core.replication import (
    NEED_DATA,
    EntriesReceived,
    PeerHas,
    PeerSynced,
    PeerWants,
    State,
    SyncSession,
    WantNote,
    encode_frame,
    encode_message,
)
from p2psocial.core.replication.messages import Entries, Hello, Message, Synced, Want
from p2psocial.testing import identity_for, make_feed, raw_entries

ALICE, BOB = identity_for("alice"), identity_for("bob")
A, B = ALICE.public_key, BOB.public_key
A_FEED, B_FEED = make_feed(ALICE, 12), make_feed(BOB, 4)
HELLO = encode_frame(encode_message(Hello(1, "fuzz", 1 << 20)))
FUZZ = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def drive(chunks: list[bytes], *, eof: bool = False) -> SyncSession:
    """Feed `chunks` to a session that wants A, acting on events as a driver would; any
    exception other than ProtocolError fails the test."""
    me = SyncSession([WantNote(A, 0, 0, 3), WantNote(B, 1, 2, 0)])
    me.initiate()
    try:
        for index, chunk in enumerate(chunks):
            if me.state is State.CLOSED:  # a driver stops reading once the peer closed
                break
            me.receive_data(chunk)
            if eof and index == len(chunks) - 1:
                me.receive_eof()
            while me.state is not State.CLOSED:
                event = me.next_event()
                if event is NEED_DATA:
                    break
                act(me, event)
    except ProtocolError:
        assert me.state is State.CLOSED and me.error is not None
        me.fail(me.error.code, me.error.detail)
    return me


def act(me: SyncSession, event: object) -> None:
    held = {A: FeedState(A, 2, 9), B: FeedState(B)}
    if isinstance(event, PeerWants):
        me.answer(event, held)
    elif isinstance(event, PeerHas | EntriesReceived | PeerSynced):
        me.update(held)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 10**6), max_size=6))
def test_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    drive([data])
    drive(split(data, cuts))


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 10**6), max_size=6), st.booleans())
def test_arbitrary_bytes_after_a_valid_hello(data: bytes, cuts: list[int], eof: bool) -> None:
    drive([HELLO + data], eof=eof)
    drive(split(HELLO + data, cuts), eof=eof)


def test_arbitrary_bytes_one_at_a_time() -> None:
    data = HELLO + bytes(range(256))
    drive([data[i:i + 1] for i in range(len(data))])


real_entries = st.one_of(
    st.tuples(st.integers(0, 11), st.integers(1, 4)).map(
        lambda t: Entries(A, tuple(raw_entries(A_FEED[t[0]:t[0] + t[1]])))),
    st.tuples(st.integers(0, 11), st.integers(1, 4)).map(
        lambda t: Entries(A, tuple(raw_entries(A_FEED[t[0]:t[0] + t[1]][::-1])))),
    st.just(Entries(B, tuple(raw_entries(B_FEED)))),
    st.just(Entries(A, tuple(raw_entries(B_FEED[:1])))),
)
session_messages = st.one_of(messages, real_entries, st.builds(Synced, st.integers(0, 3)),
                             st.just(Want((WantNote(A, 1, 4, 2), WantNote(B, 0, 0, 0)))))


@FUZZ
@given(st.lists(session_messages, max_size=8), st.lists(st.integers(0, 10**6), max_size=6))
def test_sequences_of_well_formed_messages(msgs: list[Message], cuts: list[int]) -> None:
    data = HELLO + b"".join(encode_frame(encode_message(m)) for m in msgs)
    drive(split(data, cuts), eof=True)


def conversation() -> bytes:
    """The bytes a holder really sends a new follower."""
    holder, follower = Node("holder"), Node("follower", {A: 0})
    holder.hold(A_FEED)
    link = connect(holder, follower, start=False)
    follower_hello = link.b.session.initiate()
    holder_bytes = link.a.session.initiate()
    link.a.receive(follower_hello)
    run([link])
    return holder_bytes + bytes(link.a.outbox)


CONVERSATION = conversation()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(CONVERSATION) - 1), st.integers(0, 255)),
                min_size=1, max_size=4),
       st.integers(0, len(CONVERSATION)), st.lists(st.integers(0, 10**6), max_size=4))
def test_mutated_real_conversations(mutations: list[tuple[int, int]], cut: int,
                                    cuts: list[int]) -> None:
    data = bytearray(CONVERSATION)
    for at, value in mutations:
        data[at] = value
    drive(split(bytes(data[:cut]), cuts), eof=True)
