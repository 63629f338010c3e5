"""CLI verbs about the running node: run, peers, status, connect, and a live feed."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable

from p2psocial.cli import passphrase, render
from p2psocial.core.errors import P2PSocialError, UsageError
from p2psocial.core.identity import Identity
from p2psocial.core.relay_policy import Policy
from p2psocial.runtime.config import NodeConfig, load_config
from p2psocial.runtime.control import ControlClient, NodeNotRunning
from p2psocial.runtime.local import open_local, require_identity
from p2psocial.runtime.node import Node
from p2psocial.runtime.relay_card import relay_card
from p2psocial.runtime.views import EntryView, NodeStatus, PeerView
from p2psocial.store import keyfile
from p2psocial.store.home import Home

NOISY_LOGGERS = ("libp2p", "multiaddr", "zeroconf", "async_service", "aiosqlite", "asyncio")


def configure_logging(verbose: int) -> None:
    """Log to stderr: INFO for p2psocial, WARNING for the libraries (DEBUG with -v -v)."""
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def node_config(args: argparse.Namespace, home: Home) -> NodeConfig:
    """The home's config with this run's flags applied."""
    config = load_config(home.config_file)
    return config.with_overrides(
        listen=args.listen or None,
        peers=[*config.peers, *args.peer] if args.peer else None,
        hops=args.hops,
        mdns=False if args.no_mdns else None,
        dht=False if args.no_dht else None,
        library_log_level="debug" if args.verbose > 1 else None)


async def run_node(args: argparse.Namespace, home: Home,
                   identity: Identity | None = None, *, config: NodeConfig | None = None,
                   on_start: Callable[[Node], Awaitable[None]] | None = None) -> int:
    """`p2psocial run`: run the node headless until Ctrl-C or SIGTERM (`on_start` is called
    once the node listens)."""
    doc = require_identity(home)
    if identity is None:
        identity = passphrase.unlock_interactively(doc)
    assert identity.public_key == keyfile.public_key_of(doc)
    configure_logging(args.verbose)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node = Node(home, identity, config or node_config(args, home), offline=args.offline)
    await node.start()
    try:
        addrs = await node.listen_addrs()
        sys.stderr.write(f"p2psocial node {node.handle}\n")
        for addr in addrs:
            sys.stderr.write(f"  listening on {addr}\n")
        sys.stderr.flush()
        if on_start is not None:
            await on_start(node)
        await stop.wait()
        sys.stderr.write("stopping…\n")
    finally:
        started = time.monotonic()
        await node.stop()
        logging.getLogger(__name__).info("stopped in %.2f s", time.monotonic() - started)
    return 0


async def run_relay(args: argparse.Namespace, home: Home) -> int:
    """`p2psocial relay`: run this home's node as a relay. A relay runs unattended, so a
    missing home is created with an identity whose key is not encrypted (with a warning)."""
    if not home.exists():
        from p2psocial.cli.commands import create_unattended_identity
        await create_unattended_identity(home)
    config = node_config(args, home).with_overrides(
        relay=True, relay_policy=args.policy, relay_allow=args.allow or None,
        relay_quota=args.quota)
    if config.relay_quota < 1:
        raise UsageError("--quota must be at least 1")
    policy = Policy.parse(config.relay_policy)

    async def print_card(node: Node) -> None:
        card = await relay_card(node.store, node.identity, policy, await node.listen_addrs())
        print("\n".join(card.lines()), flush=True)

    return await run_node(args, home, config=config, on_start=print_card)


async def list_relays(args: argparse.Namespace, home: Home) -> int:
    """`p2psocial relays list`: my relays, with their state if my node runs."""
    try:
        client = await ControlClient.open(home.control_socket)
    except NodeNotRunning:
        async with open_local(home, passphrase.unlock_interactively) as service:
            relays = await service.relays()
        states = [{"addr": a, "state": "node not running", "detail": ""} for a in relays]
    else:
        try:
            status: NodeStatus = await client.status()
            relays = await client.relays()
        finally:
            await client.close()
        known = {r["addr"]: r for r in status.relays}
        states = [known.get(a, {"addr": a, "state": "starting", "detail": ""})
                  for a in relays] + [r for a, r in known.items() if a not in relays]
    if args.json:
        print(json.dumps(states, indent=2))
    elif not states:
        print("no relays: add one with `p2psocial relays add <multiaddr>`")
    for r in [] if args.json else states:
        detail = f" ({r['detail']})" if r.get("detail") else ""
        print(f"{r['addr']}  {r['state']}{detail}")
    return 0


async def require_node(home: Home) -> ControlClient:
    """A connection to the running node, or a clear error saying how to start one."""
    try:
        return await ControlClient.open(home.control_socket)
    except NodeNotRunning:
        raise UsageError("no node is running on this home: start one with `p2psocial run`"
                         ) from None


async def peers(args: argparse.Namespace, home: Home) -> int:
    """`p2psocial peers`."""
    client = await require_node(home)
    try:
        found: list[PeerView] = await client.peers()
    finally:
        await client.close()
    if args.json:
        render.print_json(found)
    elif not found:
        print("no peers connected")
    else:
        for p in found:
            print(render.peer_line(p))
    return 0


async def status(args: argparse.Namespace, home: Home) -> int:
    """`p2psocial status`."""
    client = await require_node(home)
    try:
        report: NodeStatus = await client.status()
    finally:
        await client.close()
    if args.json:
        render.print_json(report)
    else:
        render.print_status(report)
    return 0


async def connect(args: argparse.Namespace, home: Home) -> int:
    """`p2psocial connect <multiaddr>`."""
    client = await require_node(home)
    try:
        peer: PeerView = await client.connect(args.addr)
    finally:
        await client.close()
    print(render.connect_line(peer))
    return 0


def node_stopped(what: str) -> NodeNotRunning:
    """How a live command (`feed --follow`, `notifications --follow`) ends when the node
    stops, at whatever step it stops."""
    return NodeNotRunning(f"the node stopped: no more {what} arrive here (start it again "
                          "with `p2psocial run`)")


async def follow_feed(args: argparse.Namespace, home: Home) -> int:
    """`p2psocial feed --follow`: print the timeline, then every new post as it arrives,
    until the node stops (which ends it with one line and a failure status)."""
    client = await require_node(home)
    lookups: ControlClient | None = None
    stopped = node_stopped("posts")
    try:
        items: list[EntryView] = await client.timeline(limit=max(1, args.limit))
        for view in reversed(items):
            _print_live(view, args.json)
        try:
            live = LiveTimeline((await client.feed()).author, await client.following(),
                                await client.blocking(), shown={e.hash for e in items})
            # a connection streaming events answers no calls: names are asked on another one
            lookups = await ControlClient.open(home.control_socket)
            names = LiveNames(lookups, {e.author: e.name for e in items if e.name})
            async for kind, data in client.events():
                if kind != "entry":
                    continue
                view = names.heard(EntryView.from_json(data))
                if live.admits(view):
                    _print_live(await names.named(view), args.json)
        except NodeNotRunning as exc:  # a call cut short as it stopped: the same news
            raise stopped from exc
        raise stopped
    finally:
        if lookups is not None:
            await lookups.close()
        await client.close()
    return 0


class LiveTimeline:
    """Which new entries belong in my timeline as they arrive, by the timeline's rule: posts
    and reposts of me and of the feeds I follow and do not block, each entry once. Who I
    follow is kept current from my own follow, unfollow, block and unblock entries, so a
    feed followed after the start (held or not yet) shows as soon as its posts arrive."""

    def __init__(self, me: str, following: list[str], blocking: list[str], *,
                 shown: set[str]) -> None:
        self.me = me
        self.following = set(following)
        self.blocking = set(blocking)
        self.shown = shown

    def admits(self, view: EntryView) -> bool:
        """True if `view` is to be printed (then it counts as shown)."""
        if view.author == self.me and view.type in _RELATIONS and view.content:
            _RELATIONS[view.type](self, str(view.content.get("feed")))
        if view.hash in self.shown or view.type not in ("post", "repost"):
            return False
        if view.author != self.me and (view.author not in self.following
                                       or view.author in self.blocking):
            return False
        self.shown.add(view.hash)
        return True


class LiveNames:
    """Authors' names for live entries, which arrive without one: from the timeline printed
    first, else asked of the node once per author; an author's `about` entry makes the name
    asked again, so a rename shows from then on."""

    def __init__(self, client: ControlClient, known: dict[str, str | None]) -> None:
        self._client = client
        self._names = known

    def heard(self, view: EntryView) -> EntryView:
        """Note an entry event (before it is printed or not)."""
        if view.type == "about":
            self._names.pop(view.author, None)
        return view

    async def named(self, view: EntryView) -> EntryView:
        """`view` with its author's name, if the author has one."""
        if view.name is not None:
            return view
        if view.author not in self._names:
            try:
                self._names[view.author] = (await self._client.feed(view.author)).name
            except P2PSocialError:
                return view
        name = self._names[view.author]
        return view if name is None else dataclasses.replace(view, name=name)


_RELATIONS: dict[str, Callable[[LiveTimeline, str], None]] = {
    "follow": lambda t, h: t.following.add(h),
    "unfollow": lambda t, h: t.following.discard(h),
    "block": lambda t, h: t.blocking.add(h),
    "unblock": lambda t, h: t.blocking.discard(h),
}


def _print_live(view: EntryView, as_json: bool) -> None:
    if as_json:
        render.print_json_line(view)
    else:
        print("\n".join(render.entry_lines(view)))
        print()
    sys.stdout.flush()
