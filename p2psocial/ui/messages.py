"""Messages the app sends its screens. (They are posted by the app, not by one widget, so they
live here rather than nested in a widget class.)"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from p2psocial.runtime.views import EntryView


@dataclass
class BackendOpened(Message, bubble=False):
    """The node is reachable: screens may load."""


@dataclass
class EntriesArrived(Message, bubble=False):
    """Entries entered the store (mine or received), oldest first."""

    views: list[EntryView]


@dataclass
class RelationsChanged(Message, bubble=False):
    """Whom I follow, block or mute changed."""


@dataclass
class StatusChanged(Message, bubble=False):
    """The node's network summary or my profile changed (top bars redraw)."""


@dataclass
class MailArrived(Message, bubble=False):
    """A private message arrived in the conversation `conversation` (its id in hex)."""

    conversation: str
