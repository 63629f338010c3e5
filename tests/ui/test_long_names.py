"""A name longer than any name can be is simply nobody (issue 9 walk-through): `log`,
`follow`, `post "@…"` and the follow/compose name search were handed to SQLite's LIKE, which
refuses a pattern over 50,000 bytes, so the user read "database error: LIKE or GLOB pattern
too complex" instead of "no one you know is called that"."""

from __future__ import annotations

import pytest

from p2psocial.core.errors import HandleError, UsageError
from p2psocial.core.limits import MAX_NAME_CHARS
from p2psocial.runtime import names
from p2psocial.runtime.node import Node

from .conftest import ALICE

HUGE = "A" * 60_000


@pytest.mark.asyncio
async def test_a_huge_name_names_nobody(node: Node) -> None:
    store = node.service.store
    with pytest.raises(HandleError, match="no one you know is called that"):
        await names.resolve(store, HUGE)
    with pytest.raises(UsageError, match=r"nothing was posted.*no one you know"):
        await names.resolve_mentions(store, f"hi @{HUGE}")
    assert await names.candidates(store, "x" * (MAX_NAME_CHARS + 1)) == []
    assert [p.author for p in await names.candidates(store, " ali ce ")] == [ALICE.public_key]


@pytest.mark.asyncio
async def test_a_huge_search_finds_nothing(node: Node) -> None:
    assert await node.service.find_feeds(HUGE) == []
    assert await node.service.find_feeds("x" * (MAX_NAME_CHARS + 1)) == []
    assert [f.author for f in await node.service.find_feeds("ali")] == [ALICE.handle]
