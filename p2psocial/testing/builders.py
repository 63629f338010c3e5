"""Builders: deterministic identities and whole signed feeds in one line.

    alice = identity_for("alice")
    posts = make_feed(alice, 100)                 # 100 signed, chained posts
    raw = raw_entries(posts)                      # [(header, payload), ...] as on the wire
    b = FeedBuilder(alice); b.post("hi"); b.follow(bob.public_key); b.entries
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from p2psocial.core.content import (
    About,
    Block,
    Content,
    Delete,
    Follow,
    Post,
    React,
    Relays,
    Repost,
    Unfollow,
)
from p2psocial.core.entry import Entry, create_content_entry, create_entry
from p2psocial.core.identity import Identity

BASE_TS = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in ms


def identity_for(name: str) -> Identity:
    """A deterministic identity derived from `name` (for tests and demos only)."""
    return Identity(hashlib.sha256(b"p2psocial-test-identity:" + name.encode()).digest())


class FeedBuilder:
    """Appends signed entries to one author's chain in memory."""

    def __init__(self, identity: Identity, *, start_ts: int = BASE_TS, step_ms: int = 1000,
                 after: Entry | None = None) -> None:
        self.identity = identity
        self.entries: list[Entry] = []
        self._ts = start_ts if after is None else max(start_ts, after.timestamp)
        self._step = step_ms
        self._last = after

    @property
    def last(self) -> Entry | None:
        """The newest entry built so far (or the one this builder continues)."""
        return self._last

    def add(self, content: Content) -> Entry:
        """Append an entry carrying `content`."""
        return self._push(create_content_entry(
            self.identity, seq=self._next_seq(), prev=self._prev(), timestamp=self._next_ts(),
            content=content))

    def add_raw(self, entry_type: str, payload: bytes) -> Entry:
        """Append an entry of any type with an opaque payload."""
        return self._push(create_entry(
            self.identity, seq=self._next_seq(), prev=self._prev(), timestamp=self._next_ts(),
            entry_type=entry_type, payload=payload))

    def post(self, text: str, **kw: object) -> Entry:
        """Append a post; keyword arguments are Post fields (root, parent, tags, …)."""
        return self.add(Post(text=text, **kw))  # type: ignore[arg-type]

    def reply(self, to: Entry, text: str) -> Entry:
        """Append a reply to `to` (its root is `to`'s root, or `to` itself)."""
        root = to.content.root if isinstance(to.content, Post) and to.content.root else to.hash
        return self.post(text, root=root, parent=to.hash)

    def about(self, name: str | None = None, bio: str | None = None) -> Entry:
        return self.add(About(name=name, bio=bio))

    def follow(self, feed: bytes) -> Entry:
        return self.add(Follow(feed=feed))

    def unfollow(self, feed: bytes) -> Entry:
        return self.add(Unfollow(feed=feed))

    def block(self, feed: bytes) -> Entry:
        return self.add(Block(feed=feed))

    def react(self, target: Entry, reaction: str = "❤") -> Entry:
        return self.add(React(target=target.hash, reaction=reaction))

    def repost(self, target: Entry) -> Entry:
        return self.add(Repost(target=target.hash))

    def delete(self, target: Entry) -> Entry:
        return self.add(Delete(target=target.hash))

    def relays(self, *addrs: str) -> Entry:
        return self.add(Relays(addrs=addrs))

    def fork(self) -> FeedBuilder:
        """A second builder for the same author continuing from the same point: what a
        restored backup would write. Its entries conflict with this builder's later ones."""
        other = FeedBuilder(self.identity, start_ts=self._ts, step_ms=self._step,
                            after=self._last)
        other._ts += 1  # make the conflicting entries differ even with identical content
        return other

    def _next_seq(self) -> int:
        return 1 if self._last is None else self._last.seq + 1

    def _prev(self) -> bytes | None:
        return None if self._last is None else self._last.hash

    def _next_ts(self) -> int:
        ts = self._ts
        self._ts += self._step
        return ts

    def _push(self, entry: Entry) -> Entry:
        self.entries.append(entry)
        self._last = entry
        return entry


def make_feed(identity: Identity, count: int, *, start_ts: int = BASE_TS,
              text: Callable[[int], str] | None = None) -> list[Entry]:
    """`count` chained posts by `identity`, seq 1..count, one second apart."""
    builder = FeedBuilder(identity, start_ts=start_ts)
    say = text or (lambda i: f"post number {i} from {identity.handle[-6:]}")
    for i in range(1, count + 1):
        builder.post(say(i))
    return builder.entries


def raw_entries(entries: Iterable[Entry]) -> list[tuple[bytes, bytes | None]]:
    """The wire form (header, payload) of entries."""
    return [(e.header, e.payload) for e in entries]
