"""A4 holdings kept by AccountSync (runtime/account_sync.py), on a real SQLite store: the
holding made with a summary is the one a peer's summary is compared with, it is reused
while the heads stay, and a moved head or a new op gives the summary of what is held now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from test_account_sync import ACC, ADD, ADD2, DEV, DEV2, INIT

from p2psocial.core.feed import FeedState
from p2psocial.core.replication.account_summary import summary
from p2psocial.core.wants import Want
from p2psocial.runtime.account_sync import AccountSync
from p2psocial.store.sqlite import Store

A, D1, D2 = ACC.public_key, DEV.public_key, DEV2.public_key


@pytest.mark.asyncio
async def test_the_summarised_holding_is_reused_and_follows_heads_and_ops(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "p2psocial.db")
    try:
        await store.accounts.add_ops([INIT, ADD])
        sync = AccountSync(store, sessions=list, wanted=lambda: {A}, blocked=set,
                           wants_changed=lambda: None)
        await sync.start()
        states = {A: FeedState(A), D1: FeedState(D1, 1, 5)}
        wants = {f: Want(hop=1, depth=0) for f in states}
        (summed,) = sync.account_wants(wants, states)

        served = dict(states)

        async def to_serve(feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
            return {f: served[f] for f in feeds if f in served}

        first = (await sync.holdings([A], to_serve))[A]
        assert first.summary == summed.note.summary
        assert (await sync.holdings([A], to_serve))[A] is first  # nothing made again

        served[D1] = FeedState(D1, 1, 6)  # a head moved: the summary of the new heads
        moved = (await sync.holdings([A], to_serve))[A]
        ops = [INIT.hash, ADD.hash]
        assert moved.summary == summary(ops, {A: 0, D1: 6}) != first.summary

        await store.accounts.add_ops([ADD2])  # a new op (and member): made again
        await sync.ops_stored([ADD2])
        served[D2] = FeedState(D2)
        grown = (await sync.holdings([A], to_serve))[A]
        assert grown.summary == summary([*ops, ADD2.hash], {A: 0, D1: 6, D2: 0})
    finally:
        await store.close()
