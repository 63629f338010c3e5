"""Compose: write a post, a reply or a quote.

ctrl+s sends, ctrl+o opens $EDITOR with the text, ctrl+t adds a content warning, escape
leaves (the draft is kept for the next time you answer the same post). The counter turns red
past the limit. Tab after `@` and the start of a name completes it from the people this node
knows (p2psocial.ui.mentions); elsewhere Tab moves the focus.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static, TextArea

from p2psocial.core import limits
from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.editor import edit_text
from p2psocial.ui.mentions import complete, prefix_before
from p2psocial.ui.render import Context, body_text, short, who
from p2psocial.ui.widgets import FitFooter, TopBar

CONTEXT_CHARS = 140


class ComposeScreen(SocialScreen):
    """A full-screen editor for one post."""

    CSS_PATH = "compose.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("ctrl+o", "editor", "$EDITOR", priority=True,
                tooltip="Write the post in $VISUAL / $EDITOR"),
        Binding("ctrl+t", "warning", "Content warning", priority=True,
                tooltip="Add a content warning (the post folds behind it); "
                        "again: back to the text"),
        Binding("escape", "cancel", "Cancel (keeps draft)", priority=True),
        Binding("tab", "complete", "Complete @name", show=False,
                tooltip="After @ and the start of a name: complete it from people you know"),
    ]

    def __init__(self, *, reply_to: EntryView | None = None,
                 quote: EntryView | None = None) -> None:
        super().__init__()
        self.reply_to = reply_to
        self.quote = quote
        self.sent: EntryView | None = None
        target = reply_to or quote
        self._draft_key = f"{'reply' if reply_to else 'quote' if quote else 'new'}:" + (
            target.hash if target else "")

    def compose(self) -> ComposeResult:
        title = ("Reply" if self.reply_to else "Quote" if self.quote else "New post")
        yield TopBar(self.state_section(), title)
        context = self._context_text()
        yield Static(context, id="context")
        yield TextArea(self.state.drafts.get(self._draft_key, ""), id="text",
                       soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        # no max_length: a paste past it was cut silently (or dropped); posting refuses it
        # in one line and keeps it here
        yield Input(placeholder="content warning (optional), shown instead of the text "
                    "· ctrl+t: back to the text", id="cw")
        yield Static("", id="count")
        yield FitFooter()

    def state_section(self) -> str:
        return str(getattr(self.app, "current_mode", "home"))

    def _context_text(self) -> Text:
        target = self.reply_to or self.quote
        if target is None:
            return Text("Write a post. @name (Tab completes) or @handle mentions someone, "
                        "#word tags it.")
        handle = self.state.owner(target)
        name = who(handle, self.state.names.get(handle) or target.name)
        cw = (target.content or {}).get("cw")
        text = f"⚠ {cw}" if cw else (target.text or "").replace("\n", " ")
        if len(text) > CONTEXT_CHARS:
            text = text[:CONTEXT_CHARS - 1] + "…"
        verb = "Replying to" if self.reply_to else "Quoting"
        out = Text(f"{verb} {name} ({short(handle)}): ")
        out.append_text(body_text(text, Context(me=self.state.me, names=self.state.names)))
        return out

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#context").display = True
        self.query_one("#cw", Input).display = False
        area = self.query_one("#text", TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        self._update_count()

    @on(TextArea.Changed)
    def _update_count(self) -> None:
        length = len(self.query_one("#text", TextArea).text.strip())
        count = self.query_one("#count", Static)
        count.update(f"{length} / {limits.MAX_POST_CHARS}")
        count.set_class(length > limits.MAX_POST_CHARS, "over")

    def action_complete(self) -> None:
        area = self.query_one("#text", TextArea)
        row, col = area.cursor_location
        prefix = prefix_before(area.document.get_line(row)[:col])
        if self.focused is not area or prefix is None:
            self.focus_next()
            return
        self.complete_name(prefix, (row, col - len(prefix)), (row, col))

    @work(exclusive=True, group="complete")
    async def complete_name(self, prefix: str, start: tuple[int, int],
                            end: tuple[int, int]) -> None:
        people = dict(self.state.names)
        try:
            found = await (await self.host.ready()).find_feeds(prefix)
        except P2PSocialError:
            found = []
        people.update({f.author: f.name for f in found if f.name})
        result = complete(prefix, people)
        area = self.query_one("#text", TextArea)
        if result.text is not None and area.cursor_location == end:
            area.replace(result.text, start, end)
        if result.choices:
            self.notify("@" + ", @".join(result.choices[:8]), title="People you know",
                        timeout=5)
        elif result.text is None:
            self.notify(f"no one you know has a name starting with {prefix}",
                        severity="warning", timeout=4)

    def action_warning(self) -> None:
        field = self.query_one("#cw", Input)
        if field.has_focus:  # ctrl+t again: back to the text
            self.query_one("#text", TextArea).focus()
            return
        field.display = True
        field.focus()

    def action_editor(self) -> None:
        area = self.query_one("#text", TextArea)
        try:
            with self.app.suspend():
                text = edit_text(area.text)
        except P2PSocialError as exc:
            self.notify(str(exc), severity="error")
            return
        except SuspendNotSupported:  # e.g. served in a browser: no terminal to lend
            self.notify("cannot open an editor here", severity="error")
            return
        area.text = text.rstrip("\n")
        area.move_cursor(area.document.end)
        area.focus()

    def action_send(self) -> None:
        # ctrl+s is a priority binding: the app runs it as soon as it reads the key, while a
        # paste or keys read just before it may still wait in the focused widget's queue.
        # Read the text once that widget has handled them (issue 9, item 2).
        (self.focused or self).call_later(self._send)

    def _send(self) -> None:
        text = self.query_one("#text", TextArea).text
        if not text.strip():
            self.notify("the post is empty", severity="warning")
            return
        cw = self.query_one("#cw", Input).value.strip() or None
        reply_to = self.reply_to.hash if self.reply_to else None
        quote = self.quote.hash if self.quote else None
        self.call_node(lambda b: b.post(text, reply_to=reply_to, quote=quote, cw=cw),
                       done=self._sent)

    def _sent(self, view: EntryView) -> None:
        self.sent = view
        self.state.drafts.pop(self._draft_key, None)
        self.app.notify("Posted" if not self.reply_to else "Reply posted", timeout=3)
        self.dismiss(None)

    def action_cancel(self) -> None:
        text = self.query_one("#text", TextArea).text
        if text.strip():
            self.state.drafts[self._draft_key] = text
            self.app.notify("draft kept: c (or r on the same post) brings it back", timeout=3)
        else:
            self.state.drafts.pop(self._draft_key, None)
        self.dismiss(None)
