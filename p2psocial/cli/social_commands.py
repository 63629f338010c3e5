"""CLI verbs of the social graph and local choices: followers, following, notifications,
mute / unmute / mutes, bookmark / unbookmark / bookmarks.

Rules:
- Each verb is one Service call (in this process or through the running node) and prints
  its result, or JSON with `--json` (one JSON value; `notifications --follow --json` one
  line per notification).
- People are printed by name and full handle (to copy into another command); JSON has both.
- `notifications --follow` needs the running node (only it receives anything new): it
  prints the latest, then each new one as the node stores what makes it, until the node
  stops (one line, a failure status), like `feed --follow`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from p2psocial.cli import node_commands, render
from p2psocial.runtime.control import ControlClient, NodeNotRunning
from p2psocial.runtime.social_views import MuteView
from p2psocial.runtime.views import EntryView, FeedView, NotificationView
from p2psocial.store.home import Home

Handler = Callable[[argparse.Namespace, Any], Awaitable[int]]
VerbAdder = Callable[[str, str], argparse.ArgumentParser]
HANDLERS: dict[str, Handler] = {}
PEEK = 50  # notifications asked for after each wake-up of --follow
COALESCE_S = 0.25  # --follow asks at most this often while entries stream in


def add_verbs(verb: VerbAdder) -> None:
    """Add the social verbs to the parser."""
    for name, text in (("followers", "who follows a person (default: me), among the feeds "
                        "held here"), ("following", "whom a person follows (default: me)")):
        s = verb(name, text)
        s.add_argument("handle", nargs="?", help="a handle, or the name of someone you know")
        s.add_argument("--json", action="store_true")
    s = verb("notifications", "mentions of me, replies, quotes, reactions and reposts of my "
             "posts, new followers; newest first")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.add_argument("--follow", action="store_true",
                   help="keep printing new ones as they arrive (needs a running node)")
    for name, text in (("mute", "hide a person's posts (a handle or @name) or posts holding "
                        "a word, from my timeline and notifications; local, not blocking"),
                       ("unmute", "lift a mute")):
        s = verb(name, text)
        s.add_argument("what", metavar="HANDLE|@NAME|WORD")
        s.add_argument("--word", action="store_true",
                       help="take the argument as a word even if it looks like a handle")
        s.add_argument("--json", action="store_true")
    verb("mutes", "what I mute: people and words").add_argument("--json", action="store_true")
    for name, text in (("bookmark", "keep a pointer to an entry (local)"),
                       ("unbookmark", "drop a bookmark")):
        s = verb(name, text)
        s.add_argument("entry", help="an entry hash or a unique prefix of one")
        s.add_argument("--json", action="store_true")
    s = verb("bookmarks", "my bookmarked entries, the latest bookmark first")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")


def _verb(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn
    return register


# --- people ---------------------------------------------------------------------------------


def person_line(view: FeedView) -> str:
    """A person: name, full handle, and how I relate to them."""
    marks = [m for m, on in (("you", view.is_me), ("you follow", view.following),
                             ("blocked", view.blocked)) if on]
    name = view.name or "(no name)"
    return f"{name}  {view.author}" + (f"  [{', '.join(marks)}]" if marks else "")


def _people(title: str, empty: str) -> Handler:
    async def handler(args: argparse.Namespace, api: Any) -> int:
        people: list[FeedView] = await getattr(api, title)(args.handle)
        if args.json:
            render.print_json(people)
        elif not people:
            print(empty)
        for p in [] if args.json else people:
            print(person_line(p))
        return 0
    return handler


HANDLERS["followers"] = _people("followers", "no followers among the feeds held here")
HANDLERS["following"] = _people("followed", "following nobody")


# --- notifications --------------------------------------------------------------------------


_DID = {"mention": "mentioned you", "reply": "replied", "quote": "quoted your post",
        "react": "reacted", "repost": "reposted your post", "follow": "followed you"}


def notification_lines(n: NotificationView) -> list[str]:
    """A notification: who did what, when, and the text of their entry (indented)."""
    e = n.entry
    did = _DID.get(n.kind, n.kind)
    if n.kind == "react":
        did = f"reacted {e.text or ''} to your post".replace("  ", " ")
    lines = [f"{e.short_hash}  {render.who(e)} {did}  {render.when(e.timestamp)}"]
    if n.kind in ("mention", "reply", "quote") and e.text:
        lines.extend("    " + line for line in e.text.splitlines())
    elif n.target is not None and n.target.text:
        lines.append("    > " + n.target.text.splitlines()[0][:100])
    return lines


def _print_notification(n: NotificationView, as_json: bool) -> None:
    if as_json:
        render.print_json_line(n)
    else:
        print("\n".join(notification_lines(n)))
        print()
    sys.stdout.flush()


@_verb("notifications")
async def _notifications(args: argparse.Namespace, api: Any) -> int:
    items: list[NotificationView] = await api.notifications(limit=args.limit)
    if args.json:
        render.print_json(items)
    elif not items:
        print("no notifications")
    for n in [] if args.json else items:
        _print_notification(n, False)
    return 0


async def follow_notifications(args: argparse.Namespace, home: Home) -> int:
    """`notifications --follow`: the latest, oldest first, then each new one as it comes,
    until the node stops (then one line and a failure status)."""
    client = await node_commands.require_node(home)
    lookups: ControlClient | None = None
    watcher: asyncio.Task[None] | None = None
    try:
        # a connection streaming events answers no calls: ask on another one
        stopped = node_commands.node_stopped("notifications")
        try:
            lookups = await ControlClient.open(home.control_socket)
        except NodeNotRunning as exc:
            raise stopped from exc
        wake = asyncio.Event()
        watcher = asyncio.create_task(_watch(client, wake))
        shown: set[tuple[str, str]] = set()
        try:
            first = True
            while True:
                items: list[NotificationView] = await lookups.notifications(
                    limit=max(1, args.limit) if first else PEEK)
                for n in reversed(items):
                    if (n.kind, n.entry.hash) not in shown:
                        shown.add((n.kind, n.entry.hash))
                        _print_notification(n, args.json)
                first = False
                if watcher.done():
                    watcher.result()  # its error, if it failed
                    raise stopped
                await wake.wait()
                wake.clear()
                await asyncio.sleep(COALESCE_S)
        except NodeNotRunning as exc:  # a call cut short as it stopped: the same news
            if exc is stopped:
                raise
            raise stopped from exc
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, NodeNotRunning):
                await watcher
        if lookups is not None:
            await lookups.close()
        await client.close()


async def _watch(client: ControlClient, wake: asyncio.Event) -> None:
    """Set `wake` for every entry the node stores, and once more when the stream ends."""
    try:
        async for kind, _ in client.events():
            if kind == "entry":
                wake.set()
    finally:
        wake.set()


# --- mutes ----------------------------------------------------------------------------------


def mute_line(m: MuteView) -> str:
    """A mute: the word, or the person by name and handle."""
    if m.kind == "word":
        return f"word    {m.value}"
    return f"person  {m.name or '(no name)'}  {m.value}"


def _toggle_mute(name: str, done: str) -> Handler:
    async def handler(args: argparse.Namespace, api: Any) -> int:
        view: MuteView = await getattr(api, name)(args.what, word=args.word)
        if args.json:
            render.print_json(view)
        else:
            print(f"{done} {mute_line(view).split(maxsplit=1)[1]}")
        return 0
    return handler


HANDLERS["mute"] = _toggle_mute("mute", "muted")
HANDLERS["unmute"] = _toggle_mute("unmute", "unmuted")


@_verb("mutes")
async def _mutes(args: argparse.Namespace, api: Any) -> int:
    listed: list[MuteView] = await api.mutes()
    if args.json:
        render.print_json(listed)
    elif not listed:
        print("nothing muted")
    for m in [] if args.json else listed:
        print(mute_line(m))
    return 0


# --- bookmarks ------------------------------------------------------------------------------


def _toggle_bookmark(name: str, done: str) -> Handler:
    async def handler(args: argparse.Namespace, api: Any) -> int:
        view: EntryView = await getattr(api, name)(args.entry)
        if args.json:
            render.print_json(view)
        else:
            print(f"{done} {view.short_hash}" + (f" by {render.who(view)}" if view.author
                                                  else ""))
        return 0
    return handler


HANDLERS["bookmark"] = _toggle_bookmark("bookmark", "bookmarked")
HANDLERS["unbookmark"] = _toggle_bookmark("unbookmark", "dropped the bookmark of")


@_verb("bookmarks")
async def _bookmarks(args: argparse.Namespace, api: Any) -> int:
    entries: list[EntryView] = await api.bookmarks(limit=args.limit)
    if args.json:
        render.print_json(entries)
    elif not entries:
        print("no bookmarks: add one with `p2psocial bookmark <entry>`")
    else:
        render.print_entries(entries)
    return 0
