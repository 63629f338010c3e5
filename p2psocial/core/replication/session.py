"""SyncSession: one side of one sync stream, as a sans-IO state machine.

Rules:
- States: START --initiate()--> AWAIT_HELLO --the peer's HELLO--> OPEN --BYE, ERROR, end of
  stream or a protocol error--> CLOSED. Nothing here does I/O: bytes come in through
  `receive_data`/`receive_eof`, events come out of `next_event`, and every method that
  sends returns the bytes for the driver to write, in call order, on this one stream.
- `initiate()` returns our HELLO followed at once by a WANT for our wants: the peer reads the
  WANT after our HELLO, so no round trip is waited for.
- Methods that plan sending (`answer`, `update`) return a list of Outputs: bytes, to write as
  they are, and SendRange runs, whose entries the driver reads from its store and passes to
  `entries_frames`. The driver writes all of it strictly in order, through one queue per
  session, so each run arrives next to what the peer holds.
- What each side wants and what the peer holds is kept by `Knowledge` (knowledge.py, with
  its rules); `update` applies "Live" and "Asking again" for the states the driver passes.
- The peer's faults raise ProtocolError and close the session; the driver then sends
  `fail(exc.code, exc.detail)` and closes the stream. Misuse raises LocalProtocolError.
- ENTRIES frames are cut to the peer's max_frame, and to `send_frame` if smaller (spec L1: on
  a relayed connection, which a relay may cut after a data limit, frames stay small).
- Before the peer's HELLO, a frame longer than MAX_HELLO_FRAME is FRAME_TOO_LARGE. How long
  the driver waits for the peer's bytes is decided by `deadline.ReadDeadline`, from
  `pending_frame` and the state.
- A peer may want at most MAX_PEER_WANTS feeds at once (TOO_MANY_WANTS): what it wants is
  kept for the session's life, so it must be bounded.
- A peer we will not serve gets `refuse(code, detail, retry_after)` instead of `initiate()`:
  our HELLO, then ERROR with the retry-after.
- Account ops (spec O1-O2, rules in account_ops.py): OPS of an account I want comes out as
  OpsReceived, OPS of another is dropped and counted; `answer` sends the ops it is given for
  a noted feed right after that note's entries, and `ops` sends new ops live; each op goes
  to a peer at most once per session.
- Account summaries (spec A1-A5, sync 1.1.0, rules in account_summary.py): with
  `summaries`, `initiate` sends the AccountWants given as ACCOUNTS instead of WANT notes for
  their feeds (those feeds are still mine: their entries are taken); ACCOUNTS counts as a
  WANT for SYNCED. The peer's ACCOUNTS comes out as PeerWantsAccounts (`answer_accounts`),
  its MORE as PeerAsksMore (`more`). Without `summaries` (a 1.0.0 session) types 9 and 10
  are unknown and ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NoReturn, TypeAlias

from p2psocial.core import limits
from p2psocial.core.errors import LocalProtocolError, ProtocolError
from p2psocial.core.feed import FeedState
from p2psocial.core.replication import account_ops, outgoing
from p2psocial.core.replication.account_summary import AccountWant, Holding
from p2psocial.core.replication.codes import Code
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
from p2psocial.core.replication.framing import (
    MAX_FRAME,
    MAX_HELLO_FRAME,
    MIN_FRAME,
    FrameDecoder,
)
from p2psocial.core.replication.knowledge import Knowledge
from p2psocial.core.replication.messages import (
    MAX_OP_BYTES,
    MAX_TEXT_CHARS,
    MAX_UINT,
    PROTOCOL_VERSION,
    SYNC_1_0_TYPES,
    AccountNote,
    Accounts,
    Bye,
    Entries,
    Error,
    Have,
    HaveNote,
    Hello,
    Message,
    MessageType,
    More,
    Ops,
    RawEntry,
    Synced,
    Unwant,
    Want,
    WantNote,
    check_message,
    decode_message,
)
from p2psocial.core.replication.peek import run_of
from p2psocial.core.replication.planner import EMPTY, SendRange, Span

MAX_RETRY_AFTER = 86_400  # seconds: the longest retry-after sent (and honoured: see deadline)
DEFAULT_MAX_FRAME = 1 << 18  # 262,144: the max_frame we announce; a peer that stalls inside a
                             # frame holds at most this (ENTRIES of 256 entries rarely need more)
LIMITED_FRAME = 1 << 14  # 16,384: the largest ENTRIES frame sent on a relayed connection (L1)
MAX_PEER_WANTS = 100_000  # feeds a peer may want from us at once (what it wants is kept)

Output: TypeAlias = bytes | SendRange
"""An item the driver sends: bytes as they are, or the entries of a run via entries_frames."""


class SyncSession:
    """One side of a sync stream with one peer. See the module docstring for the rules."""

    def __init__(self, wants: Iterable[WantNote] = (), *, agent: str = "p2psocial",
                 max_frame: int = DEFAULT_MAX_FRAME, send_frame: int = MAX_FRAME,
                 summaries: bool = False, accounts: Iterable[AccountWant] = ()) -> None:
        """Args:
            wants: a note for every feed I want: what I hold of it and the depth I want.
            summaries: the session speaks sync 1.1.0 (ACCOUNTS and MORE, spec A1-A5).
            accounts: with `summaries`, accounts summarised (A2) in the first WANTs instead
                of the notes of their feeds (which `wants` must hold too).
            agent: free text naming this implementation, at most 256 characters.
            max_frame: the largest frame I accept, MIN_FRAME..MAX_FRAME.
            send_frame: the largest ENTRIES frame I send (one entry may exceed it), at most
                the peer's max_frame in any case: LIMITED_FRAME on a relayed connection.
        """
        if not MIN_FRAME <= max_frame <= MAX_FRAME:
            raise LocalProtocolError(f"max_frame must be in {MIN_FRAME}..{MAX_FRAME}")
        if send_frame < 1:
            raise LocalProtocolError("send_frame must be positive")
        self._send_frame = send_frame
        self._hello = Hello(PROTOCOL_VERSION, agent, max_frame)
        _check_local(self._hello)
        self._known = Knowledge(_checked_note(note) for note in wants)
        self._known_types = int(MessageType.MORE) if summaries else SYNC_1_0_TYPES
        self._summarised = {a.account: a for a in accounts} if summaries else {}
        if any(f not in self._known.mine for a in self._summarised.values() for f in a.feeds):
            raise LocalProtocolError("a summarised account's feeds must be among the wants")
        self._state = State.START
        self._decoder = FrameDecoder(max_frame)
        self._decoder.limit = MAX_HELLO_FRAME  # until the peer's HELLO
        self._eof = False
        self._peer_hello: Hello | None = None
        self._close_reason: str | None = None
        self._error: ProtocolError | None = None
        self._sent_close = False
        self._wants_sent = 0        # WANT messages I sent
        self._synced = 0            # ... of which the peer answered
        self._wants_received = 0    # WANT messages the peer sent
        self._answered = 0
        self._peer_ops = account_ops.PeerOps()
        self._counts = dict.fromkeys(SessionStats.__slots__, 0)

    # ---- what the driver reads -------------------------------------------------------------

    @property
    def state(self) -> State:
        """The session's state."""
        return self._state

    @property
    def close_reason(self) -> str | None:
        """Why the session closed (None while it is not closed)."""
        return self._close_reason

    @property
    def error(self) -> ProtocolError | None:
        """The peer's protocol violation that closed the session, if that is what happened."""
        return self._error

    @property
    def peer_hello(self) -> Hello | None:
        """The peer's HELLO, once received."""
        return self._peer_hello

    @property
    def pending_frame(self) -> bool:
        """True while received bytes hold the beginning of a frame not yet complete."""
        return self._decoder.partial

    @property
    def caught_up(self) -> bool:
        """True when the peer has answered every WANT I sent (its SYNCED counts them all)."""
        return self._synced == self._wants_sent

    @property
    def wants_sent(self) -> int:
        """How many WANT messages I have sent (caught up when the peer's SYNCED says as many)."""
        return self._wants_sent

    @property
    def wants(self) -> Mapping[bytes, WantNote]:
        """My current note for every feed I want from this peer."""
        return dict(self._known.mine)

    @property
    def stats(self) -> SessionStats:
        """Counters so far, as a frozen snapshot."""
        return SessionStats(**self._counts)

    def peer_wants(self, feed: bytes) -> bool:
        """True if the peer wants `feed` (so entries of it are worth reading and sending)."""
        return self._known.wanted_by_peer(feed)

    def feeds_in_common(self, feeds: Iterable[bytes]) -> int:
        """How many of `feeds` the peer wants or holds (what `peers` shows; it changes no
        state, where `peer_holds` applies a note deferred by a matched summary)."""
        return self._known.in_common(feeds)

    def peer_holds(self, feed: bytes) -> Span:
        """The range of `feed` the peer is known to hold; (0, 0) if nothing is known."""
        return self._known.holds(feed)

    # ---- bytes in, events out --------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes that arrived on the stream. Events come out of `next_event`."""
        self._require_receiving()
        self._decoder.receive(data)
        self._counts["bytes_in"] += len(data)

    def receive_eof(self) -> None:
        """The peer ended its side of the stream."""
        self._require_receiving()
        self._eof = True

    def _require_receiving(self) -> None:
        self._require(State.AWAIT_HELLO, State.OPEN)
        if self._eof:
            raise LocalProtocolError("the stream already ended")

    def next_event(self) -> Event | NeedData:
        """The next event, or NEED_DATA until more bytes arrive.

        Raises:
            ProtocolError: the peer broke the protocol; the session is now CLOSED.
            LocalProtocolError: called before `initiate` or after the session closed.
        """
        self._require(State.AWAIT_HELLO, State.OPEN)
        while True:
            try:
                frame = self._decoder.next_frame()
            except ProtocolError as exc:
                self._die_with(exc)
            if frame is None:
                return self._at_end_of_data()
            self._counts["frames_in"] += 1
            event = self._on_frame(frame)
            if event is not None:
                return event

    def _at_end_of_data(self) -> PeerClosed | NeedData:
        if not self._eof:
            return NEED_DATA
        if self._decoder.buffered:
            # a crashed peer or a cut connection looks just like this: not misbehaviour
            reason = "the stream ended inside a frame (the connection was cut)"
            self._close(reason)
            return PeerClosed(reason)
        self._close("the stream ended")
        return PeerClosed(None)

    def _on_frame(self, frame: bytes) -> Event | None:
        try:
            msg = decode_message(frame, self._known_types)
        except ProtocolError as exc:
            self._die_with(exc)
        if self._peer_hello is None and not isinstance(msg, Hello):
            name = "a message of unknown type" if msg is None else type(msg).__name__.upper()
            self._die(Code.UNEXPECTED, f"{name} before HELLO")
        if msg is None:
            self._counts["unknown"] += 1
            return None
        return self._on_message(msg)

    def _on_message(self, msg: Message) -> Event | None:
        match msg:
            case Hello():
                return self._on_hello(msg)
            case Want(notes):
                return self._on_want(notes)
            case Have(notes):
                for note in notes:
                    self._known.stated(note.feed, Span(note.lo, note.hi))
                return PeerHas(notes)
            case Entries():
                return self._on_entries(msg)
            case Unwant(feeds):
                for feed in feeds:
                    self._known.peer_unwants(feed)
                return PeerUnwants(feeds)
            case Synced(count):
                return self._on_synced(count)
            case Bye(reason):
                self._close(f"the peer said BYE: {reason}")
                return PeerClosed(reason)
            case Error(code, detail, retry_after):
                self._close(f"the peer sent ERROR {code}: {detail}")
                return PeerFailed(code, detail, retry_after)
            case Ops(account, ops):
                return self._on_ops(account, ops)
            case Accounts(notes):
                self._wants_received += 1
                return PeerWantsAccounts(self._wants_received, notes)
            case More(accounts):
                return self._on_more(accounts)
        raise AssertionError(f"unhandled message {msg!r}")  # pragma: no cover

    def _on_hello(self, msg: Hello) -> PeerHello:
        if self._peer_hello is not None:
            self._die(Code.UNEXPECTED, "a second HELLO")
        if msg.version != PROTOCOL_VERSION:
            self._die(Code.VERSION, f"version {msg.version}; this side speaks {PROTOCOL_VERSION}")
        if msg.max_frame < MIN_FRAME:
            self._die(Code.MALFORMED, f"max_frame {msg.max_frame} is below {MIN_FRAME}")
        self._peer_hello = msg
        self._decoder.limit = self._decoder.max_frame
        self._state = State.OPEN
        return PeerHello(msg.version, msg.agent, msg.max_frame)

    def _on_want(self, notes: tuple[WantNote, ...]) -> PeerWants:
        known = self._known
        if known.peer_want_count() + sum(1 for n in notes if not known.wanted_by_peer(n.feed)
                                         ) > MAX_PEER_WANTS:
            self._die(Code.TOO_MANY_WANTS, f"more than {MAX_PEER_WANTS} feeds wanted at once")
        self._wants_received += 1
        for note in notes:
            self._known.peer_wants(note)
        return PeerWants(self._wants_received, notes)

    def _on_entries(self, msg: Entries) -> EntriesReceived | None:
        count = len(msg.entries)
        if msg.feed not in self._known.mine:
            self._counts["unsolicited"] += count
            return None
        try:
            first, last = run_of(msg.feed, (header for header, _ in msg.entries))
        except ProtocolError as exc:
            self._die_with(exc)
        self._known.stated(msg.feed, Span(min(first, last), max(first, last)))
        self._counts["entries_in"] += count
        return EntriesReceived(msg.feed, msg.entries, first, last)

    def _on_ops(self, account: bytes, ops: tuple[bytes, ...]) -> OpsReceived | None:
        if account not in self._known.mine:
            self._counts["unsolicited_ops"] += len(ops)
            return None
        self._peer_ops.received(account, ops)
        self._counts["ops_in"] += len(ops)
        return OpsReceived(account, ops)

    def _on_more(self, accounts: tuple[bytes, ...]) -> PeerAsksMore | None:
        asked = [self._summarised[a] for a in accounts if a in self._summarised]
        feeds = [f for a in asked for f in a.feeds if f in self._known.mine]
        if not feeds:
            return None
        return PeerAsksMore(tuple(a.account for a in asked), tuple(dict.fromkeys(feeds)))

    def _on_synced(self, count: int) -> PeerSynced:
        if not self._synced <= count <= self._wants_sent:
            self._die(Code.UNEXPECTED, f"SYNCED {count}: {self._synced} were synced, "
                                       f"{self._wants_sent} WANTs sent")
        self._synced = count
        recheck = self._known.take_recheck() if self.caught_up else ()
        return PeerSynced(count, self.caught_up, recheck)

    # ---- bytes out -------------------------------------------------------------------------

    def initiate(self) -> bytes:
        """Start the session: our HELLO, then a WANT for our wants (if any)."""
        if self._state is not State.START:
            raise LocalProtocolError("initiate() is called once, first")
        self._state = State.AWAIT_HELLO
        hello = self._emit([outgoing.framed(self._hello)])
        covered = {f for a in self._summarised.values() for f in a.feeds}
        notes = [n for f, n in self._known.mine.items() if f not in covered]
        summed = [a.note for a in self._summarised.values()]
        return hello + self._want_frames(notes) + self._want_frames(summed, Accounts)

    def want(self, notes: Iterable[WantNote]) -> bytes:
        """WANT these feeds (a note replaces my earlier note for its feed, e.g. a deeper depth).
        """
        self._require(State.AWAIT_HELLO, State.OPEN)
        checked = [_checked_note(note) for note in notes]
        if len({note.feed for note in checked}) != len(checked):
            raise LocalProtocolError("a feed appears twice among the notes")
        for note in checked:
            self._known.i_want(note)
        return self._want_frames(checked)

    def unwant(self, feeds: Iterable[bytes]) -> bytes:
        """UNWANT these feeds: entries of them that still arrive are dropped and counted."""
        self._require(State.AWAIT_HELLO, State.OPEN)
        dropped = list(dict.fromkeys(feeds))
        for feed in dropped:
            _check_local(Unwant((feed,)))
            self._known.i_unwant(feed)
        return self._emit(outgoing.note_frames(Unwant, dropped))

    def answer(self, wants: PeerWants, states: Mapping[bytes, FeedState],
               ops: Mapping[bytes, Sequence[bytes]] | None = None) -> list[Output]:
        """Answer the peer's WANT: a HAVE note per feed, the runs it lacks, then SYNCED.

        Args:
            wants: the PeerWants event; answer them in index order.
            states: my state of each noted feed; a feed missing here is one I hold nothing of.
                (Pass an empty state for a feed I must not serve, e.g. one my user blocks.)
            ops: the account ops I hold of the noted feeds that are accounts (spec O1): sent
                after that note's entries, those the peer is not known to hold.
        """
        self._require(State.OPEN)
        if wants.index != self._answered + 1:
            raise LocalProtocolError(f"answer WANT {self._answered + 1} before {wants.index}")
        self._answered += 1
        have: list[HaveNote] = []
        runs: list[Output] = []
        for note in wants.notes:
            held = _span(states.get(note.feed))
            have.append(HaveNote(note.feed, held.lo, held.hi))
            runs.extend(self._known.answer(note, held))
            if ops and (sending := self.ops(note.feed, ops.get(note.feed, ()))):
                runs.append(sending)
        out: list[Output] = [self._emit(outgoing.note_frames(Have, have))] if have else []
        return [*out, *runs, self._emit([outgoing.framed(Synced(self._answered))])]

    def answer_accounts(self, wants: PeerWantsAccounts, held: Mapping[bytes, Holding]
                        ) -> list[Output]:
        """Answer the peer's ACCOUNTS (spec A4): an account whose summary equals mine is
        wanted from now on as if by WANT notes; the others go back in a MORE. Then SYNCED.

        Args:
            wants: the PeerWantsAccounts event; answered in index order with the PeerWants.
            held: what I hold of each account (absent: nothing, so it differs).
        """
        self._require(State.OPEN)
        if wants.index != self._answered + 1:
            raise LocalProtocolError(f"answer WANT {self._answered + 1} before {wants.index}")
        self._answered += 1
        differ: list[bytes] = []
        for note in wants.notes:
            holding = held.get(note.account)
            if holding is None or holding.summary != note.summary or self._too_many(holding):
                differ.append(note.account)
                continue
            self._known.defer_peer_wants(holding.peer_spans(note.depth))
            self._peer_ops.holds(note.account, holding.op_hashes)
        self._counts["summaries_matched"] += len(wants.notes) - len(differ)
        self._counts["summaries_differed"] += len(differ)
        out: list[Output] = [self._emit(outgoing.note_frames(More, differ))] if differ else []
        return [*out, self._emit([outgoing.framed(Synced(self._answered))])]

    def _too_many(self, holding: Holding) -> bool:
        known = self._known
        if known.peer_want_count() + len(holding.heads) <= MAX_PEER_WANTS:
            return False  # the usual case, without a look-up per feed
        return known.peer_want_count() + sum(
            1 for f in holding.heads if not known.wanted_by_peer(f)) > MAX_PEER_WANTS

    def more(self, asked: PeerAsksMore, states: Mapping[bytes, FeedState]) -> bytes:
        """Answer the peer's MORE (spec A5): a WANT with a note for each feed of the accounts,
        with what I hold now (`states`; absent: nothing) at the depth they were summarised."""
        depth = {f: a.note.depth for a in (self._summarised[x] for x in asked.accounts)
                 for f in a.feeds}
        return self.want(WantNote(f, *_span(states.get(f)), depth[f])
                         for f in asked.feeds if f in self._known.mine)

    def update(self, states: Mapping[bytes, FeedState]) -> list[Output]:
        """My states of some feeds changed, or may now matter: what to send because of it.

        Call it after storing entries of a feed (whatever came of them) and after appending,
        on every session; and with the feeds of PeerHas and of PeerSynced.recheck. It pushes
        what extends the peer's range, tells the peer my range when that may help it later,
        and asks the peer again for a feed once it holds entries my range could take.
        """
        self._require(State.AWAIT_HELLO, State.OPEN)
        out: list[Output] = []
        have: list[HaveNote] = []
        wanted: list[WantNote] = []
        for feed, state in states.items():
            runs, told = self._known.push(feed, _span(state))
            out.extend(runs)
            if told is not None:
                have.append(told)
            note = self._known.ask_again(feed, state, self.caught_up)
            if note is not None:
                wanted.append(note)
        if have:
            out.append(self._emit(outgoing.note_frames(Have, have)))
        if wanted:
            for note in wanted:
                self._known.i_want(note)
            out.append(self._want_frames(wanted))
        return out

    def local_update(self, feed: bytes, state: FeedState) -> list[Output]:
        """`update` for one feed."""
        return self.update({feed: state})

    def entries_frames(self, feed: bytes, entries: Sequence[RawEntry]) -> bytes:
        """ENTRIES frames carrying `entries` of `feed`, which must form a run.

        Returns b"" if the peer does not want the feed (any more): skip reading it.
        """
        self._require(State.OPEN)
        if not self.peer_wants(feed) or not entries:
            return b""
        for header, payload in entries:
            _check_entry(header, payload)
        try:
            first, last = run_of(feed, (header for header, _ in entries))
        except ProtocolError as exc:
            raise LocalProtocolError(f"entries to send: {exc.detail}") from exc
        assert self._peer_hello is not None  # OPEN
        limit = min(self._peer_hello.max_frame, MAX_FRAME, self._send_frame)
        frames = outgoing.entries_frames(feed, entries, limit)
        self._known.sent(feed, Span(min(first, last), max(first, last)))
        self._counts["entries_out"] += len(entries)
        return self._emit(frames)

    def ops(self, account: bytes, ops: Sequence[bytes]) -> bytes:
        """OPS frames carrying those of `ops` (ops of `account`) the peer is not known to
        hold (spec O1). Returns b"" if there are none or the peer does not want `account`."""
        self._require(State.OPEN)
        if not self.peer_wants(account):
            return b""
        for op in ops:
            if type(op) is not bytes or not 0 < len(op) <= MAX_OP_BYTES:
                raise LocalProtocolError(f"an op is bytes, 1 to {MAX_OP_BYTES}")
        new = self._peer_ops.unsent(account, ops)
        if not new:
            return b""
        assert self._peer_hello is not None  # OPEN
        limit = min(self._peer_hello.max_frame, MAX_FRAME, self._send_frame)
        self._counts["ops_out"] += len(new)
        return self._emit(account_ops.ops_frames(account, new, limit))

    def bye(self, reason: str = "") -> bytes:
        """BYE: an orderly close. The session is CLOSED; the driver closes the stream."""
        return self._last_word(Bye(reason[:MAX_TEXT_CHARS]), f"we said BYE: {reason}")

    def fail(self, code: str, detail: str = "", retry_after: int | None = None) -> bytes:
        """ERROR: the peer broke the protocol (found here, or by the store validating its
        entries: e.g. Code.INVALID_ENTRY, Code.FORK), or timed out. The session is CLOSED.
        `retry_after`: seconds before the peer may open a session with us again."""
        return self._last_word(_error(code, detail, retry_after),
                               f"we sent ERROR {code}: {detail}")

    def refuse(self, code: str, detail: str, retry_after: int) -> bytes:
        """Instead of `initiate()`: our HELLO, then ERROR `code` (Code.REFUSED, Code.BUSY)
        with `retry_after` seconds. The session is CLOSED; the driver closes the stream."""
        if self._state is not State.START:
            raise LocalProtocolError("refuse() is called instead of initiate()")
        self._state = State.AWAIT_HELLO
        hello = self._emit([outgoing.framed(self._hello)])
        return hello + self.fail(code, detail, retry_after)

    # ---- bookkeeping ------------------------------------------------------------------------

    def _want_frames(self, notes: Sequence[WantNote] | Sequence[AccountNote],
                     make: type[Want] | type[Accounts] = Want) -> bytes:
        frames = outgoing.note_frames(make, notes)
        self._wants_sent += len(frames)
        return self._emit(frames)

    def _emit(self, frames: list[bytes]) -> bytes:
        self._counts["frames_out"] += len(frames)
        data = b"".join(frames)
        self._counts["bytes_out"] += len(data)
        return data

    def _last_word(self, msg: Bye | Error, reason: str) -> bytes:
        if self._state is State.START or self._sent_close:
            raise LocalProtocolError("BYE or ERROR is sent once, after initiate()")
        self._sent_close = True
        self._close(reason)
        return self._emit([outgoing.framed(msg)])

    def _close(self, reason: str) -> None:
        if self._state is not State.CLOSED:
            self._state = State.CLOSED
            self._close_reason = reason

    def _die(self, code: Code, detail: str) -> NoReturn:
        self._die_with(ProtocolError(code, detail))

    def _die_with(self, exc: ProtocolError) -> NoReturn:
        self._error = exc
        self._close(f"the peer broke the protocol: {exc}")
        raise exc

    def _require(self, *states: State) -> None:
        if self._state in states:
            return
        if self._state is State.CLOSED:
            raise LocalProtocolError(f"the session is closed ({self._close_reason})")
        if self._state is State.START:
            raise LocalProtocolError("call initiate() first")
        raise LocalProtocolError("the peer's HELLO has not arrived yet")


