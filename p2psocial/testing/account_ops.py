"""Copy an account's ops from one home's database to another's, as replication would.

For tests that need a home to hold another home's account log without running both nodes
(CLI tests, and a thief's copy in the attack tests). The homes' nodes must not be running.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from p2psocial.core.identity import parse_handle
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store


def copy_account_ops(src: Path, dst: Path, account: str) -> None:
    """Give the home at `dst` every op the home at `src` holds of `account` (a handle)."""
    async def copy() -> None:
        source = await Store.open(Home(src).database)
        target = await Store.open(Home(dst).database)
        try:
            await target.accounts.add_ops(await source.accounts.ops_of(parse_handle(account)))
        finally:
            await source.close()
            await target.close()
    asyncio.run(copy())
