"""core.budget: the documented order (unnamed blobs, then farthest hop first, blobs before
payloads within a hop, oldest first; fresh files last), protected items never taken, sizes
parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.budget import NO_HOP, Item, Kind, choose, order_key, parse_size


def item(kind: Kind, name: str, size: int, hop: int | None, ts: int,
         protected: bool = False, fresh: bool = False) -> Item:
    return Item(kind, name.encode(), size, hop, ts, protected, fresh)


def test_the_order() -> None:
    items = [
        item(Kind.PAYLOAD, "near-old-payload", 10, 1, 1),
        item(Kind.BLOB, "near-blob", 10, 1, 9),
        item(Kind.PAYLOAD, "far-new-payload", 10, 2, 9),
        item(Kind.PAYLOAD, "far-old-payload", 10, 2, 1),
        item(Kind.BLOB, "far-blob", 10, 2, 5),
        item(Kind.BLOB, "unnamed-blob", 10, None, 0),
        item(Kind.PAYLOAD, "unwanted-payload", 10, NO_HOP, 7),
        item(Kind.BLOB, "mine", 10, 0, 0, protected=True),
    ]
    names = [i.key.decode() for i in choose(items, 10**9)]
    assert names == ["unnamed-blob", "unwanted-payload", "far-blob", "far-old-payload",
                     "far-new-payload", "near-blob", "near-old-payload"]


def test_a_fresh_file_goes_after_everything_else_and_only_when_nothing_else_will_do() -> None:
    items = [
        item(Kind.BLOB, "just-fetched-far-blob", 10, 2, 9, fresh=True),
        item(Kind.BLOB, "just-copied-unnamed", 10, None, 0, fresh=True),
        item(Kind.PAYLOAD, "near-old-payload", 10, 1, 1),
        item(Kind.BLOB, "old-far-blob", 10, 2, 5),
    ]
    assert [i.key.decode() for i in choose(items, 20)] == ["old-far-blob", "near-old-payload"]
    assert [i.key.decode() for i in choose(items, 10**9)] == [
        "old-far-blob", "near-old-payload", "just-copied-unnamed", "just-fetched-far-blob"]


def test_choose_stops_once_enough_is_freed() -> None:
    items = [item(Kind.PAYLOAD, f"p{i}", 100, 2, i) for i in range(10)]
    assert [i.key for i in choose(items, 250)] == [b"p0", b"p1", b"p2"]
    assert choose(items, 0) == [] and choose(items, -5) == []


@given(st.lists(st.tuples(st.sampled_from(list(Kind)), st.integers(1, 1000),
                          st.one_of(st.none(), st.integers(0, 5)), st.integers(0, 100),
                          st.booleans(), st.booleans()), max_size=30), st.integers(0, 20_000))
def test_never_protected_and_always_a_prefix_of_the_order(
        raw: list[tuple[Kind, int, int | None, int, bool, bool]], over: int) -> None:
    items = [Item(k, i.to_bytes(2, "big"), size, hop, ts, protected, fresh)
             for i, (k, size, hop, ts, protected, fresh) in enumerate(raw)]
    chosen = choose(items, over)
    assert not any(i.protected for i in chosen)
    ordered = sorted((i for i in items if not i.protected), key=order_key)
    assert chosen == ordered[:len(chosen)]
    freed = sum(i.size for i in chosen)
    assert freed >= over or chosen == ordered  # enough, or everything there was
    assert not chosen or freed - chosen[-1].size < over  # no more than needed


@pytest.mark.parametrize("text,expected", [
    ("2GB", 2 * 10**9), ("500 MB", 500 * 10**6), ("1.5GiB", int(1.5 * 2**30)),
    ("800k", 800_000), ("0", 0), ("123", 123), ("100MiB", 100 * 2**20)])
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "2XB", "-1GB", "GB", "1e400GB", "nan"])
def test_not_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)
