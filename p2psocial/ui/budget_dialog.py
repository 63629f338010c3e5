"""The storage budget dialog: the most this home may take on disk, as `p2psocial storage
budget SIZE` sets it.

Rules:
- A size as the CLI takes it (core.budget.parse_size: 2GB, 500MB, 1.5GiB; 0: no limit);
  what is not a size is one line in the dialog, which stays open with the text.
- Saving writes `storage_budget` to the home's config.json (read by the node when it starts,
  as the CLI writes it), then sets the running node's budget at once
  (`set_storage_budget`); without a running node it says the budget applies when the node
  starts. A config.json that cannot be read or written is one line in the dialog.
- The dialog dismisses with the line that says what was set.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from p2psocial.core.budget import parse_size
from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.config import load_config
from p2psocial.runtime.views import size_text
from p2psocial.ui.base import Host

ABOUT = ("The most this home may take on disk: over it, the node drops far hops' pictures "
         "and old posts' text first; never yours, never your bookmarks.")


def save_budget(home: Any, budget: int) -> None:
    """Write `budget` as config.json's storage_budget in `home` (a store.home.Home).

    Raises:
        UsageError: config.json is not valid; OSError: it cannot be written.
    """
    config = load_config(home.config_file)
    config.with_overrides(storage_budget=budget).save(home.config_file)


def configured_budget(home: Any) -> int | None:
    """The budget config.json holds (None: no home known, or a config that cannot be
    read)."""
    if home is None:
        return None
    try:
        return load_config(home.config_file).storage_budget
    except (P2PSocialError, OSError):
        return None


class BudgetDialog(ModalScreen[str | None]):
    """Type a size; enter saves it (see the module rules)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        now = f"now {size_text(self.current)}" if self.current else "now no limit"
        with Vertical(classes="dialog"):
            yield Label("Storage budget", classes="dialog-title")
            yield Static(ABOUT)
            yield Input(placeholder=f"e.g. 2GB, 500MB, 0 for no limit ({now})", id="budget")
            yield Static("", id="budget-error", classes="dialog-error")
            yield Static("enter saves · esc cancels", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#budget-error", Static).display = False

    def _say(self, line: str) -> None:
        error = self.query_one("#budget-error", Static)
        error.update(line)
        error.display = bool(line)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            budget = parse_size(event.value)
        except ValueError as exc:
            self._say(str(exc))
            return
        self._say("")
        self.save(budget)

    @work(exclusive=True, group="budget")
    async def save(self, budget: int) -> None:
        backend = await cast(Host, self.app).ready()
        home = backend.home
        try:
            if home is not None:
                await asyncio.to_thread(save_budget, home, budget)
            live = await backend.set_storage_budget(budget)
        except (P2PSocialError, OSError) as exc:
            self._say(" ".join(str(exc).split()))
            return
        what = f"at most {size_text(budget)}" if budget else "no limit"
        how = "in force now (p prunes at once)" if live else "applies when the node starts"
        kept = "" if home is not None else " (not kept in config.json: its home is unknown)"
        self.dismiss(f"Budget: {what}, {how}{kept}.")

    def action_cancel(self) -> None:
        self.dismiss(None)
