"""People: a list of accounts (followers, following, people a search found), and the
followers/following screen of one account.

Rules:
- A person is an account (the service lists each once, by its account's handle), shown with
  its name, short handle, my relation to it and the first line of its bio.
- Enter on a person posts `PeopleList.PersonChosen`; the app opens their profile.
- Followers are the accounts *held here* that follow: a node knows only the follows in the
  feeds it holds, and the screen says so.
- tab switches between followers and following; F follows or unfollows the selected person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView, FeedView
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.messages import EntriesArrived, RelationsChanged
from p2psocial.ui.render import short
from p2psocial.ui.widgets import FitFooter, TopBar

BIO_CHARS = 70
KINDS = {"followers": "Followers", "following": "Following"}


def person_text(feed: FeedView) -> Text:
    """How a person reads in a list: name, short handle, relation; the bio's first line."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(feed.name or "(no name)", "bold")
    text.append(f"  {short(feed.author)}", "dim")
    mark = ("you" if feed.is_me else "blocked" if feed.blocked
            else "following" if feed.following else "")
    if mark:
        text.append(f"  · {mark}", "italic")
    bio = (feed.bio or "").strip().splitlines()
    if bio:
        line = bio[0] if len(bio[0]) <= BIO_CHARS else bio[0][:BIO_CHARS - 1] + "…"
        text.append(f"\n  {line}", "dim")
    return text


class PeopleList(OptionList):
    """People, one option each (its id the account's handle); j/k move, enter opens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Next person", show=False),
        Binding("k", "cursor_up", "Previous person", show=False),
    ]

    @dataclass
    class PersonChosen(Message):
        """The user chose a person (open their profile)."""

        handle: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.people: list[FeedView] = []

    def show(self, people: list[FeedView]) -> None:
        """Replace the list, keeping the selected person selected if still there."""
        current = self.selected
        self.people = list(people)
        self.clear_options()
        self.add_options(Option(person_text(p), id=p.author) for p in self.people)
        if self.people:
            handles = [p.author for p in self.people]
            self.highlighted = handles.index(current.author) \
                if current is not None and current.author in handles else 0

    @property
    def selected(self) -> FeedView | None:
        """The highlighted person."""
        index = self.highlighted
        return self.people[index] if index is not None and index < len(self.people) else None

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.PersonChosen(event.option.id))


class PeopleScreen(SocialScreen):
    """Whom an account follows, or who follows it."""

    CSS_PATH = "people.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch", "Followers/following",
                tooltip="Switch between the followers and whom this account follows"),
        Binding("F", "toggle_follow", "Follow/unfollow",
                tooltip="Follow or unfollow the selected person"),
        Binding("period", "reload", "Reload", show=False),
    ]

    def __init__(self, handle: str, kind: str = "followers", name: str | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(kind)
        self.handle = handle
        self.kind = kind
        self.who = name

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), self._title())
        yield Static("Loading…", id="people-summary")
        yield PeopleList(id="people")
        yield FitFooter()

    def _title(self) -> str:
        return f"{KINDS[self.kind]} · {self.who or short(self.handle)}"

    @property
    def people(self) -> PeopleList:
        return self.query_one(PeopleList)

    def on_mount(self) -> None:
        super().on_mount()
        self.people.focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    def action_switch(self) -> None:
        self.kind = "following" if self.kind == "followers" else "followers"
        self.query_one(TopBar).set_title(self._title())
        self.load()

    @work(exclusive=True, group="people")
    async def load(self) -> None:
        backend = await self.host.ready()
        summary = self.query_one("#people-summary", Static)
        try:
            if self.kind == "followers":
                people = await backend.followers(self.handle)
            else:
                people = await backend.followed(self.handle)
        except P2PSocialError as exc:
            summary.update(Text(str(exc)))
            return
        self.state.learn(people)
        if self.who is None:
            self.who = self.state.names.get(self.handle)
            self.query_one(TopBar).set_title(self._title())
        summary.update(self._summary(len(people)))
        self.people.show(people)

    def _summary(self, count: int) -> Text:
        who = self.who or short(self.handle)
        plural = "s" if count != 1 else ""
        if self.kind == "followers":
            head = f"{count:,} account{plural} held here follow{'s' if count == 1 else ''} {who}"
            tail = "known from the feeds held here · enter: profile · tab: following"
        else:
            head = f"{who} follows {count:,} account{plural}"
            tail = "enter: profile · tab: followers"
        text = Text(head, "bold")
        text.append("\n" + tail, "dim")
        return text

    def action_toggle_follow(self) -> None:
        person = self.people.selected
        if person is None or person.is_me:
            return
        verb = "unfollow" if person.following else "follow"
        self.call_node(lambda b: b.relate(verb, person.author),
                       success="Following" if verb == "follow" else "Unfollowed",
                       done=lambda _: self.load())

    def on_relations_changed(self, _: RelationsChanged) -> None:
        self.load()

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        if any(_changes_follows(v) for v in message.views):
            self.load()


def _changes_follows(view: EntryView) -> bool:
    return view.type in ("follow", "unfollow", "about")


__all__ = ["PeopleList", "PeopleScreen", "person_text"]
