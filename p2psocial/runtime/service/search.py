"""Searching: full text over every stored post and profile, and a tag's posts, in views.

Rules:
- What the user typed goes through core.search_query (a literal search with a small
  documented syntax), never to FTS5 as syntax: bad input is one UsageError line.
- Posts come newest first by time, paged by the position cursor of the last one shown
  (store/search.py says why not by rank); the feeds whose profile matches come with the
  first page of a search that names no author or tag.
- Feeds I block never show, nor any device of a person I block (the store refuses their
  new entries; older ones are left out here).
- `author` is a person: their account's every counted device feed (S7), whichever of their
  handles (account or device) or names is given.
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
        authors = None if author is None else await self._feeds_of_person(author)
        posts = await self._matching(match, limit=limit, authors=authors, before=before)
        feeds: list[FeedView] = []
        if query.words is not None and author is None and tag is None and before is None:
            feeds = await self._feeds_matching(query.words)
        return SearchView(posts=posts, feeds=feeds)

    async def tag(self, name: str, *, limit: int = 20, before: int | None = None
                  ) -> list[EntryView]:
        """Posts tagged `name` (with or without its #), newest first by time."""
        return await self._matching(tag_match(name), limit=limit, before=before)

    async def _feeds_of_person(self, who: str) -> dict[bytes, int | None]:
        """The feeds whose posts are `who`'s (a handle or name of a person, or of any of
        their devices): every device feed that counts for the account, each up to the seq
        it counts to (None: all), as the social views count people."""
        key = await self.key_of(who)
        account = await self.store.accounts.account_of(key) or key
        return await self.store.accounts.counted_feeds(account)

    async def _blocked_feeds(self) -> set[bytes]:
        """Every feed I block: with accounts, each device feed of a person I block (the
        store refuses their new entries; these are the ones held from before)."""
        return await self.store.blocked_feeds(self.public_key)

    async def _matching(self, match: str, *, limit: int,
                        authors: dict[bytes, int | None] | None = None,
                        before: int | None = None) -> list[EntryView]:
        page = page_size(limit)
        blocked = await self._blocked_feeds()
        found = await self.store.search.posts(match, limit=page, exclude=blocked,
                                              authors=authors, before=before)
        return await self._views([e for _, e in found], [[rowid] for rowid, _ in found])

    async def _feeds_matching(self, words: str) -> list[FeedView]:
        """The people whose profile matches, best first: each once, as its account (a match
        in any of its devices' profiles), with the account's profile and my relation."""
        blocked = await self._blocked_feeds()
        keys = await self.store.search.profiles(words, limit=MAX_FEEDS, exclude=blocked)
        followed = await self.store.following(self.public_key)
        account_of = await self.store.accounts.accounts_of([*keys, self.public_key, *followed])
        people = list(dict.fromkeys(account_of[k] for k in keys))
        following = {account_of[k] for k in followed}
        profiles = await self.store.profiles(people)
        states = await self.store.feed_states(people)
        out = []
        for person in people:
            p = profiles.get(person)
            state = states.get(person) or FeedState(person)
            out.append(FeedView(author=handle_of(person), name=p.name if p else None,
                                bio=p.bio if p else None, lo=state.lo, hi=state.hi,
                                forked=state.forked, following=person in following,
                                is_me=person == account_of[self.public_key],
                                account=handle_of(person)))
        return out
