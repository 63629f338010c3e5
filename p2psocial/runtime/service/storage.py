"""What a home takes on disk, and the storage budget (runtime/storage_keeper.py).

Rules:
- `storage` works with or without a running node: the database and blob files measured,
  bytes per hop and per feed read from the store. With a node, it also says what the
  budget would drop now (the keeper's plan), and the budget in force.
- `prune` and a budget that takes effect at once need the running node (it knows which
  feeds are wanted at which hop); offline they are one clear line. The CLI writes the budget
  to config.json itself (the node reads it at start).
"""

from __future__ import annotations

import asyncio

from p2psocial.core.errors import UsageError
from p2psocial.core.identity import handle_of
from p2psocial.runtime.service.base import ServiceCore
from p2psocial.runtime.storage_keeper import disk_usage
from p2psocial.runtime.views import StorageView

TOP_FEEDS = 10


class Storage(ServiceCore):
    """Disk use and the budget."""

    async def storage(self) -> StorageView:
        """What this home takes on disk, and what the budget would drop now."""
        if self.blob_store is None:
            raise UsageError("this home has no place for pictures and files")
        count, blob_bytes = await asyncio.to_thread(self.blob_store.usage)
        total = await asyncio.to_thread(disk_usage, self.store, self.blob_store)
        feeds = await self.store.pruning.bytes_by_feed(TOP_FEEDS)
        names = {k: p.name for k, p in (await self.store.profiles(
            [a for a, _n in feeds])).items() if p.name}
        view = StorageView(database_bytes=total - blob_bytes, blobs=count,
                           blob_bytes=blob_bytes, total_bytes=total,
                           wanted_blobs=0 if self.blobs is None else self.blobs.wanted,
                           top_feeds=[[handle_of(a), names.get(a), n] for a, n in feeds])
        if self.keeper is None:
            return view
        plan = await self.keeper.plan()
        return StorageView(**{**view.to_json(), "budget": self.keeper.budget,
                              "would_drop": plan.to_json(),
                              "by_hop": await self.keeper.by_hop()})

    async def prune(self) -> dict[str, object]:
        """Run the budget and the grace period now (a running node's keeper)."""
        if self.keeper is None:
            raise UsageError("pruning needs the running node (it knows who is at which hop): "
                             "start it with `p2psocial run`")
        report = await self.keeper.prune()
        out: dict[str, object] = report.to_json()
        return out

    async def set_storage_budget(self, budget: int) -> bool:
        """Set the budget of the running node now; False if no node runs here."""
        if budget < 0:
            raise UsageError("a storage budget cannot be negative")
        if self.keeper is None:
            return False
        self.keeper.budget = budget
        return True
