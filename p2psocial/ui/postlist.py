"""PostList: a scrolling list of entries with a cursor, drawn line by line.

Rules:
- It renders only the lines on screen (the line API of ScrollView); each row is wrapped once
  per width and cached, so moving the cursor or scrolling costs a few lines of work.
- Styles come from the component classes below, set in postlist.tcss.
- It knows nothing of the node: actions on the selected row are posted as `ActionChosen`
  messages, and `NearEnd` asks the screen for an older page.
- Rows can be inserted above the view without moving what the reader sees.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from p2psocial.ui.attachments import attachments_of
from p2psocial.ui.render import ROLES, Context, Row, row_text, search_text

GUTTER = 2
INDENT = 2
MAX_DEPTH = 8
PREFETCH_ROWS = 5
PREPARE_SLICE = 8
MAX_TEXT_WIDTH = 100  # columns: long lines are hard to read on a wide terminal

# (key, action, footer label, help text) of the actions on the selected row (the app does them)
ROW_ACTIONS: list[tuple[str, str, str, str]] = [
    ("enter", "open", "Open", "Open the post's thread (for a follower: their profile)"),
    ("r", "reply", "Reply", "Reply to the post"),
    ("quotation_mark", "quote", "Quote", "Quote the post in a new post of yours"),
    ("b", "repost", "Repost", "Repost (boost) the post to your followers; again: take it back"),
    ("l", "like", "Like", "React ❤ to the post; again: take the ❤ back"),
    ("L", "react", "React", "React with any emoji or short word (again: take it back)"),
    ("p", "profile", "Profile", "Open the author's profile"),
    ("D", "delete", "Delete", "Delete your own post (every peer drops its text)"),
    ("y", "copy", "Copy handle", "Copy the author's handle"),
    ("number_sign", "tags", "Tag", "The posts of the post's #tag (a choice if it has several)"),
    ("m", "bookmark", "Bookmark", "Bookmark the post; again: take the bookmark back "
                                  "(' lists them)"),
    ("v", "picture", "Picture", "View the post's picture (or file) with its description"),
    ("o", "open_file", "Viewer", "Open the post's first picture or file in the system viewer"),
]
# actions on a post's pictures and files: live (and in the footer) only on a row showing some
ATTACHMENT_ACTIONS = ("picture", "open_file")

# actions that only a post takes, with how the refusal names them (a follower's row is not)
POST_ONLY = {"reply": "replied to", "quote": "quoted", "repost": "reposted", "like": "liked",
             "react": "reacted to", "tags": "opened by tag", "bookmark": "bookmarked"}


class PostList(ScrollView, can_focus=True):
    """Rows of entries; j/k move the cursor, actions apply to the selected row."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"post-list--{role}" for role in ROLES), "post-list--cursor", "post-list--selected",
        "post-list--placeholder"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor(1)", "Next post", show=False),
        Binding("k,up", "cursor(-1)", "Previous post", show=False),
        Binding("g,home", "first", "Top", show=False, tooltip="First post (and new ones)"),
        Binding("G,end", "last", "Bottom", show=False,
                tooltip="Last post loaded (older ones load as you go)"),
        Binding("pagedown,space,ctrl+d", "page(1)", "Page down", show=False),
        Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False),
        Binding("z", "fold", "Show/hide a content warning's post", show=False),
        Binding("n", "find_next(1)", "Next match of ctrl+f", show=False),
        Binding("N", "find_next(-1)", "Previous match of ctrl+f", show=False),
        *(Binding(key, f"chosen('{action}')", label,
                  show=action in ("open", "reply", *ATTACHMENT_ACTIONS), tooltip=text)
          for key, action, label, text in ROW_ACTIONS),
    ]

    @dataclass
    class ActionChosen(Message):
        """The user chose an action on the selected row."""

        post_list: PostList
        action: str
        row: Row

    @dataclass
    class NearEnd(Message):
        """The cursor or view came near the last row: time to load an older page."""

        post_list: PostList

    @dataclass
    class Moved(Message):
        """The view scrolled or the cursor moved (the screen may hide its "new" marker)."""

        post_list: PostList
        at_top: bool

    def __init__(self, *, placeholder: str = "Loading…", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Row] = []
        self.cursor = 0
        self.context = Context()
        self.placeholder = placeholder
        self.has_more = True  # the screen clears it when a page comes back short
        self.query_text = ""
        self._tops: list[int] = [0]
        self._generation = 0
        self._width = 0
        self._asked_more = False
        self._styles_ready = False
        self._had_rows = False
        self._showed_attachments = False

    # --- rows ---------------------------------------------------------------------------

    @property
    def current(self) -> Row | None:
        """The selected row."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    async def prepare(self, rows: Iterable[Row]) -> None:
        """Wrap `rows` for the current width ahead of showing them, a few at a time, so a
        page arriving never holds up a key-press for long."""
        for i, row in enumerate(rows):
            if self.is_mounted:
                self._lines(row)
            if i % PREPARE_SLICE == PREPARE_SLICE - 1:
                await asyncio.sleep(0)

    def set_rows(self, rows: Iterable[Row], *, keep_place: bool = False) -> None:
        """Replace every row. The cursor goes to the first, or (`keep_place`) stays on the
        selected post, at the same height on screen, if the new rows still have it."""
        selected = self.current.key if keep_place and self.current else None
        offset = self._tops[self.cursor] - int(self.scroll_y) if selected else 0
        self.rows = list(rows)
        self.cursor = 0
        self._asked_more = False
        self._relayout()
        target = 0
        for i, row in enumerate(self.rows):
            if row.key == selected:
                self.cursor = i
                target = max(0, self._tops[i] - offset)
                break
        self._follow_row_keys()
        self.scroll_to(y=target, animate=False, immediate=True)
        self.refresh()

    def append_rows(self, rows: Iterable[Row]) -> None:
        """Add older rows at the bottom."""
        known = {r.key for r in self.rows}
        self.rows.extend(r for r in rows if r.key not in known)
        self._asked_more = False
        self._relayout()
        self.refresh()
        self._check_near_end()

    def insert_rows(self, rows: list[Row], positions: list[int]) -> int:
        """Insert rows at `positions` (ascending indexes in the resulting list).

        A reader at the top (view and cursor on the first row) sees the new rows appear;
        otherwise what the reader sees stays put and the cursor stays on its row. Returns how
        many rows went in above the view (0 for a reader at the top).
        """
        if not rows:
            return 0
        at_top = self.scroll_y == 0 and self.cursor == 0
        anchor = self.rows[self._row_at(int(self.scroll_y))] if self.rows else None
        offset = int(self.scroll_y) - self._tops[self._index_of(anchor)] if anchor else 0
        selected = self.current
        for row, pos in zip(rows, positions, strict=True):
            self.rows.insert(pos, row)
        self._relayout()
        self.refresh()
        if at_top or anchor is None:
            self.cursor = 0
            self._follow_row_keys()
            self.scroll_to(y=0, animate=False, immediate=True)
            return 0
        index = self._index_of(anchor)
        self.cursor = self._index_of(selected) if selected is not None else 0
        self.scroll_to(y=self._tops[index] + offset, animate=False, immediate=True)
        return sum(1 for p in positions if p < index)

    def _index_of(self, row: Row | None) -> int:
        for i, candidate in enumerate(self.rows):
            if candidate is row:
                return i
        return 0

    def remove_rows(self, keep: Callable[[Row], bool]) -> None:
        """Drop the rows for which `keep` is false."""
        selected = self.current
        self.rows = [r for r in self.rows if keep(r)]
        if selected is not None and any(r is selected for r in self.rows):
            self.cursor = self._index_of(selected)
        self.cursor = min(self.cursor, max(0, len(self.rows) - 1))
        self._relayout()
        self.refresh()

    def update_row(self, row: Row) -> None:
        """Redraw one row after its data or fold state changed."""
        self.rows_changed([row])

    def rows_changed(self, rows: Iterable[Row]) -> None:
        """Redraw rows whose data changed (one layout pass for all of them)."""
        for row in rows:
            row.cache = None
        self._relayout()
        self.refresh()

    def invalidate(self) -> None:
        """Redraw every row (names learnt, theme or clock changed)."""
        self._generation += 1
        self._styles_ready = False
        self._relayout()
        self.refresh()

    # --- layout -------------------------------------------------------------------------

    def _content_width(self) -> int:
        """Text wraps at the list's width, but no wider than reads well."""
        return max(10, min(MAX_TEXT_WIDTH, self.scrollable_content_region.width - GUTTER))

    def _lines(self, row: Row) -> list[Strip]:
        width = self._content_width() - INDENT * min(row.depth, MAX_DEPTH)
        key = (width, row.opened, self._generation)
        if row.cache is not None and row.cache[0] == key:
            return row.cache[1]  # type: ignore[return-value]
        self._ensure_styles()
        console = self.app.console
        text = row_text(row, self.context)
        rendered = console.render_lines(text, console.options.update_width(max(1, width)),
                                        pad=False, new_lines=False)
        strips: list[Strip] = [Strip(line) for line in rendered]
        row.cache = (key, strips)  # type: ignore[assignment]
        return strips

    def _height(self, row: Row) -> int:
        return len(self._lines(row)) + 1  # a blank line separates rows

    def _relayout(self) -> None:
        if bool(self.rows) != self._had_rows:  # row actions came or went: the footer shows
            self._had_rows = bool(self.rows)
            self.refresh_bindings()
        self._follow_row_keys()
        self._width = self._content_width()
        tops = [0]
        for row in self.rows:
            tops.append(tops[-1] + self._height(row))
        self._tops = tops
        self.virtual_size = Size(self.scrollable_content_region.width, tops[-1])

    def _row_at(self, y: int) -> int:
        return max(0, min(len(self.rows) - 1, bisect_right(self._tops, y) - 1))

    def _ensure_styles(self) -> None:
        if self._styles_ready:
            return
        self.context.styles = {role: self.get_component_rich_style(f"post-list--{role}",
                                                                    partial=True)
                               for role in ROLES}
        self._styles_ready = True

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._generation += 1
            self._styles_ready = False

    def on_resize(self, event: events.Resize) -> None:
        if self._content_width() != self._width:
            selected_top = self._tops[self.cursor] if self.rows else 0
            at_cursor = selected_top >= self.scroll_y
            self._relayout()
            if at_cursor and self.rows:
                self._scroll_to_cursor()

    # --- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        absolute = int(self.scroll_y) + y
        if not self.rows:
            return self._placeholder_line(y, width, base)
        if absolute >= self._tops[-1]:
            return Strip.blank(width, base)
        index = self._row_at(absolute)
        row = self.rows[index]
        lines = self._lines(row)
        number = absolute - self._tops[index]
        selected = index == self.cursor and self.has_focus_within_screen()
        style = base + self.get_component_rich_style("post-list--selected") if selected \
            else base
        gutter = Segment("▌ " if selected and number < len(lines) else "  ",
                         self.get_component_rich_style("post-list--cursor") if selected
                         else base)
        indent = Segment("│ " * min(row.depth, MAX_DEPTH), base + self.context.style("dim"))
        body = lines[number] if number < len(lines) else Strip.blank(0)
        strip = Strip([gutter, indent, *body]).apply_style(style)
        return strip.crop_extend(0, width, style)

    def has_focus_within_screen(self) -> bool:
        """True if this list is the screen's focused widget (or nothing else has focus)."""
        focused = self.screen.focused if self.is_mounted else None
        return focused is None or focused is self

    def _placeholder_line(self, y: int, width: int, base: Style) -> Strip:
        if y == 0 or not self.placeholder:
            return Strip.blank(width, base)
        text = Text(self.placeholder, style=self.get_component_rich_style(
            "post-list--placeholder", partial=True))
        lines = self.app.console.render_lines(
            text, self.app.console.options.update_width(max(1, width - 2 * GUTTER)),
            pad=False)
        if y - 1 < len(lines):
            line = Strip([Segment(" " * 2 * GUTTER), *lines[y - 1]])
            return line.apply_style(base).crop_extend(0, width, base)
        return Strip.blank(width, base)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # --- moving -------------------------------------------------------------------------

    def select(self, index: int) -> None:
        """Put the cursor on row `index` and bring it into view."""
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, index))
        self._follow_row_keys()
        self._scroll_to_cursor()
        self.refresh()
        self._check_near_end()

    def _scroll_to_cursor(self) -> None:
        top = self._tops[self.cursor]
        bottom = self._tops[self.cursor + 1] - 1
        view = self.scrollable_content_region.height
        if top < self.scroll_y or bottom - top >= view:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif bottom > self.scroll_y + view:
            self.scroll_to(y=bottom - view + 1, animate=False, immediate=True)
        self.post_message(self.Moved(self, self.scroll_y == 0))

    def _check_near_end(self) -> None:
        view = self.scrollable_content_region.height
        near = (self.cursor >= len(self.rows) - PREFETCH_ROWS
                or self.scroll_y + 2 * view >= self._tops[-1])
        if near and self.has_more and not self._asked_more:
            self._asked_more = True
            self.post_message(self.NearEnd(self))

    def action_cursor(self, step: int) -> None:
        self.select(self.cursor + step)

    def action_first(self) -> None:
        self.select(0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self.post_message(self.Moved(self, True))

    def action_last(self) -> None:
        self.select(len(self.rows) - 1)

    def action_page(self, direction: int) -> None:
        view = max(1, self.scrollable_content_region.height - 1)
        target = max(0, min(self.max_scroll_y, self.scroll_y + direction * view))
        self.scroll_to(y=target, animate=False, immediate=True)
        if self.rows:
            index = self._row_at(int(target))
            if self._tops[index] < target and index + 1 < len(self.rows):
                index += 1
            self.cursor = 0 if target == 0 else index
            self._follow_row_keys()
        self.refresh()
        self.post_message(self.Moved(self, self.scroll_y == 0))
        self._check_near_end()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new == 0 and old != 0:
            self.post_message(self.Moved(self, True))
        if self.rows:
            self._check_near_end()

    def action_fold(self) -> None:
        row = self.current
        if row is not None and (row.post.content or {}).get("cw"):
            row.opened = not row.opened
            self.update_row(row)  # and v and o come or go with its pictures

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Row actions need a row: without one the key goes on to the screen's bindings
        (as v and o do on a row that shows no picture or file: o lists whom a profile
        follows)."""
        if action != "chosen":
            return True
        if parameters and parameters[0] in ATTACHMENT_ACTIONS:
            return self._shows_attachments()
        return bool(self.rows)

    def _shows_attachments(self) -> bool:
        """True if the selected row shows pictures or files (not folded under a warning)."""
        row = self.current
        if row is None or ((row.post.content or {}).get("cw") and not row.opened):
            return False
        return bool(attachments_of(row.post))

    def _follow_row_keys(self) -> None:
        """Offer v and o (in the footer too) while the selected row shows attachments."""
        shows = self._shows_attachments()
        if shows != self._showed_attachments:
            self._showed_attachments = shows
            self.refresh_bindings()

    def action_chosen(self, action: str) -> None:
        row = self.current
        if row is None:
            return
        if action in POST_ONLY and row.post.type != "post":  # e.g. "followed you"
            self.app.notify(f"only a post can be {POST_ONLY[action]}: this is a "
                            f"{row.post.type}", severity="warning", timeout=4)
            return
        self.post_message(self.ActionChosen(self, action, row))

    def find(self, text: str, direction: int = 1) -> bool:
        """Move to the next row (after the cursor, wrapping) whose text contains `text`."""
        self.query_text = text.casefold().strip()
        return self.action_find_next(direction, skip_current=False)

    def action_find_next(self, direction: int = 1, *, skip_current: bool = True) -> bool:
        if not self.query_text or not self.rows:
            return False
        count = len(self.rows)
        start = 1 if skip_current else 0
        for step in range(start, count + start):
            index = (self.cursor + direction * step) % count
            if self.query_text in search_text(self.rows[index], self.context):
                self.select(index)
                return True
        self.notify(f"no loaded post matches “{self.query_text}”", severity="warning")
        return False

    def on_click(self, event: events.Click) -> None:
        if self.rows:
            self.select(self._row_at(int(self.scroll_y) + event.y))
