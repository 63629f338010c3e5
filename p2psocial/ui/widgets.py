"""Small widgets shared by screens: the top bar, the footer and the find bar.

Rule: nothing is cut at the right edge. The top bar shortens its tab labels when the line is
too narrow; the footer shortens key labels, then leaves keys out (help, which lists them
all, stays), and lays itself out again when the terminal is resized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

from p2psocial.ui.render import short

if TYPE_CHECKING:
    from p2psocial.ui.state import UiState

TABS = (("home", "1", "Home"), ("notifications", "2", "Notifications"), ("me", "3", "Me"),
        ("network", "4", "Network"), ("messages", "5", "Messages"))
SHORT = {"Notifications": "Notifs", "Network": "Net", "Messages": "Msgs"}


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
                out.append(" ")  # the count is this tab's, not the next key's
            if name == "messages" and state is not None and state.mail_unread:
                out.append(f"•{state.mail_unread}", style("top-bar--badge"))
                out.append(" ")
        if self.title:
            out.append(" │ ", style("top-bar--key"))
            out.append(self.title, style("top-bar--title"))
        return out


SHORTER = {"Back/Quit": "Back", "Follow/unfollow": "Follow", "Block/unblock": "Block",
           "Content warning": "CW", "Cancel (keeps draft)": "Cancel", "Edit profile": "Edit",
           "Copy handle": "Copy", "Copy invite": "Invite", "Unfollow": "Unf.",
           "Copy address": "Addr", "Connect": "Dial"}
KEEP_ACTIONS = ("help", "app.help")  # the key that lists every other key stays


def fit_keys(items: list[tuple[str, str, str]], width: int) -> list[tuple[int, str]]:
    """Which of `items` (key shown, description, action) a footer `width` cells wide shows,
    and with which description: the full ones if they fit, else SHORTER ones, the longest
    first, as few as needed; else the shorter ones minus keys from the right (never the
    help key)."""
    shown = [(i, d) for i, (_, d, _) in enumerate(items)]
    by_saving = sorted(range(len(items)), key=lambda i: len(SHORTER.get(items[i][1], ""))
                       - len(items[i][1]))
    for i in by_saving:
        if _width(items, shown) <= width:
            return shown
        shown[i] = (i, SHORTER.get(items[i][1], items[i][1]))
    while shown and _width(items, shown) > width:
        drop = next((i for i in range(len(shown) - 1, -1, -1)
                     if items[shown[i][0]][2] not in KEEP_ACTIONS), None)
        if drop is None:
            break
        shown.pop(drop)
    return shown


def _width(items: list[tuple[str, str, str]], shown: list[tuple[int, str]]) -> int:
    """Cells a row of FooterKeys takes: " key " + "description " each."""
    return sum(cell_len(items[i][0]) + cell_len(d) + 3 for i, d in shown)


class FitFooter(Footer):
    """The key footer, fitted to its width (see `fit_keys`): no key is cut."""

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self._laid_out_for = 0

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        seen: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen[binding.action] = (binding, enabled, tooltip)
        chosen = list(seen.values())
        items = [(self.app.get_key_display(b), b.description, b.action) for b, _, _ in chosen]
        self._laid_out_for = width = self.size.width or self.app.size.width
        for i, description in fit_keys(items, width):
            binding, enabled, tooltip = chosen[i]
            yield FooterKey(binding.key, items[i][0], description, binding.action,
                            disabled=not enabled, tooltip=tooltip or binding.description,
                            ).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for and self._bindings_ready:
            self.call_after_refresh(self.recompose)


class FindBar(Input):
    """The ctrl+f prompt: find text in the loaded rows (enter finds, n/N repeat, esc closes)."""

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
