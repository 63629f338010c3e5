"""Every file the program writes in a home is private (0600), whatever the umask; files that
others may read are narrowed; a database that cannot be opened is one error, nothing more."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.core.content import Post
from p2psocial.core.errors import NotOurDatabase, StoreError
from p2psocial.runtime.config import NodeConfig
from p2psocial.store import keyfile
from p2psocial.store.home import Home, HomeLock
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for
from p2psocial.ui.launch import log_to_file
from p2psocial.ui.state import UiState

ME = identity_for("me")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most users have: files are created 0644 unless the program says otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.asyncio
async def test_the_database_and_its_wal_and_shm_are_created_private(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    store = await Store.open(home.database)
    try:
        await store.set_owner(ME.public_key)
        await store.append(ME, Post(text="private"))
        files = [home.database, *(home.database.with_name(home.database.name + s)
                                  for s in ("-wal", "-shm"))]
        assert all(p.exists() for p in files)
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_database_copied_in_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "p2psocial.db"
    store = await Store.open(path)
    await store.set_owner(ME.public_key)
    await store.close()
    os.chmod(path, 0o644)
    store = await Store.open(path)
    try:
        assert mode(path) == 0o600
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_another_programs_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    subprocess.run([sys.executable, "-c", "import sqlite3, sys; "
                    "sqlite3.connect(sys.argv[1]).execute('CREATE TABLE t(x)')", str(path)],
                   check=True)
    os.chmod(path, 0o644)
    with pytest.raises(NotOurDatabase):
        await Store.open(path)
    assert mode(path) == 0o644  # left untouched, mode included


def test_every_other_file_written_in_a_home_is_private(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    NodeConfig().save(home.config_file)
    with HomeLock(home):
        pass
    UiState(settings_path=home.ui_settings).set_muted("someone", True)
    before = logging.getLogger().handlers[:]
    try:
        log_to_file(home.log_file)
    finally:
        for handler in logging.getLogger().handlers[:]:
            logging.getLogger().removeHandler(handler)
            handler.close()
        for handler in before:
            logging.getLogger().addHandler(handler)
    written = [home.key_file, home.config_file, home.lock_file, home.ui_settings,
               home.log_file]
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}
    assert mode(home.root) == 0o700


def test_a_home_made_in_an_open_folder_narrows_it(tmp_path: Path) -> None:
    root = tmp_path / "chosen"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    Home(root).create()
    assert mode(root) == 0o700


def test_opening_narrows_copied_in_files_and_reports_an_open_folder(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    NodeConfig().save(home.config_file)
    os.chmod(home.config_file, 0o644)
    os.chmod(home.root, 0o755)
    notes = home.make_private()
    assert mode(home.config_file) == 0o600
    assert mode(home.root) == 0o755  # not ours to change once it exists: reported instead
    assert any(f"chmod 700 {home.root}" in n for n in notes)
    assert any(str(home.config_file) in n and "0644" in n for n in notes)
    assert home.make_private() == [n for n in notes if "chmod 700" in n]  # fixed once


@pytest.mark.asyncio
async def test_a_database_path_that_is_a_directory_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "p2psocial.db").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        await Store.open(tmp_path / "p2psocial.db")


def test_a_database_that_cannot_be_opened_prints_nothing_more(tmp_path: Path) -> None:
    """aiosqlite's worker thread outlived the event loop and printed a traceback."""
    loop = tmp_path / "p2psocial.db"
    loop.symlink_to(loop.name)  # a symlink to itself: SQLite cannot open it
    script = ("import asyncio, sys\nfrom pathlib import Path\n"
              "from p2psocial.core.errors import StoreError\n"
              "from p2psocial.store.sqlite import Store\n"
              "async def main():\n"
              "    try:\n"
              "        await Store.open(Path(sys.argv[1]))\n"
              "    except StoreError as exc:\n"
              "        print(exc)\n"
              "for _ in range(5):\n"  # the leak was a race: try it a few times
              "    asyncio.run(main())\n")
    result = subprocess.run([sys.executable, "-c", script, str(loop)], capture_output=True,
                            text=True, timeout=60, check=True)
    assert "cannot open" in result.stdout
    assert result.stderr == ""
