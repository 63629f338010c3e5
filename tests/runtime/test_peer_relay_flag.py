"""`peers` marks a connected peer as a relay when a wanted feed (mine too) publishes it in a
relays entry; the set is cached between polls and read again after the store writes (real
nodes on loopback, real SQLite)."""

from __future__ import annotations

import pytest
from test_account_sync import BOB, Elsewhere, network, pair  # noqa: F401  (fixture)

from p2psocial.core.content import Relays
from p2psocial.runtime.node import Node


async def flag(b: Node, handle: str) -> bool:
    (view,) = [v for v in await network(b).peers() if v.handle == handle]
    return view.relay


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_peer_becomes_a_relay_once_a_wanted_feed_publishes_it(
        pair: tuple[Node, Node, Elsewhere]) -> None:  # noqa: F811
    a, b, _ = pair
    addr = network(a).listen_addrs()[0]
    await network(b).connect(addr)
    a_handle = a.identity.handle
    assert await flag(b, a_handle) is False
    assert await flag(b, a_handle) is False  # asked again: the cached answer
    await b.store.append(BOB, Relays(addrs=(f"{addr}/p2p/{a_handle}",)))
    assert await flag(b, a_handle) is True
