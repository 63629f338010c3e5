"""Hypothesis strategies for the sync protocol's messages and for CBOR junk."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from p2psocial.core.replication.messages import (
    MAX_UINT,
    Bye,
    Entries,
    Error,
    Have,
    HaveNote,
    Hello,
    Ops,
    Synced,
    Unwant,
    Want,
    WantNote,
)

uints = st.integers(0, MAX_UINT)
feeds = st.binary(min_size=32, max_size=32)
texts = st.text(max_size=256)
ranges = st.one_of(st.just((0, 0)), st.tuples(st.integers(1, MAX_UINT), st.integers(0, 99))
                   .map(lambda t: (t[0], min(MAX_UINT, t[0] + t[1]))))


def unique_by_feed(notes: list[Any]) -> tuple[Any, ...]:
    return tuple({n.feed: n for n in notes}.values())


messages = st.one_of(
    st.builds(Hello, uints, texts, uints),
    st.lists(st.builds(lambda f, r, d: WantNote(f, *r, d), feeds, ranges, uints), max_size=20)
    .map(lambda notes: Want(unique_by_feed(notes))),
    st.lists(st.builds(lambda f, r: HaveNote(f, *r), feeds, ranges), max_size=20)
    .map(lambda notes: Have(unique_by_feed(notes))),
    st.builds(Entries, feeds, st.lists(
        st.tuples(st.binary(max_size=512), st.none() | st.binary(max_size=64)),
        min_size=1, max_size=20).map(tuple)),
    st.lists(feeds, max_size=20, unique=True).map(lambda fs: Unwant(tuple(fs))),
    st.builds(Synced, uints),
    st.builds(Bye, texts),
    st.builds(Error, texts, texts, st.none() | uints),
    st.builds(Ops, feeds, st.lists(st.binary(max_size=1024), min_size=1, max_size=8)
              .map(tuple)),
)


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats()
    | st.binary(max_size=40) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.integers(0, 9) | st.text(max_size=3), children, max_size=4),
    max_leaves=30)
