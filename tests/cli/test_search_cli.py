"""`p2psocial search` and `p2psocial tag` on real homes (issue 12, acceptance 3 and 5): people
then posts, --from by handle or name, --tag, --json, a running node's answers, and every
kind of input FTS5 cannot parse either searched literally or refused in one line (exit 2).
Others' entries are stored in the home as replication would store them.

Most calls go through the command's entry point in this process (`Run`: the same argv,
parsing, store and error reporting as the console script, without starting an interpreter
for each of some fifty calls); the output people read, and a few of the inputs, go through
the real `python -m p2psocial` process as well."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from p2psocial.cli.main import main
from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.identity import Identity
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for
from p2psocial.testing.builders import BASE_TS
from p2psocial.testing.nodes import NodeProcess

from .conftest import Cli
from .test_social_cli import bad_input, receive

ALICE = identity_for("search-cli-alice")
BOB = identity_for("search-cli-bob")
ACCOUNT = identity_for("search-cli-account")
RECOVERY = identity_for("search-cli-recovery")
PHONE = identity_for("search-cli-phone")
LAPTOP = identity_for("search-cli-laptop")


@pytest.fixture
def home(cli: Cli) -> Cli:
    """My home holding Alice's and Bob's posts and profiles, and one post of mine."""
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB)
    alice.about(name="Alice", bio="I garden in Sevilla")
    alice.post("my garden in spring", tags=("spring", "garden-life"))
    alice.post("a spoiler about the garden", cw="Café secrets")
    alice.post("c++ and don't: punctuation NEAR(the) operators AND OR NOT")
    bob.about(name="Bob")
    bob.post("garden party on saturday", tags=("spring",))
    gone = bob.post("garden secret, deleted")
    bob.delete(gone)
    receive(cli, alice, bob)
    cli("post", "my own river walk 🎉")
    return cli


class Run:
    """`p2psocial --home H …` through main() in this process."""

    def __init__(self, cli: Cli) -> None:
        self.home = cli.home

    def __call__(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(self.home), *args])
        assert "internal error" not in err.getvalue(), err.getvalue()
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


def texts(found: list[dict[str, object]]) -> list[object]:
    return [p["text"] for p in found]


def test_search_lists_matching_people_then_posts_newest_first(home: Cli) -> None:
    run = Run(home)
    found = home.json("search", "garden")
    # newest first by time (Alice's spoiler is a second newer than Bob's party; the two
    # of one second come later stored first)
    assert texts(found["posts"]) == ["a spoiler about the garden", "garden party on saturday",
                                     "my garden in spring"]
    assert [(f["author"], f["name"]) for f in found["feeds"]] == [(ALICE.handle, "Alice")]
    out = home("search", "garden").stdout
    assert out.index("people") < out.index(f"Alice  {ALICE.handle}") < out.index(
        "I garden in Sevilla") < out.index("posts") < out.index("a spoiler about the garden")
    assert "[CW: Café secrets]" in out  # rendered as `feed` renders posts
    assert texts(run.json("search", "cafe")["posts"]) == ["a spoiler about the garden"]
    assert texts(run.json("search", "gard*")["posts"])[-1] == "my garden in spring"
    assert texts(run.json("search", "garden", "--limit", "1")["posts"]) == [
        "a spoiler about the garden"]
    assert run("search", "secret")[1].strip() == "no posts match"  # deleted, gone


def test_from_takes_a_handle_or_a_name_and_tag_narrows(home: Cli) -> None:
    run = Run(home)
    by_alice = ["a spoiler about the garden", "my garden in spring"]
    assert texts(run.json("search", "garden", "--from", ALICE.handle)["posts"]) == by_alice
    assert texts(run.json("search", "garden", "--from", "@alice")["posts"]) == by_alice
    assert run.json("search", "garden", "--from", "Alice")["feeds"] == []  # posts only
    assert texts(run.json("search", "garden", "--tag", "#spring")["posts"]) == [
        "garden party on saturday", "my garden in spring"]
    assert texts(run.json("search", "--tag", "garden-life")["posts"]) == [
        "my garden in spring"]  # no words: the tag's posts
    assert texts(run.json("tag", "spring")) == ["garden party on saturday",
                                                 "my garden in spring"]
    assert texts(run.json("tag", "#Garden-Life")) == ["my garden in spring"]
    assert home("tag", "garden").stdout.strip() == "no posts tagged #garden"  # tags are whole
    assert "garden party on saturday" in home("tag", "spring").stdout
    assert run("search", "river", "--from", "Bob")[1].strip() == "no posts match (from Bob)"
    assert "no one you know is called that" in run.refused("search", "x", "--from", "Nobody")
    home("block", BOB.handle)
    assert texts(run.json("tag", "spring")) == ["my garden in spring"]  # blocked: hidden


def account_ops(*devices: Identity) -> list[Op]:
    """ACCOUNT's init and the add of each of `devices` (as `init` and `device add` make)."""
    ops = [make_op(ACCOUNT, account=ACCOUNT.public_key, op_type=OpType.INIT,
                   key=RECOVERY.public_key, timestamp=BASE_TS)]
    for i, device in enumerate(devices):
        ops.append(make_op(ACCOUNT, account=ACCOUNT.public_key, op_type=OpType.ADD,
                           key=device.public_key, timestamp=BASE_TS + 1 + i, prev=ops[-1].hash,
                           consent=consent_for(device, ACCOUNT.public_key, OpType.ADD),
                           name=device.handle[-6:]))
    return ops


