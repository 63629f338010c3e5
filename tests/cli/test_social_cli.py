"""The social verbs on real homes: followers, following, notifications, mute, bookmarks
(issue 12). Others' entries are stored in the home as replication would store them."""

from __future__ import annotations

import asyncio

import pytest

from p2psocial.core.identity import parse_handle
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries

from .conftest import Cli

ALICE = identity_for("social-cli-alice")
BOB = identity_for("social-cli-bob")
STRANGER = identity_for("social-cli-stranger")


def receive(cli: Cli, *builders: FeedBuilder) -> None:
    """Store entries received from others in the CLI's home."""
    async def ingest() -> None:
        store = await Store.open(cli.home / "p2psocial.db", verify_processes=0)
        try:
            report = await store.ingest([r for b in builders for r in raw_entries(b.entries)])
            assert report.ok, report.error
        finally:
            await store.close()
    asyncio.run(ingest())


def bad_input(cli: Cli, *args: str) -> str:
    """Run a command that must be refused as bad input: one line, exit code 2."""
    result = cli(*args, check=False)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 2 and len(lines) == 1, (args, result.stderr)
    assert lines[0].startswith("p2psocial: "), lines[0]
    return lines[0]


@pytest.fixture
def social(cli: Cli) -> tuple[Cli, FeedBuilder, FeedBuilder]:
    """My home, where Alice (followed by me) and Bob follow me and talk to me."""
    me = parse_handle(cli("id").stdout.strip())
    mine = cli.json("post", "my first post")
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB)
    alice.about("Alice Liddell")
    alice.follow(me)
    alice.post(f"@{cli('id').stdout.strip()} spoilers: the butler did it", mentions=(me,))
    bob.about("Bob")
    bob.follow(me)
    receive(cli, alice, bob)
    cli("follow", ALICE.handle)
    assert mine["text"] == "my first post"
    return cli, alice, bob


def test_followers_and_following_show_names_and_handles(
        social: tuple[Cli, FeedBuilder, FeedBuilder]) -> None:
    cli, _, _ = social
    followers = cli.json("followers")
    assert {(f["author"], f["name"]) for f in followers} == {
        (ALICE.handle, "Alice Liddell"), (BOB.handle, "Bob")}
    assert {f["author"]: f["following"] for f in followers} == {ALICE.handle: True,
                                                                BOB.handle: False}
    text = cli("followers").stdout
    assert f"Alice Liddell  {ALICE.handle}  [you follow]" in text
    assert f"Bob  {BOB.handle}" in text
    assert [f["author"] for f in cli.json("following")] == [ALICE.handle]
    me = cli("id").stdout.strip()
    theirs = cli.json("following", "Alice Liddell")  # by name, as every verb
    assert [(f["author"], f["is_me"]) for f in theirs] == [(me, True)]
    assert cli("followers", BOB.handle).stdout.strip() == "no followers among the feeds held here"
    assert "12D3KooWnope" in bad_input(cli, "followers", "12D3KooWnope")
    assert "no one you know" in bad_input(cli, "following", "Nobody")


def test_mute_hides_a_person_and_a_word_from_feed_and_notifications(
        social: tuple[Cli, FeedBuilder, FeedBuilder]) -> None:
    cli, alice, _ = social
    alice.post("alice on the weather")
    _store_tail(cli, alice, 1)
    assert "alice on the weather" in _feed_texts(cli)
    assert {n["kind"] for n in cli.json("notifications")} == {"mention", "follow"}

    assert cli("mute", "spoilers").stdout.strip() == "muted spoilers"
    assert [n["kind"] for n in cli.json("notifications")] == ["follow", "follow"]
    assert cli("mute", "@Alice Liddell").stdout.strip() == f"muted Alice Liddell  {ALICE.handle}"
    assert "alice on the weather" not in _feed_texts(cli)
    assert [n["entry"]["author"] for n in cli.json("notifications")] == [BOB.handle]
    mutes = cli.json("mutes")
    assert [(m["kind"], m["value"], m["name"]) for m in mutes] == [
        ("account", ALICE.handle, "Alice Liddell"), ("word", "spoilers", None)]
    assert "person  Alice Liddell" in cli("mutes").stdout

    assert "already" in bad_input(cli, "mute", ALICE.handle)
    assert "empty" in bad_input(cli, "mute", "  ")
    assert "yourself" in bad_input(cli, "mute", cli("id").stdout.strip())
    assert "has ever seen" in bad_input(cli, "mute", STRANGER.handle)
    assert "no one you know" in bad_input(cli, "mute", "@Nobody")
    assert "not muted" in bad_input(cli, "unmute", "weather")

    cli("unmute", ALICE.handle)
    cli("unmute", "SPOILERS")
    assert "alice on the weather" in _feed_texts(cli)
    assert cli("mutes").stdout.strip() == "nothing muted"
    assert cli.json("mute", "--word", ALICE.handle)["kind"] == "word"


def test_bookmarks_by_prefix_listed_and_dropped(cli: Cli) -> None:
    first = cli.json("post", "keep this")
    second = cli.json("post", "and this")
    assert cli("bookmark", first["hash"][:8]).stdout.startswith(
        f"bookmarked {first['hash'][:12]}")
    cli("bookmark", second["hash"])
    assert [b["hash"] for b in cli.json("bookmarks")] in (
        [second["hash"], first["hash"]], [first["hash"], second["hash"]])
    assert "already" in bad_input(cli, "bookmark", first["hash"][:10])
    assert "no entry starts with" in bad_input(cli, "bookmark", "ffffffff0000")
    assert "hex" in bad_input(cli, "bookmark", "not-a-hash")
    assert "at least" in bad_input(cli, "bookmark", "ab")
    assert "is held here" in bad_input(cli, "bookmark", "ab" * 32)
    cli("unbookmark", first["hash"][:8])
    assert [b["text"] for b in cli.json("bookmarks")] == ["and this"]
    assert "not bookmarked" in bad_input(cli, "unbookmark", first["hash"][:8])
    cli("delete", second["hash"])
    assert [b["deleted"] for b in cli.json("bookmarks")] == [True]  # outlives the payload


def test_notifications_text_says_who_did_what(
        social: tuple[Cli, FeedBuilder, FeedBuilder]) -> None:
    cli, _, _ = social
    text = cli("notifications").stdout
    assert f"Alice Liddell ({ALICE.handle[:8]}" in text and "mentioned you" in text
    assert "    @" in text and "spoilers: the butler did it" in text
    assert text.count("followed you") == 2
    assert "1 to" in bad_input(cli, "notifications", "--limit", "0")
    assert "no node is running" in bad_input(cli, "notifications", "--follow")


def _feed_texts(cli: Cli) -> list[str]:
    return [str(e.get("text")) for e in cli.json("feed")]


def _store_tail(cli: Cli, builder: FeedBuilder, count: int) -> None:
    async def ingest() -> None:
        store = await Store.open(cli.home / "p2psocial.db", verify_processes=0)
        try:
            report = await store.ingest(raw_entries(builder.entries[-count:]))
            assert report.ok and len(report.accepted) == count, report
        finally:
            await store.close()
    asyncio.run(ingest())

