"""Account summaries: one note per followed account instead of one per feed (docs/protocol.md
§Account summaries, A1-A5; sync 1.1.0).

Rules:
- A1: a summary is BLAKE2b-256 of canonical CBOR `[ops, heads]`: the hashes of the account's
  kept ops sorted bytewise, and `[feed, hi]` for the account's id and every member feed,
  sorted by feed (`hi` 0: nothing held). Equal summaries: the same ops (hence the same
  members) and the same head of every feed.
- A2 (`summarise`): a wanter summarises an account only if it knows its members, wants every
  feed of it at the account's depth, and holds each feed whole from its floor to its head,
  unforked; otherwise it states the feeds in WANT notes, as before.
- A4 (`Holding`): the receiver compares its own summary; when equal, the peer holds of each
  feed what `peer_spans` says, as if it had sent that WANT note.
- `SummaryCache` keeps the last summary per account; both sides pass one so a summary is
  computed once per change of the account's ops or heads, not once per session.
Pure: the driver gives what it holds (op hashes, feed states); nothing here reads a store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from p2psocial.core.encoding import digest, encode
from p2psocial.core.feed import FeedState
from p2psocial.core.replication.messages import AccountNote


def summary(op_hashes: Iterable[bytes], heads: Mapping[bytes, int]) -> bytes:
    """A1: the summary of an account from the hashes of its ops and the head of each of its
    feeds (its id and every member feed)."""
    return digest(encode([sorted(op_hashes), [[feed, heads[feed]] for feed in sorted(heads)]]))


class SummaryCache:
    """The last summary of each account, computed again only when its ops or heads differ
    (a node answers and asks for the same accounts in every session: the same CBOR and
    hash each time otherwise). One entry per account summarised; `forget` drops one."""

    def __init__(self) -> None:
        self._last: dict[bytes, tuple[frozenset[bytes], tuple[tuple[bytes, int], ...],
                                      bytes]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def summary(self, account: bytes, op_hashes: Collection[bytes],
                heads: Mapping[bytes, int]) -> bytes:
        """`summary(op_hashes, heads)`, from the cache when both are as last time."""
        hashes = op_hashes if isinstance(op_hashes, frozenset) else frozenset(op_hashes)
        items = tuple(heads.items())
        last = self._last.get(account)
        if last is not None and last[1] == items and last[0] == hashes:
            return last[2]
        value = summary(hashes, heads)
        self._last[account] = (hashes, items, value)
        return value

    def forget(self, account: bytes) -> None:
        """`account` is no longer summarised here."""
        self._last.pop(account, None)


def account_feeds(account: bytes, members: Collection[bytes]) -> tuple[bytes, ...]:
    """The feeds a summary of `account` covers: its id and its member feeds, sorted."""
    return tuple(sorted({account, *members}))


def floor(hi: int, depth: int) -> int:
    """The lowest seq a wanter of the newest `depth` entries (0: all) needs, given head `hi`."""
    return 1 if depth == 0 else max(1, hi - depth + 1)


def whole(state: FeedState | None, depth: int) -> bool:
    """A2: `state` holds every entry from its floor to its head (or nothing), unforked."""
    if state is None or state.empty:
        return True
    return not state.forked and state.lo <= floor(state.hi, depth)


@dataclass(frozen=True, slots=True)
class AccountWant:
    """An account a wanter summarises (A2): the note to send, and the feeds it covers."""

    note: AccountNote
    feeds: tuple[bytes, ...]

    @property
    def account(self) -> bytes:
        """The account's id."""
        return self.note.account


def summarise(account: bytes, depth: int, members: Collection[bytes],
              op_hashes: Collection[bytes], *, depths: Mapping[bytes, int],
              states: Mapping[bytes, FeedState], cache: SummaryCache | None = None
              ) -> AccountWant | None:
    """A2: the ACCOUNTS note for `account`, or None if it must be stated feed by feed.

    Args:
        account: the account's id.
        depth: the depth at which the account is wanted.
        members: its member feeds (from the ops held, which include an init).
        op_hashes: the hashes of the ops held of it.
        depths: the depth at which each wanted feed is wanted (absent: not wanted).
        states: what is held of each feed (absent: nothing).
    """
    feeds = account_feeds(account, members)
    heads: dict[bytes, int] = {}
    for feed in feeds:
        state = states.get(feed)
        if depths.get(feed) != depth or not whole(state, depth):
            return None
        heads[feed] = 0 if state is None else state.hi
    value = (summary(op_hashes, heads) if cache is None
             else cache.summary(account, op_hashes, heads))
    return AccountWant(AccountNote(account, depth, value), feeds)


@dataclass(frozen=True, slots=True)
class Holding:
    """What a receiver holds of an account, for comparing a peer's summary (A4)."""

    summary: bytes
    heads: Mapping[bytes, int]
    op_hashes: tuple[bytes, ...]
    # peer_spans per depth, kept: a node keeps a holding while the account is unchanged
    _spans: dict[int, tuple[tuple[bytes, int, int, int], ...]] = field(
        default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, account: bytes, members: Collection[bytes], op_hashes: Collection[bytes],
           states: Mapping[bytes, FeedState], cache: SummaryCache | None = None, *,
           last: Holding | None = None) -> Holding:
        """The holding from the ops held and the states served (a blocked feed: absent).
        `last`: an earlier holding of the account with the same ops; returned as it is if
        the heads are the same too (no summary, sort or spans made again)."""
        heads = heads_of(account_feeds(account, members), states)
        if last is not None and last.heads == heads:
            return last
        value = (summary(op_hashes, heads) if cache is None
                 else cache.summary(account, op_hashes, heads))
        return cls(value, heads, tuple(sorted(op_hashes)))

    def peer_spans(self, depth: int) -> tuple[tuple[bytes, int, int, int], ...]:
        """A4: what a peer whose summary equals this one holds, as WANT notes
        `(feed, lo, hi, depth)` for Knowledge.defer_peer_wants."""
        spans = self._spans.get(depth)
        if spans is None:
            spans = self._spans[depth] = tuple(
                (feed, floor(hi, depth) if hi else 0, hi, depth)
                for feed, hi in self.heads.items())
        return spans


def heads_of(feeds: Iterable[bytes], states: Mapping[bytes, FeedState]) -> dict[bytes, int]:
    """The head held of each of `feeds` (0: nothing held, or absent from `states`)."""
    heads = {}
    for feed in feeds:
        state = states.get(feed)
        heads[feed] = 0 if state is None else state.hi
    return heads
