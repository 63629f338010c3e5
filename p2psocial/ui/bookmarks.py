"""Bookmarks: `m` on a post bookmarks it or takes the bookmark back, `'` lists them (as in
vi: m sets a mark, ' goes to the marks).

Rules:
- Bookmarks are local (the node keeps them, nothing is published). Which posts are
  bookmarked is read from the node once, when first needed, and kept in `BookmarkMarks`;
  each toggle updates it. If another client changed them meanwhile, the node refuses the
  toggle in one line and the marks are read again, so the next press does the right thing.
- Only posts are bookmarked from the UI (a row's shown post: a repost's target).
- The Bookmarks screen lists the latest bookmark first; a deleted post stays listed, shown as
  deleted. The node pages bookmarks by count only, so each further page asks for the first
  `shown + PAGE` and keeps the new tail.
- A change (from any screen) is broadcast as `BookmarksChanged`; the list reloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message

from p2psocial.core.errors import P2PSocialError, UsageError
from p2psocial.runtime.service import MAX_PAGE
from p2psocial.runtime.views import EntryView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import Host, ListScreen
from p2psocial.ui.messages import EntriesArrived
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Row
from p2psocial.ui.rows import fetch_related
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar

PAGE = 50
EMPTY = ("No bookmarks yet.\n\nm on a post bookmarks it (m again takes it back); "
         "' opens this list from anywhere.")


@dataclass
class BookmarksChanged(Message, bubble=False):
    """A bookmark was added or taken back."""


class BookmarkMarks:
    """Which posts are bookmarked (hashes), read from the node when first needed."""

    def __init__(self) -> None:
        self.hashes: set[str] = set()
        self.loaded = False

    async def ensure(self, backend: UiBackend) -> None:
        """Read the bookmarks unless they were read already."""
        if not self.loaded:
            await self.reload(backend)

    async def reload(self, backend: UiBackend) -> None:
        self.hashes = {v.hash for v in await backend.bookmarks(limit=MAX_PAGE)}
        self.loaded = True


def toggle_bookmark(app: App[Any], marks: BookmarkMarks, row: Row) -> None:
    """Bookmark the row's post, or take its bookmark back; one line says which."""
    post = row.post
    host: Host = app  # type: ignore[assignment]
    if post.type != "post":
        app.notify("only posts can be bookmarked", severity="warning")
        return

    async def run() -> None:
        backend = await host.ready()
        try:
            await marks.ensure(backend)
            if post.hash in marks.hashes:
                await backend.unbookmark(post.hash)
                marks.hashes.discard(post.hash)
                done = "Bookmark taken back"
            else:
                await backend.bookmark(post.hash)
                marks.hashes.add(post.hash)
                done = "Bookmarked: ' lists your bookmarks"
        except UsageError as exc:  # changed elsewhere: read them again for the next press
            app.notify(str(exc), severity="warning", timeout=6)
            await _reload_quietly(marks, backend)
            host.broadcast(BookmarksChanged())
            return
        except P2PSocialError as exc:
            app.notify(str(exc), severity="error", timeout=6)
            return
        app.notify(done, timeout=3)
        host.broadcast(BookmarksChanged())
    app.run_worker(run(), group="bookmark")


async def _reload_quietly(marks: BookmarkMarks, backend: UiBackend) -> None:
    try:
        await marks.reload(backend)
    except P2PSocialError:
        marks.loaded = False  # asked again at the next press


class BookmarksScreen(ListScreen):
    """My bookmarked posts, the latest bookmark first."""

    CSS_PATH = "lists.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._views: list[EntryView] = []

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), "Bookmarks")
        yield PostList(placeholder="Loading your bookmarks…", id="bookmarks")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="bookmarks")
    async def load(self, older: bool = False) -> None:
        backend = await self.host.ready()
        self.sync_context()
        want = len(self._views) + PAGE if older else max(PAGE, len(self._views))
        try:
            views = await backend.bookmarks(limit=min(want, MAX_PAGE))
            await fetch_related(backend, self.state, views)
        except P2PSocialError as exc:
            self.post_list.placeholder = str(exc)
            self.post_list.refresh()
            return
        self.state.learn(views)
        post_list = self.post_list
        fresh = views[len(self._views):] if older else views
        rows = [Row(entry=v) for v in fresh]
        await post_list.prepare(rows)
        self._views = views
        post_list.has_more = len(views) == want and want < MAX_PAGE
        if older:
            post_list.append_rows(rows)
            return
        post_list.placeholder = EMPTY
        post_list.set_rows(rows, keep_place=True)

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._views:
            self.load(older=True)

    def on_bookmarks_changed(self, _: BookmarksChanged) -> None:
        self.load()

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)


__all__ = ["BookmarkMarks", "BookmarksChanged", "BookmarksScreen", "toggle_bookmark"]
