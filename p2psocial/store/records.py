"""The values the store hands out: ingest reports, timeline items, profiles, counts,
notifications and fork records. Plain data, no I/O."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from p2psocial.core.entry import Entry
from p2psocial.core.errors import ValidationError
from p2psocial.core.feed import FeedState, ForkProof


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class IngestReport:
    """What became of a batch of received entries."""

    accepted: list[Entry] = field(default_factory=list)
    duplicates: int = 0
    gaps: int = 0
    refused: int = 0
    forks: list[ForkProof] = field(default_factory=list)
    error: ValidationError | None = None
    error_index: int | None = None
    not_stored: int = 0
    heads: dict[bytes, FeedState] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if every entry was valid (stored, duplicate, or a harmless gap)."""
        return self.error is None and not self.forks


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """An entry on a timeline and its position (`cursor`) for paging backwards. `account`:
    the account the entry counts for (its author for a single-key identity; default)."""

    entry: Entry
    sort_ts: int
    account: bytes = b""

    def __post_init__(self) -> None:
        if not self.account:
            object.__setattr__(self, "account", self.entry.author)

    @property
    def cursor(self) -> tuple[int, bytes, int]:
        return (self.sort_ts, self.entry.author, self.entry.seq)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a feed says about itself; for an account with devices, what its counted device
    feeds last said (S9), with `author` the account id."""

    author: bytes
    name: str | None = None
    bio: str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """Replies, reposts and reactions (by reaction) pointing at one entry."""

    replies: int = 0
    reposts: int = 0
    reactions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """Something another feed did that concerns the viewer (see Store.notifications).

    `kind` is "mention", "reply", "quote", "react", "repost" or "follow"; `target` is the
    viewer's entry it points at (None for mentions and follows); `account`: the account the
    entry counts for (its author for a single-key identity; default)."""

    kind: str
    entry: Entry
    target: bytes | None
    sort_ts: int
    account: bytes = b""

    def __post_init__(self) -> None:
        if not self.account:
            object.__setattr__(self, "account", self.entry.author)

    @property
    def cursor(self) -> tuple[int, bytes, int]:
        return (self.sort_ts, self.entry.author, self.entry.seq)


@dataclass(frozen=True, slots=True)
class ForkRecord:
    """A conflicting header kept as proof that a feed forked."""

    author: bytes
    seq: int
    hash: bytes
    header: bytes
    rule: str
