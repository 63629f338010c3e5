"""Help: every key, read from the bindings themselves (so it cannot drift from what the keys
do): global keys, list keys, and the keys of the screen it was opened from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from p2psocial.ui.compose import FileList
from p2psocial.ui.postlist import PostList

KEY_NAMES = {
    "question_mark": "?", "colon": ":", "slash": "/", "plus": "+", "period": ".",
    "quotation_mark": '"', "escape": "esc", "up": "↑", "down": "↓", "pageup": "PgUp",
    "pagedown": "PgDn", "home": "Home", "end": "End", "space": "space", "enter": "enter",
    "number_sign": "#", "apostrophe": "'",
}
EXTRA_GLOBAL = [("ctrl+q", "Quit"), (": quit", "Quit (from the command palette)")]
SETTINGS = [("q", "Setting (kept in ui.json): q on the home timeline quits, asking first "
                  "once other screens were opened; or q only goes back. Change it with : "
                  "then 'Setting: q …'")]


def key_text(keys: str) -> str:
    """Keys of a binding as the user types them: `j,down` → `j ↓`."""
    return " ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def binding_rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, description) of bindings, in order."""
    rows = []
    for b in bindings:
        if isinstance(b, Binding):
            rows.append((key_text(b.key), b.tooltip or b.description or b.action))
        elif isinstance(b, tuple) and len(b) >= 3:
            rows.append((key_text(b[0]), b[2]))
    return rows


def live_bindings(app: App[Any]) -> list[BindingType]:
    """The app's bindings whose action is live now (of the two q bindings, the one the
    setting picks)."""
    out: list[BindingType] = []
    for b in app.BINDINGS:
        if isinstance(b, Binding):
            _, name, params = parse_action(b.action)
            if app.check_action(name, params) is False:
                continue
        out.append(b)
    return out


def screen_bindings(screen: Screen[Any]) -> list[BindingType]:
    """The bindings a screen class and its bases declare (the screen's own keys)."""
    out: list[BindingType] = []
    for cls in type(screen).__mro__:
        if cls.__module__.startswith("p2psocial."):
            out.extend(b for b in cls.__dict__.get("BINDINGS", [])
                       if not (isinstance(b, Binding) and b.action.startswith("app.")))
    return out


class HelpScreen(ModalScreen[None]):
    """Every key."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
        Binding("j,down", "scroll(1)", "Scroll", show=False),
        Binding("k,up", "scroll(-1)", "Scroll", show=False),
    ]

    def __init__(self, of: Screen[Any]) -> None:
        super().__init__()
        self.of = of

    def sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        out = [("Everywhere", binding_rows(live_bindings(self.app)) + EXTRA_GLOBAL),
               ("Settings", SETTINGS)]
        if self.of.query(PostList):
            out.append(("In a list of posts", binding_rows(PostList.BINDINGS)))
        if self.of.query(FileList):
            out.append(("In the list of files attached", binding_rows(FileList.BINDINGS)))
        own = binding_rows(screen_bindings(self.of))
        if own:
            name = type(self.of).__name__.removesuffix("Screen").removesuffix("Dialog")
            out.append((f"On this screen ({name})", own))
        return out

    def compose(self) -> ComposeResult:
        text = Text()
        for title, rows in self.sections():
            text.append(title + "\n", "bold underline")
            width = max(len(k) for k, _ in rows) + 3
            for keys, what in rows:
                text.append(f"  {keys:<{width}}", "bold")
                text.append(what + "\n")
            text.append("\n")
        with VerticalScroll(id="help"):
            yield Static("Keys — esc closes, j/k scroll", id="help-title")
            yield Static(text, id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, step: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=step * 3, animate=False)
