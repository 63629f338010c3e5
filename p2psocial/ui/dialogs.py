"""Small modal dialogs: pick a reaction, confirm, edit my profile, dial a peer.

Rule: each says on its last line which keys do what, moving between its fields included."""

from __future__ import annotations

from typing import ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from p2psocial.core import limits
from p2psocial.ui.base import Host, node_call

QUICK_REACTIONS = "❤ 👍 😂 🎉 🤔 👀"


class ReactDialog(ModalScreen[str | None]):
    """Type a reaction (an emoji or a short word); enter sends it."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("React with", classes="dialog-title")
            yield Input(placeholder=f"an emoji or a word, e.g. {QUICK_REACTIONS}",
                        id="reaction")
            yield Static("enter sends · esc cancels", classes="dialog-help")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value or len(value.encode()) > limits.MAX_REACTION_BYTES:
            self.notify(f"a reaction is 1 to {limits.MAX_REACTION_BYTES} bytes",
                        severity="warning")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question: y confirms, n or esc declines."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Static("y yes · n no", classes="dialog-help")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AboutDialog(ModalScreen[None]):
    """Set my display name and bio (published as an `about` entry)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, name: str = "", bio: str = "") -> None:
        super().__init__()
        self._name = name
        self._bio = bio

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("My profile", classes="dialog-title")
            # no max_length: a paste past it was cut silently; saving refuses it in one
            # line and the dialog stays open with the text
            yield Input(self._name, placeholder="display name", id="name")
            yield Input(self._bio, placeholder="bio (one line)", id="bio")
            yield Static("tab / shift+tab: next / previous field · enter or ctrl+s saves · "
                         "esc cancels", classes="dialog-help")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        # a priority binding runs before keys read just before it reach the focused field
        (self.focused or self).call_later(self._read_and_save)

    def _read_and_save(self) -> None:
        name = self.query_one("#name", Input).value.strip() or None
        bio = self.query_one("#bio", Input).value.strip() or None
        if name == (self._name or None) and bio == (self._bio or None):
            self.dismiss(None)
            return
        self._save(name if name != (self._name or None) else None,
                   bio if bio != (self._bio or None) else None)

    def _save(self, name: str | None, bio: str | None) -> None:
        def saved(_: object) -> None:
            self.app.notify("Profile saved", timeout=3)
            self.dismiss(None)
        node_call(self, cast(Host, self.app), lambda b: b.set_about(name, bio), done=saved)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConnectDialog(ModalScreen[str | None]):
    """Dial a peer: a multiaddr (…/p2p/<handle>), prefilled with the selected peer's."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, addr: str = "") -> None:
        super().__init__()
        self._addr = addr

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Connect to a peer", classes="dialog-title")
            yield Input(self._addr, placeholder="/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW…",
                        id="addr")
            yield Static("enter dials · esc cancels", classes="dialog-help")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value.startswith("/"):
            self.notify("an address starts with /, e.g. /ip4/…/tcp/…/p2p/<handle>",
                        severity="warning")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
