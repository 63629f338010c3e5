"""Spec L3: what one sync session may send over a relayed connection."""

from __future__ import annotations

from p2psocial.runtime.peer_sync import circuit_budget


def test_the_budget_leaves_room_below_the_relays_data_limit() -> None:
    assert circuit_budget(None) == 131_072 - 32_768   # not told: a stock relay's 128 KiB
    assert circuit_budget(131_072) == 98_304
    assert circuit_budget(1 << 30) == (1 << 30) - 32_768  # a p2psocial relay's 1 GiB
    assert circuit_budget(40_000) == 20_000            # a small limit: half of it
    assert circuit_budget(0) > 1 << 60                  # told no limit
