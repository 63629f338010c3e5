"""store.blobs: whole blobs only after every byte checked, resumable part files, part files
that do not stay, and a full disk that leaves nothing half-written."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from p2psocial.core import limits
from p2psocial.core.blobs import manifest_of
from p2psocial.core.errors import StorageFull, UsageError
from p2psocial.store.blobs import BlobStore

CHUNK = limits.BLOB_CHUNK_BYTES
DATA = os.urandom(3 * CHUNK + 123)
M = manifest_of(DATA)


def test_a_file_is_stored_under_its_id_and_served_by_chunk(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(DATA)
    store = BlobStore(tmp_path / "blobs")
    assert store.add_file(source) == M
    assert store.has(M.id) and store.size_of(M.id) == len(DATA)
    assert store.read(M.id) == DATA
    assert store.manifest(M.id) == M
    assert b"".join(store.read_chunk(M, i) for i in range(M.chunks)) == DATA
    assert store.add_bytes(DATA) == M  # again: nothing changes
    assert list(store.whole()) == [(M.id, len(DATA))]
    assert store.usage() == (1, len(DATA))
    assert store.remove(M.id) == len(DATA) and not store.has(M.id)
    assert store.remove(M.id) == 0


@pytest.mark.parametrize("size,words", [(0, "empty"), (limits.MAX_BLOB_BYTES + 1, "5 MiB")])
def test_files_out_of_bounds_are_refused(tmp_path: Path, size: int, words: str) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x" * size)
    with pytest.raises(UsageError, match=words):
        BlobStore(tmp_path / "blobs").add_file(source)
    with pytest.raises(UsageError, match="cannot read"):
        BlobStore(tmp_path / "blobs").add_file(tmp_path / "missing")


def test_a_download_resumes_from_its_verified_chunks(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    first = store.download(M)
    assert first.next == 0
    first.write(0, DATA[:CHUNK])
    first.write(1, DATA[CHUNK:2 * CHUNK])
    with open(first.path, "ab") as f:  # a chunk cut halfway by a broken stream
        f.write(DATA[2 * CHUNK:2 * CHUNK + 100])
    again = store.download(M)
    assert again.next == 2 and first.path.stat().st_size == 2 * CHUNK
    with pytest.raises(ValueError):
        again.write(3, DATA[3 * CHUNK:])
    again.write(2, DATA[2 * CHUNK:3 * CHUNK])
    again.write(3, DATA[3 * CHUNK:])
    assert again.done and not store.has(M.id)
    again.finish()
    assert store.read(M.id) == DATA and not again.path.exists()


def test_a_part_file_with_a_bad_chunk_is_cut_there(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    store.partial.mkdir(parents=True)
    bad = bytearray(DATA[:3 * CHUNK])
    bad[CHUNK + 5] ^= 1
    (store.partial / f"{M.id.hex()}.part").write_bytes(bytes(bad))
    assert store.download(M).next == 1


def test_a_file_changed_on_disk_is_not_served(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    store.add_bytes(DATA)
    store.path(M.id).write_bytes(DATA[:-1] + b"!")
    assert store.manifest(M.id) is None


def test_old_part_files_are_swept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    d = store.download(M)
    d.write(0, DATA[:CHUNK])
    assert store.sweep_parts(max_age=3600) == 0
    old = os.stat(d.path).st_mtime - 7200
    os.utime(d.path, (old, old))
    assert store.sweep_parts(max_age=3600) == 1 and not d.path.exists()


def test_a_file_added_again_counts_as_new_for_the_unnamed_sweep(tmp_path: Path) -> None:
    """The storage keeper removes unnamed files by age: one attached again (a new post
    about to name it) must not look a day old."""
    blobs = BlobStore(tmp_path / "blobs")
    blob = blobs.add_bytes(b"picture" * 100).id
    os.utime(blobs.path(blob), (1_000_000_000, 1_000_000_000))
    assert [b for b, _ in blobs.older_than(86_400)] == [blob]
    blobs.add_bytes(b"picture" * 100)
    assert list(blobs.older_than(60)) == []
    assert [b for b, _ in blobs.older_than(0, now=time.time() + 1)] == [blob]  # only it


def test_a_full_disk_leaves_no_half_written_blob(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(mount)],
                   check=True)
    try:
        store = BlobStore(mount / "blobs")
        with pytest.raises(StorageFull, match="disk is full"):
            store.add_bytes(DATA)
        assert not store.has(M.id) and list(store.partial.iterdir()) == []
        d = store.download(M)
        with pytest.raises(StorageFull):
            for i in range(M.chunks):
                d.write(i, DATA[i * CHUNK:(i + 1) * CHUNK])
        assert not d.path.exists() and not store.has(M.id)
        small = manifest_of(b"fits")
        assert store.add_bytes(b"fits") == small and store.read(small.id) == b"fits"
    finally:
        subprocess.run(["umount", str(mount)], check=True)
