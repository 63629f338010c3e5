"""Reading: feeds, logs, the timeline, threads, notifications and finding people; all in
views (p2psocial.runtime.views), newest first, paged by cursors.

Rules:
- A feed shows as blocked if I block it, its account or any device of its account (S10:
  `Store.blocked_feeds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from p2psocial.core import limits
from p2psocial.core.content import Post
from p2psocial.core.feed import FeedState
from p2psocial.core.identity import handle_of, parse_handle
from p2psocial.runtime.service.base import ServiceCore, page_size, parse_cursor
from p2psocial.runtime.views import (
    EntryView,
    FeedLog,
    FeedView,
    NotificationView,
)


class Reading(ServiceCore):
    """Reading feeds, timelines, threads and notifications."""

    async def feed(self, handle: str | None = None) -> FeedView:
        """What we hold of a feed and how I relate to it."""
        key = self.public_key if handle is None else await self.key_of(handle)
        state = await self.store.feed_state(key)
        profile = await self.store.profile(key)
        following = await self.store.following(self.public_key)
        blocking = await self.store.blocked_feeds(self.public_key)
        return FeedView(author=handle_of(key), name=profile.name, bio=profile.bio,
                        lo=state.lo, hi=state.hi, forked=state.forked,
                        following=key in following, blocked=key in blocking,
                        is_me=key == self.public_key,
                        followers=len(await self.store.social.followers(key)),
                        follows=len(await self.store.social.following(key)),
                        seen=key == self.public_key or key in following
                        or await self._seen(key),
                        account=handle_of((await self.store.accounts.accounts_of([key]))[key]))

    async def log(self, handle: str | None = None, *, limit: int = 50,
                  before_seq: int | None = None) -> FeedLog:
        """A feed's entries, newest first."""
        feed = await self.feed(handle)
        entries = await self.store.feed_entries(parse_handle(feed.author), limit=page_size(limit),
                                                before_seq=before_seq)
        return FeedLog(feed=feed, entries=await self._views(entries))

    async def timeline(self, *, limit: int = 50, before: Sequence[Any] | None = None
                       ) -> list[EntryView]:
        """My home timeline: posts and reposts of the feeds I follow and mine, newest first."""
        items = await self.store.timeline(self.public_key, limit=page_size(limit),
                                          before=parse_cursor(before))
        return await self._timeline_views(items)

    async def thread(self, ref: str) -> list[EntryView]:
        """An entry's thread: its root and every reply, oldest first."""
        target_hash = await self.resolve(ref)
        target = await self.store.get(target_hash)
        root = target_hash
        if target is not None and isinstance(target.content, Post) and target.content.root:
            root = target.content.root
        entries = await self.store.thread(root, viewer=self.public_key)
        if not entries and target is not None:
            entries = [target]
        return await self._views(entries)

    async def feeds(self) -> list[FeedView]:
        """Every feed held, with my relation to it."""
        states = await self.store.feed_states()
        following = await self.store.following(self.public_key)
        blocking = await self.store.blocked_feeds(self.public_key)
        profiles = await self.store.profiles(states)
        out = []
        for key, state in sorted(states.items(), key=lambda kv: kv[0] != self.public_key):
            p = profiles.get(key)
            out.append(FeedView(author=handle_of(key), name=p.name if p else None,
                                bio=p.bio if p else None, lo=state.lo, hi=state.hi,
                                forked=state.forked, following=key in following,
                                blocked=key in blocking, is_me=key == self.public_key))
        return out

    async def posts(self, handle: str | None = None, *, limit: int = 50,
                    before: Sequence[Any] | None = None) -> list[EntryView]:
        """A feed's posts and reposts, newest first, with cursors to page backwards (a
        profile's timeline; default: mine)."""
        key = self.public_key if handle is None else await self.key_of(handle)
        items = await self.store.timeline(self.public_key, limit=page_size(limit),
                                          before=parse_cursor(before), authors=[key])
        return await self._timeline_views(items)

    async def entries(self, refs: Sequence[str]) -> list[EntryView]:
        """Views of the held entries among `refs` (full hex hashes), in the order given;
        refs not held (or not hex) are left out."""
        hashes = []
        for ref in refs:
            try:
                hashes.append(bytes.fromhex(ref))
            except ValueError:
                continue
        found = await self.store.get_many(hashes)
        return await self._views([found[h] for h in dict.fromkeys(hashes) if h in found])

    async def notifications(self, *, limit: int = 50, before: Sequence[Any] | None = None
                            ) -> list[NotificationView]:
        """What others did that concerns me, newest first: mentions, replies, quotes,
        reactions and reposts of my entries, and new followers (see Store.notifications)."""
        items = await self.store.notifications(self.public_key, limit=page_size(limit),
                                               before=parse_cursor(before))
        views = await self._views([n.entry for n in items])
        targets = {t.hash: t for t in await self.entries(
            [n.target.hex() for n in items if n.target is not None])}
        return [NotificationView(kind=n.kind, entry=v,
                                 target=targets.get(n.target.hex()) if n.target else None,
                                 cursor=[n.sort_ts, v.author, v.seq])
                for n, v in zip(items, views, strict=True)]

    async def find_feeds(self, text: str, *, limit: int = 20) -> list[FeedView]:
        """Held feeds whose display name contains `text` (case-insensitive), with my
        relation to each."""
        text = text.strip()
        if not text or len(text) > limits.MAX_NAME_CHARS:  # no name contains longer text
            return []
        found = await self.store.find_profiles(text, limit=page_size(limit))
        following = await self.store.following(self.public_key)
        blocking = await self.store.blocked_feeds(self.public_key)
        states = await self.store.feed_states([p.author for p in found])
        out = []
        for p in found:
            state = states.get(p.author) or FeedState(p.author)
            out.append(FeedView(author=handle_of(p.author), name=p.name, bio=p.bio,
                                lo=state.lo, hi=state.hi, forked=state.forked,
                                following=p.author in following, blocked=p.author in blocking,
                                is_me=p.author == self.public_key))
        return out
