"""The copies handed to the system viewer do not pile up in the temporary directory: a run
sweeps away the copy directories of earlier runs once they are a day old."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from p2psocial.ui import viewer


def test_old_copy_directories_are_swept_and_new_ones_kept(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = tmp_path / f"{viewer.COPIES_PREFIX}old"
    (old / "abcd").mkdir(parents=True)
    (old / "abcd" / "river.png").write_bytes(b"x" * 1000)
    new = tmp_path / f"{viewer.COPIES_PREFIX}new"
    new.mkdir()
    unrelated = tmp_path / "someone-else"
    unrelated.mkdir()
    day_and_a_bit = 86_400 + 60
    stamp = old.stat().st_mtime - day_and_a_bit
    os.utime(old, (stamp, stamp))
    os.utime(unrelated, (stamp, stamp))
    assert viewer.sweep_copies() == 1
    assert not old.exists() and new.exists() and unrelated.exists()
    viewer.copies_dir.cache_clear()
    try:
        made = viewer.copies_dir()
        assert made.parent == tmp_path and made.name.startswith(viewer.COPIES_PREFIX)
    finally:
        viewer.copies_dir.cache_clear()
