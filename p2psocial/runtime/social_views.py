"""Views of the local social settings (mutes), as plain JSON-able data like runtime/views.py."""

from __future__ import annotations

from dataclasses import dataclass

from p2psocial.runtime.views import _View


@dataclass(frozen=True, slots=True)
class MuteView(_View):
    """One mute: `kind` "account" (then `value` is its handle and `name` its name, if known)
    or "word" (`value` is the word as stored: case folded, whitespace collapsed); `since` is
    when it was muted (ms)."""

    kind: str
    value: str
    name: str | None = None
    since: int = 0
