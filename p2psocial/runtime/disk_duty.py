"""What a running node does about pictures, files and its disk: the blob exchange (serving
and fetching, runtime/blobs.py) and the storage keeper (runtime/storage_keeper.py), fed by
the replicator (docs/protocol.md B8; docs/architecture.md "Storage budget").

Rules:
- Posts stored by a session: the attachments of those whose feed is in `eager` (the feeds
  within blobs_eager_hops, and a relay's member feeds; the replicator sets it when its wants
  change) are wanted at once, asking first the peer that gave the posts.
- What is stored (entries, and every blob fetched) is told to the keeper, which says when a
  pass is due; a pass runs as a task of the replicator, never two at once.
- The service gets the exchange and the keeper when the node starts (on-demand fetches,
  `storage`, `prune`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from p2psocial.core.content import Post
from p2psocial.core.entry import Entry
from p2psocial.core.wants import Want
from p2psocial.net import Host
from p2psocial.runtime.blobs import BlobExchange
from p2psocial.runtime.storage_keeper import StorageKeeper
from p2psocial.store.blobs import BlobStore

Spawn = Callable[[Awaitable[Any], str], object]


class DiskDuty:
    """The blob exchange and the storage keeper of one running node."""

    def __init__(self, node: Any, bridge: Any, host: Host, *,
                 wants: Callable[[], Mapping[bytes, Want]],
                 mine: Callable[[], Collection[bytes]]) -> None:
        config = node.config
        self._node = node
        self.exchange = BlobExchange(bridge, host, BlobStore(node.home.blobs))  # B3-B8
        self.eager: set[bytes] = set()  # feeds whose attachments are fetched at once
        self.member_feeds: set[bytes] = set()  # as a relay: the feeds kept for members
        self.keeper = StorageKeeper(
            node.store, self.exchange.store, budget=config.storage_budget,
            grace_ms=int(config.unfollowed_grace_days * 86_400_000), wants=wants, mine=mine,
            member_feeds=lambda: self.member_feeds,
            member_blob_bytes=config.relay_member_blob_bytes)
        self._spawn: Spawn | None = None

    def start(self, spawn: Spawn) -> None:
        self._spawn = spawn
        self.exchange.start()
        self.exchange.on_fetched = lambda _blob, size: self._grown(size)
        self._node.service.blobs = self.exchange
        self._node.service.keeper = self.keeper
        spawn(self.keeper.keep(), "storage")

    async def stop(self) -> None:
        self._spawn = None
        await self.exchange.stop()

    def entries_stored(self, entries: Sequence[Entry], peer: str) -> None:
        """A session stored `entries` it got from `peer`."""
        for entry in entries:
            content = entry.content
            if isinstance(content, Post) and content.attachments and entry.author in self.eager:
                for attachment in content.attachments:
                    self.exchange.want(attachment.blob, attachment.size, (peer,))
        self._grown(sum(len(e.header) + e.payload_size for e in entries))

    def _grown(self, nbytes: int) -> None:
        if self.keeper.grown(nbytes) and self._spawn is not None:
            self._spawn(self.keeper.prune(), "storage")
