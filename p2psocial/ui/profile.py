"""Profile: a feed's name, bio and handle, how I relate to it, how much of it we hold, and
its posts. F follows or unfollows, B blocks or unblocks, M mutes (locally), y copies the
handle.

A muted feed's profile still shows its posts, under a banner that says it is muted (muting
hides a feed elsewhere; opening its profile is asking to see it). A blocked feed's posts stay
hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView, FeedView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import ListScreen
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import WHO, Row
from p2psocial.ui.rows import fetch_related, timeline_row
from p2psocial.ui.state import UiState
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar

PAGE = 50


def holding(feed: FeedView) -> str:
    """How much of the feed we hold, in words."""
    if feed.held == 0:
        return "nothing of this feed is held here yet"
    if feed.complete:
        return f"the whole feed is held here ({feed.held:,} entries)"
    return (f"entries {feed.lo:,}–{feed.hi:,} are held here; the {feed.lo - 1:,} older ones "
            "are not")


def relation(feed: FeedView, muted: bool) -> str:
    if feed.is_me:
        return "this is you"
    parts = ["following" if feed.following else "not following"]
    if feed.blocked:
        parts.append("blocked")
    if muted:
        parts.append("muted")
    return " · ".join(parts)


MUTED_BANNER = ("🔇 Muted on this device: their posts are hidden from your timeline, "
                "notifications and threads, not here. M unmutes.")


async def profile_rows(backend: UiBackend, state: UiState, handle: str,
                       views: Sequence[EntryView]) -> list[Row]:
    """Rows of a profile's posts: as on the timeline, except that the profile's own author
    is shown even when muted (not when blocked)."""
    state.learn(views)
    await fetch_related(backend, state, views)
    shown_anyway = handle in state.muted and handle not in state.blocked
    rows = []
    for view in views:
        row = timeline_row(state, view)
        if row is None and shown_anyway and view.author == handle:
            row = _own_row(state, view, handle)
        if row is not None:
            rows.append(row)
    return rows


def _own_row(state: UiState, view: EntryView, handle: str) -> Row | None:
    if view.type != "repost":
        return Row(entry=view)
    target = state.related.get(str((view.content or {}).get("target", "")))
    if target is not None and target.author != handle and state.hidden(target.author):
        return None
    return Row(entry=view, shown=target, note=f"⇄ {WHO} reposted")


class ProfileScreen(ListScreen):
    """One feed."""

    CSS_PATH = "profile.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("F", "toggle_follow", "Follow/unfollow"),
        Binding("B", "toggle_block", "Block/unblock",
                tooltip="Block (hide and never replicate) or unblock this feed"),
        Binding("M", "toggle_mute", "Mute", tooltip="Mute or unmute: hide this feed on "
                "this device only (publishes nothing)"),
        Binding("y", "copy", "Copy handle", show=False, tooltip="Copy this feed's handle"),
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self, handle: str) -> None:
        super().__init__()
        self.handle = handle
        self.feed: FeedView | None = None
        self._oldest: list[Any] | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), "Profile")
        yield Static(Text(self.handle), id="card")
        yield Static(MUTED_BANNER, id="muted-banner")
        yield PostList(placeholder="Loading…", id="posts")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="profile")
    async def load(self, older: bool = False) -> None:
        backend = await self.host.ready()
        self.sync_context()
        try:
            if not older:
                self.feed = await backend.feed(self.handle)
                self.state.learn([self.feed])
                self._show_card()
            views = await backend.posts(self.handle, limit=PAGE,
                                        before=self._oldest if older else None)
            rows = await profile_rows(backend, self.state, self.handle, views)
        except P2PSocialError as exc:
            self.query_one("#card", Static).update(Text(f"{self.handle}\n{exc}"))
            return
        post_list = self.post_list
        await post_list.prepare(rows)
        if views and views[-1].cursor:
            self._oldest = views[-1].cursor
        post_list.has_more = len(views) == PAGE
        if older:
            post_list.append_rows(rows)
        else:
            post_list.placeholder = ("Hidden: you block this feed."
                                     if self.handle in self.state.blocked
                                     else "No posts held from this feed.")
            post_list.set_rows(rows)

    def _show_card(self) -> None:
        self.query_one("#muted-banner", Static).display = self.handle in self.state.muted
        feed = self.feed
        if feed is None:
            return
        card = Text()
        card.append(feed.name or "(no name)", "bold")
        card.append(f"  {relation(feed, feed.author in self.state.muted)}\n", "italic")
        card.append(feed.author + "\n")
        if feed.bio:
            card.append(feed.bio.strip() + "\n")
        followers = f"{feed.followers:,} follower{'s' if feed.followers != 1 else ''}"
        card.append(f"{followers} · follows {feed.follows:,} · {holding(feed)}", "dim")
        if feed.forked:
            card.append("\n⚠ this feed is forked: its author wrote conflicting entries",
                        "bold red")
        self.query_one("#card", Static).update(card)

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._oldest is not None:
            self.load(older=True)

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)
        if any(v.author == self.handle and v.type in ("post", "repost", "about")
               for v in message.views):
            self.load()

    def on_relations_changed(self, _: RelationsChanged) -> None:
        self.load()

    def _relate(self, verb: str) -> None:
        done = {"follow": "Following", "unfollow": "Unfollowed", "block": "Blocked",
                "unblock": "Unblocked"}[verb]
        self.call_node(lambda b: b.relate(verb, self.handle), success=done,
                       done=lambda _: self.load())

    def action_toggle_follow(self) -> None:
        if self.feed is not None and not self.feed.is_me:
            self._relate("unfollow" if self.feed.following else "follow")

    def action_toggle_block(self) -> None:
        if self.feed is not None and not self.feed.is_me:
            self._relate("unblock" if self.feed.blocked else "block")

    def action_toggle_mute(self) -> None:
        if self.feed is None or self.feed.is_me:
            return
        muted = self.handle not in self.state.muted
        self.state.set_muted(self.handle, muted)
        self.notify("Muted (only on this device)" if muted else "Unmuted")
        self.host.broadcast(RelationsChanged())

    def action_copy(self) -> None:
        self.host.copy_handle(self.handle)
