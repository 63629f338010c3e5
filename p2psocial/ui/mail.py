"""Messages: my private conversations (issue 12). Requests from strangers are listed apart,
above the conversations; enter opens one (ConversationScreen), a accepts and d declines the
selected request, w writes to someone new.

Rules:
- A conversation reads as: its participants' names (else short handles), its unread count,
  and its last message (mine marked "you:").
- The list reloads when a message arrives (`MailArrived`) and when the screen comes back.
- Declining deletes the conversation here, so it asks first.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.mail_views import ConversationView
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.conversation import ConversationScreen, WriteDialog, title_of
from p2psocial.ui.dialogs import ConfirmDialog
from p2psocial.ui.messages import MailArrived
from p2psocial.ui.widgets import FitFooter, TopBar

LAST_CHARS = 60
EMPTY = ("No messages yet.\n\nPress w to write to someone (their handle). Messages from people "
         "you do not follow wait here as requests until you accept them.")


def conversation_text(view: ConversationView) -> Text:
    """One conversation in the list: who, unread count; its last message below."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(title_of(view), "bold")
    if view.unread:
        text.append(f"  •{view.unread}", "bold reverse")
    last = view.last
    if last is not None:
        body = "(deleted)" if last.text is None else " ".join(last.text.split())
        if len(body) > LAST_CHARS:
            body = body[:LAST_CHARS - 1] + "…"
        text.append(f"\n  {'you: ' if last.mine else ''}{body}", "dim")
    return text


def heading(title: str) -> Option:
    return Option(Text(title, "bold underline"), disabled=True)


class ConversationList(OptionList):
    """Requests, then conversations; each option's id is the conversation id (hex)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Next", show=False),
        Binding("k", "cursor_up", "Previous", show=False),
    ]


class MessagesScreen(SocialScreen):
    """My conversations and message requests."""

    CSS_PATH = "mail.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False, tooltip="Open the selected conversation"),
        Binding("a", "accept", "Accept", tooltip="Accept the selected message request"),
        Binding("d", "decline", "Decline",
                tooltip="Decline the selected request: its messages are deleted here"),
        Binding("w", "write", "Write", tooltip="Write to someone: give their handle"),
        Binding("period", "reload", "Reload", show=False, tooltip="Reload the conversations"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, ConversationView] = {}

    def compose(self) -> ComposeResult:
        yield TopBar("messages")
        yield Static("Loading…", id="mail-empty")
        yield ConversationList(id="conversations")
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(ConversationList).focus()
        self.load()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.load()

    def on_mail_arrived(self, _: MailArrived) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="inbox")
    async def load(self) -> None:
        backend = await self.host.ready()
        try:
            views = await backend.inbox()
        except P2PSocialError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        self.show(views)

    def show(self, views: list[ConversationView]) -> None:
        listing = self.query_one(ConversationList)
        chosen = listing.highlighted_option.id if listing.highlighted_option else None
        self.views = {v.conv: v for v in views}
        requests = [v for v in views if v.state == "request"]
        others = [v for v in views if v.state != "request"]
        options: list[Option] = []
        if requests:
            options.append(heading(f"Requests ({len(requests)}): a accepts, d declines"))
            options.extend(Option(conversation_text(v), id=v.conv) for v in requests)
        if others:
            if requests:
                options.append(heading("Conversations"))
            options.extend(Option(conversation_text(v), id=v.conv) for v in others)
        listing.clear_options()
        listing.add_options(options)
        empty = self.query_one("#mail-empty", Static)
        empty.update(EMPTY)
        empty.display = not views
        listing.display = bool(views)
        self.refresh_bindings()  # accept and decline only while a request is listed
        ids = [o.id for o in options]
        if chosen in ids:
            listing.highlighted = ids.index(chosen)
        elif views:
            listing.highlighted = next(i for i, o in enumerate(options) if not o.disabled)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Accept and decline are offered only while a request is listed."""
        if action in ("accept", "decline"):
            return any(v.state == "request" for v in self.views.values())
        return True

    def selected(self) -> ConversationView | None:
        option = self.query_one(ConversationList).highlighted_option
        return self.views.get(option.id) if option is not None and option.id else None

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        view = self.selected()
        if view is not None:
            self.app.push_screen(ConversationScreen(view))

    def _request(self) -> ConversationView | None:
        view = self.selected()
        if view is None or view.state != "request":
            self.notify("select a message request first (they are listed at the top)",
                        severity="warning", timeout=4)
            return None
        return view

    def action_accept(self) -> None:
        view = self._request()
        if view is not None:
            self.call_node(lambda b: b.accept(view.conv), done=lambda _: self.load(),
                           success=f"Accepted: {title_of(view)} can write to you")

    def action_decline(self) -> None:
        view = self._request()
        if view is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.call_node(lambda b: b.decline(view.conv), done=lambda _: self.load(),
                               success="Declined: the request is deleted here")
        self.app.push_screen(ConfirmDialog(f"Decline {title_of(view)}? Their messages are "
                                           "deleted here."), confirmed)

    def action_write(self) -> None:
        def chosen(handles: list[str] | None) -> None:
            if handles:  # refused here (one line), not after the message is written
                self.call_node(lambda b: b.recipients(handles),
                               done=lambda _: self.app.push_screen(
                                   ConversationScreen(None, handles=handles)))
        self.app.push_screen(WriteDialog(), chosen)


