"""Reactions and reposts from the command line: given once, undone with unreact / unrepost."""

from __future__ import annotations

from .conftest import Cli


def test_a_reaction_is_given_once_and_unreact_undoes_it(cli: Cli) -> None:
    post = cli.json("post", "react to me")
    ref = post["hash"][:10]
    cli("react", ref)
    assert "already reacted ❤" in cli.fails("react", ref)
    cli("react", ref, "🔥")
    [shown] = cli.json("feed")
    assert shown["reactions"] == {"❤": 1, "🔥": 1}
    assert shown["my_reactions"] == ["❤", "🔥"]
    cli("unreact", ref)
    [shown] = cli.json("feed")
    assert shown["reactions"] == {"🔥": 1} and shown["my_reactions"] == ["🔥"]
    assert "have not reacted ❤" in cli.fails("unreact", ref)
    assert "all valid" in cli("verify").stdout


def test_a_repost_is_made_once_and_unrepost_takes_it_off_the_timeline(cli: Cli) -> None:
    post = cli.json("post", "share me")
    ref = post["hash"][:10]
    cli("repost", ref)
    assert "already reposted" in cli.fails("repost", ref)
    feed = cli.json("feed")
    assert [e["type"] for e in feed] == ["repost", "post"]
    assert feed[1]["reposts"] == 1 and feed[1]["my_repost"]
    assert "undone" in cli("unrepost", ref).stdout
    [shown] = cli.json("feed")
    assert shown["type"] == "post" and shown["reposts"] == 0 and not shown["my_repost"]
    assert "have not reposted" in cli.fails("unrepost", ref)
