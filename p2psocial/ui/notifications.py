"""Notifications: mentions of me, replies and quotes, reactions and reposts of my posts, and
new followers, newest first. Enter opens the post concerned (or the new follower)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from p2psocial.core.errors import P2PSocialError
from p2psocial.ui.base import ListScreen
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.postlist import PostList
from p2psocial.ui.rows import fetch_related, notification_row
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar

PAGE = 50
RELOAD_SECONDS = 1.0
EMPTY = ("No notifications yet.\n\nWhen someone mentions you, replies to you, reacts to or "
         "reposts your posts, or follows you, it shows up here.")


class NotificationsScreen(ListScreen):
    """What others did that concerns me."""

    CSS_PATH = "home.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._oldest: list[Any] | None = None
        self._reload_pending = False

    def compose(self) -> ComposeResult:
        yield TopBar("notifications")
        yield PostList(placeholder="Loading…", id="notifications")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="notifications")
    async def load(self, older: bool = False) -> None:
        backend = await self.host.ready()
        self.sync_context()
        try:
            items = await backend.notifications(limit=PAGE,
                                                before=self._oldest if older else None)
            views = [i.entry for i in items]
            self.state.learn(views)
            await fetch_related(backend, self.state, views)
        except P2PSocialError as exc:
            self.notify(str(exc), severity="error")
            return
        if items and items[-1].cursor:
            self._oldest = items[-1].cursor
        rows = [row for i in items if (row := notification_row(self.state, i)) is not None]
        post_list = self.post_list
        await post_list.prepare(rows)
        post_list.has_more = len(items) == PAGE
        if older:
            post_list.append_rows(rows)
            return
        post_list.placeholder = EMPTY
        selected = post_list.current.key if post_list.current else None
        post_list.set_rows(rows)
        for index, row in enumerate(post_list.rows):
            if row.key == selected:
                post_list.select(index)
                break
        if items and items[0].cursor:
            self.host.mark_notifications_seen(int(items[0].cursor[0]))

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._oldest is not None:
            self.load(older=True)

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        if (self.is_current and not self._reload_pending
                and any(v.author != self.state.me for v in message.views)):
            self._reload_pending = True  # at most one reload a second during a burst
            self.set_timer(RELOAD_SECONDS, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_pending = False
        self.load()

    def on_relations_changed(self, _: RelationsChanged) -> None:
        self.load()