def test_from_a_person_with_several_devices_finds_the_posts_of_each(home: Cli) -> None:
    phone, laptop = FeedBuilder(PHONE), FeedBuilder(LAPTOP)
    phone.about(name="Kim", bio="kayaks on weekends")
    phone.post("kayak trip from the phone")
    laptop.about(bio="kayaks on weekends, writes on weekdays")
    laptop.post("kayak photos from the laptop")

    async def store_account() -> None:
        store = await Store.open(home.home / "p2psocial.db", verify_processes=0)
        try:
            await store.accounts.add_ops(account_ops(PHONE, LAPTOP))
        finally:
            await store.close()
    asyncio.run(store_account())
    receive(home, phone, laptop)
    run = Run(home)
    both = ["kayak photos from the laptop", "kayak trip from the phone"]
    assert texts(run.json("search", "kayak", "--from", ACCOUNT.handle)["posts"]) == both
    assert texts(run.json("search", "kayak", "--from", PHONE.handle)["posts"]) == both
    found = run.json("search", "weekends")  # both devices' abouts match: one person
    assert [(f["author"], f["name"]) for f in found["feeds"]] == [(ACCOUNT.handle, "Kim")]
    home("block", ACCOUNT.handle)  # the person: none of their devices' posts show
    assert run.json("search", "kayak") == {"posts": [], "feeds": []}
    assert run.json("search", "weekends") == {"posts": [], "feeds": []}


# Each either searches literally (the texts it finds) or is refused (a part of its line).
LITERAL: list[tuple[str, list[str]]] = [
    ("AND", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("OR", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("NEAR", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("NOT", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("garden OR", []),  # OR is a word, and every word must match
    ("NOT garden", []),
    ("NEAR(the)", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("col:x", []),  # not a column filter: the words col and x
    ("text:garden", []),
    ("c++", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("don't", ["c++ and don't: punctuation NEAR(the) operators AND OR NOT"]),
    ("#spring", ["garden party on saturday", "my garden in spring"]),
    ("@alice", []),  # the word alice: no post holds it
    ("river 🎉", ["my own river walk 🎉"]),  # the emoji is not indexed, the word is
    ('"garden in"', ["my garden in spring"]),  # a phrase
]
REFUSED = [
    ('"unclosed', "unclosed quote"),
    ('my "garden in', "unclosed quote"),
    ("*", "nothing to search for"),
    ("g*", "at least 2 letters"),
    ("", "nothing to search for"),
    ("   ", "nothing to search for"),
    ("🎉🎉", "nothing to search for"),
    ("x" * 10_000, "at most 500 characters, not 10,000"),
    (" ".join(["w"] * 40), "at most 16 words"),
]


def test_input_fts5_cannot_parse_is_searched_literally_or_refused_in_one_line(
        home: Cli) -> None:
    run = Run(home)
    for query, found in LITERAL:
        assert texts(run.json("search", query)["posts"]) == found, query
    for query, why in REFUSED:
        assert why in run.refused("search", query), query
    for tag, why in (("#", "not a tag"), ("🎉", "not a tag"), ("t" * 65, "at most 64")):
        assert why in run.refused("tag", tag), tag
    assert "1 to 10,000" in run.refused("search", "garden", "--limit", "0")
    assert "1 to 10,000" in run.refused("tag", "spring", "--limit", "-1")
    # the same through the console script: one line, exit status 2, never a traceback
    for query in ('"unclosed', "x" * 10_000, "*"):
        assert bad_input(home, "search", query) == run.refused("search", query)
    assert texts(home.json("search", "c++ AND")["posts"]) == [LITERAL[0][1][0]]


def test_search_through_a_running_node(tmp_path: Path) -> None:
    with NodeProcess.create(tmp_path / "node", name="Walker") as node:
        node.start(extra=["--offline"])
        node.cli("post", "through the node: a river walk", "--tag", "walks")
        found = node.json("search", "river")
        assert texts(found["posts"]) == ["through the node: a river walk"]
        assert texts(node.json("tag", "walks")) == ["through the node: a river walk"]
        assert [f["name"] for f in node.json("search", "walker")["feeds"]] == ["Walker"]
        refused = node.cli("search", '"unclosed', check=False)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().splitlines() == [
            'p2psocial: the search has an unclosed quote: close it ("like this") to search '
            "a phrase, or leave the quotes out"]
