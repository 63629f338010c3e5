"""Search (`/` anywhere): full text over everything stored, not just the rows on screen.

Rules:
- What the user types goes to the node as typed (the service's small syntax: words, "a
  phrase", word*, #tag); enter searches. A query the node refuses (UsageError: an unclosed
  quote, nothing searchable) is one line under the input, and the input keeps the focus.
- Results: the people whose name or bio matches first (a search naming no #tag), then the
  posts, newest first by time, more pages as the cursor nears the end. A query that is one
  #tag alone shows that tag's posts (the node's `tag`).
- Enter on a person opens their profile, on a post its thread. tab moves between the input,
  the people and the posts; `/` goes back to the input; `.` searches again.
- Posts of authors I block or mute are left out, as on the timeline; a page left empty by
  that is followed by the next one at once (at most MAX_SKIPPED pages).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from p2psocial.core.errors import P2PSocialError, UsageError
from p2psocial.runtime.search_views import SearchView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import ListScreen
from p2psocial.ui.messages import EntriesArrived
from p2psocial.ui.people import PeopleList
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Row
from p2psocial.ui.rows import timeline_rows
from p2psocial.ui.widgets import FindBar, FitFooter, TopBar

PAGE = 30
MAX_SKIPPED = 5
PLACEHOLDER = 'search: words, "a phrase", word*, #tag — enter searches'
HINT = ("Type words and press enter: posts and people across everything stored here.\n\n"
        '"two words" finds a phrase, garden* words that start so, #tag a tag\'s posts.')


def lone_tag(query: str) -> str | None:
    """The tag (without #) if `query` is one #tag and nothing else."""
    words = query.split()
    if len(words) == 1 and words[0].startswith("#") and len(words[0]) > 1:
        return words[0][1:]
    return None


class SearchScreen(ListScreen):
    """A search box over results: people, then posts."""

    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "to_input", "New search", tooltip="Back to the search box"),
        Binding("down", "to_results", "Results", show=False,
                tooltip="From the search box to the results"),
        Binding("period", "reload", "Search again", show=False),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.query_text = query
        self._oldest: int | None = None
        self._searched = ""

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), "Search")
        yield Input(self.query_text, placeholder=PLACEHOLDER, id="search-input")
        yield Static("", id="search-status")
        yield PeopleList(id="search-people")
        yield PostList(placeholder=HINT, id="search-posts")
        yield FindBar()
        yield FitFooter()

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    @property
    def people(self) -> PeopleList:
        return self.query_one(PeopleList)

    def on_mount(self) -> None:
        super().on_mount()
        self.people.display = False
        self.query_one("#search-status", Static).display = False
        self.call_after_refresh(self.input.focus)  # after the list takes it (ListScreen)
        if self.query_text.strip():
            self.search()

    def action_to_input(self) -> None:
        self.input.focus()

    def action_to_results(self) -> None:
        if self.people.display and self.people.option_count:
            self.people.focus()
        elif self.post_list.rows:
            self.post_list.focus()

    def action_reload(self) -> None:
        if self._searched:
            self.search()

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_text = event.value
        self.search()

    @work(exclusive=True, group="search")
    async def search(self, older: bool = False) -> None:
        """Run the query (`older`: its next page)."""
        backend = await self.host.ready()
        self.sync_context()
        query = self.query_text if not older else self._searched
        before = self._oldest if older else None
        if not older:
            self._oldest = None
        try:
            found, rows = await self._page(backend, query, before)
        except UsageError as exc:
            self._show_status(str(exc), error=True)
            return
        except P2PSocialError as exc:
            self._show_status(f"the search failed: {exc}", error=True)
            return
        post_list = self.post_list
        await post_list.prepare(rows)
        if older:
            post_list.append_rows(rows)
            self._show_status(self._summary(query, len(post_list.rows)))
            return
        self._searched = query
        self._show_people(found)
        post_list.placeholder = "No post matches." if found.feeds else "Nothing matches."
        post_list.set_rows(rows)
        self._show_status(self._summary(query, len(rows)))
        if self.input.has_focus:
            self.action_to_results()

    async def _page(self, backend: UiBackend, query: str, before: int | None
                    ) -> tuple[SearchView, list[Row]]:
        """A page of results, skipping ahead past pages whose posts are all hidden."""
        found = await self._ask(backend, query, before)
        rows: list[Row] = []
        for _ in range(MAX_SKIPPED):
            rows = await timeline_rows(backend, self.state, found.posts)
            self._oldest = _last_position(found) or self._oldest
            self.post_list.has_more = len(found.posts) == PAGE
            if rows or not self.post_list.has_more:
                break
            found = SearchView(posts=(await self._ask(backend, query, self._oldest)).posts,
                               feeds=found.feeds)
        return found, rows

    async def _ask(self, backend: UiBackend, query: str, before: int | None) -> SearchView:
        tag = lone_tag(query)
        if tag is not None:
            return SearchView(posts=await backend.tag(tag, limit=PAGE, before=before))
        return await backend.search(query, limit=PAGE, before=before)

    def _show_people(self, found: SearchView) -> None:
        people = [f for f in found.feeds if f.author not in self.state.blocked]
        self.state.learn(people)
        self.people.show(people)
        self.people.display = bool(people)

    def _summary(self, query: str, shown: int) -> str:
        """What the results hold: people, posts shown (+: more to load)."""
        tag = lone_tag(query)
        more = "+" if self.post_list.has_more else ""
        posts = f"{shown}{more} post{'s' if shown != 1 or more else ''}"
        if tag is not None:
            return f"{posts} tagged #{tag}, newest first"
        people = len(self.people.people)
        head = f"{people} {'person' if people == 1 else 'people'} · " if people else ""
        return f"{head}{posts}, newest first · tab moves between them" if people else \
            f"{posts}, newest first"

    def _show_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#search-status", Static)
        status.display = True
        status.set_class(error, "error")
        status.update(Text(text))  # a long refusal wraps rather than lose its end

    def on_post_list_near_end(self, _: PostList.NearEnd) -> None:
        if self._oldest is not None and self._searched:
            self.search(older=True)

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        self.track_counts(message.views)


def _last_position(found: SearchView) -> int | None:
    """The cursor of a page's last post (its position), for the next page."""
    if found.posts and found.posts[-1].cursor:
        return int(found.posts[-1].cursor[0])
    return None


__all__ = ["SearchScreen", "lone_tag"]
