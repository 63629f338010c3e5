"""One peer's sync session, driven on the asyncio side over a libp2p stream.

Rules:
- The sans-IO SyncSession (p2psocial.core.replication) decides everything; this module moves
  bytes between it, the stream (through the trio bridge, one crossing per read of up to
  READ_BYTES or per batch of writes) and the store.
- Everything the session asks to send goes through ONE ordered queue per session, because the
  session counts what it planned as already held by the peer. Runs of entries are read from
  the store a page at a time and each page goes out in one write: the first page of a run
  holds PAGE entries, each later one about PAGE_BYTES (at most MAX_PAGE entries), sized by
  the entries read so far (on a relayed connection every page holds PAGE or LIMITED_PAGE
  entries, see below). A read and a write cost per call (a database round trip, a bridge
  crossing), so short entries go in many-entry pages, large ones in few-entry pages.
- Received entries are validated and stored by Store.ingest; up to INGEST_IN_FLIGHT batches
  verify concurrently and are written in arrival order. Frames that arrive while those are
  busy are gathered into one larger batch (up to MAX_BATCH entries), so a bulk transfer is
  verified in big batches and a live post in a batch of one. Reading pauses while more than
  MAX_BUFFERED entries wait (backpressure through the stream's window).
- An invalid entry or a fork ends the session with ERROR, and the peer is reported as
  misbehaving.
- Read deadlines, refusals and retry-afters: runtime.sync_limits. A peer's ERROR with a
  retry-after is passed to the link, which does not dial that peer again before it.
- Account ops (spec O1-O2): answers carry the ops `accounts` serves, and received OPS go to
  `accounts` (runtime.account_sync); a bad op ends the session like an invalid entry.
- Account summaries (spec A1-A5), on a sync 1.1.0 stream (`summaries`): the first WANTs
  summarise the accounts `link.account_wants` gives; a peer's ACCOUNTS is answered from
  `accounts.holdings`, its MORE by a WANT of my states, before the next event is read.
- Stream errors end the session quietly: the replicator reconnects peers it wants to keep.
  Entries of every complete frame that arrived before are still stored (spec L2), so the
  next session resumes from them.
- On a relayed connection (`budget` not None), which a relay may cut after a data limit (a
  stock libp2p relay: 128 KiB), we announce max_frame MIN_FRAME and send ENTRIES frames of
  at most LIMITED_FRAME (spec L1): each frame completes well within the limit. The budget
  (`circuit_budget`: the relay's data limit less room for the rest of the connection; a
  stock relay's if it has not told us) bounds what the session sends: runs are read
  LIMITED_PAGE entries at a time under a small budget, and before entries that would pass
  it we send no more but BYE `relay-limit` (spec L3); the peer that reads that BYE stores
  what arrived and hangs up (`hang_up`), so its next dial gets a fresh circuit and its next
  WANT resumes from what it holds. Once a direct connection to the peer exists, the side
  with the lower handle ends a relayed session with BYE `direct` (`move_to_direct`) and the
  replicator opens a new one, which libp2p places on the direct connection (spec L4).
- A session that cannot send is over: when the writer stops (a send failed or passed the
  stream's write timeout, or BYE/ERROR went out) reading stops too and the stream is closed.
  The send queue holds at most MAX_QUEUED items: a peer that falls that far behind is
  dropped (and resyncs from its ranges when it reconnects), never buffered without bound.
  Each session has its own writer, so a peer that does not read holds up no other peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from p2psocial.core.errors import LocalProtocolError, NetError, ProtocolError, StoreError
from p2psocial.core.feed import FeedState
from p2psocial.core.replication import (
    LIMITED_FRAME,
    MIN_FRAME,
    NEED_DATA,
    Code,
    EntriesReceived,
    OpsReceived,
    Output,
    PeerAsksMore,
    PeerClosed,
    PeerFailed,
    PeerHas,
    PeerHello,
    PeerSynced,
    PeerUnwants,
    PeerWants,
    PeerWantsAccounts,
    RawEntry,
    SendRange,
    State,
    SyncSession,
    WantNote,
    honoured_retry,
)
from p2psocial.core.replication.account_summary import AccountWant
from p2psocial.runtime.sync_limits import SyncLimits, receive_within
from p2psocial.store.sqlite import IngestReport, Store

if TYPE_CHECKING:
    from p2psocial.runtime.account_sync import AccountSync

log = logging.getLogger(__name__)
PAGE = 256  # entries in the first page of a run
PAGE_BYTES = 1 << 19  # bytes aimed at by each later page
MAX_PAGE = 2048  # entries in a page at most
READ_BYTES = 1 << 18  # bytes a read from the stream takes at most (one bridge crossing)
INGEST_IN_FLIGHT = 3
MAX_BATCH = 2000
MAX_BUFFERED = 8000
MAX_QUEUED = 50_000  # items waiting in one session's send queue
AGENT = "p2psocial/0.1"
LIMITED_PAGE = 8  # entries read and framed at a time under a small budget
STOCK_CIRCUIT_BYTES = 1 << 17  # 131,072: go/js/rust-libp2p relays' default data limit
CIRCUIT_MARGIN = 1 << 15  # bytes of a circuit left to handshakes and other protocols (L3)
SMALL_BUDGET = 1 << 20  # a budget below this is spent LIMITED_PAGE entries at a time
RELAY_LIMIT = "relay-limit"  # the BYE reason when that budget is spent
MOVED = "direct"  # the BYE reason when a relayed session moves to a direct connection (L4)


def circuit_budget(data_limit: int | None) -> int:
    """What a session may send over a circuit whose relay told `data_limit` bytes (0: no
    limit; None: not told, so a stock relay's is assumed): spec L3."""
    if data_limit == 0:
        return 1 << 62
    limit = STOCK_CIRCUIT_BYTES if data_limit is None else data_limit
    return max(limit - CIRCUIT_MARGIN, limit // 2)


class Link(Protocol):
    """What a PeerSync needs from the replicator that owns it."""

    store: Store

    def want_notes(self) -> list[WantNote]: ...
    def account_wants(self) -> list[AccountWant]: ...
    async def states_to_serve(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]: ...
    async def states_of(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]: ...
    async def stored(self, sync: PeerSync, report: IngestReport) -> None: ...
    def peer_has(self, sync: PeerSync, feed: bytes, lo: int, hi: int) -> None: ...
    def caught_up(self, sync: PeerSync) -> None: ...
    def misbehaved(self, sync: PeerSync, reason: str) -> float | None: ...
    def refused_by(self, sync: PeerSync, seconds: float) -> None: ...


class Pipe(Protocol):
    """The stream, as seen from asyncio (calls cross the bridge)."""

    async def receive(self) -> bytes: ...
    async def send(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


@dataclass(slots=True)
class SyncCounters:
    """What crossed this session."""

    entries_in: int = 0
    entries_out: int = 0
    duplicates: int = 0
    started_at: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


class PeerSync:
    """Runs one SyncSession until the stream ends, the peer closes, or `close()`."""

    def __init__(self, link: Link, pipe: Pipe, peer: str, *, outbound: bool,
                 limits: SyncLimits | None = None, budget: int | None = None,
                 accounts: AccountSync | None = None, summaries: bool = False) -> None:
        self.link = link
        self.accounts = accounts
        self.peer = peer
        self.outbound = outbound
        self.limited = budget is not None
        self.budget = budget  # bytes this session may send (spec L3); None: no limit
        self.summaries = summaries  # the stream speaks sync 1.1.0 (spec A1-A5)
        summed = link.account_wants() if summaries and accounts is not None else ()
        self.session = (SyncSession(link.want_notes(), agent=AGENT, max_frame=MIN_FRAME,
                                    send_frame=LIMITED_FRAME, summaries=summaries,
                                    accounts=summed) if self.limited
                        else SyncSession(link.want_notes(), agent=AGENT, summaries=summaries,
                                         accounts=summed))
        self._deadline = (limits or SyncLimits()).deadline()  # HELLO, begun frames in time
        self.counters = SyncCounters()
        self.caught_up = False
        self._pipe = pipe
        self._pending: deque[Output | None] = deque()
        self._wake = asyncio.Event()
        self._ingests: set[asyncio.Task[None]] = set()
        self._buffer: list[RawEntry] = []
        self._drained = asyncio.Event()
        self._done = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._refused = False  # an entry was invalid or storing failed: store no more
        self._spent = False  # the budget is spent: no more entries in this session
        self.hang_up = False  # the peer ended the session at a relay's limit: reconnect
        self.moving = False   # we end this relayed session to go on over a direct one (L4)

    @property
    def open(self) -> bool:
        """True while the session can still send."""
        return self.session.state is not State.CLOSED and not self._done.is_set()

    async def run(self) -> None:
        """Drive the session to its end; never raises for network or peer trouble."""
        writer = asyncio.create_task(self._write_loop(), name=f"sync-write {self.peer[-6:]}")
        self._writer = writer
        try:
            self._enqueue([self.session.initiate()])
            await self._read_while_writing(writer)
            await self._store_what_arrived()
        except (NetError, LocalProtocolError) as exc:
            log.debug("sync with %s ended: %s", self.peer, exc)
            await self._store_what_arrived()
        finally:
            self._push(None)
            if not writer.done():
                await asyncio.wait({writer}, timeout=2.0)  # let BYE/ERROR go out
            writer.cancel()
            if writer.done() and not writer.cancelled():
                writer.exception()  # retrieved: already logged by _read_while_writing
            for task in list(self._ingests):
                task.cancel()
            self._done.set()
            await self._pipe.close()

    def send(self, outputs: Sequence[Output]) -> None:
        """Queue what the session planned (from `update`, `want`, `unwant`…)."""
        if self.open:
            self._enqueue(outputs)

    def update(self, states: Mapping[bytes, FeedState]) -> None:
        """My states of these feeds changed: push, tell, or ask again as the session decides."""
        if self.open and self.session.state is not State.START:
            self._guard(lambda: self.send(self.session.update(states)))

    def want(self, notes: list[WantNote]) -> None:
        """Ask the peer for these feeds (new wants, or a deeper depth)."""
        if notes and self.open:
            self._guard(lambda: self.send([self.session.want(notes)]))

    def unwant(self, feeds: list[bytes]) -> None:
        """Stop receiving these feeds."""
        if feeds and self.open:
            self._guard(lambda: self.send([self.session.unwant(feeds)]))

    def move_to_direct(self) -> None:
        """End this relayed session to go on over a direct connection (spec L4)."""
        if self.limited and self.open:
            self.moving = True
            self.close(MOVED)

    def close(self, reason: str = "closing") -> None:
        """Say BYE and end the session."""
        if self.open:
            self._guard(lambda: self.send([self.session.bye(reason)]))
        self._push(None)
        self._done.set()

    async def wait_closed(self) -> None:
        """Return once the session has ended."""
        await self._done.wait()

    # --- reading ---------------------------------------------------------------------------

    async def _read_while_writing(self, writer: asyncio.Task[None]) -> None:
        """Read until the stream ends or the writer stops, whichever comes first."""
        reader = asyncio.create_task(self._read_loop(), name=f"sync-read {self.peer[-6:]}")
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not reader.done():
                reader.cancel()
                await asyncio.wait({reader})
        if writer.done() and not writer.cancelled() and writer.exception() is not None:
            log.info("cannot send to %s (%s): ending the session", self.peer,
                     writer.exception())
        self._done.set()
        if not reader.cancelled() and (failure := reader.exception()) is not None:
            raise failure

    async def _read_loop(self) -> None:
        while self.open:
            data = await receive_within(self._pipe, self.session, self._deadline)
            if data is None:
                self._time_out()
                return
            try:
                if data:
                    self.session.receive_data(data)
                else:
                    self.session.receive_eof()
                await self._handle_events()
            except ProtocolError as exc:
                self._fail(exc.code, exc.detail, f"broke the protocol: {exc}")
                return
            if not data:
                return

    async def _handle_events(self) -> None:
        while self.open:
            event = self.session.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, PeerWants):
                states = await self.link.states_to_serve(event.feeds)
                ops = await self.accounts.ops_to_serve(event.feeds) if self.accounts else None
                if self.open:
                    self._enqueue(self.session.answer(event, states, ops))
            elif isinstance(event, PeerWantsAccounts):
                held = (await self.accounts.holdings(event.accounts, self.link.states_to_serve)
                        if self.accounts is not None else {})
                if self.open:
                    self._enqueue(self.session.answer_accounts(event, held))
            elif isinstance(event, PeerAsksMore):
                states = await self.link.states_of(list(event.feeds))
                if self.open:
                    self._enqueue([self.session.more(event, states)])
            elif isinstance(event, EntriesReceived):
                await self._start_ingest(event)
            elif isinstance(event, OpsReceived) and self.accounts is not None:
                try:
                    await self.accounts.received(self, event)
                except ProtocolError as exc:
                    self._fail(exc.code, exc.detail, f"sent an invalid account op: {exc}")
                    return
                except StoreError as exc:  # e.g. the disk is full: as for entries
                    log.warning("storing account ops from %s failed: %s", self.peer, exc)
                    self.close("cannot store account ops")
                    return
            elif isinstance(event, PeerHas):
                for note in event.notes:
                    self.link.peer_has(self, note.feed, note.lo, note.hi)
                self.update(await self.link.states_of([n.feed for n in event.notes]))
            elif isinstance(event, PeerSynced):
                if event.recheck:
                    self.update(await self.link.states_of(list(event.recheck)))
                if event.caught_up and not self.caught_up:
                    self.caught_up = True
                    self.link.caught_up(self)
            elif isinstance(event, PeerClosed | PeerFailed):
                if isinstance(event, PeerClosed) and event.reason == RELAY_LIMIT \
                        and self.limited:
                    self.hang_up = True  # a fresh circuit carries the rest (spec L3)
                if isinstance(event, PeerFailed):
                    log.info("%s ended our session: %s %s", self.peer, event.code, event.detail)
                    if event.retry_after:  # do not come back before (spec E1)
                        self.link.refused_by(self, honoured_retry(event.retry_after))
                return
            elif isinstance(event, PeerHello | PeerUnwants):
                continue

    async def _start_ingest(self, event: EntriesReceived) -> None:
        self._buffer.extend(event.entries)
        self._flush()
        while len(self._buffer) > MAX_BUFFERED and self.open:
            self._drained.clear()
            await self._drained.wait()

    def _flush(self) -> None:
        """Start ingesting what is buffered, if an ingest slot is free."""
        while self._buffer and len(self._ingests) < INGEST_IN_FLIGHT and self.open:
            batch, self._buffer = self._buffer[:MAX_BATCH], self._buffer[MAX_BATCH:]
            task = asyncio.create_task(self._ingest(batch))
            self._ingests.add(task)
            task.add_done_callback(self._ingest_done)
        if len(self._buffer) <= MAX_BUFFERED:
            self._drained.set()

    async def _store_what_arrived(self) -> None:
        """The session is over (ended or broken): finish storing every entry that arrived,
        unless storing failed or an entry was invalid (spec L2)."""
        while self._ingests:
            await asyncio.gather(*list(self._ingests), return_exceptions=True)
        while self._buffer and not self._refused:
            batch, self._buffer = self._buffer[:MAX_BATCH], self._buffer[MAX_BATCH:]
            task = asyncio.create_task(self._ingest(batch))
            self._ingests.add(task)
            task.add_done_callback(self._ingest_done)
            await asyncio.gather(task, return_exceptions=True)

    def _ingest_done(self, task: asyncio.Task[None]) -> None:
        self._ingests.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # the store failed (e.g. the disk is full): stop taking entries from this peer
            log.error("storing entries from %s failed; ending the session", self.peer,
                      exc_info=task.exception())
            self._refused = True
            self.close("cannot store entries")
            return
        self._flush()

    async def _ingest(self, batch: list[RawEntry]) -> None:
        report = await self.link.store.ingest(batch)
        self.counters.entries_in += len(report.accepted)
        self.counters.duplicates += report.duplicates
        if report.error is not None:
            self._fail(Code.INVALID_ENTRY, str(report.error)[:200],
                       f"sent an invalid entry: {report.error}")
        elif report.forks:
            proof = report.forks[0]
            self._fail(Code.FORK, f"seq {proof.seq}", "sent a fork proof")
        await self.link.stored(self, report)

    def _fail(self, code: str, detail: str, why: str) -> None:
        log.warning("peer %s %s", self.peer, why)
        self._refused = True  # store nothing more from this session
        ban = self.link.misbehaved(self, why)
        retry_after = None if ban is None else math.ceil(ban)
        with contextlib.suppress(LocalProtocolError):  # allowed after a protocol error too
            self._enqueue([self.session.fail(code, detail, retry_after)])
        self._push(None)
        self._done.set()

    def _time_out(self) -> None:
        """No HELLO, or a begun frame not finished, in time: ERROR `timeout` (not a strike)."""
        what = ("no HELLO" if self.session.state is State.AWAIT_HELLO
                else "a frame left unfinished")
        log.info("ending the session with %s: %s in time", self.peer, what)
        with contextlib.suppress(LocalProtocolError):
            self._enqueue([self.session.fail(Code.TIMEOUT, f"{what} in time")])
        self._push(None)
        self._done.set()

    # --- writing ---------------------------------------------------------------------------

    def _enqueue(self, outputs: Sequence[Output]) -> None:
        for item in outputs:
            if item:
                self._push(item)

    def _push(self, item: Output | None) -> None:
        """Append to the send queue; None tells the writer to stop once it gets there."""
        if len(self._pending) >= MAX_QUEUED and item is not None:
            self._drop_slow_peer()
            return
        self._pending.append(item)
        self._wake.set()

    def _drop_slow_peer(self) -> None:
        """The peer reads slower than we send: end the session rather than buffer forever."""
        if not self._done.is_set():
            log.warning("%s does not keep up (%d items waiting to be sent): ending the "
                        "session", self.peer, len(self._pending))
        self._pending.clear()
        self._done.set()
        if self._writer is not None:
            self._writer.cancel()

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except LocalProtocolError as exc:  # the session closed in the meantime
            log.debug("session with %s: %s", self.peer, exc)

    async def _write_loop(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._pending.popleft()
            if item is None:
                return
            if isinstance(item, SendRange):
                await self._send_run(item)
                continue
            batch = bytearray(item)  # coalesce consecutive frames into one write
            while self._pending and len(batch) < 1 << 16:
                following = self._pending[0]
                if not isinstance(following, bytes):
                    break
                batch += following
                self._pending.popleft()
            await self._pipe.send(bytes(batch))

    def _over_budget(self, rows: Sequence[tuple[int, bytes, bytes | None]]) -> bool:
        """On a relayed connection: would these entries take the session past its budget?
        If so, send no more entries but BYE `relay-limit` (spec L3)."""
        size = sum(len(header) + len(payload or b"") + 8 for _, header, payload in rows) + 64
        if self.budget is None or self.session.stats.bytes_out + size <= self.budget:
            return False
        log.info("sent %s what a relayed connection carries: BYE, to go on over a new one",
                 self.peer)
        self._spent = True
        self.close(RELAY_LIMIT)
        return True

    async def _send_run(self, run: SendRange) -> None:
        small = self.budget is not None and self.budget < SMALL_BUDGET
        size = LIMITED_PAGE if small else PAGE
        seqs, start = run.seqs(), 0
        while start < len(seqs):
            if self._spent:
                return
            chunk = seqs[start:start + size]
            start += len(chunk)
            page = SendRange(run.feed, chunk[0], chunk[-1])
            span = page.span
            rows = await self.link.store.raw_range(run.feed, span.lo, span.hi,
                                                   descending=page.descending, limit=size)
            expected = list(page.seqs())
            if [seq for seq, _, _ in rows] != expected:
                log.warning("store lacks entries %d..%d of a run to %s", page.first,
                            page.last, self.peer)
                return
            if self.limited and self._over_budget(rows):
                return
            try:
                data = self.session.entries_frames(run.feed, [(h, p) for _, h, p in rows])
            except LocalProtocolError:
                return
            if data:
                self.counters.entries_out += len(rows)
                await self._pipe.send(data)
                if not self.limited:  # the next page: about PAGE_BYTES of entries like these
                    size = max(1, min(MAX_PAGE, PAGE_BYTES * len(rows) // len(data)))
