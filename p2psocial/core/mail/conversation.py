"""One conversation as a reader shows it: the fold of its inner messages (docs/protocol.md
§Private messages, M6, M11-M13, M26, M27).

Rules:
- Copies are dropped by (from, id), the earliest arrival kept. Messages whose `from` the
  reader blocks are dropped (M27): in a group only theirs.
- Order: (min(ts, arrival), id) (M6).
- M11: an edit or delete applies to a `text` with the same `from`; the edit latest by
  (ts, id) wins; a delete drops the text and its edits and leaves a marker. One whose target
  is not held waits (`waiting`); one whose target is not a `text` of that writer is ignored.
- M26: accepted once a message of the reader's own account is in it (a sent copy or an
  accept), or the reader follows the `from` of its earliest message; else a request.
- Read state is the caller's (M13): nothing here depends on it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from p2psocial.core.mail.inner import InnerMessage, Kind, conversation_id


class State(enum.StrEnum):
    """Whether the reader has accepted the conversation."""

    REQUEST = "request"
    ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True)
class Arrived:
    """An admitted inner message and when this node first got it (ms)."""

    message: InnerMessage
    arrival_ms: int

    @property
    def order(self) -> tuple[int, bytes]:
        """M6's sort key."""
        return min(self.message.ts, self.arrival_ms), self.message.id


@dataclass(frozen=True, slots=True)
class Shown:
    """A `text` message as shown: its current text (None once deleted)."""

    from_account: bytes
    dev: bytes
    id: bytes
    ts: int
    order: tuple[int, bytes]
    text: str | None
    edited: bool
    deleted: bool
    reply: bytes | None


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation folded for one reader."""

    id: bytes
    participants: tuple[bytes, ...]
    state: State
    messages: tuple[Shown, ...]
    waiting: tuple[InnerMessage, ...]  # edits and deletes whose target has not arrived


def fold(participants: Iterable[bytes], arrived: Iterable[Arrived], *, me: bytes,
         blocked: Collection[bytes] = frozenset(),
         following: Collection[bytes] = frozenset()) -> ConversationView:
    """Fold the messages of the conversation of `participants` for reader account `me`.

    Messages of another conversation are ignored.
    """
    members = tuple(sorted(set(participants)))
    conv = conversation_id(members)
    kept = _unique(a for a in arrived if a.message.conversation == conv
                   and a.message.from_account not in blocked)
    texts = {(a.message.from_account, a.message.id): a for a in kept
             if a.message.kind is Kind.TEXT}
    held = {(a.message.from_account, a.message.id) for a in kept}
    edits: dict[tuple[bytes, bytes], InnerMessage] = {}
    deleted: set[tuple[bytes, bytes]] = set()
    waiting: list[InnerMessage] = []
    for a in kept:
        m = a.message
        if m.kind not in (Kind.EDIT, Kind.DELETE) or m.target is None:
            continue
        key = (m.from_account, m.target)
        if key not in held:
            waiting.append(m)
        elif key in texts and m.kind is Kind.DELETE:
            deleted.add(key)
        elif key in texts and (key not in edits or (m.ts, m.id) > (edits[key].ts,
                                                                     edits[key].id)):
            edits[key] = m
    shown = tuple(_shown(a, edits.get(k), k in deleted)
                  for k, a in sorted(texts.items(), key=lambda item: item[1].order))
    return ConversationView(id=conv, participants=members,
                            state=_state(kept, me, following), messages=shown,
                            waiting=tuple(waiting))


def _unique(arrived: Iterable[Arrived]) -> list[Arrived]:
    first: dict[tuple[bytes, bytes], Arrived] = {}
    for a in arrived:
        key = (a.message.from_account, a.message.id)
        if key not in first or a.arrival_ms < first[key].arrival_ms:
            first[key] = a
    return sorted(first.values(), key=lambda a: a.order)


def _shown(a: Arrived, edit: InnerMessage | None, deleted: bool) -> Shown:
    m = a.message
    text = None if deleted else (edit.text if edit is not None else m.text)
    return Shown(from_account=m.from_account, dev=m.dev, id=m.id, ts=m.ts, order=a.order,
                 text=text, edited=edit is not None and not deleted, deleted=deleted,
                 reply=m.reply)


def _state(kept: list[Arrived], me: bytes, following: Collection[bytes]) -> State:
    if any(a.message.from_account == me for a in kept):
        return State.ACCEPTED
    if kept and kept[0].message.from_account in following:
        return State.ACCEPTED
    return State.REQUEST
