"""Rows of the projection tables derived from one entry (pure; see 0001_initial.sql).

Rules:
- Projections are functions of an entry and its arrival time alone, so they can be rebuilt.
- Latest-wins projections (contacts, profiles, relay lists) carry the entry's seq; the SQL
  upsert keeps a row only if its seq is higher, so entries may arrive in any order.
- An entry without a payload (deleted, or not received) projects nothing.
- A post's attachments are links with rel "attach" from the blob id, `extra` its media
  type: which posts name a blob (runtime.service.attachments, the storage budget).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from p2psocial.core.content import (
    About,
    Block,
    Delete,
    Follow,
    Post,
    React,
    Relays,
    Repost,
    Unblock,
    Unfollow,
)
from p2psocial.core.entry import Entry

TIMELINE_TYPES = ("post", "repost")
LATEST_WINS_TYPES = frozenset({"about", "follow", "unfollow", "block", "unblock", "relays"})


@dataclass(slots=True)
class ProjectionRows:
    """Rows to insert for a batch of entries, grouped by table."""

    timeline: list[tuple[int, bytes, int]] = field(default_factory=list)
    links: list[tuple[bytes, str, bytes, int, int, str | None]] = field(default_factory=list)
    follows: list[tuple[bytes, bytes, int, int]] = field(default_factory=list)
    blocks: list[tuple[bytes, bytes, int, int]] = field(default_factory=list)
    names: list[tuple[bytes, str, int]] = field(default_factory=list)
    bios: list[tuple[bytes, str, int]] = field(default_factory=list)
    relay_lists: list[tuple[bytes, str, int]] = field(default_factory=list)
    deletions: list[tuple[bytes, bytes, int]] = field(default_factory=list)

    def add_all(self, entries: list[Entry], received_at: int) -> None:
        """`add` each entry; a plain post (no links) takes a short path."""
        timeline = self.timeline.append
        add = self.add
        for entry in entries:
            c = entry.content
            if (type(c) is Post and c.root is None and c.quote is None
                    and not c.mentions and not c.attachments):
                ts = entry.timestamp
                timeline((ts if ts < received_at else received_at, entry.author, entry.seq))
            else:
                add(entry, received_at)

    def add(self, entry: Entry, received_at: int) -> None:
        """Add the rows that `entry` projects."""
        c = entry.content
        a, s = entry.author, entry.seq
        ts = min(entry.timestamp, received_at)
        if isinstance(c, Post):
            self.timeline.append((ts, a, s))
            for rel, target in (("root", c.root), ("parent", c.parent), ("quote", c.quote)):
                if target is not None:
                    self.links.append((target, rel, a, s, ts, None))
            for feed in dict.fromkeys(c.mentions):
                self.links.append((feed, "mention", a, s, ts, None))
            for blob, media in {x.blob: x.type for x in c.attachments}.items():
                self.links.append((blob, "attach", a, s, ts, media))  # by blob id
        elif isinstance(c, Repost):
            self.timeline.append((ts, a, s))
            self.links.append((c.target, "repost", a, s, ts, None))
        elif isinstance(c, React):
            self.links.append((c.target, "react", a, s, ts, c.reaction))
        elif isinstance(c, Follow | Unfollow):
            self.follows.append((a, c.feed, int(isinstance(c, Follow)), s))
        elif isinstance(c, Block | Unblock):
            self.blocks.append((a, c.feed, int(isinstance(c, Block)), s))
        elif isinstance(c, About):
            if c.name is not None:
                self.names.append((a, c.name, s))
            if c.bio is not None:
                self.bios.append((a, c.bio, s))
        elif isinstance(c, Relays):
            self.relay_lists.append((a, json.dumps(list(c.addrs)), s))
        elif isinstance(c, Delete):
            self.deletions.append((c.target, a, s))
