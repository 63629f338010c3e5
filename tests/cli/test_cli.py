"""The `p2psocial` command on real homes: identity, posting, reading, verify, archives."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from p2psocial.core.identity import parse_handle
from p2psocial.testing import identity_for

from .conftest import Cli

HANDLE_PREFIX = "12D3KooW"


# --- identity -------------------------------------------------------------------------------


def test_init_creates_an_encrypted_key_with_private_modes(cli: Cli) -> None:
    key = cli.home / "key.json"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.home.stat().st_mode) == 0o700
    doc = json.loads(key.read_text())
    assert doc["kdf"] == "argon2id" and "seed" not in doc
    handle = cli("id").stdout.strip()
    assert handle.startswith(HANDLE_PREFIX)
    assert parse_handle(handle).hex() == doc["public_key"]


def test_id_needs_no_passphrase(cli: Cli) -> None:
    assert cli("id", env={"P2PSOCIAL_PASSPHRASE_FILE": "/nonexistent"}).stdout.startswith(
        HANDLE_PREFIX)


def test_init_without_passphrase_warns_and_stores_plainly(make_cli: Callable[..., Cli]) -> None:
    c = make_cli("plain", passphrase=None)
    result = c("init", "--no-passphrase", "--single-key")
    assert "warning: no passphrase" in result.stderr
    assert json.loads((c.home / "key.json").read_text())["kdf"] == "none"
    c("post", "unattended post")


def test_empty_passphrase_from_file_means_unencrypted(make_cli: Callable[..., Cli]) -> None:
    c = make_cli("empty", passphrase="")
    assert "warning" in c("init", "--single-key").stderr
    c("post", "no passphrase needed")


def test_init_twice_is_refused_and_keeps_the_key(cli: Cli) -> None:
    before = (cli.home / "key.json").read_bytes()
    line = cli.fails("init", "--single-key")
    assert "already holds the identity" in line
    assert (cli.home / "key.json").read_bytes() == before


def test_init_without_a_terminal_or_passphrase_file_explains(
        make_cli: Callable[..., Cli]) -> None:
    c = make_cli("nofile", passphrase=None)
    assert "P2PSOCIAL_PASSPHRASE_FILE" in c.fails("init", "--single-key")
    assert not (c.home / "key.json").exists()


def test_wrong_passphrase_is_one_line_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("post", "first")
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    line = cli.fails("post", "second", env={"P2PSOCIAL_PASSPHRASE_FILE": str(wrong)})
    assert line == "p2psocial: wrong passphrase"
    assert len(cli.json("log")["entries"]) == 1


def test_secret_key_is_never_printed(cli: Cli) -> None:
    doc = json.loads((cli.home / "key.json").read_text())
    outputs = [cli("id"), cli("post", "hi"), cli("log", "--json"), cli("verify")]
    for out in outputs:
        assert doc["box"] not in out.stdout + out.stderr


# --- writing and reading --------------------------------------------------------------------


def test_post_and_log_newest_first(cli: Cli) -> None:
    cli("post", "one")
    cli("post", "two #tagged")
    log = cli.json("log")
    assert [e["text"] for e in log["entries"]] == ["two #tagged", "one"]
    assert log["entries"][0]["content"]["tags"] == ["tagged"]
    assert log["feed"]["hi"] == 2 and log["feed"]["is_me"]


def test_reply_by_hash_prefix_builds_a_thread(cli: Cli) -> None:
    root = cli.json("post", "root post")
    reply = cli.json("post", "--reply", root["hash"][:10], "a reply")
    assert reply["content"]["root"] == root["hash"]
    assert reply["content"]["parent"] == root["hash"]
    deeper = cli.json("post", "--reply", reply["hash"][:10], "deeper")
    assert deeper["content"]["root"] == root["hash"]
    thread = cli.json("thread", root["hash"][:8])
    assert [e["text"] for e in thread] == ["root post", "a reply", "deeper"]
    assert "1 reply" in cli("log").stdout


def test_mentions_and_content_warning(cli: Cli) -> None:
    bob = identity_for("bob").handle
    post = cli.json("post", f"hello @{bob}", "--cw", "spoilers")
    assert post["content"]["mentions"] == [bob]
    assert post["content"]["cw"] == "spoilers"
    assert "[CW: spoilers]" in cli("log").stdout


def test_about_names_the_feed(cli: Cli) -> None:
    cli("about", "--name", "Ana", "--bio", "writes code")
    log = cli.json("log")
    assert (log["feed"]["name"], log["feed"]["bio"]) == ("Ana", "writes code")
    assert "Ana (12D3KooW" in cli("log").stdout


def test_post_from_the_editor(cli: Cli, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'written in the editor\\n' > \"$1\"\n")
    editor.chmod(0o755)
    cli("post", "--edit", env={"EDITOR": str(editor)})
    assert cli.json("log")["entries"][0]["text"] == "written in the editor"


def test_empty_editor_posts_nothing(cli: Cli, tmp_path: Path) -> None:
    editor = tmp_path / "noop.sh"
    editor.write_text("#!/bin/sh\ntrue\n")
    editor.chmod(0o755)
    assert "empty" in cli.fails("post", "--edit", env={"EDITOR": str(editor)})
    assert cli.json("log")["entries"] == []


def test_follow_fills_the_timeline_and_react_counts(cli: Cli) -> None:
    bob = identity_for("bob").handle
    assert "--unknown" in cli.fails("follow", bob)  # nothing here has seen bob
    assert "now following" in cli("follow", bob, "--unknown").stdout
    assert "already follow" in cli.fails("follow", bob)
    mine = cli.json("post", "my post")
    cli("react", mine["hash"][:8], "🎉")
    feed = cli.json("feed")
    assert feed[0]["text"] == "my post" and feed[0]["reactions"] == {"🎉": 1}
    cli("unfollow", bob)
    assert "do not follow" in cli.fails("unfollow", bob)


def test_delete_drops_content_and_verify_still_passes(cli: Cli) -> None:
    post = cli.json("post", "regrettable")
    cli("post", "fine")
    assert "deleted" in cli("delete", post["hash"][:10]).stdout
    entries = {e["hash"]: e for e in cli.json("log")["entries"]}
    assert entries[post["hash"]]["deleted"] and entries[post["hash"]]["text"] is None
    result = cli("verify")
    assert "all valid" in result.stdout
    assert "already deleted" in cli.fails("delete", post["hash"][:10])


# --- user errors: one line, non-zero, nothing lost -------------------------------------------


def test_user_errors_are_one_clear_line(cli: Cli) -> None:
    cli("post", "keep me")
    cases = {
        ("pots", "x"): "did you mean `post`",
        ("log", "12D3KooWnothandle"): "not a handle",
        ("log", "--limt", "3"): "unrecognized arguments",
        ("post", "x" * 3001): "limit is 3000",
        ("post", "   "): "empty",
        ("post", "--reply", "ffffffffff", "x"): "no entry starts with",
        ("post", "--reply", "zz", "x"): "not an entry reference",
        ("follow", cli("id").stdout.strip()): "cannot follow yourself",
        ("react", "abc", "x"): "at least 6 hex",
    }
    for args, expected in cases.items():
        assert expected in cli.fails(*args), args
    assert [e["text"] for e in cli.json("log")["entries"]] == ["keep me"]


def test_missing_home_is_explained(make_cli: Callable[..., Cli]) -> None:
    c = make_cli("absent")
    assert "run `p2psocial init`" in c.fails("log")
    assert not c.home.exists()


def test_database_that_is_not_ours_is_refused_untouched(cli: Cli) -> None:
    db = cli.home / "p2psocial.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    assert "not a p2psocial database" in cli.fails("log")
    assert db.read_bytes() == before


def test_second_process_on_the_same_home_is_refused(cli: Cli) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from p2psocial.store.home import Home, HomeLock; "
         "l = HomeLock(Home(Path(sys.argv[1]))); l.acquire(); print('held', flush=True); "
         "time.sleep(60)", str(cli.home)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        line = cli.fails("post", "while locked")
        assert f"another p2psocial process (pid {holder.pid})" in line
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    cli("post", "after the other process left")


# --- verify ---------------------------------------------------------------------------------


def test_verify_finds_tampering(cli: Cli) -> None:
    for i in range(3):
        cli("post", f"post {i}")
    db = cli.home / "p2psocial.db"
    conn = sqlite3.connect(db)
    # the header as stored (store/stored_header.py): its signature's last byte is last
    header = conn.execute("SELECT header FROM entry_rows WHERE seq = 2").fetchone()[0]
    conn.execute("UPDATE entry_rows SET header = ? WHERE seq = 2",
                 (header[:-1] + bytes([header[-1] ^ 1]),))
    conn.commit()
    conn.close()
    result = cli("verify", check=False)
    assert result.returncode == 1
    assert "PROBLEMS FOUND" in result.stdout and "H8" in result.stdout


# --- archives -------------------------------------------------------------------------------


def test_export_import_round_trip_refuses_posting_until_confirmed(
        cli: Cli, make_cli: Callable[..., Cli], tmp_path: Path) -> None:
    for i in range(5):
        cli("post", f"post {i}")
    archive = tmp_path / "backup.p2psocial"
    cli("export", str(archive))
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    restored = make_cli("restored")
    restored.home = tmp_path / "restored-home"
    result = restored("import", str(archive))
    assert "imported 5 entries" in result.stdout
    assert restored("id").stdout == cli("id").stdout
    assert [e["text"] for e in restored.json("log")["entries"]] == [
        f"post {i}" for i in reversed(range(5))]
    assert "restored from a backup" in restored.fails("post", "too soon")
    restored("post", "--force", "the backup was current")
    restored("post", "and now freely")


def test_corrupt_archive_is_refused_and_creates_nothing(cli: Cli, make_cli: Callable[..., Cli],
                                                        tmp_path: Path) -> None:
    cli("post", "x")
    archive = tmp_path / "a.p2psocial"
    cli("export", str(archive))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.p2psocial"
    bad.write_bytes(bytes(data))
    target = make_cli("target")
    assert "damaged" in target.fails("import", str(bad))
    assert not target.home.exists()
    (tmp_path / "notes.txt").write_text("hello")
    assert "not a p2psocial archive" in target.fails("import", str(tmp_path / "notes.txt"))
    assert "cannot read" in target.fails("import", str(tmp_path / "missing"))


def test_archive_of_another_identity_is_refused(cli: Cli, make_cli: Callable[..., Cli],
                                                tmp_path: Path) -> None:
    other = make_cli("other")
    other("init", "--single-key")
    archive = tmp_path / "other.p2psocial"
    other("export", str(archive))
    assert "belongs to" in cli.fails("import", str(archive))


def test_restoring_a_stale_backup_and_posting_shows_a_fork(
        cli: Cli, make_cli: Callable[..., Cli], tmp_path: Path) -> None:
    cli("post", "one")
    stale = tmp_path / "stale.p2psocial"
    cli("export", str(stale))
    cli("post", "two, only in the original")
    twin = make_cli("twin")
    twin.home = tmp_path / "twin-home"
    twin("import", str(stale))
    twin("post", "--force", "two, from the stale backup")
    diverged = tmp_path / "diverged.p2psocial"
    twin("export", str(diverged))
    line = cli.fails("import", str(diverged))
    assert "fork" in line
    log = cli.json("log")
    assert log["feed"]["forked"]
    assert "FORKED" in cli("log").stdout
    result = cli("verify", check=False)
    assert result.returncode == 1 and "FORKED (1 proof kept)" in result.stdout
    assert "forked" in cli.fails("post", "--force", "three")


def test_full_disk_is_one_line_and_loses_nothing(make_cli: Callable[..., Cli],
                                                 tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        c = make_cli("full")
        c.home = mount / "home"
        c("init", "--single-key")
        c("post", "written before the disk filled")
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (65536, 4096, 512):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)
        line = ""
        for i in range(200):
            result = c("post", f"post {i} " + "x" * 2500, check=False)
            if result.returncode != 0:
                line = result.stderr.strip()
                break
        assert "disk is full" in line, line
        filler.unlink()
        texts = [e["text"] for e in c.json("log", "--limit", "500")["entries"]]
        assert texts[-1] == "written before the disk filled"
        assert "all valid" in c("verify").stdout
        c("post", "space again")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
