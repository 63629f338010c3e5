"""The CLI verbs: each turns parsed arguments into Service calls and prints the result."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from p2psocial.cli import (
    account_commands,
    archive_commands,
    blob_commands,
    dm_commands,
    node_commands,
    passphrase,
    render,
    search_commands,
    social_commands,
)
from p2psocial.core.errors import (
    HomeLocked,
    UsageError,
)
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.account_home import read_account
from p2psocial.runtime.control import ControlClient, NodeNotRunning
from p2psocial.runtime.local import open_local, require_identity
from p2psocial.runtime.names import IN_POST
from p2psocial.runtime.views import EntryView
from p2psocial.store import keyfile
from p2psocial.store.home import Home, HomeLock, resolve_home
from p2psocial.store.sqlite import Store

# The user API: a Service in this process, or a ControlClient to a running node. Both offer
# the methods of p2psocial.runtime.api.METHODS with the same results.
UserAPI = Any
Handler = Callable[[argparse.Namespace, UserAPI], Awaitable[int]]
_HANDLERS: dict[str, Handler] = {}


def _verb(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn
    return register


async def run(args: argparse.Namespace) -> int:
    """Run the verb named in `args`."""
    home = resolve_home(args.home)
    if args.verb == "init":
        return await _init(args, home)
    if args.verb == "id":
        return _id(args, home)
    if args.verb in account_commands.VERB_NAMES:
        return await account_commands.run(args, home)
    if args.verb == "import":
        return await archive_commands.import_(args, home)
    if args.verb == "export":
        return await archive_commands.export(args, home)
    if args.verb == "run":
        return await node_commands.run_node(args, home)
    if args.verb == "relay":
        return await node_commands.run_relay(args, home)
    if args.verb == "relays" and args.relays_verb == "list":
        return await node_commands.list_relays(args, home)
    if args.verb in ("peers", "status", "connect"):
        handler = getattr(node_commands, args.verb)
        result: int = await handler(args, home)
        return result
    if args.verb == "feed" and args.follow:
        return await node_commands.follow_feed(args, home)
    if args.verb == "notifications" and args.follow:
        return await social_commands.follow_notifications(args, home)
    async with open_api(home) as api:
        if getattr(args, "force", False):
            await api.confirm_restored()
        return await _HANDLERS[args.verb](args, api)


@asynccontextmanager
async def open_api(home: Home) -> AsyncIterator[UserAPI]:
    """The user API: in this process if no node runs, else the running node's, over its
    control socket. Both offer the same methods and return the same views."""
    async with AsyncExitStack() as stack:
        api: UserAPI
        try:
            api = await stack.enter_async_context(open_local(home, passphrase.unlock_interactively))
        except HomeLocked as locked:
            try:
                client = await ControlClient.open(home.control_socket)
            except NodeNotRunning:
                raise locked from None
            stack.push_async_callback(client.close)
            api = client
        yield api


# --- identity -------------------------------------------------------------------------------


async def _init(args: argparse.Namespace, home: Home) -> int:
    """An account by default (`--account` is accepted and changes nothing); `--single-key`:
    one key that is its own account and device, as before accounts."""
    if home.exists():
        local = read_account(home)
        existing = (local.handle if local is not None else
                    handle_of(keyfile.public_key_of(keyfile.read_doc(home.key_file))))
        raise UsageError(f"{home.root} already holds the identity {existing}; "
                         "use --home for another")
    if not args.single_key:
        return await account_commands.init_account(args, home)
    if args.name is not None:
        raise UsageError("--name names a device of an account; a single-key identity has "
                         "none (set a display name with `p2psocial about --name`)")
    secret = passphrase.ask_new(args.no_passphrase)
    identity = Identity.generate()
    await create_home(home, keyfile.seal(identity, secret), identity.public_key)
    if not secret:
        sys.stderr.write(f"warning: no passphrase: your secret key is stored unencrypted in "
                         f"{home.key_file} (readable only by you)\n")
    if args.json:
        render.print_json({"handle": identity.handle, "single_key": True,
                           "home": str(home.root)})
        return 0
    print(f"created identity {identity.handle}")
    print(f"home: {home.root}")
    return 0


def _id(args: argparse.Namespace, home: Home) -> int:
    """My public handle: the account's on a device of an account (what followers follow),
    else my key's; --device: this device's key's."""
    mine = keyfile.public_key_of(require_identity(home))
    local = None if args.device else read_account(home)
    print(handle_of(local.account if local is not None else mine))
    return 0


