"""Profile: a feed's name, bio and handle, how I relate to it, how much of it we hold, and
its posts. F follows or unfollows, B blocks or unblocks, M mutes (locally), y copies the
handle, d shows or hides its account's devices, f and o list its followers and whom it
follows.

A profile is an account's (issue 11): opened on a device's handle, it shows the account that
device counts for, with the posts of all its devices; the card counts its devices instead of
one feed's entries. A single-key identity is its own account and reads as before.

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

from p2psocial.core.account.state import resolve
from p2psocial.core.errors import P2PSocialError
from p2psocial.core.identity import parse_handle
from p2psocial.runtime.devices import device_count, held_ops
from p2psocial.runtime.views import EntryView, FeedView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import ListScreen
from p2psocial.ui.devices import device_text
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.people import PeopleScreen
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


def relation(feed: FeedView, muted: bool, mine: bool = False) -> str:
    """How I relate to a feed; `mine`: it is my account (another of its devices, say)."""
    if feed.is_me or mine:
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
        if row is None and shown_anyway and state.owner(view) == handle:
            row = _own_row(state, view, handle)
        if row is not None:
            rows.append(row)
    return rows


def _own_row(state: UiState, view: EntryView, handle: str) -> Row | None:
    if view.type != "repost":
        return Row(entry=view)
    target = state.related.get(str((view.content or {}).get("target", "")))
    if target is not None and state.owner(target) != handle and state.hides(target):
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
        Binding("d", "devices", "Devices", tooltip="Show or hide the devices of this "
                "account"),
        Binding("f", "people('followers')", "Followers",
                tooltip="Who follows this account (of the feeds held here)"),
        Binding("o", "people('following')", "Following", tooltip="Whom this account follows"),
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self, handle: str) -> None:
        super().__init__()
        self.handle = handle
        self.feed: FeedView | None = None
        self._oldest: list[Any] | None = None
        self._devices: int | None = None  # devices of an account with a log; None: one key

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), "Profile")
        yield Static(Text(self.handle), id="card")
        yield Static(MUTED_BANNER, id="muted-banner")
        yield Static("", id="devices")
        yield PostList(placeholder="Loading…", id="posts")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#devices", Static).display = False
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
                if self.feed.account and self.feed.account != self.handle:
                    self.handle = self.feed.account  # a device: its account's profile
                    self.feed = await backend.feed(self.handle)
                self.state.learn([self.feed])
                self.refresh_bindings()  # mine or not: which keys the footer offers
                self._devices = await self._count_devices(backend, self.feed)
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
        card.append(f"  {relation(feed, feed.author in self.state.muted, self._mine)}\n",
                    "italic")
        card.append(feed.author + "\n")
        if feed.bio:
            card.append(feed.bio.strip() + "\n")
        followers = f"{feed.followers:,} follower{'s' if feed.followers != 1 else ''}"
        held = (holding(feed) if self._devices is None else
                f"an account of {self._devices} device{'s' if self._devices != 1 else ''} "
                "(d lists them)")
        card.append(f"{followers} · follows {feed.follows:,} · {held}", "dim")
        if feed.forked:
            card.append("\n⚠ this feed is forked: its author wrote conflicting entries",
                        "bold red")
        self.query_one("#card", Static).update(card)

    async def _count_devices(self, backend: UiBackend, feed: FeedView) -> int | None:
        """How many current devices the account has (its account key only if it posts), or
        None for a single key."""
        account = parse_handle(feed.author)
        state = resolve(account, await held_ops(backend, account))
        return None if state.tip is None else await device_count(backend, state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Follow, block and mute are not offered on my own profile (they did nothing)."""
        return not (action in ("toggle_follow", "toggle_block", "toggle_mute") and self._mine)

    @property
    def _mine(self) -> bool:
        """This profile is mine: this device's, or my account's (known from the handle
        before the feed is loaded, so the footer never offers those keys on it meanwhile)."""
        feed = self.feed
        if self.handle and self.handle in (self.state.me, self.state.my_account):
            return True
        return feed is not None and (feed.is_me or feed.author == self.state.my_account)

    def action_devices(self) -> None:
        panel = self.query_one("#devices", Static)
        panel.display = not panel.display
        if panel.display:
            panel.update(Text("Reading the devices…", "dim"))
            self.load_devices()

    @work(exclusive=True, group="devices")
    async def load_devices(self) -> None:
        backend = await self.host.ready()
        try:
            text, _ = await device_text(backend, self.feed.author if self.feed else
                                        self.handle, self.state.me)
        except P2PSocialError as exc:
            text = Text(str(exc))
        self.query_one("#devices", Static).update(text)

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._oldest is not None:
            self.load(older=True)

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)
        if any(self.state.owner(v) == self.handle and v.type in ("post", "repost", "about")
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
        if self.feed is not None and not self._mine:
            self._relate("unfollow" if self.feed.following else "follow")

    def action_toggle_block(self) -> None:
        if self.feed is not None and not self._mine:
            self._relate("unblock" if self.feed.blocked else "block")

    def action_toggle_mute(self) -> None:
        if self.feed is None or self._mine:
            return
        muted = self.handle not in self.state.muted
        self.state.set_muted(self.handle, muted)
        self.notify("Muted (only on this device)" if muted else "Unmuted")
        self.host.broadcast(RelationsChanged())

    def action_copy(self) -> None:
        self.host.copy_handle(self.handle)

    def action_people(self, kind: str) -> None:
        name = self.feed.name if self.feed else None
        self.app.push_screen(PeopleScreen(self.handle, kind, name))
