"""Naming people from the command line: @names in posts, names for every verb taking a
handle, and following a handle nothing here has seen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries

from .conftest import Cli

ANA = identity_for("names-ana")
ANA_TOO = identity_for("names-ana-too")
BRUNO = identity_for("names-bruno")
STRANGER = identity_for("names-stranger")


def receive(cli: Cli, *builders: FeedBuilder) -> None:
    """Store entries received from others in the CLI's home (as replication would)."""
    async def ingest() -> None:
        store = await Store.open(cli.home / "p2psocial.db")
        try:
            report = await store.ingest([r for b in builders for r in raw_entries(b.entries)])
            assert report.ok, report.error
        finally:
            await store.close()
    asyncio.run(ingest())


@pytest.fixture
def known(cli: Cli) -> Cli:
    """A home that holds Ana Lopez and Bruno (and a second "Bruno")."""
    ana, bruno, bruno_too = FeedBuilder(ANA), FeedBuilder(BRUNO), FeedBuilder(ANA_TOO)
    ana.about("Ana Lopez")
    bruno.about("Bruno")
    bruno_too.about("bruno")
    receive(cli, ana, bruno, bruno_too)
    return cli


def test_an_at_name_of_someone_known_becomes_a_mention(known: Cli) -> None:
    view = known.json("post", "hi @AnaLopez, and @analopez again")
    assert view["content"]["mentions"] == [ANA.handle]
    assert view["text"] == f"hi @{ANA.handle}, and @{ANA.handle} again"


def test_an_unknown_or_ambiguous_at_name_is_refused_and_nothing_posted(known: Cli) -> None:
    line = known.fails("post", "hello @Ana")
    assert "nothing was posted" in line and "no one you know is called" in line
    assert "--plain" in line
    line = known.fails("post", "hello @bruno")
    assert BRUNO.handle in line and ANA_TOO.handle in line
    assert known.json("log")["entries"] == []
    plain = known.json("post", "meet me @home", "--plain")
    assert plain["text"] == "meet me @home" and "mentions" not in plain["content"]


def test_verbs_taking_a_handle_accept_a_known_name(known: Cli) -> None:
    assert ANA.handle in known("follow", "Ana Lopez").stdout
    assert known.json("log", "@analopez")["feed"]["author"] == ANA.handle
    assert BRUNO.handle in known.fails("block", "Bruno")
    assert "no one you know is called" in known.fails("unfollow", "Nobody")
    assert "not a handle" in known.fails("log", "12D3KooWnothandle")


def test_following_a_handle_never_seen_needs_unknown(known: Cli) -> None:
    line = known.fails("follow", STRANGER.handle)
    assert "nothing here has ever seen" in line and "--unknown" in line
    assert known.json("log")["entries"] == []
    assert "now following" in known("follow", STRANGER.handle, "--unknown").stdout
    assert "now following" in known("follow", BRUNO.handle).stdout  # a profile is held


def test_a_handle_only_mentioned_or_followed_by_others_counts_as_seen(
        make_cli: Callable[..., Cli], tmp_path: Path) -> None:
    cli = make_cli("seen")
    cli("init", "--single-key")
    bruno = FeedBuilder(BRUNO)
    bruno.post(f"hi @{ANA.handle}", mentions=(ANA.public_key,))
    bruno.follow(ANA_TOO.public_key)
    receive(cli, bruno)
    cli("follow", ANA.handle)
    cli("follow", ANA_TOO.handle)
    assert "--unknown" in cli.fails("follow", STRANGER.handle)
