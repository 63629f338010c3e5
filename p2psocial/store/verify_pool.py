"""Decoding and verifying received entries in worker threads.

Rules:
- Signature checks dominate ingest cost and pynacl releases the GIL, so batches are split into
  chunks verified concurrently in a small thread pool, never on the event loop.
- The result keeps arrival order and stops at the first invalid entry: the valid prefix, the
  error, and its index in the batch.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import ValidationError

RawEntry = tuple[bytes, bytes | None]
CHUNK = 256


@dataclass(frozen=True, slots=True)
class Decoded:
    """The valid prefix of a batch and, if the batch broke off, why and where."""

    entries: list[Entry]
    error: ValidationError | None = None
    error_index: int | None = None


def decode_chunk(raw: Sequence[RawEntry]) -> Decoded:
    """Decode entries in order until the first invalid one (runs in a worker thread)."""
    out: list[Entry] = []
    for index, (header, payload) in enumerate(raw):
        try:
            out.append(decode_entry(header, payload))
        except ValidationError as exc:
            return Decoded(out, exc, index)
    return Decoded(out)


class VerifyPool:
    """A thread pool that decodes and verifies batches of raw entries."""

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or min(4, os.cpu_count() or 2)
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="p2psocial-verify")

    async def decode(self, raw: Sequence[RawEntry]) -> Decoded:
        """Decode and verify `raw`; the result stops at the first invalid entry."""
        if not raw:
            return Decoded([])
        loop = asyncio.get_running_loop()
        chunks = [raw[i:i + CHUNK] for i in range(0, len(raw), CHUNK)]
        if len(chunks) == 1:
            return await loop.run_in_executor(self._executor, decode_chunk, chunks[0])
        results = await asyncio.gather(
            *(loop.run_in_executor(self._executor, decode_chunk, c) for c in chunks))
        entries: list[Entry] = []
        for number, result in enumerate(results):
            entries.extend(result.entries)
            if result.error is not None:
                assert result.error_index is not None
                return Decoded(entries, result.error, number * CHUNK + result.error_index)
        return Decoded(entries)

    def close(self) -> None:
        """Stop the worker threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)
