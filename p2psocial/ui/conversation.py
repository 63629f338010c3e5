"""One private conversation (issue 12): its messages oldest to newest, mine marked, and a
line to write at the bottom; and the dialog that asks whom to write to.

Rules:
- Opening the conversation marks it read on this device (when it has unread messages) and
  the app recounts the unread badge; so does each message that arrives while it is open.
- Enter sends the line; an empty line or the service's refusal is one notification, and the
  text stays in the line to fix. A new conversation (no id yet) takes its id from the first
  message sent.
- New messages appear live: the app posts `MailArrived` and the conversation reloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from p2psocial.core import limits
from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.mail_views import ConversationView, MessageView
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.messages import MailArrived
from p2psocial.ui.render import ago, now_ms, short, who
from p2psocial.ui.widgets import FitFooter, TopBar

PAGE = 50
EMPTY = "No messages yet: write the first below."


class MailHost(Protocol):
    def count_mail(self) -> None: ...


def title_of(view: ConversationView) -> str:
    """The other participants, by name (else short handle)."""
    return ", ".join(who(h, n) for h, n in zip(view.participants, view.names, strict=False))


def message_text(message: MessageView, now: int) -> Text:
    """One message: who (mine marked "you"), when, the text (or that it was deleted)."""
    text = Text()
    if message.mine:
        text.append("you", "bold reverse")
    else:
        text.append(who(message.author, message.name), "bold")
    text.append(f"  {ago(message.ts, now)}", "dim")
    if message.edited:
        text.append("  (edited)", "dim italic")
    text.append("\n")
    if message.text is None:
        text.append("(deleted)", "dim italic")
    else:
        text.append(message.text)
    text.append("\n")
    return text


class ConversationScreen(SocialScreen):
    """A conversation; `view` is its inbox row, or None for a new one with `handles`."""

    CSS_PATH = "mail.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Send", show=False, tooltip="Send the line written below"),
        Binding("pageup", "scroll(-1)", "Scroll up", show=False,
                tooltip="Scroll the messages up (older)"),
        Binding("pagedown", "scroll(1)", "Scroll down", show=False,
                tooltip="Scroll the messages down (newer)"),
    ]

    def __init__(self, view: ConversationView | None, *,
                 handles: Sequence[str] = ()) -> None:
        super().__init__()
        self.conv = view.conv if view is not None else None
        self.handles = list(view.participants) if view is not None else list(handles)
        self.title_text = title_of(view) if view is not None else \
            ", ".join(short(h) for h in handles)
        self.shown: ConversationView | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("messages", self.title_text)
        with VerticalScroll(id="messages"):
            yield Static("Loading…", id="message-text")
        # no max_length: a paste past the limit would be cut silently; sending refuses it
        yield Input(placeholder="write a message · enter sends · esc goes back",
                    id="compose-message")
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#compose-message", Input).focus()
        self.load()

    def on_mail_arrived(self, message: MailArrived) -> None:
        if self.conv is None or message.conversation == self.conv:
            self.load()

    @work(exclusive=True, group="conversation")
    async def load(self) -> None:
        backend = await self.host.ready()
        ref = self.conv or (self.handles[0] if len(self.handles) == 1 else None)
        if ref is None:
            self.show(None)
            return
        try:
            view = await backend.conversation(ref, limit=PAGE)
        except P2PSocialError as exc:
            if self.conv is not None:  # a held conversation that cannot be read
                self.notify(str(exc), severity="error", timeout=6)
                return
            self.show(None)  # no conversation with this person yet
            return
        self.show(view)
        if view.unread:
            try:
                await backend.mark_read(view.conv)
            except P2PSocialError as exc:
                self.notify(str(exc), severity="error", timeout=6)
                return
            cast(MailHost, self.app).count_mail()

    def show(self, view: ConversationView | None) -> None:
        self.shown = view
        if view is not None:
            self.conv = view.conv
            self.handles = list(view.participants)
            title = title_of(view) + ("  (request: a accepts on the list)"
                                      if view.state == "request" else "")
            self.query_one(TopBar).set_title(title)
        now = now_ms()
        messages = view.messages if view is not None else []
        body = Text()
        for message in messages:
            body.append_text(message_text(message, now))
            body.append("\n")
        self.query_one("#message-text", Static).update(body if messages else EMPTY)
        self.query_one("#messages", VerticalScroll).scroll_end(animate=False)

    @on(Input.Submitted, "#compose-message")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    def action_send(self) -> None:
        line = self.query_one("#compose-message", Input)
        text = line.value
        if not text.strip():
            self.notify("the message is empty: write something first", severity="warning",
                        timeout=4)
            return
        if len(text.strip()) > limits.MAX_POST_CHARS:  # kept in the line, to shorten
            self.notify(f"the message has {len(text.strip()):,} characters; at most "
                        f"{limits.MAX_POST_CHARS:,} fit: shorten it", severity="warning",
                        timeout=6)
            return
        handles = list(self.handles)

        def sent(view: ConversationView) -> None:
            if line.value == text:
                line.value = ""
            self.show(view)
        self.call_node(lambda b: b.send_message(handles, text), done=sent)

    def action_scroll(self, pages: int) -> None:
        scroll = self.query_one("#messages", VerticalScroll)
        scroll.scroll_relative(y=pages * max(1, scroll.size.height - 2), animate=False)


class WriteDialog(ModalScreen[list[str] | None]):
    """Whom to write to: one handle, or several (spaces or commas between) for a group."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Write to", classes="dialog-title")
            yield Input(placeholder="a handle (several, space-separated: a group)",
                        id="write-to")
            yield Static("enter opens the conversation · esc cancels", classes="dialog-help")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        handles = event.value.replace(",", " ").split()
        if not handles:
            self.notify("give a handle to write to", severity="warning", timeout=4)
            return
        self.dismiss(handles)

    def action_cancel(self) -> None:
        self.dismiss(None)
