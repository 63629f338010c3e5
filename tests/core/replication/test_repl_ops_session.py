"""Account ops in sessions (spec O1, O4): OPS of a wanted account comes out as OpsReceived; the
answer to a WANT note carries the account's ops right after the note's entries, once per
session; new ops go out live, never back to the peer that sent them; OPS of an account a
session does not want, or that a node from before accounts cannot read, is harmless."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cbor2
import pytest
from repl_harness import End, Link, Node, run

from p2psocial.core.errors import LocalProtocolError, ProtocolError
from p2psocial.core.replication import (
    LIMITED_FRAME,
    NEED_DATA,
    Code,
    EntriesReceived,
    Event,
    NeedData,
    OpsReceived,
    PeerHello,
    PeerSynced,
    PeerWants,
    State,
    SyncSession,
    WantNote,
    encode_frame,
    encode_message,
)
from p2psocial.core.replication import session as session_module
from p2psocial.core.replication.framing import FrameDecoder
from p2psocial.core.replication.messages import (
    MAX_OP_BYTES,
    Hello,
    Message,
    Ops,
    Synced,
    Want,
    decode_message,
)
from p2psocial.testing import identity_for, make_feed

ALICE, BOB = identity_for("alice"), identity_for("bob")
A, B = ALICE.public_key, BOB.public_key
A_FEED = make_feed(ALICE, 5)
OPS_OF_A = [b"init of A", b"add of device 1", b"add of device 2"]
HELLO = Hello(1, "scripted", 1 << 20)


def frame(msg: Message) -> bytes:
    return encode_frame(encode_message(msg))


class OpsNode(Node):
    """A harness node that also holds account ops (raw bytes, not checked here)."""

    def __init__(self, name: str, wants: dict[bytes, int] | None = None) -> None:
        super().__init__(name, wants)
        self.ops: dict[bytes, list[bytes]] = {}

    def add_ops(self, account: bytes, ops: list[bytes]) -> None:
        new = [op for op in ops if op not in self.ops.get(account, [])]
        self.ops.setdefault(account, []).extend(new)
        if new:
            for end in self.ends:
                if end.session.state is State.OPEN:
                    end.send(end.session.ops(account, new))


@dataclass
class OpsEnd(End):
    sent_order: list[str] = field(default_factory=list)

    def handle(self, event: Event) -> None:
        node = self.node
        assert isinstance(node, OpsNode)
        if isinstance(event, PeerWants):
            self.send(self.session.answer(event, {f: node.state(f) for f in event.feeds},
                                          {f: node.ops[f] for f in event.feeds if f in node.ops}))
        elif isinstance(event, OpsReceived):
            node.add_ops(event.account, list(event.ops))
        else:
            super().handle(event)


def wire(a: OpsNode, b: OpsNode) -> Link:
    link = Link(OpsEnd(a, SyncSession(a.want_notes(), agent=a.name)),
                OpsEnd(b, SyncSession(b.want_notes(), agent=b.name)))
    a.ends.append(link.a)
    b.ends.append(link.b)
    link.a.send(link.a.session.initiate())
    link.b.send(link.b.session.initiate())
    return link


def alice_and_bob() -> tuple[OpsNode, OpsNode, Link]:
    alice, bob = OpsNode("alice"), OpsNode("bob", {A: 0})
    alice.hold(A_FEED)
    alice.ops[A] = list(OPS_OF_A)
    link = wire(alice, bob)
    run([link])
    return alice, bob, link


def test_the_answer_carries_the_accounts_ops_after_its_entries_and_before_synced() -> None:
    _, bob, link = alice_and_bob()
    kinds = [type(e) for e in link.b.events]
    assert kinds[0] is PeerHello
    assert kinds.index(OpsReceived) > max(i for i, k in enumerate(kinds) if k is EntriesReceived)
    assert kinds.index(OpsReceived) < kinds.index(PeerSynced)
    assert bob.ops[A] == OPS_OF_A and bob.held(A) == (1, 5)
    assert link.b.session.stats.ops_in == 3 and link.a.session.stats.ops_out == 3
    assert link.b.session.caught_up


def test_ops_go_once_per_session_and_never_back_to_their_sender() -> None:
    alice, bob, link = alice_and_bob()
    link.b.send(link.b.session.want([WantNote(A, 1, 5, 0)]))   # asks again: a deeper note
    run([link])
    assert link.a.session.stats.ops_out == 3                   # not sent again
    alice.add_ops(A, [b"revoke of device 1"])                  # live: only the new op
    run([link])
    assert bob.ops[A] == [*OPS_OF_A, b"revoke of device 1"]
    assert link.a.session.stats.ops_out == 4
    # bob stored it and offers it to his sessions: not back to alice, who sent it
    assert link.b.session.stats.ops_out == 0
    assert link.a.session.stats.ops_in == 0


def test_ops_of_an_account_the_peer_does_not_want_are_not_sent() -> None:
    _, _, link = alice_and_bob()
    assert link.a.session.ops(B, [b"an op of B"]) == b""
    link.b.send(link.b.session.unwant([A]))
    run([link])
    assert link.a.session.ops(A, [b"another op of A"]) == b""


def test_a_session_receiving_ops_it_does_not_want_is_harmless() -> None:
    me = SyncSession([WantNote(A, 0, 0, 0)])
    me.initiate()
    got = events(me, frame(HELLO) + frame(Ops(B, (b"op of B",) * 3)) + frame(Synced(1)))
    assert [type(e) for e in got] == [PeerHello, PeerSynced]
    assert me.state is State.OPEN and me.stats.unsolicited_ops == 3 and me.stats.ops_in == 0


def test_ops_of_a_wanted_account_come_out_as_an_event() -> None:
    me = SyncSession([WantNote(A, 0, 0, 0)])
    me.initiate()
    got = events(me, frame(HELLO) + frame(Ops(A, (b"one", b"two"))))
    assert got == [PeerHello(1, "scripted", 1 << 20), OpsReceived(A, (b"one", b"two"))]


def test_ops_before_hello_are_unexpected() -> None:
    me = SyncSession([WantNote(A, 0, 0, 0)])
    me.initiate()
    with pytest.raises(ProtocolError) as info:
        events(me, frame(Ops(A, (b"op",))))
    assert info.value.code == Code.UNEXPECTED


def test_a_node_from_before_accounts_ignores_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """O4: an older node decodes type 8 as an unknown type (its decoder knew types 0-7): it
    counts and ignores the OPS and replicates the account id's feed as before."""

    def old_decode(data: bytes, known: int = 7) -> Any:
        if cbor2.loads(data)[0] > 7:
            return None
        return decode_message(data, known)

    monkeypatch.setattr(session_module, "decode_message", old_decode)
    _, bob, link = alice_and_bob()
    assert bob.held(A) == (1, 5) and A not in bob.ops
    assert link.b.session.stats.unknown >= 1 and link.b.session.state is State.OPEN
    assert link.b.failure is None and link.a.failure is None and link.b.session.caught_up


