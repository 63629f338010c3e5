"""What the UI needs from a node, and two ways to reach one.

Rules:
- The app talks to `UiBackend` only: async methods that return the runtime's view objects
  (p2psocial.runtime.views) and one async iterator of node events. Never SQL, never libp2p.
- `InProcessBackend` wraps a Node started in this process; `AttachedBackend` wraps a
  ControlClient to a node already running on the home. Both dispatch every call through the
  same table (p2psocial.runtime.api.METHODS), so they return exactly the same views.
- Events are `(kind, data)`; for kind "entry" data is an EntryView whichever the adapter.
- `home` is the home the node runs on (None if unknown): the UI signs account ops (adding a
  device) in its own process with a key of that home, as the CLI does, and stores them
  through the node (`add_account_ops`). `unlocked` hands out a key this process already
  holds unlocked (an in-process node's device key), so it is not asked for again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from p2psocial.core.identity import Identity
from p2psocial.runtime.api import METHODS
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.node import Node
from p2psocial.runtime.views import (
    EntryView,
    FeedLog,
    FeedView,
    NodeStatus,
    NotificationView,
    PeerView,
)
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.ui.backend_blobs import BlobBackend, BlobCalls
from p2psocial.ui.backend_mail import MailBackend, MailCalls
from p2psocial.ui.backend_social import SocialBackend, SocialCalls
from p2psocial.ui.backend_storage import StorageBackend, StorageCalls

Cursor = Sequence[Any] | None
CLOSE_WAIT = 2.0  # seconds to let node calls in flight finish when the app closes


class UiBackend(SocialBackend, MailBackend, BlobBackend, StorageBackend, Protocol):
    """The node as the UI sees it. Errors are p2psocial.core.errors types (UsageError, …)."""

    mode: str  # "in-process" or "attached": shown in the header
    home: Home | None  # the node's home (its keys), if known

    # reading
    async def me(self) -> FeedView: ...
    async def feed(self, handle: str) -> FeedView: ...
    async def feeds(self) -> list[FeedView]: ...
    async def find_feeds(self, text: str) -> list[FeedView]: ...
    async def timeline(self, *, limit: int = 50, before: Cursor = None) -> list[EntryView]: ...
    async def posts(self, handle: str, *, limit: int = 50,
                    before: Cursor = None) -> list[EntryView]: ...
    async def log(self, handle: str, *, limit: int = 50) -> FeedLog: ...
    async def thread(self, ref: str) -> list[EntryView]: ...
    async def entries(self, refs: Sequence[str]) -> list[EntryView]: ...
    async def notifications(self, *, limit: int = 50,
                            before: Cursor = None) -> list[NotificationView]: ...
    async def relays(self) -> list[str]: ...
    async def invite(self) -> str | None: ...
    async def following(self) -> list[str]: ...
    async def blocking(self) -> list[str]: ...
    async def account_ops(self, account: str) -> list[str]: ...
    # writing
    async def add_account_ops(self, ops: list[str]) -> list[str]: ...
    def unlocked(self, doc: dict[str, Any]) -> Identity | None: ...
    async def post(self, text: str, *, reply_to: str | None = None, quote: str | None = None,
                   cw: str | None = None, attach: Sequence[Sequence[str | None]] = ()
                   ) -> EntryView: ...
    async def set_about(self, name: str | None = None, bio: str | None = None
                        ) -> EntryView: ...
    async def react(self, ref: str, reaction: str = "❤") -> EntryView: ...
    async def unreact(self, ref: str, reaction: str = "❤") -> EntryView: ...
    async def repost(self, ref: str) -> EntryView: ...
    async def unrepost(self, ref: str) -> EntryView: ...
    async def delete(self, ref: str) -> EntryView: ...
    async def relate(self, verb: str, handle: str, *, unknown: bool = False
                     ) -> EntryView: ...
    # the node
    async def peers(self) -> list[PeerView]: ...
    async def connect(self, addr: str) -> PeerView: ...
    async def status(self) -> NodeStatus: ...
    async def listen_addrs(self) -> list[str]: ...
    async def go_online(self) -> bool: ...
    def events(self) -> AsyncIterator[tuple[str, Any]]: ...
    async def close(self) -> None: ...


RELATION_VERBS = ("follow", "unfollow", "block", "unblock")


class _Calls(SocialCalls, MailCalls, BlobCalls, StorageCalls):
    """Typed methods over one `_call(name, ...)`, shared by both adapters."""

    mode = "?"
    home: Home | None = None

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def me(self) -> FeedView:
        result: FeedView = await self._call("feed")
        return result

    async def feed(self, handle: str) -> FeedView:
        result: FeedView = await self._call("feed", handle)
        return result

    async def feeds(self) -> list[FeedView]:
        result: list[FeedView] = await self._call("feeds")
        return result

    async def find_feeds(self, text: str) -> list[FeedView]:
        result: list[FeedView] = await self._call("find_feeds", text)
        return result

    async def timeline(self, *, limit: int = 50, before: Cursor = None) -> list[EntryView]:
        result: list[EntryView] = await self._call("timeline", limit=limit,
                                                   before=_list(before))
        return result

    async def posts(self, handle: str, *, limit: int = 50,
                    before: Cursor = None) -> list[EntryView]:
        result: list[EntryView] = await self._call("posts", handle, limit=limit,
                                                   before=_list(before))
        return result

    async def log(self, handle: str, *, limit: int = 50) -> FeedLog:
        result: FeedLog = await self._call("log", handle, limit=limit)
        return result

    async def thread(self, ref: str) -> list[EntryView]:
        result: list[EntryView] = await self._call("thread", ref)
        return result

    async def entries(self, refs: Sequence[str]) -> list[EntryView]:
        if not refs:
            return []
        result: list[EntryView] = await self._call("entries", list(refs))
        return result

    async def notifications(self, *, limit: int = 50,
                            before: Cursor = None) -> list[NotificationView]:
        result: list[NotificationView] = await self._call("notifications", limit=limit,
                                                          before=_list(before))
        return result

    async def relays(self) -> list[str]:
        result: list[str] = await self._call("relays")
        return result

    async def invite(self) -> str | None:
        """A new invite token (my handle and a way to reach me), or None while the node
        cannot make one (the `invite` method is not in the API yet)."""
        if "invite" not in METHODS:
            return None
        result: str = await self._call("invite")
        return result

    async def following(self) -> list[str]:
        """Handles I follow (held or not)."""
        result: list[str] = await self._call("following")
        return result

    async def blocking(self) -> list[str]:
        """Handles I block."""
        result: list[str] = await self._call("blocking")
        return result

    async def account_ops(self, account: str) -> list[str]:
        """Every op held of the account `account` (a handle), as hex."""
        result: list[str] = await self._call("account_ops", account)
        return result

    async def add_account_ops(self, ops: list[str]) -> list[str]:
        """Store signed account ops (hex); the hashes of the new ones."""
        result: list[str] = await self._call("add_account_ops", ops)
        return result

    def unlocked(self, doc: dict[str, Any]) -> Identity | None:
        """The key of `doc` if this process holds it unlocked already."""
        return None

    async def post(self, text: str, *, reply_to: str | None = None, quote: str | None = None,
                   cw: str | None = None, attach: Sequence[Sequence[str | None]] = ()
                   ) -> EntryView:
        # attach: each [absolute path, alt text or None] (lists: they cross the control socket)
        result: EntryView = await self._call("post", text, reply_to=reply_to, quote=quote,
                                             cw=cw, attach=[list(a) for a in attach])
        return result

    async def set_about(self, name: str | None = None, bio: str | None = None
                        ) -> EntryView:
        result: EntryView = await self._call("set_about", name, bio)
        return result

    async def react(self, ref: str, reaction: str = "❤") -> EntryView:
        result: EntryView = await self._call("react", ref, reaction)
        return result

    async def unreact(self, ref: str, reaction: str = "❤") -> EntryView:
        result: EntryView = await self._call("unreact", ref, reaction)
        return result

    async def repost(self, ref: str) -> EntryView:
        result: EntryView = await self._call("repost", ref)
        return result

    async def unrepost(self, ref: str) -> EntryView:
        result: EntryView = await self._call("unrepost", ref)
        return result

    async def delete(self, ref: str) -> EntryView:
        result: EntryView = await self._call("delete", ref)
        return result

    async def relate(self, verb: str, handle: str, *, unknown: bool = False
                     ) -> EntryView:
        """follow, unfollow, block or unblock `handle` (`unknown`: follow a handle nothing
        here has seen)."""
        if verb not in RELATION_VERBS:
            raise ValueError(verb)
        options = {"unknown": True} if unknown else {}
        result: EntryView = await self._call(verb, handle, **options)
        return result

    async def peers(self) -> list[PeerView]:
        result: list[PeerView] = await self._call("peers")
        return result

    async def connect(self, addr: str) -> PeerView:
        result: PeerView = await self._call("connect", addr)
        return result

    async def status(self) -> NodeStatus:
        result: NodeStatus = await self._call("status")
        return result

    async def listen_addrs(self) -> list[str]:
        result: list[str] = await self._call("listen_addrs")
        return result


def _settle(call: asyncio.Future[Any]) -> None:
    """Mark a finished call's outcome as seen (its caller may have gone)."""
    if not call.cancelled():
        call.exception()


