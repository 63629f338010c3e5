"""What screens share: access to the app's backend and state, live updates, the list and
find bar wiring, and running node calls in workers with errors shown as notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, cast

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import Worker

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.messages import StatusChanged
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Context
from p2psocial.ui.rows import apply_counts, refresh_counts, stale_counts
from p2psocial.ui.state import UiState
from p2psocial.ui.widgets import FindBar, TopBar
from p2psocial.ui.workers import EndsWorkersFirst

T = TypeVar("T")
COUNTS_DEBOUNCE = 0.05  # seconds


class Host(Protocol):
    """The app as screens see it."""

    state: UiState

    async def ready(self) -> UiBackend: ...
    def watch_live(self, screen: Screen[Any], on: bool) -> None: ...
    def names_changed(self) -> None: ...
    def broadcast(self, message: Message) -> None: ...
    def copy_handle(self, handle: str) -> None: ...
    def mark_notifications_seen(self, newest: int) -> None: ...
    def first_page_shown(self) -> None: ...


class SocialScreen(EndsWorkersFirst, Screen[None]):
    """A screen of the app: registered for live updates while mounted."""

    BINDINGS: ClassVar[list[BindingType]] = []

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    @property
    def state(self) -> UiState:
        return self.host.state

    def on_mount(self) -> None:
        self.host.watch_live(self, True)

    def on_unmount(self) -> None:
        self.host.watch_live(self, False)

    def on_status_changed(self, _: StatusChanged) -> None:
        for bar in self.query(TopBar):
            bar.refresh()

    def on_screen_resume(self) -> None:
        for bar in self.query(TopBar):
            bar.refresh()

    def call_node(self, make: Callable[[UiBackend], Awaitable[T]], *,
                  done: Callable[[T], object] | None = None,
                  success: str | None = None) -> Worker[None]:
        """Run a node call in a worker of this screen (see `node_call`)."""
        return node_call(self, self.host, make, done=done, success=success)


def node_call(owner: Widget | App[Any], host: Host, make: Callable[[UiBackend], Awaitable[T]], *,
              done: Callable[[T], object] | None = None,
              success: str | None = None) -> Worker[None]:
    """Run a node call in a worker of `owner`; its error, or `success`, becomes a
    notification, and `done` gets the result."""
    async def run() -> None:
        backend = await host.ready()
        try:
            result = await make(backend)
        except P2PSocialError as exc:
            owner.notify(str(exc), severity="error", timeout=6)
            return
        if success:
            owner.notify(success, timeout=3)
        if done is not None:
            done(result)
    return owner.run_worker(run(), group="node-call")


class ListScreen(SocialScreen):
    """A screen around one PostList: find in its rows (ctrl+f) and live refresh of names."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "find", "Find", show=False,
                tooltip="Find text in the posts loaded here (n/N: next/previous match); "
                        "/ searches everything stored"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stale_counts: set[str] = set()

    @property
    def post_list(self) -> PostList:
        return self.query_one(PostList)

    def on_mount(self) -> None:
        super().on_mount()
        state = self.state
        self.post_list.context = Context(me=state.me, my_account=state.my_account,
                                         names=state.names, related=state.related)
        self.post_list.focus()
        self.query_one(FindBar).display = False

    def track_counts(self, views: Sequence[EntryView]) -> None:
        """New entries arrived: fold the posts they delete at once, and fetch the counts of
        the posts they react to, repost, reply to or take something back from."""
        post_list = self.post_list
        changed = apply_counts(post_list.rows, views)
        if changed:
            post_list.rows_changed(changed)
        stale = stale_counts(post_list.rows, views)
        if stale:
            self._stale_counts.update(stale)
            self._refetch_counts()

    @work(group="counts", exclusive=True)
    async def _refetch_counts(self) -> None:
        await asyncio.sleep(COUNTS_DEBOUNCE)  # a burst of reactions makes one fetch
        refs = set(self._stale_counts)
        backend = await self.host.ready()
        try:
            fresh = await backend.entries(sorted(refs))
        except P2PSocialError:
            return  # the next arrival asks again; the refs stay stale until then
        self._stale_counts -= refs
        changed = refresh_counts(self.post_list.rows, fresh)
        if changed:
            self.post_list.rows_changed(changed)

    def sync_context(self) -> None:
        """Take `me` into the list's rendering context (known once the node is open)."""
        self.post_list.context.me = self.state.me
        self.post_list.context.my_account = self.state.my_account

    def action_find(self) -> None:
        self.query_one(FindBar).open(self.post_list)

    @on(FindBar.Found)
    def _found(self, event: FindBar.Found) -> None:
        self.post_list.find(event.text)
