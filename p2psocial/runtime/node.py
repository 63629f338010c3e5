"""A running node: one process owning a home, its store, its control socket and its network.

Rules:
- Start order: home lock → store → service → trio bridge → network → control socket.
  Stop order is the reverse, and the whole stop takes at most STOP_TIMEOUT seconds; the
  database is always closed cleanly, even when a step before it fails or times out.
- Everything that changes the store (my appends, received entries) is published on the event
  hub and handed to the network for live push and gossip.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from p2psocial.core.account.ops import Op
from p2psocial.core.entry import Entry
from p2psocial.core.errors import StoreError, UsageError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.control import ControlServer, EventHub
from p2psocial.runtime.local import guard_history, history_marker
from p2psocial.runtime.service import Service
from p2psocial.runtime.views import NodeStatus, PeerView, entry_view
from p2psocial.store.blobs import BlobStore
from p2psocial.store.home import Home, HomeLock
from p2psocial.store.sqlite import Store

log = logging.getLogger(__name__)
STOP_TIMEOUT = 2.0


class Network(Protocol):
    """What the node needs from its network part (p2psocial.runtime.replicator)."""

    async def stop(self) -> None: ...
    def entries_stored(self, entries: list[Entry]) -> None: ...
    def wants_changed(self) -> None: ...
    def ops_stored(self, ops: Sequence[Op]) -> None: ...
    async def peers(self) -> list[PeerView]: ...
    async def status(self) -> NodeStatus: ...
    async def connect(self, addr: str) -> PeerView: ...
    def listen_addrs(self) -> list[str]: ...


class Node:
    """A p2psocial node. Use `async with Node(...) as node:` or start()/stop()."""

    def __init__(self, home: Home, identity: Identity, config: NodeConfig, *,
                 offline: bool = False) -> None:
        self.home = home
        self.identity = identity
        self.config = config
        self.offline = offline
        self.hub = EventHub()
        self.started_at = 0
        self._lock = HomeLock(home)
        self._store: Store | None = None
        self._service: Service | None = None
        self._control: ControlServer | None = None
        self._network: Network | None = None
        self._bridge: Any = None
        self._stopped = asyncio.Event()

    @property
    def store(self) -> Store:
        assert self._store is not None, "the node is not started"
        return self._store

    @property
    def service(self) -> Service:
        assert self._service is not None, "the node is not started"
        return self._service

    @property
    def handle(self) -> str:
        return self.identity.handle

    async def start(self) -> None:
        """Start everything; on failure, undo what was started and re-raise."""
        self._lock.acquire()
        try:
            self._store = await Store.open(self.home.database)
            await guard_history(self.home, self._store, self.identity.public_key)
            await self._check_owner(self._store)
            self._service = Service(self._store, self.identity.public_key,
                                    lambda: self.identity)
            self._service.on_appended.append(self._on_appended)
            self._service.blob_store = BlobStore(self.home.blobs)
            self._service.peers = self.peers  # follow's check for feeds never seen
            self._service.on_appended.append(history_marker(self.home))
            self._service.on_ops_stored.append(self._on_ops_stored)
            if not self.offline:
                await self._start_network()
            self._control = ControlServer(self.home.control_socket,
                                          {"service": self._service, "node": self}, self.hub)
            await self._control.start()
        except BaseException:
            await self._shutdown()
            raise
        self.started_at = time.time_ns() // 1_000_000
        log.info("node %s up; control socket %s", self.handle, self.home.control_socket)

    async def _check_owner(self, store: Store) -> None:
        owner = store.owner
        if owner is None:
            await store.set_owner(self.identity.public_key)
        elif owner != self.identity.public_key:
            raise StoreError(f"the database belongs to {handle_of(owner)}")

    async def go_online(self) -> None:
        """Start the network of a node started offline (the UI starts its node offline and
        calls this once its first screen is drawn). libp2p is imported in a thread, so the
        event loop keeps running meanwhile. Does nothing if the node is online already.

        Raises:
            P2PSocialError: the network cannot start (the node stays offline).
        """
        if self._network is not None or self._store is None:
            return
        await asyncio.to_thread(importlib.import_module, "p2psocial.runtime.replicator")
        try:
            await self._start_network()
        except BaseException:
            if self._bridge is not None:
                with contextlib.suppress(Exception):
                    await self._bridge.stop()
                self._bridge = None
            raise
        self.offline = False

    async def _start_network(self) -> None:
        from p2psocial.runtime.bridge import TrioBridge
        from p2psocial.runtime.replicator import Replicator
        self._bridge = TrioBridge()
        await self._bridge.start()
        self._network = await Replicator.start(self, self._bridge)

    async def stop(self) -> None:
        """Stop everything within STOP_TIMEOUT seconds; the store is always closed."""
        try:
            await asyncio.wait_for(self._shutdown(), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("shutdown took longer than %.0f s; closing the store now",
                        STOP_TIMEOUT)
            await self._close_store()
        finally:
            self._stopped.set()

    async def _shutdown(self) -> None:
        if self._control is not None:
            await self._control.close()
            self._control = None
        if self._network is not None:
            with contextlib.suppress(Exception):
                await self._network.stop()
            self._network = None
        if self._bridge is not None:
            await self._bridge.stop()
            self._bridge = None
        await self._close_store()

    async def _close_store(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            await store.close()
        self._lock.release()

    async def wait_stopped(self) -> None:
        """Return once the node has stopped."""
        await self._stopped.wait()

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- events ---------------------------------------------------------------------------

    def _on_ops_stored(self, ops: list[Op]) -> None:
        """Account ops made here (e.g. `device add` through the control socket): out to the
        peers that want their account."""
        if self._network is not None:
            self._network.ops_stored(ops)

    def _on_appended(self, entry: Entry) -> None:
        self.entries_stored([entry], mine=True)

    def entries_stored(self, entries: list[Entry], *, mine: bool = False) -> None:
        """Tell the UI hub and the network about entries that just entered the store."""
        if self.hub.has_subscribers:  # a bulk sync need not build views nobody reads
            for entry in entries:
                self.hub.publish("entry", entry_view(entry))
        if self._network is not None:
            if mine:
                self._network.entries_stored(entries)
            if any(e.type in ("follow", "unfollow", "block", "unblock") for e in entries):
                self._network.wants_changed()

    # --- node API (served on the control socket) ------------------------------------------

    async def peers(self) -> list[PeerView]:
        """Connected peers."""
        return [] if self._network is None else await self._network.peers()

    async def status(self) -> NodeStatus:
        """Replication status of every wanted feed."""
        if self._network is None:
            return NodeStatus(handle=self.handle, listen=[], peers=0, feeds=[],
                              started_at=self.started_at,
                              asyncio_tasks=len(asyncio.all_tasks()))
        from p2psocial.net.tasks import live_tasks  # the network runs: net is imported
        status = await self._network.status()
        return dataclasses.replace(status, trio_tasks=await self._bridge.run_sync(live_tasks),
                                   asyncio_tasks=len(asyncio.all_tasks()))

    async def connect(self, addr: str) -> PeerView:
        """Dial a peer by multiaddr."""
        if self._network is None:
            raise UsageError("this node runs offline")
        return await self._network.connect(addr)

    async def listen_addrs(self) -> list[str]:
        """Where peers can reach this node."""
        return [] if self._network is None else self._network.listen_addrs()
