"""Keeping a node within its disk: the storage budget and feeds that left (docs/architecture.md
"Storage budget"; the order is core/budget.py's).

Rules:
- A pass: feeds held but not wanted are noted with the time they were first seen so
  (store.pruning.departed); past `grace_ms` their entries leave the store. Then, with a
  budget set, while the home (database, WAL and blob files) is over it: candidates are
  gathered (every blob file; the oldest post payloads of the farthest hop first, a page at a
  time, never a nearer hop while a farther one has more) and core.budget.choose picks what
  goes; blobs are deleted, payloads dropped (headers stay). Pages freed go back to the file
  system (store.pruning.compact) when at least COMPACT_BYTES or a tenth of the file is free.
- Mine (my feed, my account's feeds) and my bookmarks are never dropped; blobs named by them
  neither.
- As a relay, each member feed keeps at most `member_blob_bytes` of pictures and files, the
  newest (by the post naming them); older ones go in every pass, budget or not, so one
  member's files cannot push everyone else's out.
- A blob file no held post names (its post was refused after the copy, deleted, or pruned
  with its feed) goes in every pass, budget or not, once ORPHAN_GRACE_SECONDS old (a file
  just copied for a post being written is not named yet): nothing stays for good unnamed.
- A blob file stored (fetched, copied, added again) less than FRESH_SECONDS ago counts as
  fresh for core.budget: it goes after everything else, so the picture a user just fetched
  to look at, or copied for a post being written, is not the next pass's first victim.
- `plan` is the same choice without doing it (what `storage` says would go).
- The keeper runs a pass every PASS_SECONDS while the node runs, on demand (`prune`), and
  with a budget set, as soon as what was stored since the last pass reaches GROWTH_SHARE of
  the budget (`grown`): the home stays within about budget × (1 + GROWTH_SHARE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p2psocial.core.budget import NO_HOP, Item, Kind, choose
from p2psocial.core.wants import Want
from p2psocial.store.blobs import BlobStore
from p2psocial.store.pruning import PAYLOAD_PAGE
from p2psocial.store.sqlite import Store

log = logging.getLogger(__name__)
PASS_SECONDS = 300.0
FIRST_PASS_SECONDS = 60.0
COMPACT_BYTES = 8 << 20
MAX_ROUNDS = 200  # pages of candidates in one pass
GROWTH_SHARE = 0.04  # a pass once this share of the budget was stored since the last
# what dropping a payload frees besides its bytes (its search postings, timeline and link
# rows), an estimate: the pass measures the disk again at its end
PAYLOAD_OVERHEAD = 100
ORPHAN_GRACE_SECONDS = 86_400.0  # an unnamed blob file this old goes in the next pass
FRESH_SECONDS = 3_600.0  # a blob file stored more recently goes last (core.budget "fresh")


@dataclass(slots=True)
class PruneReport:
    """What one pass did (or, from `plan`, would do)."""

    before: int = 0
    after: int = 0
    budget: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    payloads: int = 0
    payload_bytes: int = 0
    feeds_purged: int = 0
    entries_purged: int = 0
    compacted: bool = False
    by_hop: dict[str, int] = field(default_factory=dict)  # bytes chosen, by hop

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def disk_usage(store: Store, blobs: BlobStore) -> int:
    """Bytes the home's database (with WAL and shared memory) and blob files take."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += Path(str(store.path) + suffix).stat().st_size
    return total + blobs.usage()[1]


def _hop_name(hop: int | None) -> str:
    return "unnamed" if hop is None else "not wanted" if hop >= NO_HOP else f"hop {hop}"


