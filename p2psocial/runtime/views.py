"""View objects: what the node shows the CLI and the UI, as plain JSON-able data.

Rules:
- Views carry display-ready values: handles instead of key bytes, hex instead of hashes,
  milliseconds since the epoch for times. They cross the control socket as JSON unchanged,
  so a CLI or UI attached to a running node sees exactly what an in-process one sees.
- `to_json()` / `from_json()` are exact inverses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from p2psocial.core.content import (
    About,
    Content,
    Delete,
    FeedRef,
    Post,
    PrivateMessage,
    React,
    Relays,
    Repost,
)
from p2psocial.core.entry import Entry
from p2psocial.core.identity import handle_of

_V = TypeVar("_V", bound="_View")


class _View:
    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of this view."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_json(cls: type[_V], data: dict[str, Any]) -> _V:
        """The view a `to_json()` dict describes."""
        return _build(cls, data)


def _build(cls: type[_V], data: dict[str, Any]) -> _V:
    kwargs: dict[str, Any] = {}
    hints = {f.name: f for f in dataclasses.fields(cls)  # type: ignore[arg-type]
             if f.init}  # derived fields (init=False) are computed again
    for name, value in data.items():
        if name not in hints:
            continue
        nested = _NESTED.get((cls.__name__, name))
        if nested is None or value is None:
            kwargs[name] = value
        elif isinstance(value, list):
            kwargs[name] = [nested.from_json(v) for v in value]
        else:
            kwargs[name] = nested.from_json(value)
    return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class EntryView(_View):
    """One entry as the user sees it."""

    hash: str
    author: str
    seq: int
    timestamp: int
    type: str
    name: str | None = None
    deleted: bool = False
    text: str | None = None
    content: dict[str, Any] | None = None
    replies: int = 0
    reposts: int = 0
    reactions: dict[str, int] = field(default_factory=dict)
    cursor: list[Any] | None = None
    my_reactions: list[str] = field(default_factory=list)  # the reactions I gave it
    my_repost: bool = False  # I reposted it (and did not undo that)
    # the account the entry counts for (its handle: the author's own for a single-key
    # identity); "" where it was not looked up (live events): take the author then
    account: str = ""

    @property
    def short_hash(self) -> str:
        return self.hash[:12]


def size_text(size: int) -> str:
    """A size as people read it: 95 B, 12.3 kB, 4.8 MB, 2.0 GB (powers of 1000); the CLI
    and the UI both show sizes so."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


@dataclass(frozen=True, slots=True)
class BlobView(_View):
    """A picture or file held here: where it is and what the posts naming it say."""

    id: str
    size: int
    type: str
    path: str
    alt: str | None = None


@dataclass(frozen=True, slots=True)
class StorageView(_View):
    """What a home takes on disk."""

    database_bytes: int
    blobs: int
    blob_bytes: int
    total_bytes: int
    wanted_blobs: int = 0
    top_feeds: list[list[Any]] = field(default_factory=list)  # [handle, name, bytes]
    budget: int = 0  # the running node's budget (0: none, or no node)
    would_drop: dict[str, Any] | None = None  # what the budget would drop now (with a node)
    by_hop: dict[str, int] | None = None  # bytes per hop: "hop 0" (mine) … (with a node)


@dataclass(frozen=True, slots=True)
class FeedView(_View):
    """What we hold of one feed and how we relate to it."""

    author: str
    name: str | None = None
    bio: str | None = None
    lo: int = 0
    hi: int = 0
    forked: bool = False
    following: bool = False
    blocked: bool = False
    is_me: bool = False
    followers: int = 0
    follows: int = 0
    seen: bool = True  # anything here points at it (False: most likely a mistyped handle)
    account: str = ""  # the account this feed counts for ("" where not looked up)

    @property
    def held(self) -> int:
        return 0 if self.hi == 0 else self.hi - self.lo + 1

    @property
    def complete(self) -> bool:
        return self.lo == 1


@dataclass(frozen=True, slots=True)
class FeedLog(_View):
    """A page of one feed's entries, newest first."""

    feed: FeedView
    entries: list[EntryView]


@dataclass(frozen=True, slots=True)
class FeedCheck(_View):
    """The result of re-verifying one feed."""

    author: str
    checked: int
    problems: list[str]
    forked: bool = False
    fork_proofs: int = 0


@dataclass(frozen=True, slots=True)
class VerifyReport(_View):
    """The result of `verify`: every feed checked, and what was wrong."""

    feeds: list[FeedCheck]

    @property
    def entries(self) -> int:
        return sum(f.checked for f in self.feeds)

    @property
    def ok(self) -> bool:
        return all(not f.problems and not f.forked for f in self.feeds)


@dataclass(frozen=True, slots=True)
class NotificationView(_View):
    """Something another feed did that concerns me: `kind` is "mention", "reply", "quote",
    "react", "repost" or "follow"; `entry` is their entry, `target` my entry it points at
    (when held; None for mentions and follows); `cursor` pages backwards."""

    kind: str
    entry: EntryView
    target: EntryView | None = None
    cursor: list[Any] | None = None


