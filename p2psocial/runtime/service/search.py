"""Searching: full text over every stored post and profile, and a tag's posts, in views.

Rules:
- What the user typed goes through core.search_query (a literal search with a small
  documented syntax), never to FTS5 as syntax: bad input is one UsageError line.
- Posts come newest stored first, paged by the position cursor of the last one shown
  (store/search.py says why not by rank); the feeds whose profile matches come with the
  first page of a search that names no author or tag.
- Feeds I block never show (the store refuses their new entries; older ones are left out).
"""

from __future__ import annotations

from p2psocial.core.feed import FeedState
from p2psocial.core.identity import handle_of
from p2psocial.core.search_query import SearchQuery, parse_query, tag_match
from p2psocial.runtime.search_views import SearchView
from p2psocial.runtime.service.base import ServiceCore, page_size
from p2psocial.runtime.views import EntryView, FeedView

MAX_FEEDS = 10


def _query(words: str, tag: str | None) -> SearchQuery:
    """`words` (and `tag`) as one query; blank words with a tag: the tag's posts."""
    if tag is None:
        return parse_query(words)
    if not words.strip():
        return SearchQuery(match=tag_match(tag), words=None)
    query = parse_query(words)
    return SearchQuery(match=f"{query.match} AND {tag_match(tag)}", words=query.words)


class Searching(ServiceCore):
    """Full-text search and tag views."""

    async def search(self, words: str, *, author: str | None = None, tag: str | None = None,
                     limit: int = 20, before: int | None = None) -> SearchView:
        """Posts (and profiles) matching `words`; only `author`'s posts, or only those
        tagged `tag`, if given (then `words` may be blank: the tag's posts); `before`: the
        cursor of the previous page's last post."""
        query = _query(words, tag)
        match = query.match
        key = None if author is None else await self.key_of(author)
        posts = await self._matching(match, limit=limit, author=key, before=before)
        feeds: list[FeedView] = []
        if query.words is not None and key is None and tag is None and before is None:
            feeds = await self._feeds_matching(query.words)
        return SearchView(posts=posts, feeds=feeds)

    async def tag(self, name: str, *, limit: int = 20, before: int | None = None
                  ) -> list[EntryView]:
        """Posts tagged `name` (with or without its #), newest stored first."""
        return await self._matching(tag_match(name), limit=limit, before=before)

    async def _matching(self, match: str, *, limit: int, author: bytes | None = None,
                        before: int | None = None) -> list[EntryView]:
        blocked = await self.store.blocking(self.public_key)
        found = await self.store.search.posts(match, limit=page_size(limit), exclude=blocked,
                                              author=author, before=before)
        return await self._views([e for _, e in found], [[rowid] for rowid, _ in found])

    async def _feeds_matching(self, words: str) -> list[FeedView]:
        blocked = await self.store.blocking(self.public_key)
        keys = await self.store.search.profiles(words, limit=MAX_FEEDS, exclude=blocked)
        profiles = await self.store.profiles(keys)
        following = await self.store.following(self.public_key)
        states = await self.store.feed_states(keys)
        out = []
        for key in keys:
            p = profiles.get(key)
            state = states.get(key) or FeedState(key)
            out.append(FeedView(author=handle_of(key), name=p.name if p else None,
                                bio=p.bio if p else None, lo=state.lo, hi=state.hi,
                                forked=state.forked, following=key in following,
                                is_me=key == self.public_key))
        return out
