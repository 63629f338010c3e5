"""Thread: a post's root and every reply, as a tree (replies under their parent, oldest
first). Reply, react and repost from any row; new replies appear live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.base import ListScreen
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Row
from p2psocial.ui.rows import fetch_related
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar


def tree_rows(entries: Sequence[EntryView], hidden: set[str] | None = None) -> list[Row]:
    """Rows of a thread in tree order: each reply under its parent, siblings oldest first.
    Replies whose parent is not held hang under the root."""
    if not entries:
        return []
    hidden = hidden or set()
    root = entries[0]
    held = {e.hash for e in entries}
    children: dict[str, list[EntryView]] = {}
    for entry in entries[1:]:
        parent = str((entry.content or {}).get("parent") or root.hash)
        children.setdefault(parent if parent in held else root.hash, []).append(entry)
    rows: list[Row] = []
    stack: list[tuple[EntryView, int]] = [(root, 0)]
    while stack:
        entry, depth = stack.pop()
        if entry.author not in hidden and (entry.account or entry.author) not in hidden:
            rows.append(Row(entry=entry, depth=depth))
        for child in reversed(children.get(entry.hash, [])):
            stack.append((child, depth + 1))
    return rows


class ThreadScreen(ListScreen):
    """One conversation."""

    CSS_PATH = "home.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self, ref: str) -> None:
        super().__init__()
        self.ref = ref
        self.root: str | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), "Thread")
        yield PostList(placeholder="Loading the thread…", id="thread")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="thread")
    async def load(self) -> None:
        backend = await self.host.ready()
        self.sync_context()
        try:
            entries = await backend.thread(self.ref)
            await fetch_related(backend, self.state, entries)
        except P2PSocialError as exc:
            self.post_list.placeholder = str(exc)
            self.post_list.refresh()
            return
        self.state.learn(entries)
        self.root = entries[0].hash if entries else None
        post_list = self.post_list
        selected = post_list.current.key if post_list.current else self.ref
        post_list.has_more = False
        post_list.placeholder = "This post is not held here."
        post_list.set_rows(tree_rows(entries, self.state.blocked | self.state.muted))
        for i, row in enumerate(post_list.rows):
            if row.key == selected:
                post_list.select(i)
                break

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)
        if self.root and any((v.content or {}).get("root") == self.root
                             for v in message.views):
            self.load()

    def on_relations_changed(self, _: RelationsChanged) -> None:
        self.load()

    def on_post_list_action_chosen(self, message: PostList.ActionChosen) -> None:
        if message.action == "open":
            message.stop()  # every row is in this thread already
            self.notify("you are in this thread: r replies, p opens the author's profile")


__all__ = ["ThreadScreen", "tree_rows"]
