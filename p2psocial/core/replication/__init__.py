"""Replication: the sync protocol as a sans-IO state machine (docs/protocol.md §Replication).

Rule: nothing here does I/O, keeps time, or imports an event loop or a network library. A
driver (p2psocial.net) owns the stream and the store, and moves bytes and events between them
and a SyncSession:

    session = SyncSession(my_wants, agent="p2psocial/0.1")
    write(session.initiate())                      # HELLO, then WANT
    session.receive_data(read())                   # bytes in ...
    while (event := session.next_event()) is not NEED_DATA:
        ...                                        # ... events out; answer, store, update
        if session.state is State.CLOSED:          # after PeerClosed or PeerFailed
            break

Modules: framing (length-prefixed frames), messages (the nine messages), codes (ERROR codes),
planner (what a wanter lacks, rules 1-4), knowledge (what the peer holds; live push; asking
again), peek (author and seq of a header), outgoing (cutting into frames), events (what the
driver is told), session (the state machine), deadline (how long to wait for the peer),
account_ops (OPS: what a session sends and remembers; O3 wants), op_check (O2: checking
received ops; imports core.account, so it is not imported here).
"""

from p2psocial.core.replication.codes import Code
from p2psocial.core.replication.deadline import ReadDeadline, honoured_retry
from p2psocial.core.replication.events import (
    NEED_DATA,
    EntriesReceived,
    Event,
    NeedData,
    OpsReceived,
    PeerAsksMore,
    PeerClosed,
    PeerFailed,
    PeerHas,
    PeerHello,
    PeerSynced,
    PeerUnwants,
    PeerWants,
    PeerWantsAccounts,
    SessionStats,
    State,
)
from p2psocial.core.replication.framing import MAX_FRAME, MIN_FRAME, FrameDecoder, encode_frame
from p2psocial.core.replication.messages import (
    PROTOCOL_ID,
    PROTOCOL_ID_SUMMARIES,
    PROTOCOL_VERSION,
    HaveNote,
    Message,
    RawEntry,
    WantNote,
    decode_message,
    encode_message,
)
from p2psocial.core.replication.planner import SendRange, Span, plan_sends
from p2psocial.core.replication.session import LIMITED_FRAME, Output, SyncSession

__all__ = [
    "LIMITED_FRAME",
    "MAX_FRAME",
    "MIN_FRAME",
    "NEED_DATA",
    "PROTOCOL_ID",
    "PROTOCOL_ID_SUMMARIES",
    "PROTOCOL_VERSION",
    "Code",
    "EntriesReceived",
    "Event",
    "FrameDecoder",
    "HaveNote",
    "Message",
    "NeedData",
    "OpsReceived",
    "Output",
    "PeerAsksMore",
    "PeerClosed",
    "PeerFailed",
    "PeerHas",
    "PeerHello",
    "PeerSynced",
    "PeerUnwants",
    "PeerWants",
    "PeerWantsAccounts",
    "RawEntry",
    "ReadDeadline",
    "SendRange",
    "SessionStats",
    "Span",
    "State",
    "SyncSession",
    "WantNote",
    "decode_message",
    "encode_frame",
    "encode_message",
    "honoured_retry",
    "plan_sends",
]
