"""The follow dialog: paste a handle or an invite token, or type a name to find a feed we
already hold. Enter follows; a handle nothing here has ever seen (most likely mistyped) is
followed only after a confirmation. ↓ or ctrl+t goes to the names found, ctrl+t back to
typing (as in the compose dialog); the help line says so for where the focus is."""

from __future__ import annotations

import asyncio
from typing import ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from p2psocial.core.errors import HandleError, InviteError, P2PSocialError
from p2psocial.core.identity import handle_of, parse_handle
from p2psocial.core.invite import decode_invite, looks_like_invite
from p2psocial.runtime.views import FeedView
from p2psocial.ui.base import Host
from p2psocial.ui.dialogs import ConfirmDialog
from p2psocial.ui.render import short
from p2psocial.ui.workers import EndsWorkersFirst

SEARCH_DELAY = 0.2
HELP_TYPING = "enter follows · esc cancels"
HELP_TYPING_NAMES = "enter follows · ↓ or ctrl+t: the names found · esc cancels"
HELP_PICKING = "enter follows this name · ctrl+t: back to typing · esc cancels"


def handle_from_invite(token: str) -> str | None:
    """The inviter's handle in an invite token, or None if `token` is not a valid one.

    The dialog follows with the token itself: the node's `follow` takes a handle or a token,
    and learns from the token where the inviter can be reached.
    """
    if not looks_like_invite(token):
        return None
    try:
        return handle_of(decode_invite(token).inviter)
    except InviteError:
        return None


def as_handle(text: str) -> str | None:
    """`text` as a handle if it is one (a pasted `@handle` too), else None."""
    text = text.strip().removeprefix("@")
    try:
        parse_handle(text)
    except HandleError:
        return None
    return text


def to_follow(text: str) -> tuple[str, str | None] | None:
    """(what to pass to `follow`, the handle it follows if known) for a handle or anything
    that looks like an invite token (a bad token is the node's to explain, in one line);
    None if `text` is neither."""
    handle = as_handle(text)
    if handle is not None:
        return handle, handle
    if looks_like_invite(text):
        return text.strip(), handle_from_invite(text)
    return None


class FollowDialog(EndsWorkersFirst, ModalScreen[str | None]):
    """Follow someone. Dismisses with the handle followed, or None."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "matches", "Matches", show=False),
        Binding("ctrl+t", "toggle_focus", "Names found / back", show=False, priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="follow"):
            yield Label("Follow someone", classes="dialog-title")
            yield Input(placeholder="paste a handle (12D3KooW…) or an invite, or type a name",
                        id="who", select_on_focus=False)  # back from the names: type on
            yield OptionList(id="matches")
            yield Static(HELP_TYPING, classes="dialog-help", id="follow-help")

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    def on_mount(self) -> None:
        self.query_one("#matches").display = False

    def _show_help(self) -> None:
        """The help line for where the focus is (the way there, or back)."""
        matches = self.query_one("#matches", OptionList)
        text = (HELP_PICKING if matches.has_focus
                else HELP_TYPING_NAMES if matches.display else HELP_TYPING)
        self.query_one("#follow-help", Static).update(text)

    def on_descendant_focus(self) -> None:
        self._show_help()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if to_follow(event.value) is None and len(event.value.strip()) >= 2:
            self.search(event.value)
        else:
            self.query_one("#matches").display = False
            self._show_help()

    @work(exclusive=True, group="search")
    async def search(self, text: str) -> None:
        await asyncio.sleep(SEARCH_DELAY)  # wait for the typing to pause
        backend = await self.host.ready()
        try:
            found = await backend.find_feeds(text)
        except P2PSocialError:
            return
        matches = self.query_one("#matches", OptionList)
        matches.clear_options()
        for feed in found:
            if not feed.is_me:
                matches.add_option(Option(self._label(feed), id=feed.author))
        matches.display = matches.option_count > 0
        if matches.option_count:
            matches.highlighted = 0
        self._show_help()

    @staticmethod
    def _label(feed: FeedView) -> str:
        mark = " (following)" if feed.following else " (blocked)" if feed.blocked else ""
        return f"{feed.name}  {short(feed.author)}{mark}"

    def action_matches(self) -> None:
        matches = self.query_one("#matches", OptionList)
        if matches.display:
            matches.focus()

    def action_toggle_focus(self) -> None:
        """ctrl+t: to the names found, and back to typing."""
        if self.query_one("#matches", OptionList).has_focus:
            self.query_one("#who", Input).focus()
        else:
            self.action_matches()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        target = to_follow(event.value)
        if target is not None:
            self._follow(*target)
            return
        matches = self.query_one("#matches", OptionList)
        if matches.display and matches.highlighted is not None:
            option = matches.get_option_at_index(matches.highlighted)
            if option.id:
                self._follow(option.id)
                return
        self.notify("that is not a handle, and no feed held here has that name",
                    severity="warning")

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._follow(event.option.id)

    def _follow(self, handle_or_token: str, handle: str | None = None) -> None:
        checked = None if looks_like_invite(handle_or_token) else handle_or_token

        async def run() -> None:
            backend = await self.host.ready()
            try:
                unknown = checked is not None and not (await backend.feed(checked)).seen
                if unknown and not await self.app.push_screen_wait(ConfirmDialog(
                        f"Nothing here has ever seen {short(checked or '')}: no posts, no "
                        "profile, no mention, no peer. A mistyped handle follows nobody. "
                        "Follow it anyway?")):
                    return
                await backend.relate("follow", handle_or_token, unknown=unknown)
            except P2PSocialError as exc:
                self.notify(str(exc), severity="error", timeout=6)
                return
            followed = handle or handle_or_token
            self.app.notify(f"Following {short(followed)}", timeout=3)
            self.dismiss(followed)
        self.run_worker(run(), group="follow")

    def action_cancel(self) -> None:
        self.dismiss(None)
