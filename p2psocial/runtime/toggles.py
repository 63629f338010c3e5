"""Reactions and reposts given once, and undone: what I already gave to an entry.

Rules:
- I give an entry a reaction (each distinct reaction) or a repost at most once: doing it again
  is refused with a line saying how to undo it, so nothing stacks by mistake.
- Undoing is a `delete` of my react or repost entries on that target (all of them, if an older
  version let them stack); a node drops a deleted reaction from the counts and a deleted repost
  from timelines (docs/protocol.md, "react" and "repost, delete").
- Only live entries count: `Store.links_by` lists what is not deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from p2psocial.core import limits
from p2psocial.core.errors import AlreadyDone, NothingToUndo, UsageError
from p2psocial.store.sqlite import Store


@dataclass(slots=True)
class Given:
    """What one feed gave one entry: its reactions and reposts (hashes of the entries)."""

    reactions: dict[str, list[bytes]] = field(default_factory=dict)
    reposts: list[bytes] = field(default_factory=list)


async def given(store: Store, author: bytes, targets: Sequence[bytes]) -> dict[bytes, Given]:
    """For each of `targets` that `author` reacted to or reposted, what it gave."""
    out: dict[bytes, Given] = {}
    for target, rel, reaction, entry_hash in await store.links_by(author, targets):
        mine = out.setdefault(target, Given())
        if rel == "repost":
            mine.reposts.append(entry_hash)
        else:
            mine.reactions.setdefault(reaction or "", []).append(entry_hash)
    return out


def check_reaction(reaction: str) -> str:
    """The reaction, trimmed; a UsageError if it is blank or too long."""
    reaction = reaction.strip()
    if not reaction or len(reaction.encode()) > limits.MAX_REACTION_BYTES:
        raise UsageError(f"a reaction is 1 to {limits.MAX_REACTION_BYTES} bytes")
    return reaction


async def reacted(store: Store, me: bytes, target: bytes, reaction: str) -> list[bytes]:
    """My live react entries giving `target` this reaction."""
    mine = (await given(store, me, [target])).get(target)
    return [] if mine is None else mine.reactions.get(reaction, [])


async def reposted(store: Store, me: bytes, target: bytes) -> list[bytes]:
    """My live repost entries of `target`."""
    mine = (await given(store, me, [target])).get(target)
    return [] if mine is None else mine.reposts


def refuse_again(what: str, ref: str, undo: str) -> AlreadyDone:
    """The error for doing something a second time."""
    return AlreadyDone(f"you already {what} {ref[:12]}: `p2psocial {undo}` undoes it")


def refuse_undo(what: str, ref: str) -> NothingToUndo:
    """The error for undoing what was never done."""
    return NothingToUndo(f"you have not {what} {ref[:12]}: nothing to undo")