def test_ops_frames_stay_within_a_relayed_sessions_frame_limit() -> None:
    me = SyncSession([], send_frame=LIMITED_FRAME)
    me.initiate()
    events(me, frame(HELLO) + frame_want(A))
    ops = [bytes([i]) * MAX_OP_BYTES for i in range(40)]
    data = me.ops(A, ops)
    decoder = FrameDecoder(1 << 20)
    decoder.receive(data)
    got: list[bytes] = []
    while (body := decoder.next_frame()) is not None:
        assert len(body) <= LIMITED_FRAME
        msg = decode_message(body)
        assert isinstance(msg, Ops)
        got.extend(msg.ops)
    assert got == ops


def test_sending_ops_that_are_not_ops_is_a_local_error() -> None:
    me = SyncSession([])
    me.initiate()
    events(me, frame(HELLO) + frame_want(A))
    with pytest.raises(LocalProtocolError):
        me.ops(A, [bytes(MAX_OP_BYTES + 1)])
    with pytest.raises(LocalProtocolError):
        me.ops(A, [b""])


def frame_want(feed: bytes) -> bytes:
    return frame(Want((WantNote(feed, 0, 0, 0),)))


def events(me: SyncSession, data: bytes) -> list[Event]:
    me.receive_data(data)
    out: list[Event] = []
    while me.state is not State.CLOSED and (event := me.next_event()) is not NEED_DATA:
        assert not isinstance(event, NeedData)
        out.append(event)
    return out