@dataclass(frozen=True, slots=True)
class PeerView(_View):
    """A connected peer: how we reach it and what we replicate with it."""

    handle: str
    addr: str
    kind: str  # "direct", "hole-punched" (direct after DCUtR), "relayed" or "lan"
    name: str | None = None
    relay: bool = False  # a relay that a feed I want (mine included) publishes
    connected_at: int = 0
    syncing: bool = False
    caught_up: bool = False
    feeds: int = 0
    entries_in: int = 0
    entries_out: int = 0
    duplicates: int = 0
    requested: str | None = None  # from `connect`: the address it was asked to dial
    existing: bool = False  # from `connect`: a connection existed, `requested` not dialled
    session: str = ""  # the connection our sync session runs on: "relayed", "direct" or ""
    accounts_matched: int = 0  # the peer's account summaries equal to mine (sync 1.1.0, A4)
    sync_version: str = ""  # the sync protocol of our session: "1.1.0", "1.0.0" or ""


@dataclass(frozen=True, slots=True)
class FeedStatus(_View):
    """Replication state of one wanted feed."""

    author: str
    name: str | None = None
    hop: int = 1
    depth: int = 0
    lo: int = 0
    hi: int = 0
    head: str | None = None
    best_known: int = 0
    sources: list[str] = field(default_factory=list)
    forked: bool = False
    # False while nothing at all is known of the feed: no entry held, no peer holding any
    # (show "not found yet", never a full bar; perhaps a mistyped handle)
    found: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "found", self.hi > 0 or self.best_known > 0)

    @property
    def behind(self) -> int:
        return max(0, self.best_known - self.hi)


@dataclass(frozen=True, slots=True)
class NodeStatus(_View):
    """The node as a whole: addresses, peers, and every wanted feed."""

    handle: str
    listen: list[str]
    peers: int
    feeds: list[FeedStatus]
    entries_received: int = 0
    duplicates: int = 0
    started_at: int = 0
    relays: list[dict[str, Any]] = field(default_factory=list)   # my relays and their state
    members: list[str] | None = None        # on a relay: its members
    topics: int = 0                         # gossip topics subscribed (feeds I want myself)
    reservations: list[str] | None = None   # on a relay: peers holding a circuit reservation
    reachability: str = "unknown"           # "public", "private" (behind NAT) or "unknown"
    observed: str = ""                      # the address a peer saw us at (our NAT's)
    trio_tasks: int = 0                     # live tasks (a node running for weeks must not
    asyncio_tasks: int = 0                  # grow them: bench/relay_soak.py watches these)


_NESTED: dict[tuple[str, str], type[_View]] = {
    ("NodeStatus", "feeds"): FeedStatus,
    ("FeedLog", "feed"): FeedView,
    ("FeedLog", "entries"): EntryView,
    ("VerifyReport", "feeds"): FeedCheck,
    ("NotificationView", "entry"): EntryView,
    ("NotificationView", "target"): EntryView,
}


def content_json(content: Content | None) -> dict[str, Any] | None:
    """The content of an entry with keys shown as handles and hashes as hex."""
    if content is None:
        return None
    out: dict[str, Any] = {}
    for key, value in content.to_map().items():
        out[key] = _show(key, value)
    return out


def _show(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_show(key, v) for v in value]
    if isinstance(value, dict):  # an attachment
        return {k: _show(k, v) for k, v in value.items()}
    if isinstance(value, bytes):
        if key in ("feed", "mentions", "to"):
            return handle_of(value)
        return value.hex()
    return value


def entry_view(entry: Entry, *, name: str | None = None, counts: Any = None,
               cursor: list[Any] | None = None, mine: Any = None,
               account: bytes | None = None) -> EntryView:
    """The view of a stored entry; `counts` is a store Counts or None, `mine` what I gave
    it (a runtime.toggles.Given) or None, `account` the account it counts for (None: not
    looked up)."""
    c = entry.content
    text: str | None = None
    if isinstance(c, Post):
        text = c.text
    elif isinstance(c, About):
        text = " · ".join(x for x in (c.name, c.bio) if x)
    elif isinstance(c, FeedRef):
        text = handle_of(c.feed)
    elif isinstance(c, React):
        text = c.reaction
    elif isinstance(c, Repost | Delete):
        text = c.target.hex()[:12]
    elif isinstance(c, Relays):
        text = " ".join(c.addrs)
    elif isinstance(c, PrivateMessage):
        text = "(encrypted)"
    return EntryView(
        hash=entry.hash.hex(), author=handle_of(entry.author), seq=entry.seq,
        timestamp=entry.timestamp, type=entry.type, name=name,
        deleted=entry.payload is None, text=text,
        content=None if isinstance(c, PrivateMessage) else content_json(c),
        replies=getattr(counts, "replies", 0), reposts=getattr(counts, "reposts", 0),
        reactions=dict(getattr(counts, "reactions", {}) or {}), cursor=cursor,
        my_reactions=sorted(getattr(mine, "reactions", {}) or {}),
        my_repost=bool(getattr(mine, "reposts", None)),
        account=handle_of(account) if account is not None else "")
