"""What the app knows across screens: me, my relations, names, and entries seen.

Rules:
- Filled from the backend's views and from live entry events; never from the store.
- A name is only replaced by one at least as new, by the author's feed: a profile entry's
  seq, a page entry's seq (its name was read when that entry was held), a feed's head.
  A page loaded just before a rename and handled just after it, or an old profile entry
  that replication brings in late, does not bring an old name back.
- Accounts (issue 11): each view names the account it counts for; `accounts` keeps which
  account each device seen belongs to, so a live entry (whose view names no account) is
  placed and hidden by its account too. A name is kept by the account's handle; an account's
  name comes from its latest profile across its devices, read with each page, so it is
  taken as it comes (a seq of one device says nothing of another's).
- Mutes are local to this home (they publish nothing): kept in HOME/ui.json, with the
  invite token the Me screen shows (so it stays the same from one visit to the next) and
  the settings: "q": "quit" (the default: q on the home timeline quits, asking first once
  other screens were opened) or "back" (q only ever goes back; ctrl+q or :quit quits).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from p2psocial.runtime.views import EntryView, FeedView
from p2psocial.store.home import write_private_file

RELATION_TYPES = ("follow", "unfollow", "block", "unblock")
TIMELINE_TYPES = ("post", "repost")


@dataclass
class UiState:
    """Shared by every screen."""

    me: str = ""
    my_account: str = ""  # my account's handle (= me for a single-key identity)
    my_name: str | None = None
    mode: str = ""
    following: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    muted: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # device handle -> account handle
    name_seq: dict[str, int] = field(default_factory=dict)  # how new each name is (a seq)
    related: dict[str, EntryView] = field(default_factory=dict)
    drafts: dict[str, str] = field(default_factory=dict)
    draft_files: dict[str, list[object]] = field(default_factory=dict)  # compose's files
    network: str = "starting…"  # a short summary for the top bar
    unread: int = 0  # notifications not seen yet
    mail_unread: int = 0  # private messages not read yet (every conversation)
    invite: str | None = None  # my invite token, kept in HOME/ui.json
    q_quits: bool = True  # the "q" setting: does q on the home timeline quit?
    settings_path: Path | None = None

    def hidden(self, handle: str) -> bool:
        """True for authors I block or mute."""
        return handle in self.blocked or handle in self.muted

    def owner(self, view: EntryView) -> str:
        """The account an entry counts for: its view's, else the one learnt for its author,
        else the author (a single-key identity)."""
        return view.account or self.accounts.get(view.author, view.author)

    def hides(self, view: EntryView) -> bool:
        """True for entries of a device or an account I block or mute."""
        return self.hidden(view.author) or self.hidden(self.owner(view))

    def is_mine(self, view: EntryView) -> bool:
        """Written by this device or another device of my account."""
        return view.author == self.me or self.owner(view) in (self.me, self.my_account)

    def in_timeline(self, view: EntryView) -> bool:
        """True if a live entry belongs on my home timeline."""
        return (view.type in TIMELINE_TYPES and not self.hides(view)
                and (self.is_mine(view) or view.author in self.following
                     or self.owner(view) in self.following))

    def learn(self, views: Iterable[EntryView | FeedView]) -> bool:
        """Remember names and accounts from views of a page or a feed; True if a name
        changed."""
        changed = False
        for view in views:
            if view.account:
                self.accounts[view.author] = view.account
            if not view.name:
                continue
            if view.account and view.account != view.author:
                changed = self._take_account_name(view.account, view.name) or changed
            else:
                seq = view.hi if isinstance(view, FeedView) else view.seq
                changed = self._take_name(view.author, view.name, seq) or changed
        return changed

    def _take_account_name(self, account: str, name: str) -> bool:
        if self.names.get(account) == name:
            return False
        self.names[account] = name
        return True

    def _take_name(self, author: str, name: str, seq: int) -> bool:
        """Take `name`, known as of the author's entry `seq`, unless the name held is newer;
        True if the name changed."""
        if seq < self.name_seq.get(author, 0):
            return False
        self.name_seq[author] = seq
        if self.names.get(author) == name:
            return False
        self.names[author] = name
        return True

    def learn_relations(self, following: Iterable[str], blocking: Iterable[str]) -> None:
        """Take my relations (from the node: feeds not held yet count too)."""
        self.following = set(following)
        self.blocked = set(blocking)

    def apply_mine(self, view: EntryView) -> bool:
        """Update my relations from one of my entries (of any device of my account: its
        follows and name are the account's); True if they changed."""
        if not self.is_mine(view) or view.type not in (*RELATION_TYPES, "about"):
            return False
        content = view.content or {}
        if view.type == "about":
            if content.get("name") and view.author == self.me:
                self._take_name(self.me, str(content["name"]), view.seq)
                self.my_name = self.names[self.me]
            elif content.get("name"):  # from another device: the newest (S9)
                self.my_name = str(content["name"])
            if content.get("name") and self.my_name and self.my_account not in ("", self.me):
                self._take_account_name(self.my_account, self.my_name)
            return True
        feed = str(content.get("feed", ""))
        target = self.following if view.type in ("follow", "unfollow") else self.blocked
        if view.type in ("follow", "block"):
            target.add(feed)
        else:
            target.discard(feed)
        return True

    def learn_about(self, view: EntryView) -> bool:
        """Take a name from anyone's about entry; True if it changed."""
        name = (view.content or {}).get("name") if view.type == "about" else None
        if not name:
            return False
        account = self.owner(view)
        if account != view.author:  # the newest about of a device: its account's (S9)
            return self._take_account_name(account, str(name))
        return self._take_name(view.author, str(name), view.seq)

    # --- mutes (local) ------------------------------------------------------------------

    def load_mutes(self) -> None:
        """Read the local settings: mutes, and the invite token the Me screen shows."""
        if self.settings_path is None:
            return
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads(self.settings_path.read_text())
            self.muted = {str(h) for h in data.get("muted", [])}
            self.invite = str(data["invite"]) if data.get("invite") else None
            self.q_quits = data.get("q", "quit") != "back"

    def set_muted(self, handle: str, muted: bool) -> None:
        """Mute or unmute `handle` and save the list."""
        if muted:
            self.muted.add(handle)
        else:
            self.muted.discard(handle)
        self._save()

    def set_invite(self, token: str) -> None:
        """Keep the invite token shown on the Me screen (the same one each visit)."""
        self.invite = token
        self._save()

    def set_q_quits(self, quits: bool) -> None:
        """The "q" setting: True if q on the home timeline quits, False if q only goes
        back (ctrl+q or :quit quits)."""
        self.q_quits = quits
        self._save()

    def _save(self) -> None:
        if self.settings_path is None:
            return
        data = {"muted": sorted(self.muted), "invite": self.invite,
                "q": "quit" if self.q_quits else "back"}
        write_private_file(self.settings_path, (json.dumps(data, indent=2) + "\n").encode())
