"""Builders: deterministic identities and whole signed feeds in one line.

    alice = identity_for("alice")
    posts = make_feed(alice, 100)                 # 100 signed, chained posts
    raw = raw_entries(posts)                      # [(header, payload), ...] as on the wire
    b = FeedBuilder(alice); b.post("hi"); b.follow(bob.public_key); b.entries
    make_feed(alice, 1000, size=200)              # posts of 200 characters of prose
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
_VOCABULARY = (
    "the a of and to in is it that was for on with as at by from this have not but we they "
    "you all were when there can more one about some would time what out up so into just "
    "morning coffee garden walked river train city friends weekend music reading quiet "
    "evening bread market rain summer winter bicycle library window mountain village "
    "finally thinking wrote little good new long great old small early late bright"
)
_WORDS = tuple(_VOCABULARY.split())


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


def prose(size: int, seed: str) -> str:
    """Exactly `size` characters of word-like text, the same for the same `seed`: a stand-in
    for what people post (words and spaces, so it compresses and hashes like real posts)."""
    state = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    words: list[str] = []
    length = -1
    while length < size:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        word = _WORDS[(state >> 33) % len(_WORDS)]
        words.append(word.capitalize() if not words or words[-1].endswith(".") else word)
        if (state >> 20) % 9 == 0:
            words[-1] += "."
        length += len(words[-1]) + 1
    text = " ".join(words)[:size]
    return text[:-1] + "." if text.endswith(" ") else text


def make_feed(identity: Identity, count: int, *, start_ts: int = BASE_TS,
              text: Callable[[int], str] | None = None, size: int | None = None) -> list[Entry]:
    """`count` chained posts by `identity`, seq 1..count, one second apart. With `size`,
    each post is `size` characters of prose (`prose`) instead of a short numbered line."""
    builder = FeedBuilder(identity, start_ts=start_ts)
    if text is None and size is not None:
        author, length = identity.handle[-6:], size

        def text(i: int) -> str:
            return prose(length, f"{author}:{i}")
    say = text or (lambda i: f"post number {i} from {identity.handle[-6:]}")
    for i in range(1, count + 1):
        builder.post(say(i))
    return builder.entries


def raw_entries(entries: Iterable[Entry]) -> list[tuple[bytes, bytes | None]]:
    """The wire form (header, payload) of entries."""
    return [(e.header, e.payload) for e in entries]
