"""Limits that protect a node from peers that are silent, slow or refused (issue 9, items 16
and 20): the frame limit before HELLO, read deadlines, and ERROR with a retry-after."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.core.errors import LocalProtocolError, ProtocolError
from p2psocial.core.replication import (
    NEED_DATA,
    Code,
    PeerFailed,
    PeerHello,
    ReadDeadline,
    State,
    SyncSession,
    WantNote,
    decode_message,
    encode_frame,
    encode_message,
    honoured_retry,
)
from p2psocial.core.replication.deadline import FRAME_SECONDS, HELLO_SECONDS
from p2psocial.core.replication.framing import MAX_HELLO_FRAME, FrameDecoder
from p2psocial.core.replication.messages import MAX_NOTES, Bye, Error, Hello, Want
from p2psocial.core.replication.session import MAX_PEER_WANTS, MAX_RETRY_AFTER

F1 = b"\x01" * 32
HELLO = encode_frame(encode_message(Hello(1, "peer", 1 << 20)))


def started() -> SyncSession:
    session = SyncSession([WantNote(F1, 0, 0, 0)])
    session.initiate()
    return session


def events(session: SyncSession) -> list[object]:
    out: list[object] = []
    while session.state is not State.CLOSED \
            and (event := session.next_event()) is not NEED_DATA:
        out.append(event)
    return out


# ---- the frame limit before HELLO ---------------------------------------------------------


def test_a_long_first_frame_is_refused_as_soon_as_its_length_is_read() -> None:
    session = started()
    session.receive_data(b"\x80\x80\x04")  # a length of 65,536: within max_frame, not now
    with pytest.raises(ProtocolError) as info:
        session.next_event()
    assert info.value.code == Code.FRAME_TOO_LARGE
    assert "before HELLO" in info.value.detail
    assert session.state is State.CLOSED


def test_the_largest_hello_fits_and_the_limit_rises_after_it() -> None:
    biggest = encode_frame(encode_message(Hello(2**53 - 1, "\U0010ffff" * 256, 1 << 20)))
    assert len(biggest) <= MAX_HELLO_FRAME
    session = started()
    big_want = Want(tuple(WantNote(bytes([i % 256, i // 256]) * 16, 0, 0, 0)
                          for i in range(1000)))
    frame = encode_frame(encode_message(big_want))
    assert len(frame) > MAX_HELLO_FRAME
    session.receive_data(HELLO + frame)
    kinds = [type(e).__name__ for e in events(session)]
    assert kinds == ["PeerHello", "PeerWants"]


def test_frame_decoder_limit_and_partial() -> None:
    decoder = FrameDecoder()
    assert decoder.limit == decoder.max_frame and not decoder.partial
    decoder.receive(encode_frame(b"abc")[:2])
    assert decoder.partial and decoder.next_frame() is None
    decoder.receive(b"bc")
    assert decoder.next_frame() == b"abc" and not decoder.partial


# ---- read deadlines ------------------------------------------------------------------------


def test_the_hello_must_arrive_within_hello_seconds() -> None:
    session = started()
    deadline = ReadDeadline(100.0)
    assert deadline.due(session, 100.0) == 100.0 + HELLO_SECONDS
    assert deadline.due(session, 105.0) == 100.0 + HELLO_SECONDS
    session.receive_data(HELLO)
    events(session)
    assert deadline.due(session, 106.0) is None  # OPEN and idle between frames: no limit


def test_a_frame_begun_must_end_within_frame_seconds_however_it_dribbles() -> None:
    session = started()
    deadline = ReadDeadline(0.0, hello_seconds=5, frame_seconds=20)
    session.receive_data(HELLO)
    events(session)
    frame = encode_frame(encode_message(Want((WantNote(F1, 0, 0, 0),))))
    session.receive_data(frame[:3])
    events(session)
    assert session.pending_frame
    assert deadline.due(session, 50.0) == 70.0
    for at, byte in zip((55.0, 60.0, 65.0), frame[3:6], strict=True):
        session.receive_data(bytes([byte]))
        events(session)
        assert deadline.due(session, at) == 70.0  # one byte at a time buys no time
    session.receive_data(frame[6:] + frame[:2])  # that frame ends; the next one begins
    assert [type(e).__name__ for e in events(session)] == ["PeerWants"]
    assert deadline.due(session, 66.0) == 86.0
    session.receive_data(frame[2:])
    events(session)
    assert deadline.due(session, 67.0) is None


def test_before_hello_the_earlier_deadline_wins() -> None:
    session = started()
    deadline = ReadDeadline(0.0, hello_seconds=10, frame_seconds=30)
    session.receive_data(HELLO[:2])
    events(session)
    assert deadline.due(session, 1.0) == 10.0
    assert ReadDeadline(0.0).due(session, 0.0) == min(HELLO_SECONDS, FRAME_SECONDS)


def test_deadlines_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReadDeadline(0.0, hello_seconds=0)


# ---- ERROR with a retry-after, and refusals --------------------------------------------------


def test_error_with_and_without_retry_after_on_the_wire() -> None:
    assert encode_message(Error("refused", "", 60)).hex() == "8407677265667573656460183c"
    assert encode_message(Error("fork", "x")).hex() == "830764666f726b6178"
    assert decode_message(bytes.fromhex("8407677265667573656460183c")) == \
        Error("refused", "", 60)
    for bad in ("84076772656675736564606131",      # retry_after "1": text
                "8407677265667573656460f5",        # true
                "85076772656675736564600100"):  # a 5th item
        with pytest.raises(ProtocolError) as info:
            decode_message(bytes.fromhex(bad))
        assert info.value.code == Code.MALFORMED


def test_a_refusal_is_our_hello_then_error_and_the_peer_reads_it() -> None:
    refuser = SyncSession([], agent="refuser")
    data = refuser.refuse(Code.REFUSED, "you sent a fork", retry_after=120)
    assert refuser.state is State.CLOSED
    refused = started()
    refused.receive_data(data)
    got = events(refused)
    assert isinstance(got[0], PeerHello)
    assert got[1] == PeerFailed("refused", "you sent a fork", 120)
    assert refused.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        refuser.refuse(Code.REFUSED, "again", 1)


def test_fail_carries_a_retry_after_clamped_to_a_day() -> None:
    failing = started()
    failing.receive_data(HELLO)
    events(failing)
    data = failing.fail(Code.INVALID_ENTRY, "H8", retry_after=10**12)
    other = started()
    other.receive_data(HELLO + data)
    [_, failed] = events(other)
    assert failed == PeerFailed("invalid-entry", "H8", MAX_RETRY_AFTER)
    assert honoured_retry(None) == 0.0
    assert honoured_retry(30) == 30.0
    assert honoured_retry(2**53 - 1) == MAX_RETRY_AFTER


def test_the_refusal_vector_in_the_spec_is_what_we_send() -> None:
    spec = (Path(__file__).parents[3] / "docs" / "protocol.md").read_text()
    line = next(x for x in spec.splitlines() if x.startswith("`0d 84 07"))
    documented = bytes.fromhex(line.split("`")[1])
    assert documented == encode_frame(encode_message(Error("refused", "", 60)))
    assert SyncSession([], agent="x").refuse(Code.REFUSED, "", 60).endswith(documented)


def test_a_peer_may_want_at_most_max_peer_wants_feeds_at_once() -> None:
    session = started()
    session.receive_data(HELLO)
    events(session)
    feeds = [index.to_bytes(32, "big") for index in range(MAX_PEER_WANTS + 1)]
    allowed = feeds[:MAX_PEER_WANTS]
    for start in range(0, MAX_PEER_WANTS, MAX_NOTES):
        notes = tuple(WantNote(f, 0, 0, 0) for f in allowed[start:start + MAX_NOTES])
        session.receive_data(encode_frame(encode_message(Want(notes))))
    session.receive_data(encode_frame(encode_message(Want((WantNote(feeds[0], 0, 0, 5),)))))
    assert len(events(session)) == -(-MAX_PEER_WANTS // MAX_NOTES) + 1  # a repeat is fine
    session.receive_data(encode_frame(encode_message(Want((WantNote(feeds[-1], 0, 0, 0),)))))
    with pytest.raises(ProtocolError) as info:
        session.next_event()
    assert info.value.code == Code.TOO_MANY_WANTS


def test_bye_direct_on_the_wire_matches_the_spec_vector() -> None:
    """Spec L4: the BYE that moves a relayed session to a direct connection."""
    frame = encode_frame(encode_message(Bye("direct")))
    assert frame.hex(" ") == "09 82 06 66 64 69 72 65 63 74"
    spec = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
    assert f"`{frame.hex(' ')}` (length 9; `[6, \"direct\"]`)" in spec
    assert decode_message(frame[1:]) == Bye("direct")
