"""`l` and `b` toggle: a second press takes back the reaction or the repost (real app, node,
database)."""

from __future__ import annotations

import pytest

from p2psocial.runtime.node import Node
from p2psocial.ui.app import SocialApp
from p2psocial.ui.postlist import PostList

from .conftest import SIZE, World, app_for, deliver, until


def select_post(app: SocialApp, ref: str) -> PostList:
    post_list = app.screen.query_one(PostList)
    index = next(i for i, r in enumerate(post_list.rows)
                 if r.post.hash == ref and r.entry.type == "post")
    post_list.select(index)
    return post_list


def shown(app: SocialApp, ref: str) -> list[tuple[str, int, dict[str, int]]]:
    """(entry type, reposts, reactions) of every row showing `ref`."""
    return [(r.entry.type, r.post.reposts, r.post.reactions)
            for r in app.screen.query_one(PostList).rows if r.post.hash == ref]


@pytest.mark.asyncio
async def test_l_twice_takes_the_reaction_back(node: Node, world: World) -> None:
    ref = world.alice_post.hash.hex()
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shown(app, ref), what="alice's post")
        select_post(app, ref)
        await pilot.press("l")
        await until(pilot, lambda: shown(app, ref) == [("post", 0, {"❤": 1})], what="❤ 1")
        await until(pilot, lambda: "❤" in select_post(app, ref).rows[
            select_post(app, ref).cursor].post.my_reactions, what="my ❤ noted")
        await pilot.press("l")
        await until(pilot, lambda: shown(app, ref) == [("post", 0, {})], what="❤ taken back")
    [view] = await node.service.entries([ref])
    assert view.reactions == {} and view.my_reactions == []


@pytest.mark.asyncio
async def test_b_twice_takes_the_repost_back(node: Node, world: World) -> None:
    ref = world.alice_post.hash.hex()
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shown(app, ref), what="alice's post")
        select_post(app, ref)
        await pilot.press("b")
        await until(pilot, lambda: sorted(shown(app, ref)) == [("post", 1, {}),
                                                               ("repost", 1, {})],
                    what="my repost on the timeline")
        await until(pilot, lambda: all(r.post.my_repost for r in app.screen.query_one(
            PostList).rows if r.post.hash == ref), what="my repost noted")
        select_post(app, ref)
        await pilot.press("b")
        await until(pilot, lambda: shown(app, ref) == [("post", 0, {})],
                    what="the repost taken back")
    [view] = await node.service.entries([ref])
    assert view.reposts == 0 and not view.my_repost
    assert [e.type for e in await node.service.timeline()].count("repost") == 0


@pytest.mark.asyncio
async def test_live_counts_are_per_author_and_follow_undo(node: Node, world: World) -> None:
    """Bob reacts twice with ❤ (another implementation let it stack), then takes one back,
    then reposts twice: the shown counts are the node's, once per author, never bumped."""
    ref = world.alice_post.hash.hex()
    bob = world.builders["bob"]
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shown(app, ref), what="alice's post")
        first, _second = bob.react(world.alice_post), bob.react(world.alice_post)
        await deliver(node, bob.entries[-2:])
        await until(pilot, lambda: shown(app, ref) == [("post", 0, {"❤": 1})], what="❤ 1")
        await pilot.pause(0.2)
        assert shown(app, ref) == [("post", 0, {"❤": 1})]
        bob.delete(first)
        await deliver(node, bob.entries[-1:])
        await pilot.pause(0.2)  # Bob's other ❤ still counts
        assert shown(app, ref) == [("post", 0, {"❤": 1})]
        bob.delete(_second)
        await deliver(node, bob.entries[-1:])
        await until(pilot, lambda: shown(app, ref) == [("post", 0, {})], what="❤ gone")


@pytest.mark.asyncio
async def test_l_on_a_stale_mark_does_what_the_user_meant(node: Node, world: World) -> None:
    """I reacted from the CLI while the UI showed no mark: `l` keeps the reaction (no error),
    shows my mark, and the next `l` takes it back."""
    ref = world.alice_post.hash.hex()
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shown(app, ref), what="alice's post")
        await node.service.react(ref, "❤")  # behind the UI's back
        select_post(app, ref)
        await pilot.press("l")
        await until(pilot, lambda: "❤" in select_post(app, ref).rows[
            select_post(app, ref).cursor].post.my_reactions, what="my ❤ noted")
        assert shown(app, ref) == [("post", 0, {"❤": 1})]
        assert not any(n.severity == "error" for n in app._notifications)
        await pilot.press("l")
        await until(pilot, lambda: shown(app, ref) == [("post", 0, {})], what="❤ taken back")
