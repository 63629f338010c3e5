"""A tag's posts: every held post tagged #name, newest first by time, paged as you scroll.

Rules:
- Opened with `#` on a post (a picker first if the post has several tags) or from a search
  for `#name`. A post's tags are the ones its author wrote in the post (its `tags`), which
  is what the search index holds.
- Posts of authors I block or mute are left out, as on the timeline.
- A new post with the tag reloads the first page (keeping the reader's place).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.base import ListScreen
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Row
from p2psocial.ui.rows import timeline_rows
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar
from p2psocial.ui.workers import EndsWorkersFirst

PAGE = 50


def tags_of(post: EntryView) -> list[str]:
    """The tags a post carries (without their #), in its order."""
    tags = (post.content or {}).get("tags") or []
    return [str(t) for t in tags if isinstance(t, str) and t]


def open_tags(app: App[Any], row: Row) -> None:
    """`#` on a post: its tag's posts, or first a choice among its tags."""
    tags = tags_of(row.post)
    if not tags:
        app.notify("this post has no #tags", severity="warning", timeout=3)
    elif len(tags) == 1:
        app.push_screen(TagScreen(tags[0]))
    else:
        def chosen(tag: str | None) -> None:
            if tag:
                app.push_screen(TagScreen(tag))
        app.push_screen(TagPicker(tags), chosen)


class TagPicker(EndsWorkersFirst, ModalScreen[str | None]):
    """Choose one of a post's tags. Dismisses with the tag, or None."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "move(1)", "Next tag", show=False),
        Binding("k", "move(-1)", "Previous tag", show=False),
    ]

    def __init__(self, tags: list[str]) -> None:
        super().__init__()
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tag-picker"):
            yield Label("Which tag?", classes="dialog-title")
            yield OptionList(*(Option(f"#{t}", id=str(i)) for i, t in enumerate(self.tags)),
                             id="tags")
            yield Static("enter shows its posts · esc cancels", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.tags[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class TagScreen(ListScreen):
    """The posts tagged #name."""

    CSS_PATH = "lists.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.tag = name.strip().removeprefix("#")
        self._oldest: int | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), f"#{self.tag}")
        yield PostList(placeholder=f"Looking for #{self.tag}…", id="tag-posts")
        yield FindBar()
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="tag")
    async def load(self, older: bool = False) -> None:
        backend = await self.host.ready()
        self.sync_context()
        post_list = self.post_list
        try:
            views = await backend.tag(self.tag, limit=PAGE,
                                      before=self._oldest if older else None)
            rows = await timeline_rows(backend, self.state, views)
        except P2PSocialError as exc:
            post_list.placeholder = str(exc)
            post_list.has_more = False
            post_list.set_rows([])
            return
        await post_list.prepare(rows)
        if views and views[-1].cursor:
            self._oldest = int(views[-1].cursor[0])
        post_list.has_more = len(views) == PAGE
        if older:
            post_list.append_rows(rows)
            return
        post_list.placeholder = f"No post held here is tagged #{self.tag}."
        post_list.set_rows(rows, keep_place=True)

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._oldest is not None:
            self.load(older=True)

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)
        mine = self.tag.casefold()
        if any(mine in (t.casefold() for t in tags_of(v)) for v in message.views):
            self.load()

    def on_relations_changed(self, _: RelationsChanged) -> None:
        self.load()


__all__ = ["TagPicker", "TagScreen", "open_tags", "tags_of"]
