"""Compose: write a post, a reply or a quote.

ctrl+s sends, ctrl+o opens $EDITOR with the text, ctrl+t adds a content warning, escape
leaves (the draft is kept for the next time you answer the same post, with its files).
ctrl+f attaches a picture or a file (ui.attach_dialog; at most limits.MAX_ATTACHMENTS), listed
under the text; ctrl+r (or delete on the list) removes the one selected. A post the node
refuses (e.g. a picture that does not decode) is one line above the counter, and the text
and the files stay. The counter turns red
past the limit. Tab after `@` and the start of a name completes it from the people this node
knows (p2psocial.ui.mentions); elsewhere Tab moves the focus.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from p2psocial.core import limits
from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.attach_dialog import AttachDialog
from p2psocial.ui.attach_files import DraftFile, draft_file_text
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.editor import edit_text
from p2psocial.ui.mentions import complete, prefix_before
from p2psocial.ui.render import Context, body_text, short, who
from p2psocial.ui.widgets import FitFooter, TopBar

CONTEXT_CHARS = 140


class FileList(OptionList):
    """The pictures and files added to the post; delete removes the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace,x", "screen.remove_file", "Remove", show=False,
                tooltip="Remove the selected picture or file from the post"),
    ]


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
        Binding("ctrl+f", "attach", "Attach", priority=True,
                tooltip=f"Attach a picture or a file (at most {limits.MAX_ATTACHMENTS})"),
        Binding("ctrl+r", "remove_file", "Remove file", priority=True,
                tooltip="Remove the selected picture or file (Tab to the list to choose)"),
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
        self.files: list[DraftFile] = []

    def compose(self) -> ComposeResult:
        title = ("Reply" if self.reply_to else "Quote" if self.quote else "New post")
        yield TopBar(self.state_section(), title)
        context = self._context_text()
        yield Static(context, id="context")
        yield TextArea(self.state.drafts.get(self._draft_key, ""), id="text",
                       soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        yield Static("", id="files-title")
        yield FileList(id="files")
        # no max_length: a paste past it was cut silently (or dropped); posting refuses it
        # in one line and keeps it here
        yield Input(placeholder="content warning (optional), shown instead of the text "
                    "· ctrl+t: back to the text", id="cw")
        yield Static("", id="compose-error")
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
        self.files = [f for f in self.state.draft_files.get(self._draft_key, [])
                      if isinstance(f, DraftFile)]
        self._show_files()
        self._say("")
        self._update_count()

    def _show_files(self, highlight: int | None = None) -> None:
        files = self.query_one("#files", FileList)
        files.clear_options()
        files.add_options([Option(draft_file_text(f)) for f in self.files])
        files.display = bool(self.files)
        title = self.query_one("#files-title", Static)
        title.update(f"Attached {len(self.files)} of {limits.MAX_ATTACHMENTS} · Tab to the "
                     "list, ↑↓ select, ctrl+r removes")
        title.display = bool(self.files)
        if self.files:
            files.highlighted = min(highlight if highlight is not None else len(self.files) - 1,
                                    len(self.files) - 1)
        elif files.has_focus:
            self.query_one("#text", TextArea).focus()
        self.refresh_bindings()

    def _say(self, line: str) -> None:
        """Show one line above the counter ("": none)."""
        error = self.query_one("#compose-error", Static)
        error.update(line)
        error.display = bool(line)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "remove_file" and not self.files:
            return False
        return super().check_action(action, parameters)

    def action_attach(self) -> None:
        def added(item: DraftFile | None) -> None:
            if item is not None and len(self.files) < limits.MAX_ATTACHMENTS:
                self.files.append(item)
                self._show_files()
                self._say("")
            self.query_one("#text", TextArea).focus()
        self.app.push_screen(AttachDialog(len(self.files)), added)

    def action_remove_file(self) -> None:
        if not self.files:
            return
        index = self.query_one("#files", FileList).highlighted
        if index is None or not 0 <= index < len(self.files):
            index = len(self.files) - 1
        gone = self.files.pop(index)
        self._show_files(index)
        self.notify(f"removed {gone.name}", timeout=3)

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
            self.notify("the post is empty" + (": pictures and files need a few words too"
                                               if self.files else ""), severity="warning")
            return
        cw = self.query_one("#cw", Input).value.strip() or None
        reply_to = self.reply_to.hash if self.reply_to else None
        quote = self.quote.hash if self.quote else None
        attach = [f.as_attach() for f in self.files]
        self._say("")
        self._post(text, reply_to, quote, cw, attach)

    @work(exclusive=True, group="send")
    async def _post(self, text: str, reply_to: str | None, quote: str | None,
                    cw: str | None, attach: list[list[str | None]]) -> None:
        backend = await self.host.ready()
        try:
            view = await backend.post(text, reply_to=reply_to, quote=quote, cw=cw,
                                      attach=attach)
        except P2PSocialError as exc:
            line = " ".join(str(exc).split())
            self._say(line)
            self.notify(line, severity="error", timeout=6)
            return
        self._sent(view)

    def _sent(self, view: EntryView) -> None:
        self.sent = view
        self.state.drafts.pop(self._draft_key, None)
        self.state.draft_files.pop(self._draft_key, None)
        self.app.notify("Posted" if not self.reply_to else "Reply posted", timeout=3)
        self.dismiss(None)

    def action_cancel(self) -> None:
        text = self.query_one("#text", TextArea).text
        if text.strip() or self.files:
            self.state.drafts[self._draft_key] = text
            self.state.draft_files[self._draft_key] = list(self.files)
            self.app.notify("draft kept: c (or r on the same post) brings it back", timeout=3)
        else:
            self.state.drafts.pop(self._draft_key, None)
            self.state.draft_files.pop(self._draft_key, None)
        self.dismiss(None)
