"""An in-memory driver for SyncSessions: nodes holding real signed feeds, wired by byte pipes.

A `Node` is what a store would be: per feed, the validated entries it holds, placed with
`plan_batch`, and what it wants (with a depth). An `End` is one node's side of one link: a
SyncSession and the bytes it has yet to deliver. The driver rules are the ones a real driver
follows (docs in p2psocial.core.replication.session):
- PeerWants -> answer with my states; PeerHas -> update with my states of those feeds;
  PeerSynced.recheck -> update with those; after storing entries or appending, update every
  session with the feed's state.
- Outputs are sent strictly in order; a SendRange is read from the node page by page and
  passed to entries_frames.
- An invalid entry or a fork closes the session with ERROR.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import ProtocolError, ValidationError
from p2psocial.core.feed import BatchPlan, FeedState, plan_batch
from p2psocial.core.replication import (
    NEED_DATA,
    Code,
    EntriesReceived,
    Event,
    Output,
    PeerClosed,
    PeerFailed,
    PeerHas,
    PeerSynced,
    PeerWants,
    SendRange,
    State,
    SyncSession,
    WantNote,
)

PAGE = 100  # entries read from the "store" at a time


class Node:
    """An in-memory node: the entries it holds per feed and the feeds it wants."""

    def __init__(self, name: str, wants: dict[bytes, int] | None = None) -> None:
        self.name = name
        self.wants = dict(wants or {})          # feed -> depth
        self.entries: dict[bytes, dict[int, Entry]] = {}
        self.states: dict[bytes, FeedState] = {}
        self.ends: list[End] = []
        self.stored_twice = 0
        self.duplicates = 0
        self.gaps = 0
        self.received: list[tuple[bytes, int]] = []   # (feed, seq) in arrival order

    def state(self, feed: bytes) -> FeedState:
        return self.states.get(feed) or FeedState(feed)

    def held(self, feed: bytes) -> tuple[int, int]:
        state = self.state(feed)
        return (state.lo, state.hi)

    def want_notes(self) -> list[WantNote]:
        return [WantNote(feed, *self.held(feed), depth) for feed, depth in self.wants.items()]

    def hold(self, entries: Iterable[Entry]) -> None:
        """Set-up: place entries (in the order given) without any session."""
        plan = self._place(list(entries))
        assert plan.error is None and not plan.forks and not plan.gaps

    def ingest(self, raw: Sequence[tuple[bytes, bytes | None]]) -> ValidationError | None:
        """Validate and store entries as a store would; the first invalid one stops it."""
        entries: list[Entry] = []
        failure: ValidationError | None = None
        for header, payload in raw:
            try:
                entries.append(decode_entry(header, payload))
            except ValidationError as exc:
                failure = exc
                break
        self.received.extend((e.author, e.seq) for e in entries)
        plan = self._place(entries)
        if plan.error is not None:
            return plan.error
        if plan.forks:
            return ValidationError(plan.forks[0].rule, "fork")
        return failure

    def _place(self, entries: list[Entry]) -> BatchPlan:
        plan = plan_batch(self.states, entries,
                          lambda author, seq: self.entries[author][seq].hash)
        for entry in plan.accepted:
            held = self.entries.setdefault(entry.author, {})
            if entry.seq in held:
                self.stored_twice += 1
            held[entry.seq] = entry
        self.states.update(plan.states)
        self.duplicates += plan.duplicates
        self.gaps += len(plan.gaps)
        return plan

    def read(self, run: SendRange) -> list[tuple[bytes, bytes | None]]:
        held = self.entries[run.feed]
        return [(held[seq].header, held[seq].payload) for seq in run.seqs()]

    def append(self, entry: Entry) -> None:
        """The author wrote `entry`: store it and tell every session."""
        self.hold([entry])
        self.changed(entry.author)

    def changed(self, feed: bytes) -> None:
        for end in self.ends:
            if end.session.state is State.OPEN or end.session.state is State.AWAIT_HELLO:
                end.send(end.session.update({feed: self.state(feed)}))


@dataclass
class End:
    """One node's side of one link."""

    node: Node
    session: SyncSession
    outbox: bytearray = field(default_factory=bytearray)
    events: list[Event] = field(default_factory=list)
    failure: ProtocolError | None = None

    def send(self, outputs: bytes | list[Output]) -> None:
        if isinstance(outputs, bytes):
            self.outbox += outputs
            return
        for item in outputs:
            if isinstance(item, SendRange):
                for page in item.pages(PAGE):
                    if not self.session.peer_wants(page.feed):
                        break
                    self.outbox += self.session.entries_frames(page.feed, self.node.read(page))
            else:
                self.outbox += item

    def receive(self, data: bytes, *, eof: bool = False) -> None:
        """Feed bytes to the session and drive every event it yields."""
        if self.session.state is State.CLOSED:
            return
        self.session.receive_data(data)
        if eof:
            self.session.receive_eof()
        while self.session.state is not State.CLOSED:
            try:
                event = self.session.next_event()
            except ProtocolError as exc:
                self.failure = exc
                self.send(self.session.fail(exc.code, exc.detail))
                return
            if event is NEED_DATA:
                return
            self.events.append(event)
            self.handle(event)

    def handle(self, event: Event) -> None:
        node, session = self.node, self.session
        if isinstance(event, PeerWants):
            self.send(session.answer(event, {f: node.state(f) for f in event.feeds}))
        elif isinstance(event, PeerHas):
            self.send(session.update({n.feed: node.state(n.feed) for n in event.notes}))
        elif isinstance(event, PeerSynced) and event.recheck:
            self.send(session.update({f: node.state(f) for f in event.recheck}))
        elif isinstance(event, EntriesReceived):
            failure = node.ingest(event.entries)
            if failure is not None:
                code = Code.FORK if failure.rule in ("C2", "C3", "C5") else Code.INVALID_ENTRY
                self.send(session.fail(code, str(failure)))
                return
            node.changed(event.feed)
        elif isinstance(event, PeerClosed | PeerFailed):
            pass


@dataclass
class Link:
    """Two ends wired to each other."""

    a: End
    b: End

    def pending(self) -> bool:
        return bool(self.a.outbox or self.b.outbox)

    def deliver(self, rng: random.Random | None = None) -> None:
        """Move pending bytes one way (a random direction and amount when `rng` is given)."""
        ends = [(self.a, self.b), (self.b, self.a)]
        if rng is not None:
            rng.shuffle(ends)
        for src, dst in ends:
            if src.outbox:
                size = len(src.outbox) if rng is None else rng.randint(1, len(src.outbox))
                data = bytes(src.outbox[:size])
                del src.outbox[:size]
                dst.receive(data)
                return


def connect(a: Node, b: Node, *, start: bool = True) -> Link:
    """Wire two nodes with a session each (both send HELLO and their WANTs)."""
    link = Link(End(a, SyncSession(a.want_notes(), agent=a.name)),
                End(b, SyncSession(b.want_notes(), agent=b.name)))
    a.ends.append(link.a)
    b.ends.append(link.b)
    if start:
        link.a.send(link.a.session.initiate())
        link.b.send(link.b.session.initiate())
    return link


def run(links: Sequence[Link], rng: random.Random | None = None, limit: int = 1_000_000) -> int:
    """Deliver bytes until no link has any pending; returns the number of deliveries."""
    steps = 0
    while True:
        busy = [link for link in links if link.pending()]
        if not busy:
            return steps
        link = busy[0] if rng is None else rng.choice(busy)
        link.deliver(rng)
        steps += 1
        assert steps < limit, "the sessions do not quiesce"
