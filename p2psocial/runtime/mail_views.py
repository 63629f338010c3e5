"""Views of private conversations (docs/protocol.md §Private messages), as plain JSON-able
data like runtime/views.py: handles and hex strings, never bytes.

Rules:
- A conversation is named by its id in hex (`conv`); a message by its id in hex.
- `state` is "request" or "accepted" (M26); `unread` counts messages of others ordered after
  this device's read mark (M13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from p2psocial.runtime.views import _View


@dataclass(frozen=True, slots=True)
class MessageView(_View):
    """One message as shown: its current text (None once deleted)."""

    id: str
    author: str
    name: str | None
    ts: int
    order: int
    text: str | None
    edited: bool = False
    deleted: bool = False
    mine: bool = False
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationView(_View):
    """A conversation: the other participants (handles and names), its state, its unread
    count and its last message (in the inbox) or a page of messages (`dm show`)."""

    conv: str
    participants: list[str]
    names: list[str | None]
    state: str
    unread: int
    last: MessageView | None = None
    messages: list[MessageView] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationView:
        """The view a `to_json()` dict describes (messages rebuilt)."""
        last = data.get("last")
        return cls(conv=data["conv"], participants=list(data["participants"]),
                   names=list(data["names"]), state=data["state"], unread=data["unread"],
                   last=None if last is None else MessageView.from_json(last),
                   messages=[MessageView.from_json(m) for m in data.get("messages", [])])
