"""Decoding and verifying received entries off the event loop.

Rules:
- Signature checks dominate ingest cost (~60 µs each, against ~12 µs for all the rest of
  decoding) and libsodium releases the GIL while it works. So a batch is decoded once without
  signature checks (Python, one worker thread), then its signatures are checked in tight loops
  on several threads. Keeping the GIL-bound and GIL-free work apart avoids the convoy effect
  where a verifier waits a whole switch interval for the GIL behind a Python-bound thread.
- Optionally (`processes` > 0) large batches are verified in worker processes instead: each
  has its own GIL, so verification never waits behind the Python work of decoding and
  storing. The workers get the raw headers and take key, message and signature apart by
  slicing (`signature_parts`), so they check signatures while this process decodes the same
  batch; the answers are combined as if decoding came first (a signature verdict counts
  only for entries that decoded). Small batches (live posts) stay on threads: a process
  round trip costs more than their verification. A batch of at most ONE_TRIP entries (a
  live post is a batch of one) is decoded and verified in one go, `decode_small`, by
  whichever thread has it: each thread round trip costs about as much as verifying a
  signature (two wake-ups), so the store runs it in its database thread, in the same round
  trip as the write, and `decode` on the decoding thread.
- The result keeps arrival order and stops at the first invalid entry: the valid prefix, the
  error, and its index in the batch.
- Worker processes leave by themselves within OWNER_CHECK_SECONDS if the node dies without
  stopping them (a SIGKILL would otherwise orphan them and Python's forkserver for good).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from p2psocial.core.entry import Entry, decode_entry, signature_parts, signed_message
from p2psocial.core.errors import SignatureError, ValidationError
from p2psocial.core.identity import verify_signature

log = logging.getLogger(__name__)
RawEntry = tuple[bytes, bytes | None]
MIN_SPLIT = 64
PROCESS_MIN = 200
ONE_TRIP = 8  # batches this small are decoded and verified in one thread round trip
OWNER_CHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Decoded:
    """The valid prefix of a batch and, if the batch broke off, why and where."""

    entries: list[Entry]
    error: ValidationError | None = None
    error_index: int | None = None


def decode_chunk(raw: Sequence[RawEntry], *, verify: bool = True) -> Decoded:
    """Decode (and by default verify) entries in order until the first invalid one."""
    out: list[Entry] = []
    for index, (header, payload) in enumerate(raw):
        try:
            out.append(decode_entry(header, payload, verify=verify))
        except ValidationError as exc:
            return Decoded(out, exc, index)
    return Decoded(out)


def first_bad_signature(entries: Sequence[Entry]) -> int | None:
    """Index of the first entry whose signature does not verify, or None."""
    for index, entry in enumerate(entries):
        if not verify_signature(entry.author, signed_message(entry.header), entry.signature):
            return index
    return None


def first_bad_header(headers: Sequence[bytes]) -> int | None:
    """Index of the first raw header whose signature does not verify, or None (runs in a
    worker process: bytes in, an index out). For a header that does not decode the verdict
    means nothing; the decoder reports that header itself."""
    for index, header in enumerate(headers):
        try:
            if not verify_signature(*signature_parts(header)):
                return index
        except (IndexError, ValueError):
            return index
    return None


class VerifyPool:
    """Worker threads that decode and verify batches of raw entries."""

    def __init__(self, threads: int | None = None, *, processes: int = 0) -> None:
        self._threads = max(1, threads or min(4, os.cpu_count() or 2))
        self._processes = processes
        self._decoder = ThreadPoolExecutor(1, thread_name_prefix="p2psocial-decode")
        self._verifiers = ThreadPoolExecutor(self._threads,
                                             thread_name_prefix="p2psocial-verify")
        self._workers: ProcessPoolExecutor | None = None

    async def decode(self, raw: Sequence[RawEntry]) -> Decoded:
        """Decode and verify `raw`; the result stops at the first invalid entry."""
        if not raw:
            return Decoded([])
        loop = asyncio.get_running_loop()
        workers = (self._worker_pool()
                   if self._processes and len(raw) >= PROCESS_MIN else None)
        if workers is not None:
            return await self._decode_with_processes(workers, raw)
        if len(raw) <= ONE_TRIP:
            return await loop.run_in_executor(self._decoder, decode_small, raw)
        decoded = await loop.run_in_executor(self._decoder, _decode_unverified, raw)
        return _cut(decoded, await self._first_bad(decoded.entries))

    async def _decode_with_processes(self, workers: ProcessPoolExecutor,
                                     raw: Sequence[RawEntry]) -> Decoded:
        """Signatures checked in the worker processes while this process decodes."""
        loop = asyncio.get_running_loop()
        size = -(-len(raw) // self._processes)
        parts = [[header for header, _ in raw[i:i + size]] for i in range(0, len(raw), size)]
        try:
            checks = asyncio.gather(
                *(loop.run_in_executor(workers, first_bad_header, p) for p in parts))
        except BrokenProcessPool:
            return await self._without_processes(raw)
        try:
            decoded = await loop.run_in_executor(self._decoder, _decode_unverified, raw)
            results = await checks
        except BrokenProcessPool:
            return await self._without_processes(raw)
        finally:
            if not checks.done():
                checks.cancel()
        for number, result in enumerate(results):
            if result is not None:
                return _cut(decoded, number * size + result)
        return decoded

    async def _without_processes(self, raw: Sequence[RawEntry]) -> Decoded:
        log.warning("a verification process died: verifying in threads from now on")
        self._processes = 0
        return await self.decode(raw)

    async def _first_bad(self, entries: list[Entry]) -> int | None:
        loop = asyncio.get_running_loop()
        if len(entries) < MIN_SPLIT * 2 or self._threads == 1:
            return await loop.run_in_executor(self._verifiers, first_bad_signature, entries)
        size = -(-len(entries) // self._threads)
        parts = [entries[i:i + size] for i in range(0, len(entries), size)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self._verifiers, first_bad_signature, p) for p in parts))
        for number, result in enumerate(results):
            if result is not None:
                return number * size + result
        return None

    def _worker_pool(self) -> ProcessPoolExecutor | None:
        if self._workers is None:
            try:
                self._workers = ProcessPoolExecutor(
                    self._processes, mp_context=multiprocessing.get_context("forkserver"),
                    initializer=_start_worker, initargs=(os.getpid(),))
            except (OSError, ValueError) as exc:
                log.warning("no verification processes (%s): verifying in threads", exc)
                self._processes = 0
        return self._workers

    async def warm_up(self) -> None:
        """Start the worker processes now, so that the first large batch does not wait for
        them. Spawning blocks, so it runs in a thread. Does nothing without processes."""
        if not self._processes:
            return
        workers = self._worker_pool()  # made here, on the loop's thread, like every use
        if workers is None:
            return
        count = self._processes
        try:
            futures = await asyncio.to_thread(lambda: [workers.submit(_ready)
                                                       for _ in range(count)])
            await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: pool shut down
            log.warning("verification processes did not start (%s): verifying in threads",
                        exc)
            self._processes = 0

    def close(self) -> None:
        """Stop the worker threads (and processes)."""
        self._decoder.shutdown(wait=True, cancel_futures=True)
        self._verifiers.shutdown(wait=True, cancel_futures=True)
        if self._workers is not None:
            self._workers.shutdown(wait=True, cancel_futures=True)


def default_processes() -> int:
    """Verification processes worth having here: one per core, none on a single core."""
    cores = os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


def _ready() -> bool:
    """A no-op run in each worker process to start it."""
    return True


def _start_worker(owner: int) -> None:
    """In a worker process: Ctrl-C is for the node, which stops the pool itself; and if the
    node dies without stopping it (SIGKILL, a crash), leave too. Python's forkserver and
    its workers would otherwise live on, orphaned, until the machine restarts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_gone, args=(owner,), daemon=True,
                     name="p2psocial-owner-watch").start()


def _exit_when_gone(owner: int) -> None:
    while True:
        time.sleep(OWNER_CHECK_SECONDS)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid now belongs to someone else's process
            os._exit(0)


def _decode_unverified(raw: Sequence[RawEntry]) -> Decoded:
    return decode_chunk(raw, verify=False)


def decode_small(raw: Sequence[RawEntry]) -> Decoded:
    """Decode, then check signatures, in the calling thread (a batch of at most ONE_TRIP):
    the same answer as `VerifyPool.decode` gives."""
    decoded = decode_chunk(raw, verify=False)
    return _cut(decoded, first_bad_signature(decoded.entries))


def _cut(decoded: Decoded, bad: int | None) -> Decoded:
    """`decoded` cut before the entry at `bad` if its signature failed (a failure at or after
    a decoding error changes nothing: that entry and the rest are out already)."""
    if bad is None or bad >= len(decoded.entries):
        return decoded
    error = SignatureError("H8", "signature does not verify under the author key",
                           expected=None, found=decoded.entries[bad].signature)
    return Decoded(decoded.entries[:bad], error, bad)
