"""Scripted remotes: a peer that breaks the protocol gets a ProtocolError with the right code,
the session closes and says why, and the ERROR can still be sent once."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from p2psocial.core.errors import LocalProtocolError, ProtocolError
from p2psocial.core.replication import (
    MIN_FRAME,
    NEED_DATA,
    Code,
    EntriesReceived,
    Event,
    NeedData,
    PeerFailed,
    PeerHello,
    PeerSynced,
    State,
    SyncSession,
    WantNote,
    decode_message,
    encode_frame,
    encode_message,
)
from p2psocial.core.replication.framing import FrameDecoder
from p2psocial.core.replication.messages import (
    Bye,
    Entries,
    Error,
    Hello,
    Message,
    Synced,
    Want,
)
from p2psocial.testing import identity_for, make_feed, raw_entries

ALICE, BOB = identity_for("alice"), identity_for("bob")
A, B = ALICE.public_key, BOB.public_key
A_FEED, B_FEED = make_feed(ALICE, 6), make_feed(BOB, 3)
HELLO = Hello(1, "scripted", 1 << 20)


def frame(msg: Message) -> bytes:
    return encode_frame(encode_message(msg))


def raw_frame(value: Any) -> bytes:
    return encode_frame(bytes(cbor2.dumps(value)))


def session(wants: list[WantNote] | None = None) -> SyncSession:
    me = SyncSession(wants if wants is not None else [WantNote(A, 0, 0, 0)])
    me.initiate()
    return me


def events(me: SyncSession, data: bytes) -> list[Event]:
    me.receive_data(data)
    out: list[Event] = []
    while me.state is not State.CLOSED and (event := me.next_event()) is not NEED_DATA:
        assert not isinstance(event, NeedData)
        out.append(event)
    return out


def refused(me: SyncSession, data: bytes, code: Code) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        events(me, data)
    assert info.value.code == code
    assert me.state is State.CLOSED
    assert me.error is info.value
    assert code in (me.close_reason or "")
    return info.value


def test_a_well_behaved_script_for_reference() -> None:
    me = session()
    got = events(me, frame(HELLO) + frame(Entries(A, tuple(raw_entries(A_FEED[::-1]))))
                 + frame(Synced(1)))
    assert [type(e) for e in got] == [PeerHello, EntriesReceived, PeerSynced]
    assert me.caught_up


@pytest.mark.parametrize("first", [
    frame(Want((WantNote(A, 0, 0, 0),))),
    frame(Synced(0)),
    frame(Bye("early")),
    raw_frame([99, "a future message"]),
])
def test_anything_before_hello_is_unexpected(first: bytes) -> None:
    refused(session(), first, Code.UNEXPECTED)


def test_a_second_hello() -> None:
    refused(session(), frame(HELLO) + frame(HELLO), Code.UNEXPECTED)


@pytest.mark.parametrize("version", [0, 2, 2**53 - 1])
def test_wrong_version(version: int) -> None:
    refused(session(), frame(Hello(version, "x", 1 << 20)), Code.VERSION)


def test_max_frame_below_the_minimum() -> None:
    refused(session(), frame(Hello(1, "x", MIN_FRAME - 1)), Code.MALFORMED)


@pytest.mark.parametrize("garbage", [
    encode_frame(b"\xff\x00garbage"),
    encode_frame(b""),
    raw_frame({"not": "an array"}),
    raw_frame([1, [[A, 3, 1, 0]]]),        # lo > hi
    encode_frame(encode_message(HELLO) + b"\x00"),
])
def test_garbage_frames_after_hello(garbage: bytes) -> None:
    refused(session(), frame(HELLO) + garbage, Code.MALFORMED)


def test_garbage_frame_in_place_of_hello() -> None:
    refused(session(), encode_frame(b"\x00\x01\x02"), Code.MALFORMED)


def test_oversized_length_is_refused_from_the_prefix_alone() -> None:
    me = session()
    events(me, frame(HELLO))
    refused(me, b"\x81\x80\x40", Code.FRAME_TOO_LARGE)  # 1 MiB + 1, no body sent


def test_the_limit_is_the_max_frame_we_announced() -> None:
    me = SyncSession(max_frame=MIN_FRAME)
    me.initiate()
    events(me, frame(HELLO))
    refused(me, encode_frame(bytes(MIN_FRAME + 1))[:3], Code.FRAME_TOO_LARGE)


def test_malformed_length_prefix() -> None:
    refused(session(), b"\x80\x80\x80\x80\x01", Code.BAD_FRAME)


def test_unknown_message_types_after_hello_are_ignored_and_counted() -> None:
    me = session()
    got = events(me, frame(HELLO) + raw_frame([9]) + raw_frame([200, {"x": 1}]) + frame(Synced(1)))
    assert [type(e) for e in got] == [PeerHello, PeerSynced]
    assert me.stats.unknown == 2


def test_entries_of_an_unwanted_feed_are_dropped_and_counted() -> None:
    me = session()
    got = events(me, frame(HELLO) + frame(Entries(B, tuple(raw_entries(B_FEED)))))
    assert [type(e) for e in got] == [PeerHello]
    assert me.stats.unsolicited == 3 and me.stats.entries_in == 0


def test_entries_of_another_author_are_an_error() -> None:
    me = session()
    mixed = (*raw_entries(A_FEED[:2]), *raw_entries(B_FEED[2:3]))
    error = refused(me, frame(HELLO) + frame(Entries(A, mixed)), Code.WRONG_AUTHOR)
    assert "entry 2" in error.detail


def test_entries_all_of_another_author_are_an_error() -> None:
    refused(session(), frame(HELLO) + frame(Entries(A, tuple(raw_entries(B_FEED)))),
            Code.WRONG_AUTHOR)


@pytest.mark.parametrize("seqs", [[1, 3], [2, 1, 2], [1, 1], [3, 2, 3]])
def test_entries_that_are_not_a_run_are_an_error(seqs: list[int]) -> None:
    entries = tuple(raw_entries(A_FEED[s - 1] for s in seqs))
    refused(session(), frame(HELLO) + frame(Entries(A, entries)), Code.BAD_RUN)


def test_an_unreadable_header_is_an_invalid_entry() -> None:
    refused(session(), frame(HELLO) + frame(Entries(A, ((b"\xa0", None),))),
            Code.INVALID_ENTRY)


@pytest.mark.parametrize("count", [2, 5])
def test_synced_beyond_the_wants_sent(count: int) -> None:
    refused(session(), frame(HELLO) + frame(Synced(count)), Code.UNEXPECTED)


def test_synced_going_backwards() -> None:
    me = session()
    events(me, frame(HELLO) + frame(Synced(1)))
    me.want([WantNote(B, 0, 0, 0)])
    refused(me, frame(Synced(0)), Code.UNEXPECTED)


def test_peer_error_closes_the_session() -> None:
    me = session()
    got = events(me, frame(HELLO) + frame(Error("invalid-entry", "entry 3 breaks H8")))
    assert got[-1] == PeerFailed("invalid-entry", "entry 3 breaks H8")
    assert me.state is State.CLOSED and me.error is None
    with pytest.raises(LocalProtocolError):
        me.next_event()


def test_events_before_the_fault_are_delivered_first() -> None:
    me = session()
    me.receive_data(frame(HELLO) + frame(Synced(1)) + b"\x80\x00")
    assert isinstance(me.next_event(), PeerHello)
    assert isinstance(me.next_event(), PeerSynced)
    with pytest.raises(ProtocolError):
        me.next_event()


def test_after_a_protocol_error_the_error_is_sent_once_then_all_is_refused() -> None:
    me = session()
    error = refused(me, frame(HELLO) + frame(HELLO), Code.UNEXPECTED)
    data = me.fail(error.code, error.detail * 50)
    (sent,) = list(FrameDecoder().feed(data))
    message = decode_message(sent)
    assert isinstance(message, Error) and message.code == "unexpected"
    assert len(message.detail) == 256
    for call in (lambda: me.receive_data(b""), me.next_event, me.receive_eof,
                 lambda: me.fail("x"), me.bye, lambda: me.want([]),
                 lambda: me.update({})):
        with pytest.raises(LocalProtocolError, match=r"closed|once"):
            call()
