"""Service reads added for the UI, in process and over the control socket (same views)."""

from __future__ import annotations

import pytest

from p2psocial.core.errors import UsageError
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.node import Node
from p2psocial.runtime.views import NotificationView

from .conftest import ALICE, BOB, CAROL, ME, World


@pytest.mark.asyncio
async def test_posts_are_one_feeds_timeline_with_cursors(node: Node) -> None:
    service = node.service
    posts = await service.posts(ALICE.handle, limit=2)
    assert [p.author for p in posts] == [ALICE.handle] * 2
    rest = await service.posts(ALICE.handle, before=posts[-1].cursor)
    assert len(posts) + len(rest) == 3  # alice's two posts and her reply
    assert all(p.type == "post" for p in posts + rest)
    assert [p.hash for p in await service.posts(limit=5)] == [
        p.hash for p in await service.posts(ME.handle, limit=5)]


@pytest.mark.asyncio
async def test_entries_by_reference_keep_order_and_skip_unknown(node: Node,
                                                                world: World) -> None:
    refs = [world.bob_post.hash.hex(), "ff" * 32, "not hex", world.alice_post.hash.hex()]
    views = await node.service.entries(refs)
    assert [v.hash for v in views] == [refs[0], refs[3]]
    assert views[1].name == "Alice" and views[1].replies == 1


@pytest.mark.asyncio
async def test_notifications_carry_my_target_entry(node: Node, world: World) -> None:
    items = await node.service.notifications()
    by_kind = {n.kind: n for n in items}
    assert set(by_kind) == {"mention", "react", "follow"}
    react = by_kind["react"]
    assert react.target is not None and react.target.hash == world.my_post.hash.hex()
    assert react.entry.author == BOB.handle and react.entry.text == "👍"


@pytest.mark.asyncio
async def test_find_feeds_by_name_with_relation(node: Node) -> None:
    found = await node.service.find_feeds("ALI")
    assert [(f.author, f.following) for f in found] == [(ALICE.handle, True)]
    carol = await node.service.find_feeds("car")
    assert [(f.author, f.following) for f in carol] == [(CAROL.handle, False)]
    assert await node.service.find_feeds("  ") == []
    assert await node.service.find_feeds("100%_") == []


@pytest.mark.asyncio
async def test_relays_default_to_mine(node: Node) -> None:
    assert await node.service.relays() == []
    assert await node.service.relays(ALICE.handle) == []


@pytest.mark.asyncio
async def test_the_new_reads_cross_the_socket_unchanged(node: Node, world: World) -> None:
    client = await ControlClient.open(node.home.control_socket)
    try:
        remote = await client.notifications()
        assert all(isinstance(n, NotificationView) for n in remote)
        assert remote == await node.service.notifications()
        assert await client.posts(ALICE.handle) == await node.service.posts(ALICE.handle)
        refs = [world.alice_post.hash.hex()]
        assert await client.entries(refs) == await node.service.entries(refs)
        assert await client.find_feeds("bob") == await node.service.find_feeds("bob")
        assert await client.relays() == []
        assert await client.following() == await node.service.following()
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_following_includes_feeds_not_held_yet(node: Node) -> None:
    from p2psocial.testing import identity_for
    stranger = identity_for("never-seen")
    await node.service.follow(stranger.handle, unknown=True)
    await node.service.block(CAROL.handle)
    assert await node.service.following() == sorted([ALICE.handle, BOB.handle,
                                                     stranger.handle])
    assert await node.service.following(BOB.handle) == [ME.handle]
    assert await node.service.blocking() == [CAROL.handle]


@pytest.mark.asyncio
@pytest.mark.parametrize("limit", [0, -1, 10**9])
async def test_a_page_size_out_of_range_is_refused(node: Node, limit: int) -> None:
    """SQLite reads LIMIT -1 as 'no limit': a page of a million-entry store at once."""
    service = node.service
    for read in (lambda: service.timeline(limit=limit), lambda: service.posts(limit=limit),
                 lambda: service.notifications(limit=limit), lambda: service.log(limit=limit),
                 lambda: service.find_feeds("a", limit=limit)):
        with pytest.raises(UsageError, match="a page holds 1 to"):
            await read()
