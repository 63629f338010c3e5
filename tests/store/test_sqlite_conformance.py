"""The SQLite store passes the store conformance suite, on real database files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from p2psocial.store.sqlite import Store
from p2psocial.testing.conformance import OWNER, StoreConformance


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "p2psocial.db")
    await s.set_owner(OWNER.public_key)
    yield s
    await s.close()


class TestSqliteStore(StoreConformance):
    pass