def _list(cursor: Cursor) -> list[Any] | None:
    return None if cursor is None else list(cursor)


class InProcessBackend(_Calls):
    """A Node running in this process. `owns_node`: stop the node on close. `online`: the
    node was started offline (to draw the first screen sooner) and `go_online` starts its
    network."""

    mode = "in-process"

    def __init__(self, node: Node, *, owns_node: bool = True, online: bool = False) -> None:
        self.node = node
        self.home = node.home
        self._owns = owns_node
        self._online = online
        self._targets: dict[str, object] = {"service": node.service, "node": node}
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._forget = self._in_flight.discard

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        # A call runs to its end even if the screen that made it goes away: a database read
        # cancelled half-way would leave its cursor open, and the store could not close.
        method = getattr(self._targets[METHODS[name].target], name)
        call = asyncio.ensure_future(method(*args, **kwargs))
        self._in_flight.add(call)
        call.add_done_callback(self._forget)
        call.add_done_callback(_settle)
        return await asyncio.shield(call)

    def unlocked(self, doc: dict[str, Any]) -> Identity | None:
        identity = self.node.identity
        return identity if keyfile.public_key_of(doc) == identity.public_key else None

    async def go_online(self) -> bool:
        """Start the node's network if it should run online; True if it was started."""
        if not self._online or not self.node.offline:
            return False
        await self.node.go_online()
        return True

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        with self.node.hub.subscription() as queue:
            while True:
                yield await queue.get()

    async def close(self) -> None:
        """Let calls in flight finish (briefly), then stop the node if it is ours."""
        pending = [c for c in self._in_flight if not c.done()]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_WAIT)
        if self._owns:
            await self.node.stop()


class AttachedBackend(_Calls):
    """A node running in another process, reached over its control socket. Calls and the
    event subscription use two connections (a subscribed connection carries only events)."""

    mode = "attached"

    def __init__(self, client: ControlClient, socket_path: Path,
                 home: Home | None = None) -> None:
        self._client = client
        self._path = socket_path
        self.home = home
        self._event_clients: list[ControlClient] = []

    @classmethod
    async def open(cls, socket_path: Path, home: Home | None = None) -> AttachedBackend:
        """Connect to the node at `socket_path` (raises NodeNotRunning); `home`: its home."""
        return cls(await ControlClient.open(socket_path), socket_path, home)

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await self._client.call(name, *args, **kwargs)

    async def go_online(self) -> bool:
        """The node runs on its own: its network is its business."""
        return False

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        client = await ControlClient.open(self._path)
        self._event_clients.append(client)
        try:
            async for kind, data in client.events():
                if kind == "entry" and isinstance(data, dict):
                    yield kind, EntryView.from_json(data)
                else:
                    yield kind, data
        finally:
            with contextlib.suppress(ValueError):
                self._event_clients.remove(client)
            await client.close()

    async def close(self) -> None:
        for client in [*self._event_clients, self._client]:
            await client.close()
