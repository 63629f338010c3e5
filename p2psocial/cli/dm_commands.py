"""CLI verbs of private conversations: `dm <handle>... "text"`, `dm --edit ID "text"`,
`dm show <handle|conv>`, `dm accept|decline <handle|conv>`, `inbox`.

Rules:
- Each verb is one Service call (in this process or through the running node); `--json`
  prints the view. Sending queues the message: a running node delivers it (runtime/
  mail_client); without one it waits in the outbox until the node runs.
- `inbox` lists accepted conversations, then requests apart (M26), each with its unread
  count and last message. `dm show` marks the conversation read on this device.
- Bad input (unknown or blocked handle, empty or too long text, too many recipients, only
  myself, an unknown or ambiguous id) is one line on stderr and exit status 2, from the
  Service's UsageError or here.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from p2psocial.cli import render
from p2psocial.core.errors import UsageError
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.mail_views import ConversationView, MessageView

Handler = Callable[[argparse.Namespace, Any], Awaitable[int]]
VerbAdder = Callable[[str, str], argparse.ArgumentParser]
HANDLERS: dict[str, Handler] = {}
ACTIONS = ("show", "accept", "decline")


def add_verbs(verb: VerbAdder) -> None:
    """Add `dm` and `inbox` to the parser."""
    d = verb("dm", 'private messages: dm <handle>... "text" | dm --edit ID "text" | '
                   "dm show|accept|decline <handle or conversation id>")
    d.add_argument("words", nargs="*", metavar="ARG",
                   help="handles then the text; or show/accept/decline and a conversation")
    d.add_argument("--edit", metavar="ID", help="replace the text of my message ID")
    d.add_argument("--limit", type=int, default=50, help="messages `dm show` lists")
    d.add_argument("--json", action="store_true")
    i = verb("inbox", "private conversations, latest first; requests from strangers apart")
    i.add_argument("--json", action="store_true")


def _who(view: ConversationView) -> str:
    return ", ".join(name or render.short(handle)
                     for handle, name in zip(view.participants, view.names, strict=True))


def _line(m: MessageView) -> str:
    who = "me" if m.mine else (m.name or render.short(m.author))
    text = "(message deleted)" if m.deleted else (m.text or "")
    mark = " (edited)" if m.edited else ""
    return f"{render.when(m.order)}  {who}: {text}{mark}  [{m.id[:8]}]"


async def _dm(args: argparse.Namespace, api: Any) -> int:
    words: list[str] = args.words
    if words and words[0] in ACTIONS:
        if len(words) != 2:
            raise UsageError(f"dm {words[0]} takes one handle or conversation id")
        return await _act(args, api, words[0], words[1])
    if args.edit is not None:
        if len(words) != 1:
            raise UsageError('dm --edit takes the message id and the new text: '
                             'dm --edit ID "text"')
        view = await api.send_message([], words[0], edit=args.edit)
    else:
        if len(words) < 2:
            raise UsageError('write: dm <handle>... "text"')
        view = await api.send_message(words[:-1], words[-1])
    if args.json:
        render.print_json(view)
    else:
        running = isinstance(api, ControlClient)  # else no node runs on this home
        print(f"sending to {_who(view)}: your node delivers it now" if running else
              f"queued for {_who(view)}: sent when your node runs (`p2psocial run`)")
    return 0


async def _act(args: argparse.Namespace, api: Any, action: str, ref: str) -> int:
    if action == "decline":
        gone = await api.decline(ref)
        if args.json:
            render.print_json({"declined": gone})
        else:
            print(f"declined: {gone} message{'s' if gone != 1 else ''} deleted here")
        return 0
    if action == "accept":
        view: ConversationView = await api.accept(ref)
    else:
        view = await api.conversation(ref, args.limit)
        await api.mark_read(ref)
    if args.json:
        render.print_json(view)
        return 0
    state = " (request: `p2psocial dm accept` to accept)" if view.state == "request" else ""
    print(f"with {_who(view)}{state}")
    for m in view.messages:
        print("  " + _line(m))
    return 0


async def _inbox(args: argparse.Namespace, api: Any) -> int:
    views: list[ConversationView] = await api.inbox()
    if args.json:
        render.print_json(views)
        return 0
    accepted = [v for v in views if v.state != "request"]
    requests = [v for v in views if v.state == "request"]
    if not views:
        print('no conversations: write with `p2psocial dm <handle> "text"`')
    for title, group in (("conversations", accepted), ("requests", requests)):
        if not group:
            continue
        print(title)
        for v in group:
            unread = f" ({v.unread} new)" if v.unread else ""
            last = "" if v.last is None else "\n      " + _line(v.last)
            print(f"  {_who(v)}{unread}  [{v.conv[:8]}]{last}")
    return 0


HANDLERS["dm"] = _dm
HANDLERS["inbox"] = _inbox
