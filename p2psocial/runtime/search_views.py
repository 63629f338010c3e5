"""The view of a search's results, as plain JSON-able data like runtime/views.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from p2psocial.runtime.views import EntryView, FeedView, _View


@dataclass(frozen=True, slots=True)
class SearchView(_View):
    """What a search found: `posts` newest first by time (each `cursor` is [position]: pass
    the last one as `before` for the next page), and `feeds`: the people whose name or bio
    matches, best first, each once as its account (on the first page of a search without
    --from or --tag only)."""

    posts: list[EntryView] = field(default_factory=list)
    feeds: list[FeedView] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchView:
        """The view a `to_json()` dict describes."""
        return cls(posts=[EntryView.from_json(p) for p in data.get("posts") or []],
                   feeds=[FeedView.from_json(f) for f in data.get("feeds") or []])
