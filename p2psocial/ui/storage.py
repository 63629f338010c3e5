"""The Storage screen (issue 13): what this home takes on disk (total, database, pictures and
files, the budget), bytes per hop and the feeds taking most room, what the budget would drop
now, pictures still being fetched. Reached with s on the Me screen or from the : palette.

Rules:
- Every figure comes from one `storage` call (runtime/service/storage.py), in a worker; the
  text is storage_text's. Offline, the budget shown is config.json's ("applied by the
  node").
- p prunes now (`prune`, in a worker; "pruning…" meanwhile) and shows what went as one line:
  before → after, what went. Without a running node that line is the node's one-line
  reason. b sets the budget (budget_dialog.py); r reads the figures again. After p or b the
  figures are read again.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.budget_dialog import BudgetDialog, configured_budget
from p2psocial.ui.storage_text import disk_text, drop_text, feeds_text, hops_text, prune_line
from p2psocial.ui.widgets import FitFooter, TopBar


class StorageScreen(SocialScreen):
    """Disk use, by hop and by feed; prune now; the budget."""

    CSS_PATH = "storage.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "prune", "Prune now", tooltip="Prune now: apply the budget and remove "
                "feeds that left (needs the running node)"),
        Binding("b", "budget", "Budget", tooltip="Set the storage budget (e.g. 2GB; 0: no "
                "limit), kept in config.json"),
        Binding("r", "refresh", "Refresh", tooltip="Measure again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.budget = 0  # the budget in force (or config.json's, offline)
        self.result = ""  # the last line of p or b ("" before any)

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), "Storage")
        with VerticalScroll(id="storage"):
            yield Static("Measuring…", id="storage-disk")
            with Horizontal(id="storage-tables"):
                yield Static("", id="storage-hops")
                yield Static("", id="storage-feeds")
            yield Static("", id="storage-drop")
            yield Static("", id="storage-result")
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#storage-result", Static).display = False
        self.load()

    @work(exclusive=True, group="storage")
    async def load(self) -> None:
        backend = await self.host.ready()
        try:
            view = await backend.storage()
        except P2PSocialError as exc:
            self.query_one("#storage-disk", Static).update(Text(str(exc), "bold"))
            return
        configured = None
        if view.would_drop is None:  # no node: the budget it applies when it starts
            configured = await asyncio.to_thread(configured_budget, backend.home)
        self.budget = view.budget if view.would_drop is not None else configured or 0
        self.query_one("#storage-disk", Static).update(disk_text(view, configured))
        self.query_one("#storage-hops", Static).update(hops_text(view.by_hop))
        self.query_one("#storage-feeds", Static).update(feeds_text(view.top_feeds))
        self.query_one("#storage-drop", Static).update(drop_text(view))

    def say(self, line: str, *, error: bool = False) -> None:
        """The one line of what p or b did."""
        self.result = line
        shown = self.query_one("#storage-result", Static)
        shown.update(Text(line))
        shown.set_class(error, "-error")
        shown.display = bool(line)
        if line:  # the last thing on the screen: below many feeds it may be out of sight
            scroll = self.query_one("#storage", VerticalScroll)
            self.call_after_refresh(scroll.scroll_end, animate=False)

    def action_refresh(self) -> None:
        self.load()

    def action_prune(self) -> None:
        self.prune()

    @work(exclusive=True, group="prune")
    async def prune(self) -> None:
        self.say("Pruning…")
        backend = await self.host.ready()
        try:
            report = await backend.prune()
        except P2PSocialError as exc:
            self.say(str(exc), error=True)
            return
        self.say(prune_line(report))
        self.load()

    def action_budget(self) -> None:
        def saved(line: str | None) -> None:
            if line:
                self.say(line)
                self.load()
        self.app.push_screen(BudgetDialog(self.budget), saved)
