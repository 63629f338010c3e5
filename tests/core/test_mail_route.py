"""Where a wrap goes and when it is tried again (docs/protocol.md §Private messages, M16, M18)."""

from __future__ import annotations

from p2psocial.core.mail.route import (
    DELIVERY_WINDOW_MS,
    MAX_ATTEMPTS,
    RETRY_MAX_MS,
    Route,
    delivered,
    next_try_ms,
    plan_route,
)


def test_the_first_source_with_any_address_wins() -> None:
    assert plan_route(relays=["r1", "r2", "r1"], providers=["p"]) == Route(("r1", "r2"))
    assert plan_route(providers=["p1", "p2"], invite=["i"]) == Route(("p1", "p2"))
    assert plan_route(invite=["i"], devices=["d"]) == Route(("i",))
    assert plan_route(devices=["d"]) == Route(("d",), to_devices=True)
    assert plan_route() == Route(())
    many = [f"r{n}" for n in range(12)]
    assert len(plan_route(relays=many).addrs) == MAX_ATTEMPTS


def test_delivered_at_two_relays_or_one_device() -> None:
    assert not delivered(1) and delivered(2)
    assert delivered(1, to_devices=True)


def test_backoff_doubles_to_ten_minutes_for_seven_days() -> None:
    assert next_try_ms(0, written_ms=0, now_ms=0) == 1_000
    assert next_try_ms(3, written_ms=0, now_ms=0) == 8_000
    assert next_try_ms(40, written_ms=0, now_ms=0) == RETRY_MAX_MS
    assert next_try_ms(40, written_ms=0, now_ms=DELIVERY_WINDOW_MS - RETRY_MAX_MS) \
        == DELIVERY_WINDOW_MS
    assert next_try_ms(40, written_ms=0, now_ms=DELIVERY_WINDOW_MS) is None
