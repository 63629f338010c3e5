"""The attach dialog: a path (Tab completes it) and an optional description (alt text).

Rules:
- enter on the path checks it (a path that cannot be attached is said at once), then moves
  to the description; enter on the description (or ctrl+s) adds the file. What cannot be
  attached (ui.attach_files.check_file) is one line in the dialog, which stays open with
  what was typed; a post already holding the most attachments says so as soon as the
  dialog opens.
- Tab on the path completes it from the directory's entries (several matches: they are
  listed on the dialog's line); elsewhere Tab moves between the fields.
- The dialog dismisses with the checked DraftFile, or None (esc).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from p2psocial.core import limits
from p2psocial.core.errors import UsageError
from p2psocial.ui.attach_files import DraftFile, check_file, complete_path
from p2psocial.ui.attachments import one_line

CHOICES_SHOWN = 6


class AttachDialog(ModalScreen[DraftFile | None]):
    """Pick a picture or a file and describe it (see the module rules)."""

    CSS_PATH = "dialogs.tcss"
    DEFAULT_CSS = """
    AttachDialog #attach-error.hint {
        color: $text-muted;
        text-style: none;
    }
    AttachDialog #alt {
        margin-top: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "complete", "Complete path", show=False, priority=True,
                tooltip="On the path: complete it from the folder's files; else: next field"),
        Binding("ctrl+s", "add", "Add", priority=True,
                tooltip="Add the file with its description"),
    ]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Attach a picture or a file ({self.count} of "
                        f"{limits.MAX_ATTACHMENTS})", classes="dialog-title")
            yield Input(placeholder="path, e.g. ~/Pictures/river.jpg (Tab completes)",
                        id="path")
            yield Input(placeholder="description for people who cannot see it (optional)",
                        id="alt")
            yield Static("", id="attach-error", classes="dialog-error")
            yield Static("enter: next / add · tab completes · esc cancels",
                         classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        if self.count >= limits.MAX_ATTACHMENTS:
            self._say(f"a post holds at most {limits.MAX_ATTACHMENTS} pictures or files: "
                      "remove one first")
        else:
            self._say("")

    def _say(self, line: str, *, hint: bool = False) -> None:
        error = self.query_one("#attach-error", Static)
        error.update(line)
        error.set_class(hint, "hint")
        error.display = bool(line)

    @property
    def line(self) -> str:
        """The line the dialog shows now ("" if none)."""
        error = self.query_one("#attach-error", Static)
        return str(error.render()) if error.display else ""

    @on(Input.Submitted, "#path")
    def _path_done(self, event: Input.Submitted) -> None:
        try:  # a path that cannot be attached is said at once
            check_file(event.value, "", self.count)
        except UsageError as exc:
            self._say(str(exc))
            return
        self._say("")
        self.query_one("#alt", Input).focus()

    @on(Input.Submitted, "#alt")
    def _alt_done(self) -> None:
        self._add()

    def action_add(self) -> None:
        # ctrl+s is a priority binding: let the focused field take the keys read before it
        (self.focused or self).call_later(self._add)

    def _add(self) -> None:
        path = self.query_one("#path", Input).value
        alt = self.query_one("#alt", Input).value
        try:
            item = check_file(path, alt, self.count)
        except UsageError as exc:
            self._say(str(exc))
            return
        self.dismiss(item)

    def action_complete(self) -> None:
        # a priority binding (the screen's own Tab would win otherwise): let the path take
        # the keys read before it first
        (self.focused or self).call_later(self._complete)

    def _complete(self) -> None:
        field = self.query_one("#path", Input)
        if self.focused is not field:
            self.focus_next()
            return
        before = field.value
        text, choices = complete_path(before)
        if text != before:
            field.value = text
            field.cursor_position = len(text)
        if len(choices) > 1:
            shown = ", ".join(one_line(c, 30) for c in choices[:CHOICES_SHOWN])
            more = f" (+{len(choices) - CHOICES_SHOWN})" if len(choices) > CHOICES_SHOWN else ""
            self._say(shown + more, hint=True)
        elif not choices:
            self._say("no file matches" if before.strip() else "", hint=True)
        else:
            self._say("")
            if text == before and not text.endswith("/"):
                self.focus_next()

    def action_cancel(self) -> None:
        self.dismiss(None)
