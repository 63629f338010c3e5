"""The home timeline: the feeds I follow and mine, newest first, live.

New posts appear at the top as they arrive. Scrolled away, the view stays put and a marker
counts the new posts above; `g` goes up to them. Older pages load as the cursor nears the
end. A burst too large to insert (a backfill) marks the top stale: it reloads at the top.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.ui.base import ListScreen
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import now_ms
from p2psocial.ui.rows import merge_positions, timeline_rows
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar

PAGE = 50
RELOAD_SECONDS = 0.3
EMPTY = ("Your timeline is empty.\n\nc  write your first post\n+  follow someone by handle\n"
         "3  show your own handle (and its QR code) to share")


class HomeScreen(ListScreen):
    """Followed feeds merged, newest first."""

    CSS_PATH = "home.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "app.compose", "Compose"),  # app keys, listed here for the footer
        Binding("plus", "app.follow", "Follow"),
        Binding("slash", "app.search", "Search"),
        Binding("apostrophe", "app.bookmarks", "Bookmarks"),
        Binding("period", "reload", "Reload", show=False, tooltip="Reload the newest posts"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._oldest: list[Any] | None = None
        self._new = 0
        self._stale = False
        self._shown_once = False
        self._reload_due = False
        self._live_lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield TopBar("home")
        yield Static("", id="new-marker")
        yield PostList(placeholder="Opening your node…", id="timeline")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_marker()
        self.load_page()

    def action_reload(self) -> None:
        self.load_page()

    def request_reload(self) -> None:
        """Reload the newest page soon, keeping the reader's place; during a stream of
        entries this reloads at most every RELOAD_SECONDS."""
        if not self._reload_due:
            self._reload_due = True
            self.set_timer(RELOAD_SECONDS, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.load_page(keep_place=True)

    @work(exclusive=True, group="page")
    async def load_page(self, older: bool = False, keep_place: bool = False) -> None:
        """Load the newest page, or (`older`) the page after the last row."""
        backend = await self.host.ready()
        self.sync_context()
        post_list = self.post_list
        try:
            views = await backend.timeline(limit=PAGE, before=self._oldest if older else None)
            rows = await timeline_rows(backend, self.state, views)
        except P2PSocialError as exc:
            self.notify(str(exc), severity="error")
            return
        await post_list.prepare(rows)
        if views and views[-1].cursor:
            self._oldest = views[-1].cursor
        elif not older:
            self._oldest = None
        post_list.has_more = len(views) == PAGE
        if older:
            post_list.append_rows(rows)
            return
        post_list.placeholder = EMPTY
        post_list.set_rows(rows, keep_place=keep_place)
        self._new, self._stale = 0, False
        self._show_marker()
        if not self._shown_once:
            self._shown_once = True
            self.call_after_refresh(self.host.first_page_shown)

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._oldest is not None:
            self.load_page(older=True)

    def on_post_list_moved(self, message: PostList.Moved) -> None:
        if message.at_top and (self._new or self._stale):
            if self._stale:
                self.request_reload()
            self._new = 0
            self._show_marker()

    def on_relations_changed(self, _: RelationsChanged) -> None:
        self.post_list.remove_rows(lambda r: not self.state.hides(r.post)
                                   and not self.state.hides(r.entry))
        self.load_page(keep_place=True)

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)
        views = [v for v in message.views if self.state.in_timeline(v)]
        if views:
            self.insert_live(views)

    @work(group="live")
    async def insert_live(self, views: list[Any]) -> None:
        async with self._live_lock:
            post_list = self.post_list
            at_top = post_list.scroll_y == 0 and post_list.cursor == 0
            if self._stale or len(views) > PAGE:
                if at_top:
                    self.request_reload()
                else:
                    self._stale = True
                    self._new += len(views)
                    self._show_marker()
                return
            backend = await self.host.ready()
            try:
                rows = await timeline_rows(backend, self.state, views)
            except P2PSocialError:
                return
            rows, positions = merge_positions(post_list.rows, rows, now_ms(),
                                              complete=not post_list.has_more)
            above = post_list.insert_rows(rows, positions)
            if any(r.entry.author == self.state.me for r in rows):
                post_list.action_first()  # what I just wrote: show it, wherever I was
                self._new = 0
                self._show_marker()
            elif above:
                self._new += above
                self._show_marker()

    def _show_marker(self) -> None:
        marker = self.query_one("#new-marker", Static)
        marker.display = bool(self._new)
        if self._new:
            plural = "s" if self._new != 1 else ""
            marker.update(f"▲ {self._new} new post{plural} above — g goes to the top")

    @property
    def new_count(self) -> int:
        """New posts above the view (what the marker says)."""
        return self._new


__all__ = ["HomeScreen"]