async def create_unattended_identity(home: Home) -> None:
    """A new identity whose key is stored unencrypted (for relays, which run unattended)."""
    identity = Identity.generate()
    await create_home(home, keyfile.seal(identity, ""), identity.public_key)
    sys.stderr.write(f"created identity {identity.handle} in {home.root} (key not encrypted: "
                     "a relay runs unattended)\n")


async def create_home(home: Home, doc: dict[str, Any], public_key: bytes) -> None:
    home.create()
    with HomeLock(home):
        store = await Store.open(home.database)
        try:
            await store.set_owner(public_key)
        finally:
            await store.close()
        keyfile.write_doc(home.key_file, doc)


# --- writing --------------------------------------------------------------------------------


def _show_entry(args: argparse.Namespace, view: EntryView) -> int:
    if getattr(args, "json", False):
        render.print_json(view)
    else:
        render.print_entries([view])
    return 0


@_verb("post")
async def _post(args: argparse.Namespace, service: UserAPI) -> int:
    text = args.text
    if args.edit:
        text = edit_text(text or "")
    elif text is None:
        if sys.stdin.isatty():
            raise UsageError("give the post text, or --edit to write it in $EDITOR")
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("the text on standard input is not UTF-8: nothing was "
                             "posted") from None
    if len(args.alt) > len(args.attach):
        raise UsageError("each --alt describes the --attach before it: there are more --alt "
                         "than --attach")
    attach = [[blob_commands.absolute(path), alt] for path, alt in
              zip(args.attach, [*args.alt, *[None] * len(args.attach)], strict=False)]
    try:
        view = await service.post(text, reply_to=args.reply, quote=args.quote, cw=args.cw,
                                  tags=args.tag, plain=args.plain, attach=attach)
    except UsageError as exc:
        if str(exc).startswith(IN_POST):  # an @name: say how to post it as typed
            raise UsageError(f"{exc}; or --plain to post @words as typed") from None
        raise
    return _show_entry(args, view)