class StorageKeeper:
    """Runs the budget and the grace period over one store and its blob files."""

    def __init__(self, store: Store, blobs: BlobStore, *, budget: int, grace_ms: int,
                 wants: Callable[[], Mapping[bytes, Want]],
                 mine: Callable[[], Collection[bytes]],
                 member_feeds: Callable[[], Collection[bytes]] = lambda: (),
                 member_blob_bytes: int = 0) -> None:
        self.store = store
        self.blobs = blobs
        self.budget = budget
        self.grace_ms = grace_ms
        self._wants = wants
        self._mine = mine
        self._member_feeds = member_feeds
        self.member_blob_bytes = member_blob_bytes
        self._lock = asyncio.Lock()
        self.last: PruneReport | None = None
        self._grown = 0

    def grown(self, nbytes: int) -> bool:
        """`nbytes` were just stored (entries, blobs): True when a pass is due now (the
        caller runs `prune`, unless one is running)."""
        if not self.budget:
            return False
        self._grown += nbytes
        if self._grown < self.budget * GROWTH_SHARE or self._lock.locked():
            return False
        self._grown = 0
        return True

    async def keep(self) -> None:
        """Pass after pass while the node runs."""
        await asyncio.sleep(FIRST_PASS_SECONDS)
        while True:
            try:
                await self.prune()
            except OSError as exc:
                log.warning("storage: a pass failed: %s", exc)
            await asyncio.sleep(PASS_SECONDS)

    async def prune(self, now_ms: int | None = None) -> PruneReport:
        """One pass: departed feeds past their grace, then the budget."""
        async with self._lock:
            now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
            report = PruneReport(budget=self.budget)
            report.before = await asyncio.to_thread(disk_usage, self.store, self.blobs)
            await self._purge_departed(now, report)
            await self._sweep_unnamed(report)
            if self.member_blob_bytes:
                await self._member_quotas(report)
            report.after = report.before
            for _attempt in range(3):  # the bytes a drop frees are estimates: measure again
                if not self.budget or report.after <= self.budget:
                    break
                dropped = report.blobs + report.payloads
                await self._meet_budget(report, apply=True)
                report.after = await asyncio.to_thread(disk_usage, self.store, self.blobs)
                if report.blobs + report.payloads == dropped:
                    break  # nothing more may go
            self.last = report
            if report.blobs or report.payloads or report.feeds_purged:
                log.info("storage: %d → %d bytes (budget %d): %d pictures/files, %d post "
                         "contents, %d feeds that left", report.before, report.after,
                         report.budget, report.blobs, report.payloads, report.feeds_purged)
            return report

    async def plan(self) -> PruneReport:
        """What a pass would drop for the budget now (nothing is changed)."""
        report = PruneReport(budget=self.budget)
        report.before = report.after = await asyncio.to_thread(disk_usage, self.store,
                                                               self.blobs)
        if self.budget and report.before <= self.budget:
            return report
        if self.budget:
            await self._meet_budget(report, apply=False)
        return report

    async def by_hop(self) -> dict[str, int]:
        """Bytes held per hop: entries (headers and payloads) and the blobs their posts name
        (a blob named at several hops counts at the nearest; unnamed ones apart)."""
        wanted, mine = self._wants(), set(self._mine())

        def hop_of(feed: bytes) -> int:
            want = wanted.get(feed)
            return 0 if feed in mine else NO_HOP if want is None else want.hop

        out: dict[str, int] = {}
        for feed, n in await self.store.pruning.bytes_by_feed():
            name = _hop_name(hop_of(feed))
            out[name] = out.get(name, 0) + n
        for item in await self._blob_items(hop_of, mine):
            name = _hop_name(item.hop)
            out[name] = out.get(name, 0) + item.size
        return dict(sorted(out.items()))

    async def _purge_departed(self, now: int, report: PruneReport) -> None:
        wanted, mine = self._wants(), set(self._mine())
        held = await self.store.pruning.held_feeds()
        since = await self.store.pruning.departed(held - wanted.keys() - mine, now)
        for feed, first_seen in since.items():
            if now - first_seen >= self.grace_ms:
                gone = await self.store.pruning.purge_feed(feed)  # 0: a bookmark holds it
                report.entries_purged += gone
                report.feeds_purged += gone > 0

    async def _sweep_unnamed(self, report: PruneReport) -> None:
        """Remove blob files no held post names, once ORPHAN_GRACE_SECONDS old."""
        named = {blob for blob, *_ in await self.store.pruning.attachment_links()}

        def sweep() -> list[int]:
            return [self.blobs.remove(blob) for blob, _size
                    in list(self.blobs.older_than(ORPHAN_GRACE_SECONDS)) if blob not in named]

        for size in await asyncio.to_thread(sweep):
            report.blobs += 1
            report.blob_bytes += size
            report.by_hop["unnamed"] = report.by_hop.get("unnamed", 0) + size

    async def _member_quotas(self, report: PruneReport) -> None:
        """As a relay: each member feed's pictures and files, newest first, up to
        member_blob_bytes; older ones go (unless something protected names them too)."""
        members = set(self._member_feeds())
        if not members:
            return
        mine = set(self._mine())
        named: dict[bytes, list[tuple[bytes, int]]] = defaultdict(list)  # feed: (blob, ts)
        protected: set[bytes] = set()
        for blob, author, ts, bookmarked in await self.store.pruning.attachment_links():
            if author in mine or bookmarked:
                protected.add(blob)
            elif author in members:
                named[author].append((blob, ts))
        sizes = dict(await asyncio.to_thread(lambda: list(self.blobs.whole())))
        gone: set[bytes] = set()
        for _feed, blobs in named.items():
            kept = 0
            for blob, _ts in sorted(blobs, key=lambda b: -b[1]):  # newest first
                size = sizes.get(blob)
                if size is None or blob in gone:
                    continue
                if kept + size <= self.member_blob_bytes or blob in protected:
                    kept += size
                else:  # an older, smaller one may still fit after it
                    gone.add(blob)
                    report.blobs += 1
                    report.blob_bytes += size
                    report.by_hop["over a member's quota"] = \
                        report.by_hop.get("over a member's quota", 0) + size
                    await asyncio.to_thread(self.blobs.remove, blob)

    async def _meet_budget(self, report: PruneReport, *, apply: bool) -> None:
        over = report.after - self.budget
        wanted, mine = self._wants(), set(self._mine())

        def hop_of(feed: bytes) -> int:
            want = wanted.get(feed)
            return NO_HOP if want is None else want.hop

        blob_items = await self._blob_items(hop_of, mine)
        taken: set[bytes] = set()
        places: dict[bytes, tuple[bytes, int]] = {}  # a payload's entry: (author, seq)
        groups: dict[int, list[bytes]] = defaultdict(list)
        for feed in await self.store.pruning.held_feeds():
            if feed not in mine:
                groups[hop_of(feed)].append(feed)
        hops = sorted(groups, reverse=True)
        for _round in range(MAX_ROUNDS):
            if over <= 0:
                break
            items = [b for b in blob_items if b.key not in taken]
            for hop in hops:
                page = [row for row in await self.store.pruning.post_payloads(
                    groups[hop], PAYLOAD_PAGE + len(taken))
                        if row[0] not in taken][:PAYLOAD_PAGE]
                for h, author, seq, ts, size in page:
                    places[h] = (author, seq)
                    items.append(Item(Kind.PAYLOAD, h, size + PAYLOAD_OVERHEAD, hop, ts))
                # what goes before any nearer hop: payloads gathered so far, and blobs
                # unnamed or at this hop or farther
                ahead = sum(i.size for i in items if i.kind is Kind.PAYLOAD or i.hop is None
                            or i.hop >= hop)
                if len(page) == PAYLOAD_PAGE or ahead >= over:
                    break  # a nearer hop waits until this one is spent
            chosen = choose(items, over)
            if not chosen:
                break
            freed = await self._drop(chosen, apply, report, places)
            taken |= {i.key for i in chosen}
            over -= freed
        if apply and (report.blobs or report.payloads):
            free = await self.store.pruning.free_bytes()
            worth = free >= COMPACT_BYTES or free * 10 >= report.before
            await self.store.pruning.compact(convert=worth)
            report.compacted = True

    async def _blob_items(self, hop_of: Callable[[bytes], int], mine: set[bytes]
                          ) -> list[Item]:
        names: dict[bytes, list[tuple[bytes, int, bool]]] = defaultdict(list)
        for blob, author, ts, bookmarked in await self.store.pruning.attachment_links():
            names[blob].append((author, ts, bookmarked))
        items = []
        fresh_since = time.time() - FRESH_SECONDS
        for blob, size, stored in await asyncio.to_thread(
                lambda: list(self.blobs.whole_timed())):
            named = names.get(blob, [])
            protected = any(a in mine or marked for a, _t, marked in named)
            hop = min((hop_of(a) for a, _t, _m in named), default=None)
            ts = max((t for _a, t, _m in named), default=0)
            items.append(Item(Kind.BLOB, blob, size, hop, ts, protected=protected,
                              fresh=stored > fresh_since))
        return items

    async def _drop(self, chosen: list[Item], apply: bool, report: PruneReport,
                    places: Mapping[bytes, tuple[bytes, int]]) -> int:
        freed = 0
        payload_hashes = []
        for item in chosen:
            name = _hop_name(item.hop)
            report.by_hop[name] = report.by_hop.get(name, 0) + item.size
            freed += item.size
            if item.kind is Kind.BLOB:
                report.blobs += 1
                report.blob_bytes += item.size
                if apply:
                    await asyncio.to_thread(self.blobs.remove, item.key)
            else:
                report.payloads += 1
                report.payload_bytes += item.size
                payload_hashes.append(item.key)
        if apply and payload_hashes:
            await self.store.pruning.drop_payloads([places[h] for h in payload_hashes])
        return freed
