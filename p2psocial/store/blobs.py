"""Blob files: pictures and files kept whole on disk, named by id (docs/protocol.md §Blobs).

Rules:
- A whole blob is `blobs/<first 2 hex digits>/<id in hex>`, written only after every byte
  was checked against its id: to `blobs/partial/` first, fsynced, then renamed into place.
  A file at a blob's place is therefore always that blob (B5: nothing unchecked is kept).
- A download in progress is `blobs/partial/<id>.part`: the verified chunks, in order, from
  the first. `Download` resumes one: it checks again every whole chunk already there against
  the manifest, and cuts off what does not match and any partial chunk. Part files untouched
  for PART_MAX_AGE are removed by `sweep_parts` (a download nobody resumes must not stay).
- A full disk raises StorageFull, and the file being written is removed: no half-written
  blob or part is left behind.
- Manifests of whole blobs (for serving) are computed from the file when first asked for and
  kept for at most MANIFEST_CACHE blobs (behind a lock: serving asks from worker threads).
- Plain file I/O, no event loop: callers in an event loop run the slow calls (`add_file`,
  `Download.finish`) in a thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from p2psocial.core.blobs import Manifest, ManifestBuilder
from p2psocial.core.errors import BlobError, StoreError, UsageError
from p2psocial.core.limits import BLOB_CHUNK_BYTES, MAX_BLOB_BYTES
from p2psocial.store.home import os_error

PART_MAX_AGE = 7 * 86_400.0
MANIFEST_CACHE = 256
_READ = 1 << 20


def shown(path: Path | str, most: int = 80) -> str:
    """A path as a message names it: cut in the middle past `most` characters."""
    text = str(path)
    return text if len(text) <= most else f"{text[:most // 2]}…{text[-most // 2:]}"


class BlobStore:
    """The blob files of one home."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.partial = root / "partial"
        self._manifests: OrderedDict[bytes, Manifest] = OrderedDict()
        self._cache_lock = threading.Lock()  # serving computes manifests in worker threads

    def path(self, blob: bytes) -> Path:
        """Where the whole blob `blob` is (or would be)."""
        name = blob.hex()
        return self.root / name[:2] / name

    def has(self, blob: bytes) -> bool:
        return self.path(blob).is_file()

    def size_of(self, blob: bytes) -> int | None:
        try:
            return self.path(blob).stat().st_size
        except OSError:
            return None

    def manifest(self, blob: bytes) -> Manifest | None:
        """The manifest of a whole blob held here (None if it is not)."""
        with self._cache_lock:
            known = self._manifests.get(blob)
            if known is not None:
                self._manifests.move_to_end(blob)
                return known
        try:
            with open(self.path(blob), "rb") as f:
                builder = ManifestBuilder()
                while data := f.read(_READ):
                    builder.update(data)
        except OSError:
            return None
        try:
            manifest = builder.finish()
        except BlobError:
            return None
        if manifest.id != blob:  # changed under us on disk: not ours to serve
            return None
        with self._cache_lock:
            self._manifests[blob] = manifest
            if len(self._manifests) > MANIFEST_CACHE:
                self._manifests.popitem(last=False)
        return manifest

    def read_chunk(self, manifest: Manifest, index: int) -> bytes:
        """Chunk `index` of a whole blob held here.

        Raises:
            StoreError: the file is gone or shorter than the manifest says.
        """
        try:
            with open(self.path(manifest.id), "rb") as f:
                f.seek(index * BLOB_CHUNK_BYTES)
                data = f.read(manifest.chunk_length(index))
        except OSError as exc:
            raise os_error(exc, f"cannot read blob {manifest.id.hex()[:16]}") from exc
        if len(data) != manifest.chunk_length(index):
            raise StoreError(f"blob {manifest.id.hex()[:16]} is shorter than its manifest")
        return data

    def read(self, blob: bytes) -> bytes | None:
        try:
            return self.path(blob).read_bytes()
        except OSError:
            return None

    def add_file(self, source: Path) -> Manifest:
        """Store a copy of the file at `source` (at most MAX_BLOB_BYTES) and return its
        manifest.

        Raises:
            UsageError: the file cannot be read, is empty or is over the limit.
            StorageFull / StoreError: it cannot be written here.
        """
        try:
            with open(source, "rb") as f:
                data = f.read(MAX_BLOB_BYTES + 1)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise UsageError(f"cannot read {shown(source)}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from exc
        if not data:
            raise UsageError(f"{shown(source)} is empty")
        if len(data) > MAX_BLOB_BYTES:
            raise UsageError(f"{shown(source)} is over the 5 MiB a picture or file may be: "
                             "nothing was posted")
        return self.add_bytes(data)

    def add_bytes(self, data: bytes) -> Manifest:
        """Store `data` as a blob (idempotent) and return its manifest.

        Raises:
            BlobError: empty or over the limit (B1).
            StorageFull / StoreError: it cannot be written here.
        """
        builder = ManifestBuilder()
        builder.update(data)
        manifest = builder.finish()
        if not self.has(manifest.id):
            temp = self._temp_path(manifest.id)
            self._write_new(temp, data)
            self._place(temp, manifest.id)
        else:  # added again: as new as a copy just made (the unnamed-file sweep goes by age)
            with contextlib.suppress(OSError):
                os.utime(self.path(manifest.id))
        return manifest

    def remove(self, blob: bytes) -> int:
        """Delete a whole blob; the bytes freed (0 if it was not here)."""
        with self._cache_lock:
            self._manifests.pop(blob, None)
        path = self.path(blob)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise os_error(exc, f"cannot remove {path}") from exc
        return size

    def whole(self) -> Iterator[tuple[bytes, int]]:
        """Every whole blob held: (id, size)."""
        for blob, stat in self._held():
            yield blob, stat.st_size

    def whole_timed(self) -> Iterator[tuple[bytes, int, float]]:
        """Every whole blob held: (id, size, when it was stored or added again, Unix s)."""
        for blob, stat in self._held():
            yield blob, stat.st_size, stat.st_mtime

    def older_than(self, seconds: float, now: float | None = None
                   ) -> Iterator[tuple[bytes, int]]:
        """The whole blobs stored (or added again) at least `seconds` ago: (id, size)."""
        before = (time.time() if now is None else now) - seconds
        for blob, stat in self._held():
            if stat.st_mtime <= before:
                yield blob, stat.st_size

    def _held(self) -> Iterator[tuple[bytes, os.stat_result]]:
        if not self.root.is_dir():
            return
        for folder in os.scandir(self.root):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for item in os.scandir(folder.path):
                try:
                    blob = bytes.fromhex(item.name)
                    stat = item.stat()
                except (ValueError, OSError):
                    continue
                if len(blob) == 32:
                    yield blob, stat

    def usage(self) -> tuple[int, int]:
        """(number of whole blobs, bytes on disk: whole blobs and part files)."""
        count = size = 0
        for _blob, n in self.whole():
            count, size = count + 1, size + n
        if self.partial.is_dir():
            for item in os.scandir(self.partial):
                with contextlib.suppress(OSError):
                    size += item.stat().st_size
        return count, size

    def sweep_parts(self, now: float | None = None, max_age: float = PART_MAX_AGE) -> int:
        """Remove part files untouched for `max_age` seconds; how many went."""
        if not self.partial.is_dir():
            return 0
        now = time.time() if now is None else now
        gone = 0
        for item in os.scandir(self.partial):
            with contextlib.suppress(OSError):
                if now - item.stat().st_mtime > max_age:
                    os.unlink(item.path)
                    gone += 1
        return gone

    def download(self, manifest: Manifest) -> Download:
        """A download of `manifest`'s blob, resuming from what a part file holds."""
        return Download(self, manifest)

    # --- internals ------------------------------------------------------------------------

    def _temp_path(self, blob: bytes) -> Path:
        return self.partial / f"{blob.hex()}.{os.getpid()}.{time.monotonic_ns()}.tmp"

    def _write_new(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink()
            raise os_error(exc, "cannot store a blob") from exc

    def _place(self, temp: Path, blob: bytes) -> None:
        final = self.path(blob)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise os_error(exc, "cannot store a blob") from exc


class Download:
    """One blob being received: verified chunks appended in order to its part file."""

    def __init__(self, store: BlobStore, manifest: Manifest) -> None:
        self._store = store
        self.manifest = manifest
        self.path = store.partial / f"{manifest.id.hex()}.part"
        self.next = self._resume()

    @property
    def done(self) -> bool:
        return self.next >= self.manifest.chunks

    def _resume(self) -> int:
        """The first chunk not yet held: the part file's whole, matching chunks (any other
        bytes are cut off)."""
        try:
            with open(self.path, "rb") as f:
                good = 0
                while good < self.manifest.chunks:
                    chunk = f.read(self.manifest.chunk_length(good))
                    if not chunk or not self.manifest.matches(good, chunk):
                        break
                    good += 1
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise os_error(exc, f"cannot read {self.path}") from exc
        keep = sum(self.manifest.chunk_length(i) for i in range(good))
        try:
            if self.path.stat().st_size != keep:
                os.truncate(self.path, keep)
        except OSError as exc:
            raise os_error(exc, f"cannot cut {self.path}") from exc
        return good

    def write(self, index: int, chunk: bytes) -> None:
        """Append chunk `index` (verified by the caller: core.blobs.ChunkReceiver).

        Raises:
            StorageFull / StoreError: the write failed; the part file is removed.
        """
        if index != self.next:
            raise ValueError(f"chunk {index} out of order (next is {self.next})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as f:
                f.write(chunk)
        except OSError as exc:
            self.discard()
            raise os_error(exc, "cannot store a blob being fetched") from exc
        self.next += 1

    def finish(self) -> None:
        """Every chunk is in: make it a whole blob.

        Raises:
            StorageFull / StoreError: it cannot be made durable; the part file is removed.
        """
        if not self.done:
            raise ValueError(f"blob incomplete: {self.next} of {self.manifest.chunks} chunks")
        try:
            with open(self.path, "rb+") as f:
                os.fsync(f.fileno())
        except OSError as exc:
            self.discard()
            raise os_error(exc, "cannot store a blob") from exc
        self._store._place(self.path, self.manifest.id)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()