def edit_text(initial: str) -> str:
    """Let the user write text in $VISUAL / $EDITOR; returns what they saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix="p2psocial-post-", suffix=".txt")
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(initial)
        try:
            result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        except FileNotFoundError:
            raise UsageError(f"cannot run the editor {editor!r}: set $EDITOR") from None
        if result.returncode != 0:
            raise UsageError(f"the editor exited with status {result.returncode}: "
                             "nothing was posted")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError("the editor saved text that is not UTF-8: nothing was "
                             "posted") from None
    finally:
        path.unlink(missing_ok=True)


@_verb("about")
async def _about(args: argparse.Namespace, service: UserAPI) -> int:
    return _show_entry(args, await service.set_about(args.name, args.bio))


_RELATION_DONE = {"follow": "now following", "unfollow": "no longer following",
                  "block": "blocked", "unblock": "unblocked"}


def _relation(name: str) -> Handler:
    async def handler(args: argparse.Namespace, service: UserAPI) -> int:
        options = {"unknown": True} if getattr(args, "unknown", False) else {}
        view = await getattr(service, name)(args.handle, **options)
        if args.json:
            render.print_json(view)
        else:
            print(f"{_RELATION_DONE[name]} {view.text}")
        return 0
    return handler


for _name in _RELATION_DONE:
    _HANDLERS[_name] = _relation(_name)


@_verb("react")
async def _react(args: argparse.Namespace, service: UserAPI) -> int:
    return _show_entry(args, await service.react(args.entry, args.reaction))


@_verb("unreact")
async def _unreact(args: argparse.Namespace, service: UserAPI) -> int:
    view = await service.unreact(args.entry, args.reaction)
    return _show_undone(args, view, f"your {args.reaction.strip()} reaction")


@_verb("repost")
async def _repost(args: argparse.Namespace, service: UserAPI) -> int:
    return _show_entry(args, await service.repost(args.entry))


@_verb("unrepost")
async def _unrepost(args: argparse.Namespace, service: UserAPI) -> int:
    return _show_undone(args, await service.unrepost(args.entry), "your repost")


def _show_undone(args: argparse.Namespace, view: EntryView, what: str) -> int:
    if args.json:
        render.print_json(view)
    else:
        print(f"undone: {what} of {args.entry} is deleted")
    return 0


@_verb("delete")
async def _delete(args: argparse.Namespace, service: UserAPI) -> int:
    view = await service.delete(args.entry)
    if args.json:
        render.print_json(view)
    else:
        print(f"deleted {view.text}: peers will drop its content")
    return 0


# --- reading --------------------------------------------------------------------------------


@_verb("log")
async def _log(args: argparse.Namespace, service: UserAPI) -> int:
    log = await service.log(args.handle, limit=max(1, args.limit))
    if args.json:
        render.print_json(log)
    else:
        render.print_log(log)
    return 0


@_verb("feed")
async def _feed(args: argparse.Namespace, service: UserAPI) -> int:
    items = await service.timeline(limit=max(1, args.limit))
    if args.json:
        render.print_json(items)
    elif items:
        render.print_entries(items)
    else:
        print("your timeline is empty: follow someone with `p2psocial follow <handle>`")
    return 0


@_verb("thread")
async def _thread(args: argparse.Namespace, service: UserAPI) -> int:
    entries = await service.thread(args.entry)
    if args.json:
        render.print_json(entries)
    else:
        render.print_entries(entries)
    return 0


@_verb("feeds")
async def _feeds(args: argparse.Namespace, service: UserAPI) -> int:
    feeds = await service.feeds()
    if args.json:
        render.print_json(feeds)
    else:
        for f in feeds:
            print(render.feed_line(f))
    return 0


@_verb("verify")
async def _verify(args: argparse.Namespace, service: UserAPI) -> int:
    report = await service.verify(args.handle)
    if args.json:
        render.print_json(report)
    else:
        render.print_verify(report)
    return 0 if report.ok else 1


@_verb("relays")
async def _relays(args: argparse.Namespace, service: UserAPI) -> int:
    if args.relays_verb == "add":
        relays = await service.add_relay(args.addr, args.invite)
        print(f"added; your relays are now: {', '.join(relays)}")
    else:
        relays = await service.remove_relay(args.addr)
        print(f"removed; your relays are now: {', '.join(relays) or 'none'}")
    return 0


@_verb("invite")
async def _invite(args: argparse.Namespace, service: UserAPI) -> int:
    token = await service.invite(args.uses, args.expires)
    print(token)
    if args.qr:
        import segno
        segno.make(token, error="l").terminal(compact=True)
    if not await service.relays():
        sys.stderr.write("note: you have no relays, so the invite names none: whoever uses it "
                         "finds you only on the LAN or the DHT (`p2psocial relays add …`)\n")
    return 0


_HANDLERS.update(social_commands.HANDLERS)
_HANDLERS.update(dm_commands.HANDLERS)
_HANDLERS.update(blob_commands.HANDLERS)
_HANDLERS.update(search_commands.HANDLERS)
VERBS = frozenset({*_HANDLERS, "init", "id", "import", "export", "run", "peers", "status",
                   "connect", "relay", *account_commands.VERB_NAMES})
