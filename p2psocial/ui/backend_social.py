"""The backend's social and search calls (issue 12): search, tags, followers and following,
bookmarks. Kept apart from backend.py, which mixes them into both adapters.

Rule: as in backend.py, each call goes through the one METHODS table (`_call`), so an
in-process and an attached backend return the same views; errors are p2psocial errors.
"""

from __future__ import annotations

from typing import Any, Protocol

from p2psocial.runtime.search_views import SearchView
from p2psocial.runtime.views import EntryView, FeedView


class SocialBackend(Protocol):
    """Search and the social verbs, as the UI sees them."""

    async def search(self, words: str, *, limit: int = 20,
                     before: int | None = None) -> SearchView: ...
    async def tag(self, name: str, *, limit: int = 20,
                  before: int | None = None) -> list[EntryView]: ...
    async def followers(self, handle: str | None = None) -> list[FeedView]: ...
    async def followed(self, handle: str | None = None) -> list[FeedView]: ...
    async def bookmark(self, ref: str) -> EntryView: ...
    async def unbookmark(self, ref: str) -> EntryView: ...
    async def bookmarks(self, *, limit: int = 50) -> list[EntryView]: ...


class SocialCalls:
    """`SocialBackend` over `_call` (the adapters define it)."""

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def search(self, words: str, *, limit: int = 20,
                     before: int | None = None) -> SearchView:
        """Posts (newest first) and, on a first page, people matching `words`."""
        result: SearchView = await self._call("search", words, limit=limit, before=before)
        return result

    async def tag(self, name: str, *, limit: int = 20,
                  before: int | None = None) -> list[EntryView]:
        """Posts tagged `name`, newest first."""
        result: list[EntryView] = await self._call("tag", name, limit=limit, before=before)
        return result

    async def followers(self, handle: str | None = None) -> list[FeedView]:
        """The accounts held here that follow `handle` (default: me)."""
        result: list[FeedView] = await self._call("followers", handle)
        return result

    async def followed(self, handle: str | None = None) -> list[FeedView]:
        """The accounts `handle` (default: me) follows."""
        result: list[FeedView] = await self._call("followed", handle)
        return result

    async def bookmark(self, ref: str) -> EntryView:
        result: EntryView = await self._call("bookmark", ref)
        return result

    async def unbookmark(self, ref: str) -> EntryView:
        result: EntryView = await self._call("unbookmark", ref)
        return result

    async def bookmarks(self, *, limit: int = 50) -> list[EntryView]:
        """My bookmarked entries, the latest bookmark first."""
        result: list[EntryView] = await self._call("bookmarks", limit=limit)
        return result
