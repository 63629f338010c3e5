"""`p2psocial dm` and `p2psocial inbox` on a real home (issue 12, acceptance 5 for messages):
writing queues one wrap per account in the outbox and adds no entry to my feed (D2); the
conversation shows my message, `--edit` replaces its text; every kind of bad input is one
line on stderr and exit status 2. Delivery between nodes is tests/network/
test_mail_delivery.py's.

Calls go through the command's entry point in this process (the same argv, parsing, store and
error reporting as the console script); one call goes through the real process too.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from p2psocial.cli.main import main
from p2psocial.testing import FeedBuilder, identity_for

from .conftest import Cli
from .test_social_cli import receive

ALICE = identity_for("dm-cli-alice")
BOB = identity_for("dm-cli-bob")
STRANGERS = [identity_for(f"dm-cli-stranger-{i}") for i in range(17)]


class Run:
    """`p2psocial --home H …` through main() in this process."""

    def __init__(self, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = cli.home
        monkeypatch.setenv("P2PSOCIAL_HOME", str(cli.home))
        if cli.passphrase_file is not None:
            monkeypatch.setenv("P2PSOCIAL_PASSPHRASE_FILE", str(cli.passphrase_file))

    def __call__(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(self.home), *args])
        assert "internal error" not in err.getvalue(), err.getvalue()
        assert "Traceback" not in err.getvalue(), err.getvalue()
        return code, out.getvalue(), err.getvalue()

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, (args, err)
        return json.loads(out)

    def refused(self, *args: str) -> str:
        """A command refused as bad input: one line on stderr, exit status 2."""
        code, out, err = self(*args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and not out, (args, code, out, err)
        assert lines[0].startswith("p2psocial: "), lines[0]
        return lines[0]


def db_rows(home: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{home / 'p2psocial.db'}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


@pytest.fixture
def run(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Run:
    """My home knowing Alice and Bob by name; I block Bob."""
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB)
    alice.about(name="Alice")
    bob.about(name="Bob")
    receive(cli, alice, bob)
    r = Run(cli, monkeypatch)
    assert r("block", BOB.handle)[0] == 0
    return r


def test_a_message_is_queued_shown_and_edited_and_adds_no_entry(run: Run) -> None:
    entries = db_rows(run.home, "SELECT count(*) FROM entries")[0][0]
    view = run.json("dm", "@alice", "  hi there  ")
    assert view["participants"] == [ALICE.handle] and view["names"] == ["Alice"]
    assert view["state"] == "accepted"
    [sent] = view["messages"]
    assert (sent["text"], sent["mine"]) == ("hi there", True)
    assert db_rows(run.home, "SELECT count(*) FROM entries")[0][0] == entries  # D2
    [(status,)] = db_rows(run.home, "SELECT status FROM outbox")
    assert status == "pending"
    edited = run.json("dm", "--edit", sent["id"][:10], "hello there")
    assert [(m["text"], m["edited"]) for m in edited["messages"]] == [("hello there", True)]
    shown = run.json("dm", "show", ALICE.handle)
    assert shown["conv"] == view["conv"] and shown["messages"][0]["text"] == "hello there"
    assert run.json("dm", "show", view["conv"][:8])["conv"] == view["conv"]
    [listed] = run.json("inbox")
    assert (listed["conv"], listed["last"]["text"], listed["unread"]) == (
        view["conv"], "hello there", 0)
    code, out, _ = run("inbox")
    assert code == 0 and "conversations" in out and "Alice" in out and "requests" not in out
    code, out, _ = run("dm", "@alice", "and once more")  # no node runs on this home
    assert code == 0 and out.strip() == (
        "queued for Alice: sent when your node runs (`p2psocial run`)")


def test_bad_input_is_one_line_and_exit_2(run: Run, cli: Cli) -> None:
    me = cli("id").stdout.strip()
    assert "no one you know" in run.refused("dm", "nobody-at-all", "hi")
    assert "block" in run.refused("dm", BOB.handle, "hi")
    assert "empty" in run.refused("dm", ALICE.handle, "")
    assert "empty" in run.refused("dm", ALICE.handle, "   \n ")
    assert "at most" in run.refused("dm", ALICE.handle, "x" * 3001)
    assert "at most 16" in run.refused("dm", *[s.handle for s in STRANGERS], "hi")
    assert "yourself" in run.refused("dm", me, "hi")
    assert "handle" in run.refused("dm", "hi")
    assert "no conversation" in run.refused("dm", "show", ALICE.handle)
    assert "no conversation" in run.refused("dm", "accept", "abcdef0123")
    assert "no message" in run.refused("dm", "--edit", "abcdef0123", "new text")
    assert "hex digits" in run.refused("dm", "--edit", "zz", "new text")
    assert db_rows(run.home, "SELECT count(*) FROM outbox")[0][0] == 0
    line = cli.fails("dm", BOB.handle, "hi")  # the real process: no traceback either
    assert "block" in line