def _error(code: str, detail: str, retry_after: int | None) -> Error:
    if retry_after is not None:
        retry_after = min(max(0, retry_after), MAX_RETRY_AFTER)
    return Error(code[:MAX_TEXT_CHARS], detail[:MAX_TEXT_CHARS], retry_after)


def _span(state: FeedState | None) -> Span:
    return EMPTY if state is None else Span.of(state)


def _checked_note(note: WantNote) -> WantNote:
    """A note of mine within the limits a receiver checks (without encoding it: a node may
    want 100,000 feeds)."""
    ok = (type(note.feed) is bytes and len(note.feed) == limits.KEY_BYTES
          and all(type(v) is int and 0 <= v <= MAX_UINT for v in (note.lo, note.hi, note.depth))
          and (note.lo == 0) == (note.hi == 0) and note.lo <= note.hi)
    if not ok:
        raise LocalProtocolError(f"cannot send WANT: the note {note!r} is out of bounds")
    return note


def _check_entry(header: object, payload: object) -> None:
    if type(header) is not bytes or len(header) > limits.MAX_HEADER_BYTES:
        raise LocalProtocolError(f"a header is bytes, at most {limits.MAX_HEADER_BYTES}")
    if payload is not None and (type(payload) is not bytes
                                or len(payload) > limits.MAX_PAYLOAD_BYTES):
        raise LocalProtocolError(f"a payload is None or bytes, at most {limits.MAX_PAYLOAD_BYTES}")


def _check_local(msg: Message) -> None:
    try:
        check_message(msg)
    except ProtocolError as exc:
        raise LocalProtocolError(f"cannot send {type(msg).__name__.upper()}: {exc.detail}"
                                 ) from exc
