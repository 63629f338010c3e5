"""A home that is not private, and a home that lost its database, through the real command."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from .conftest import Cli


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_unencrypted_key_others_can_read_is_refused_with_the_chmod_to_run(
        make_cli: Callable[..., Cli]) -> None:
    cli = make_cli("open", passphrase=None)
    cli("init", "--no-passphrase", "--single-key")
    key = cli.home / "key.json"
    os.chmod(key, 0o644)
    line = cli.fails("post", "hello")
    assert f"chmod 600 {key}" in line and "0644" in line
    assert "chmod 600" in cli.fails("log")
    os.chmod(key, 0o600)
    cli("post", "hello")


def test_an_encrypted_key_and_config_copied_in_open_are_narrowed_with_a_warning(
        cli: Cli) -> None:
    (cli.home / "config.json").write_text("{}\n")
    os.chmod(cli.home / "config.json", 0o644)
    os.chmod(cli.home / "key.json", 0o644)
    result = cli("post", "still private")
    assert mode(cli.home / "key.json") == 0o600 and mode(cli.home / "config.json") == 0o600
    warned = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 2 and all("now 0600" in ln for ln in warned)
    assert "warning" not in cli("log").stderr  # fixed once


def test_a_home_folder_open_to_others_is_reported(cli: Cli) -> None:
    os.chmod(cli.home, 0o755)
    result = cli("log")
    assert f"run `chmod 700 {cli.home}`" in result.stderr


def test_init_in_an_existing_open_folder_makes_it_private(make_cli: Callable[..., Cli]) -> None:
    cli = make_cli("chosen")
    cli.home.mkdir()
    os.chmod(cli.home, 0o755)
    cli("init", "--single-key")
    assert mode(cli.home) == 0o700
    assert cli("log").stderr == ""


def test_a_database_path_that_is_a_directory_is_one_line(cli: Cli) -> None:
    for name in ("p2psocial.db", "p2psocial.db-wal", "p2psocial.db-shm"):
        (cli.home / name).unlink(missing_ok=True)
    (cli.home / "p2psocial.db").mkdir()
    assert "is a directory" in cli.fails("log")


def _lose_database(cli: Cli) -> None:
    for name in ("p2psocial.db", "p2psocial.db-wal", "p2psocial.db-shm"):
        (cli.home / name).unlink(missing_ok=True)


def test_a_used_key_without_its_database_refuses_to_post(cli: Cli) -> None:
    cli("post", "one")
    cli("post", "two")
    assert json.loads((cli.home / "key.json").read_text())["used"] is True
    _lose_database(cli)
    line = cli.fails("post", "would be seq 1 again")
    assert "holds none of your entries" in line and "p2psocial run" in line
    (cli.home / "p2psocial.db").write_bytes(b"")  # emptied rather than deleted: the same
    assert "holds none of your entries" in cli.fails("post", "still not")
    cli("post", "--force", "starting again on purpose")
    assert [e["seq"] for e in cli.json("log")["entries"]] == [1]


def test_a_key_from_the_previous_release_without_its_database_refuses_to_post(
        cli: Cli) -> None:
    cli("post", "one")
    key = cli.home / "key.json"
    doc = json.loads(key.read_text())
    doc.pop("used", None)  # as the previous release wrote it
    key.write_text(json.dumps(doc))
    os.chmod(key, 0o600)
    _lose_database(cli)
    assert "holds none of your entries" in cli.fails("post", "would fork")


def test_a_key_that_never_posted_needs_no_history(cli: Cli) -> None:
    _lose_database(cli)
    cli("post", "my first post")
    assert json.loads((cli.home / "key.json").read_text())["used"] is True


def test_a_home_from_the_previous_release_that_never_posted_can_post(cli: Cli) -> None:
    key = cli.home / "key.json"
    doc = json.loads(key.read_text())
    doc.pop("used", None)
    key.write_text(json.dumps(doc))
    os.chmod(key, 0o600)
    cli("post", "my first post")
    assert json.loads(key.read_text())["used"] is True
