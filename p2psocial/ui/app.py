"""SocialApp: the Textual app. It opens the backend after the first frame, routes node events
to the screens, and carries out the actions chosen on a post in any list.

Rules:
- Sections are Textual modes (home, notifications, me, network), each with its own stack:
  a thread opened from notifications stays there when you visit home and come back.
- Node calls run in workers; an error becomes a notification, never a crash.
- Live entries are batched (at most 20 deliveries a second) before screens see them, so a
  backfill of thousands of entries costs the UI a few small updates.
- Live entries name no account: each takes the one known for its device, and the node is
  asked once per device not seen yet (one entry each, at most MAX_ASKED per batch), so a
  post from a device of an account I follow shows under the account at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from textual import work
from textual._path import CSSPathType
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.attachments import attachments_of
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import node_call
from p2psocial.ui.bookmarks import BookmarkMarks, BookmarksScreen, toggle_bookmark
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.dialogs import AboutDialog, ConfirmDialog, ReactDialog
from p2psocial.ui.follow import FollowDialog
from p2psocial.ui.help import HelpScreen
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.image_view import PictureScreen, open_externally
from p2psocial.ui.mail import MessagesScreen
from p2psocial.ui.me import MeScreen
from p2psocial.ui.messages import (
    BackendOpened,
    EntriesArrived,
    MailArrived,
    RelationsChanged,
    StatusChanged,
)
from p2psocial.ui.network import NetworkScreen, summary
from p2psocial.ui.notifications import NotificationsScreen
from p2psocial.ui.people import PeopleList, PeopleScreen
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.render import Row
from p2psocial.ui.search import SearchScreen
from p2psocial.ui.state import UiState
from p2psocial.ui.storage import StorageScreen
from p2psocial.ui.tag import open_tags
from p2psocial.ui.thread import ThreadScreen
from p2psocial.ui.toggle import toggle_reaction, toggle_repost

T = TypeVar("T")
log = logging.getLogger(__name__)
Opener = Callable[[], Awaitable[UiBackend]]
FLUSH_SECONDS = 0.05
STATUS_SECONDS = 5.0
NOTIFY_TYPES = ("post", "react", "repost", "follow")
# live entries placed, named or applied (my other devices' follows) by their account
ACCOUNT_TYPES = ("post", "repost", "about", "follow", "unfollow", "block", "unblock")
MAX_ASKED = 50


class SocialApp(App[int]):
    """The p2psocial terminal client."""

    CSS_PATH: ClassVar[CSSPathType | None] = ["app.tcss", "postlist.tcss"]
    TITLE = "p2psocial"
    MODES: ClassVar[dict[str, Any]] = {
        "home": HomeScreen, "notifications": NotificationsScreen, "me": MeScreen,
        "network": NetworkScreen, "messages": MessagesScreen}
    DEFAULT_MODE = "home"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "section('home')", "Home", show=False, tooltip="Home timeline"),
        Binding("2", "section('notifications')", "Notifications", show=False,
                tooltip="Notifications: mentions, replies, reactions, followers"),
        Binding("3", "section('me')", "Me", show=False,
                tooltip="Me: my handle, its QR code, my relays"),
        Binding("4", "section('network')", "Network", show=False,
                tooltip="Network: peers, sync progress, problems"),
        Binding("5", "section('messages')", "Messages", show=False,
                tooltip="Messages: private conversations and message requests"),
        Binding("c", "compose", "Compose", show=False, tooltip="Write a new post"),
        Binding("plus", "follow", "Follow", show=False,
                tooltip="Follow someone: paste a handle"),
        Binding("slash", "search", "Search", show=False,
                tooltip='Search all posts and people held here: words, "a phrase", #tag'),
        Binding("apostrophe", "bookmarks", "Bookmarks", show=False,
                tooltip="My bookmarks (m on a post bookmarks it)"),
        Binding("question_mark,f1", "help", "Help", tooltip="This list of keys"),
        Binding("colon", "command_palette", "Commands", show=False,
                tooltip="Command palette: type to find any command"),
        Binding("q", "go_back(True)", "Back/Quit",
                tooltip="Back; on the home timeline, quit (asking first once other screens "
                        "were opened). Setting: q only goes back (ctrl+q or :quit quits)"),
        Binding("q", "q_back", "Back",
                tooltip="Back (the setting 'q only goes back': ctrl+q or :quit quits)"),
        Binding("escape", "go_back(False)", "Back", show=False,
                tooltip="Back (close a screen or dialog)"),
    ]

    def __init__(self, opener: Opener, *, settings_path: Path | None = None) -> None:
        super().__init__()
        self.state = UiState(settings_path=settings_path)
        self.backend: UiBackend | None = None
        self.failure: str | None = None
        self.timeline_shown: Callable[[], None] | None = None  # a hook for benchmarks
        self._opener = opener
        self._backend_ready = asyncio.Event()
        self._live: set[Screen[Any]] = set()
        self._pending: list[EntryView] = []
        self._wake = asyncio.Event()
        self._newest_seen = 0
        self._wandered = False  # another screen was opened: q on home asks before quitting
        self.marks = BookmarkMarks()  # which posts are bookmarked (read when first needed)

    # --- the backend --------------------------------------------------------------------

    async def ready(self) -> UiBackend:
        """The backend, once open (waits for it)."""
        await self._backend_ready.wait()
        assert self.backend is not None
        return self.backend

    def on_mount(self) -> None:
        self.open_backend()

    @work(exclusive=True, group="backend")
    async def open_backend(self) -> None:
        try:
            backend = await self._opener()
            me = await backend.me()
        except P2PSocialError as exc:
            self.failure = str(exc)
            self.exit(1, return_code=1)
            return
        self.backend = backend
        state = self.state
        state.mode, state.me, state.my_name = backend.mode, me.author, me.name
        state.my_account = me.account or me.author
        state.learn([me])
        state.load_mutes()
        self._backend_ready.set()
        self.broadcast(BackendOpened())
        self.run_worker(self._pump_events(backend), group="events")
        self.run_worker(self._flush_events(), group="events")
        self.run_worker(self._load_relations(backend), group="relations")
        self.poll_status()
        self.set_interval(STATUS_SECONDS, self.poll_status)
        self.set_interval(60, self.names_changed)  # relative times move on

    async def on_unmount(self) -> None:
        gc.unfreeze()  # what the app leaves behind can be collected again
        if self.backend is not None:
            backend, self.backend = self.backend, None
            try:
                await backend.close()
            except Exception:  # leaving must not crash: the failure is logged
                log.exception("closing the node failed")

    async def _load_relations(self, backend: UiBackend) -> None:
        with contextlib.suppress(P2PSocialError):
            self.state.learn_relations(await backend.following(), await backend.blocking())
            self.state.learn(await backend.feeds())
            self.names_changed()
            items = await backend.notifications(limit=1)
            self._newest_seen = items[0].cursor[0] if items and items[0].cursor else 0
        self.count_mail()

    @work(exclusive=True, group="status")
    async def poll_status(self) -> None:
        backend = await self.ready()
        try:
            text = summary(await backend.status(), await backend.peers())
        except P2PSocialError:
            text = "node unreachable"
        if text != self.state.network:
            self.state.network = text
            self.broadcast(StatusChanged())

    # --- live events --------------------------------------------------------------------

    async def _pump_events(self, backend: UiBackend) -> None:
        try:
            async for kind, data in backend.events():
                if kind == "entry" and isinstance(data, EntryView):
                    self._pending.append(data)
                    self._wake.set()
                elif kind == "mail" and isinstance(data, dict):
                    self.mail_arrived(str(data.get("conversation", "")))
        except (P2PSocialError, OSError, ValueError):
            pass
        self.state.network = "disconnected from the node"
        self.broadcast(StatusChanged())
        self.notify("the node went away: live updates stopped", severity="error",
                    timeout=10)

    async def _flush_events(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_SECONDS)
            self._wake.clear()
            views, self._pending = self._pending, []
            if views:
                self.entries_arrived(await self._with_accounts(views))

    async def _with_accounts(self, views: list[EntryView]) -> list[EntryView]:
        """Live views with the account each counts for (see the module rules)."""
        state = self.state
        first: dict[str, str] = {}
        for view in views:
            if (not view.account and view.type in ACCOUNT_TYPES
                    and view.author not in state.accounts):
                first.setdefault(view.author, view.hash)
        if first:
            backend = await self.ready()
            with contextlib.suppress(P2PSocialError):
                state.learn(await backend.entries(list(first.values())[:MAX_ASKED]))
        return [v if v.account or v.author not in state.accounts
                else dataclasses.replace(v, account=state.accounts[v.author]) for v in views]

    def entries_arrived(self, views: list[EntryView]) -> None:
        """Update the shared state from new entries and hand them to the screens."""
        state = self.state
        relations = names = concerns_me = False
        for view in views:
            if state.is_mine(view):
                changed = state.apply_mine(view)
                relations = relations or (changed and view.type != "about")
                names = names or (changed and view.type == "about")
            elif view.type in NOTIFY_TYPES:
                concerns_me = True
            names = state.learn_about(view) or names
        if relations:
            self.broadcast(RelationsChanged())
        if names:
            self.names_changed()
            self.broadcast(StatusChanged())
        self.broadcast(EntriesArrived(views))
        if concerns_me:
            self.check_notifications()

    def mail_arrived(self, conversation: str) -> None:
        """A private message arrived: screens showing mail reload, the badge recounts."""
        self.broadcast(MailArrived(conversation))
        self.count_mail()

    @work(exclusive=True, group="mail-unread")
    async def count_mail(self) -> None:
        """Recount the unread private messages for the tab bar."""
        backend = await self.ready()
        try:
            unread = sum(view.unread for view in await backend.inbox())
        except P2PSocialError:
            return  # the next arrival counts again
        if unread != self.state.mail_unread:
            self.state.mail_unread = unread
            self.broadcast(StatusChanged())

    @work(exclusive=True, group="unread")
    async def check_notifications(self) -> None:
        await asyncio.sleep(0.5)  # let a burst settle
        backend = await self.ready()
        with contextlib.suppress(P2PSocialError):
            items = await backend.notifications(limit=50)
            fresh = [i for i in items if i.cursor and i.cursor[0] > self._newest_seen]
            if self.current_mode == "notifications":
                self.mark_notifications_seen(items[0].cursor[0] if items and items[0].cursor
                                             else 0)
            elif len(fresh) != self.state.unread:
                self.state.unread = len(fresh)
                self.broadcast(StatusChanged())

    def mark_notifications_seen(self, newest: int) -> None:
        """The notifications up to `newest` (ms) have been seen."""
        self._newest_seen = max(self._newest_seen, newest)
        if self.state.unread:
            self.state.unread = 0
            self.broadcast(StatusChanged())

    def first_page_shown(self) -> None:
        """The home timeline is on screen: start-up is over."""
        # Everything built so far (Textual, the modules, the node) lives as long as the app:
        # keep it out of the garbage collector's full scans, which otherwise stall a
        # key-press now and then by 25-50 ms.
        gc.freeze()
        if self.timeline_shown is not None:
            self.timeline_shown()
        self.go_online()

    @work(exclusive=True, group="online")
    async def go_online(self) -> None:
        """Start the in-process node's network (an attached node runs its own)."""
        backend = await self.ready()
        try:
            started = await backend.go_online()
        except (P2PSocialError, OSError) as exc:
            self.notify(f"cannot go online, this node runs offline: {exc}",
                        severity="error", timeout=10)
            return
        if started:
            self.poll_status()

    def watch_live(self, screen: Screen[Any], on: bool) -> None:
        """Register a screen for app messages (while it is mounted)."""
        if on:
            self._live.add(screen)
            self._wandered = self._wandered or not isinstance(screen, HomeScreen)
        else:
            self._live.discard(screen)

    def broadcast(self, message: Message) -> None:
        """Post a copy of `message` to every mounted screen."""
        for screen in list(self._live):
            screen.post_message(_copy(message))

    def names_changed(self) -> None:
        """Redraw every list (names learnt, or the clock moved on)."""
        for screen in self._live:
            for post_list in screen.query(PostList):
                post_list.invalidate()

    # --- node calls ---------------------------------------------------------------------

    def call_node(self, make: Callable[[UiBackend], Awaitable[T]], *,
                  done: Callable[[T], object] | None = None,
                  success: str | None = None) -> Worker[None]:
        """Run a node call in an app worker (it outlives the screen that asked)."""
        return node_call(self, self, make, done=done, success=success)

    # --- actions on a post --------------------------------------------------------------

    def on_post_list_action_chosen(self, message: PostList.ActionChosen) -> None:
        getattr(self, f"_row_{message.action}")(message.row)

    def _row_open(self, row: Row) -> None:
        post = row.post
        if post.type == "post":
            self.push_screen(ThreadScreen(post.hash))
        else:
            self.push_screen(ProfileScreen(self.state.owner(row.entry)))

    def _row_reply(self, row: Row) -> None:
        self.push_screen(ComposeScreen(reply_to=row.post))

    def _row_quote(self, row: Row) -> None:
        self.push_screen(ComposeScreen(quote=row.post))

    def _row_repost(self, row: Row) -> None:
        toggle_repost(self, self, row)  # a second press takes it back

    def _row_like(self, row: Row) -> None:
        toggle_reaction(self, self, row, "❤")

    def _row_react(self, row: Row) -> None:
        def chosen(reaction: str | None) -> None:
            if reaction:
                toggle_reaction(self, self, row, reaction.strip())
        self.push_screen(ReactDialog(), chosen)

    def _row_profile(self, row: Row) -> None:
        self.push_screen(ProfileScreen(self.state.owner(row.post)))

    def _row_delete(self, row: Row) -> None:
        post = row.post
        if post.author != self.state.me:
            self.notify("you can only delete your own posts", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.call_node(lambda b: b.delete(post.hash),
                               success="Deleted: peers will drop its text")
        self.push_screen(ConfirmDialog("Delete this post? Every peer drops its text."),
                         confirmed)

    def _row_copy(self, row: Row) -> None:
        self.copy_handle(self.state.owner(row.post))

    def _row_tags(self, row: Row) -> None:
        open_tags(self, row)

    def _row_bookmark(self, row: Row) -> None:
        toggle_bookmark(self, self.marks, row)

    def _row_picture(self, row: Row) -> None:
        self.push_screen(PictureScreen(row.post))

    def _row_open_file(self, row: Row) -> None:
        items = attachments_of(row.post)
        if items:
            open_externally(self, self, items[0])

    def on_people_list_person_chosen(self, message: PeopleList.PersonChosen) -> None:
        self.push_screen(ProfileScreen(message.handle))

    def copy_handle(self, handle: str) -> None:
        """Put a handle on the clipboard (through the terminal)."""
        self.copy_to_clipboard(handle)
        self.notify(f"copied {handle}", timeout=4)

    # --- navigation ---------------------------------------------------------------------

    def action_section(self, name: str) -> None:
        """Go to a section (its screens as left); its own key again goes to its first screen."""
        if self.current_mode == name:
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        self.switch_mode(name)

    def action_compose(self) -> None:
        self.push_screen(ComposeScreen())

    def action_follow(self) -> None:
        self.push_screen(FollowDialog())

    def action_search(self) -> None:
        self.push_screen(SearchScreen())

    def action_bookmarks(self) -> None:
        if not isinstance(self.screen, BookmarksScreen):
            self.push_screen(BookmarksScreen())

    def action_people(self, kind: str) -> None:
        """My followers, or whom I follow."""
        self.push_screen(PeopleScreen(self.state.my_account or self.state.me, kind,
                                      self.state.my_name))

    def action_storage(self) -> None:
        if not isinstance(self.screen, StorageScreen):
            self.push_screen(StorageScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_edit_profile(self) -> None:
        self.push_screen(AboutDialog(self.state.my_name or ""))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """One of the two q bindings is live, as the "q" setting says."""
        if action == "go_back" and parameters == (True,):
            return self.state.q_quits
        if action == "q_back":
            return not self.state.q_quits
        return True

    def action_q_back(self) -> None:
        if len(self.screen_stack) == 1 and self.current_mode == "home":
            self.notify("q only goes back (your setting): ctrl+q or :quit quits", timeout=4)
        self.action_go_back(False)

    def action_go_back(self, quit_at_root: bool) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != "home":
            self.switch_mode("home")
        elif quit_at_root and self._wandered:
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.exit(0)
            self.push_screen(ConfirmDialog("Quit p2psocial?"), confirmed)
        elif quit_at_root:
            self.exit(0)

    def action_quit_setting(self, quits: bool) -> None:
        self.state.set_q_quits(quits)
        self.refresh_bindings()
        self.notify("q on the home timeline now quits" if quits else
                    "q now only goes back: ctrl+q or :quit quits", timeout=5)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for name, text in (("home", "Home timeline"), ("notifications", "Notifications"),
                           ("me", "Me: my handle and QR code"),
                           ("network", "Network: peers and sync"),
                           ("messages", "Messages: private conversations")):
            yield SystemCommand(text, f"Go to {text.split(':')[0].lower()}",
                                lambda n=name: self.switch_mode(n))
        yield SystemCommand("Compose a post", "Write a new post", self.action_compose)
        yield SystemCommand("Follow someone", "Paste a handle or find a name",
                            self.action_follow)
        yield SystemCommand("Edit my profile", "Set my name and bio", self.action_edit_profile)
        yield SystemCommand("Search", "Posts and people across everything stored (/)",
                            self.action_search)
        yield SystemCommand("Bookmarks", "The posts I bookmarked (')", self.action_bookmarks)
        yield SystemCommand("My followers", "The accounts held here that follow me",
                            lambda: self.action_people("followers"))
        yield SystemCommand("Whom I follow", "The accounts I follow",
                            lambda: self.action_people("following"))
        yield SystemCommand("Storage", "What this home takes on disk; prune now; the budget",
                            self.action_storage)
        yield SystemCommand("Help: every key", "Every key of this app and what it does",
                            self.action_help)
        if self.state.q_quits:
            yield SystemCommand("Setting: q only goes back", "q never quits; ctrl+q or :quit "
                                "quits (kept in ui.json)", lambda: self.action_quit_setting(False))
        else:
            yield SystemCommand("Setting: q quits from home", "q on the home timeline quits, "
                                "asking first (kept in ui.json)",
                                lambda: self.action_quit_setting(True))
        yield from super().get_system_commands(screen)


def _copy(message: Message) -> Message:
    """A fresh message with the same fields (a message is posted once)."""
    fields = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}  # type: ignore[arg-type]
    return type(message)(**fields)
