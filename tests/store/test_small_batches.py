"""Small batches (live posts) are verified in the write's own round trip to the database thread
(store/verify_pool.py ONE_TRIP, decode_small), with the answer the verifier threads give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2psocial.core.errors import SignatureError
from p2psocial.store.sqlite import Store
from p2psocial.store.verify_pool import ONE_TRIP, VerifyPool, decode_small
from p2psocial.testing import identity_for, make_feed
from p2psocial.testing.builders import raw_entries

AUTHOR = identity_for("small-batches")
pytestmark = pytest.mark.asyncio


def forged(raw: list[tuple[bytes, bytes | None]], index: int) -> list[tuple[bytes, bytes | None]]:
    """`raw` with the signature of entry `index` spoiled (its last byte flipped)."""
    header, payload = raw[index]
    out = list(raw)
    out[index] = (header[:-1] + bytes([header[-1] ^ 1]), payload)
    return out


async def test_a_live_post_is_verified_and_stored_without_the_verifier_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await Store.open(tmp_path / "db", verify_processes=0)
    calls: list[int] = []
    real = VerifyPool.decode

    async def counting(self: VerifyPool, raw: Any) -> Any:
        calls.append(len(raw))
        return await real(self, raw)

    monkeypatch.setattr(VerifyPool, "decode", counting)
    try:
        raw = raw_entries(make_feed(AUTHOR, ONE_TRIP + 3))
        report = await store.ingest(raw[:1])
        assert len(report.accepted) == 1 and calls == []
        bad = await store.ingest(forged(raw[1:3], 1))
        assert [e.seq for e in bad.accepted] == [2]
        assert isinstance(bad.error, SignatureError) and bad.error_index == 1
        assert calls == []
        rest = await store.ingest(raw[2:])  # ONE_TRIP + 1 entries: the verifier threads
        assert len(rest.accepted) == ONE_TRIP + 1 and calls == [ONE_TRIP + 1]
        assert (await store.feed_state(AUTHOR.public_key)).hi == ONE_TRIP + 3
    finally:
        await store.close()


async def test_decode_small_answers_as_the_verifier_threads_do() -> None:
    raw = raw_entries(make_feed(AUTHOR, ONE_TRIP + 4))  # past ONE_TRIP: the pool's threads
    broken = list(raw)
    broken[5] = (b"\x00" + raw[5][0][1:], raw[5][1])  # does not decode
    pool = VerifyPool(threads=2)
    try:
        for batch in (raw, forged(raw, 3), broken, forged(broken, 6), forged(broken, 2)):
            mine, theirs = decode_small(batch), await pool.decode(batch)
            assert [e.hash for e in mine.entries] == [e.hash for e in theirs.entries]
            assert mine.error_index == theirs.error_index
            assert type(mine.error) is type(theirs.error)
    finally:
        pool.close()
