"""Small widgets shared by screens: the top bar and the find bar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

from p2psocial.ui.render import short

if TYPE_CHECKING:
    from p2psocial.ui.state import UiState

TABS = (("home", "1", "Home"), ("notifications", "2", "Notifications"), ("me", "3", "Me"),
        ("network", "4", "Network"))
SHORT = {"Notifications": "Notifs", "Network": "Net"}


class TopBar(Widget):
    """One line: the sections (the current one highlighted), what this screen shows, and
    who I am and how the node is doing."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"top-bar--active", "top-bar--key",
                                             "top-bar--title", "top-bar--status",
                                             "top-bar--badge"}

    def __init__(self, section: str, title: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.section = section
        self.title = title

    def set_title(self, title: str) -> None:
        self.title = title
        self.refresh()

    def render(self) -> Text:
        state: UiState | None = getattr(self.app, "state", None)
        right = Text(no_wrap=True)
        if state is not None:
            me = state.my_name or (short(state.me) if state.me else "")
            right.append(f" {me} · {state.network} ", self.get_component_rich_style(
                "top-bar--status"))
        left = self._tabs(state, short_labels=False)
        if left.cell_len + right.cell_len > self.size.width:
            left = self._tabs(state, short_labels=True)
        room = max(0, self.size.width - right.cell_len)
        left.truncate(room, overflow="ellipsis", pad=True)
        return left + right if right.cell_len < self.size.width else left

    def _tabs(self, state: UiState | None, *, short_labels: bool) -> Text:
        style = self.get_component_rich_style
        out = Text(no_wrap=True, overflow="ellipsis")
        for name, key, label in TABS:
            shown = SHORT.get(label, label) if short_labels else label
            out.append(f" {key}", style("top-bar--key"))
            out.append(f" {shown} ", style("top-bar--active") if name == self.section
                       else None)
            if name == "notifications" and state is not None and state.unread:
                out.append(f"•{state.unread}", style("top-bar--badge"))
        if self.title:
            out.append(" │ ", style("top-bar--key"))
            out.append(self.title, style("top-bar--title"))
        return out


class FindBar(Input):
    """The `/` prompt: find text in the loaded rows (enter finds, n/N repeat, esc closes)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    @dataclass
    class Found(Message):
        """The user asked to find `text`."""

        text: str

    def __init__(self) -> None:
        super().__init__(placeholder="find in loaded posts…  (enter: find, esc: close)",
                         id="find-bar")
        self._return_to: Widget | None = None

    def open(self, return_to: Widget) -> None:
        """Show the bar; focus goes back to `return_to` when it closes."""
        self._return_to = return_to
        self.display = True
        self.focus()

    def action_close(self) -> None:
        self.display = False
        if self._return_to is not None:
            self._return_to.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Found(event.value))
        self.action_close()
