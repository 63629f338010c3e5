"""What a SyncSession reports to its driver: events, one per message received; its state; stats.

Rules:
- Events are small frozen dataclasses named for what the peer did (PeerWants, PeerHas, ...).
- NEED_DATA is not an event: it says that nothing is pending until more bytes arrive.
- Some events ask the driver to act (see each docstring); the session never does I/O itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from p2psocial.core.replication.messages import AccountNote, HaveNote, RawEntry, WantNote


class NeedData(Enum):
    """The type of NEED_DATA."""

    NEED_DATA = "need-data"


NEED_DATA = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class PeerHello:
    """The peer's HELLO arrived; the session is OPEN."""

    version: int
    agent: str
    max_frame: int


@dataclass(frozen=True, slots=True)
class PeerWants:
    """The peer's WANT number `index` (1, 2, ...): look up my FeedState of every noted feed
    and pass this event and those states to `SyncSession.answer`, in index order."""

    index: int
    notes: tuple[WantNote, ...]

    @property
    def feeds(self) -> tuple[bytes, ...]:
        """The feeds whose states `answer` needs."""
        return tuple(n.feed for n in self.notes)


@dataclass(frozen=True, slots=True)
class PeerHas:
    """The peer holds these ranges (an answer to my WANT, or news of its range growing).

    The driver passes my states of these feeds to `SyncSession.update`: the peer may now hold
    entries I can link to.
    """

    notes: tuple[HaveNote, ...]


@dataclass(frozen=True, slots=True)
class EntriesReceived:
    """Entries of a feed I want, a run from seq `first` to seq `last` (either direction).

    Not validated yet: the driver validates and stores them, then calls
    `SyncSession.update` on every session with the feed's new state (even if unchanged).
    """

    feed: bytes
    entries: tuple[RawEntry, ...]
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class PeerWantsAccounts:
    """The peer's ACCOUNTS, WANT message number `index` (spec A3): find what I hold of each
    account (summary.Holding) and pass this event and those to
    `SyncSession.answer_accounts`, in index order with the PeerWants."""

    index: int
    notes: tuple[AccountNote, ...]

    @property
    def accounts(self) -> tuple[bytes, ...]:
        """The accounts whose holdings `answer_accounts` needs."""
        return tuple(n.account for n in self.notes)


@dataclass(frozen=True, slots=True)
class PeerAsksMore:
    """The peer holds something else of these accounts I summarised (spec A5): read my
    states of `feeds` and pass this event and them to `SyncSession.more` before handling the
    next event."""

    accounts: tuple[bytes, ...]
    feeds: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class OpsReceived:
    """Account ops of `account`, an account I want (spec O1): the ops' bytes, not checked.

    The driver checks them (core.replication.op_check: K1-K9, the account), stores the valid
    ones, and sends `SyncSession.fail` with the error of a bad one (spec O2).
    """

    account: bytes
    ops: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PeerUnwants:
    """The peer no longer wants these feeds; the session sends nothing more of them."""

    feeds: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PeerSynced:
    """The peer has sent all it holds for my first `count` WANTs.

    `recheck` lists feeds whose check the session deferred while it waited: the driver passes
    my states of them to `SyncSession.update`.
    """

    count: int
    caught_up: bool
    recheck: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer said BYE (`reason`), the stream ended cleanly (`reason` None), or it ended
    inside a frame (`reason` says so; the partial frame is dropped)."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class PeerFailed:
    """The peer sent ERROR: it says that we broke the protocol (or it refuses us), and it is
    closing. With `retry_after`, the driver opens no session to it for that many seconds."""

    code: str
    detail: str
    retry_after: int | None = None


Event: TypeAlias = (PeerHello | PeerWants | PeerHas | EntriesReceived | PeerUnwants
                    | PeerSynced | PeerClosed | PeerFailed | OpsReceived | PeerWantsAccounts
                    | PeerAsksMore)


class State(Enum):
    """Where a session stands (see p2psocial.core.replication.session)."""

    START = "start"
    AWAIT_HELLO = "await-hello"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Counters of one session (a snapshot)."""

    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    entries_in: int = 0
    entries_out: int = 0
    unsolicited: int = 0   # entries received for feeds I do not want, dropped unread
    unknown: int = 0       # messages of unknown types, ignored
    ops_in: int = 0        # account ops received for accounts I want
    ops_out: int = 0       # account ops sent
    unsolicited_ops: int = 0  # account ops received for accounts I do not want, dropped
    summaries_matched: int = 0  # the peer's account summaries equal to mine (A4)
    summaries_differed: int = 0  # ... that differed (MORE sent)
