"""Verification and archives: re-verifying the store, exporting my log, importing one.

Rules:
- An imported archive holds one feed; its entries are verified like any received entry. Of
  my own feed, the home is then in the restored state (see base). Of another device of my
  account (`of_device`, checked by the caller: cli.archive_commands), they are stored as
  that device's feed and my own key and feed are untouched: a backup never makes a second
  copy of a device key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from p2psocial.core.archive import Archive
from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import UsageError, ValidationError
from p2psocial.core.feed import FeedState, Placement, place
from p2psocial.core.identity import handle_of
from p2psocial.runtime.service.base import RESTORED_KEY, ServiceCore
from p2psocial.runtime.views import FeedCheck, VerifyReport


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an archive import stored."""

    handle: str
    stored: int
    duplicates: int


class ArchiveService(ServiceCore):
    """Verifying the store; exporting and importing my log."""

    async def verify(self, handle: str | None = None) -> VerifyReport:
        """Re-verify every stored entry (signatures, payload hashes, chain links)."""
        only = None if handle is None else await self.key_of(handle)
        states = await self.store.feed_states(None if only is None else [only])
        checks: dict[bytes, _FeedChecker] = {}
        async for chunk in self.store.iter_raw(only):
            raw = [(h, p) for h, p, _ in chunk]
            offset = 0
            while offset < len(raw):
                decoded = await self.store.verify_pool.decode(raw[offset:])
                for entry in decoded.entries:
                    checks.setdefault(entry.author, _FeedChecker(entry.author)).add(entry)
                if decoded.error is None:
                    break
                assert decoded.error_index is not None
                bad = offset + decoded.error_index
                author = _author_of(raw[bad][0])
                checks.setdefault(author, _FeedChecker(author)).problems.append(
                    f"entry {bad + 1} of this chunk: {decoded.error}")
                offset = bad + 1
            await asyncio.sleep(0)
        results = []
        for key, state in states.items():
            checker = checks.pop(key, _FeedChecker(key))
            proofs = await self.store.forks(key)
            results.append(checker.finish(state, len(proofs)))
        for key, checker in checks.items():
            results.append(checker.finish(FeedState(key), 0))
        return VerifyReport(feeds=results)

    async def export_entries(self) -> list[tuple[bytes, bytes | None]]:
        """My own log, oldest first, as (header, payload)."""
        out: list[tuple[bytes, bytes | None]] = []
        async for chunk in self.store.iter_raw(self.public_key):
            out.extend((h, p) for h, p, _ in chunk)
        return out

    async def export_entries_hex(self) -> list[list[str | None]]:
        """My own log as hex pairs (for an export made through a running node)."""
        return [[h.hex(), None if p is None else p.hex()] for h, p in await self.export_entries()]

    async def import_archive(self, archive: Archive, *,
                             of_device: bytes | None = None) -> ImportResult:
        """Store the entries of an archive of my own log, or with `of_device` of that other
        device of my account (verified like any received entry).

        Raises:
            UsageError: the archive holds entries of another feed, or invalid entries.
        """
        author = self.public_key if of_device is None else of_device
        entries = sorted(archive.entries, key=lambda hp: _seq_of(hp[0]), reverse=True)
        for header, _ in entries:
            peeked = _peek(header)
            if peeked is not None and peeked.author != author:
                raise UsageError("the archive holds entries of another feed")
        stored = duplicates = 0
        for i in range(0, len(entries), 1000):
            report = await self.store.ingest(entries[i:i + 1000])
            stored += len(report.accepted)
            duplicates += report.duplicates
            if report.error is not None or report.forks:
                problem = report.error or "it conflicts with entries already here (a fork)"
                raise UsageError(f"the archive holds an invalid entry: {problem}; "
                                 f"{stored} entries were stored before it")
        if of_device is None:
            await self.store.set_meta(RESTORED_KEY, b"1")
        return ImportResult(handle=handle_of(author), stored=stored, duplicates=duplicates)


class _FeedChecker:
    """Walks one feed's entries in seq order and records every chain problem."""

    def __init__(self, author: bytes) -> None:
        self.author = author
        self.state = FeedState(author)
        self.checked = 0
        self.problems: list[str] = []

    def add(self, entry: Entry) -> None:
        self.checked += 1
        try:
            self.state, placed = place(self.state, entry, None)
        except ValidationError as exc:
            self.problems.append(f"seq {entry.seq}: {exc}")
            return
        if placed is Placement.GAP:
            self.problems.append(f"seq {entry.seq}: not linked to seq {self.state.hi}")

    def finish(self, stored: FeedState, fork_proofs: int) -> FeedCheck:
        s = self.state
        if (s.lo, s.hi, s.hi_hash) != (stored.lo, stored.hi, stored.hi_hash):
            self.problems.append(f"the feed record says seq {stored.lo}..{stored.hi} but the "
                                 f"entries chain {s.lo}..{s.hi}")
        return FeedCheck(author=handle_of(self.author), checked=self.checked,
                         problems=self.problems, forked=stored.forked,
                         fork_proofs=fork_proofs)


def _peek(header: bytes) -> Entry | None:
    """The header's fields without checking its signature, or None if it does not decode
    (the ingest that follows reports why)."""
    try:
        return decode_entry(header, None, verify=False)
    except ValidationError:
        return None


def _author_of(header: bytes) -> bytes:
    peeked = _peek(header)
    return b"" if peeked is None else peeked.author


def _seq_of(header: bytes) -> int:
    peeked = _peek(header)
    return 0 if peeked is None else peeked.seq
