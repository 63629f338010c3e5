"""Entry payloads: every known content type round-trips through a signed entry, and one
targeted test per payload rule (P3 canonical map with text keys, P4 schema fields)."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from p2psocial.core import limits
from p2psocial.core.content import (
    KNOWN_TYPES,
    About,
    Block,
    Content,
    Delete,
    Follow,
    Post,
    PrivateMessage,
    React,
    Relays,
    Repost,
    Unblock,
    Unfollow,
    content_payload,
    is_known_type,
    parse_content,
)
from p2psocial.core.encoding import decode_canonical, digest, encode
from p2psocial.core.entry import create_content_entry, create_entry, decode_entry
from p2psocial.core.errors import EncodingError, SchemaError, ValidationError
from p2psocial.testing import identity_for

ALICE = identity_for("alice")
TS = 1_700_000_000_000
H = b"\x11" * 32  # a hash
K = b"\x22" * 32  # a key


def p4(entry_type: str, mapping: dict[str, Any]) -> SchemaError:
    """parse_content must reject `mapping` for `entry_type` with rule P4."""
    with pytest.raises(SchemaError) as info:
        parse_content(entry_type, encode(mapping))
    assert info.value.rule == "P4", info.value
    return info.value


def parses(entry_type: str, mapping: dict[str, Any]) -> Content:
    content = parse_content(entry_type, encode(mapping))
    assert content is not None
    return content


# --- strategies: every known type within its limits ----------------------------------------

hashes = st.binary(min_size=32, max_size=32)
keys = st.binary(min_size=32, max_size=32)


def texts(max_chars: int, *, min_size: int = 0) -> st.SearchStrategy[str]:
    """Any text up to max_chars code points, with the occasional one exactly at the limit."""
    return st.one_of(st.text(min_size=min_size, max_size=min(max_chars, 200)),
                     st.characters(exclude_categories=["Cs"]).map(lambda c: c * max_chars))


visible = texts(limits.MAX_POST_CHARS, min_size=1).filter(lambda s: bool(s.strip()))
tags = st.text(min_size=1, max_size=limits.MAX_TAG_CHARS).filter(
    lambda t: not t.startswith("#") and not any(c.isspace() for c in t))
addrs = st.text(min_size=1, max_size=limits.MAX_RELAY_ADDR_CHARS - 1).map(lambda s: "/" + s)


@st.composite
def posts(draw: st.DrawFn) -> Post:
    reply = draw(st.booleans())
    return Post(
        text=draw(visible),
        root=draw(hashes) if reply else None,
        parent=draw(hashes) if reply else None,
        mentions=tuple(draw(st.lists(keys, max_size=limits.MAX_MENTIONS))),
        tags=tuple(draw(st.lists(tags, max_size=limits.MAX_TAGS))),
        cw=draw(st.none() | texts(limits.MAX_CW_CHARS)),
        quote=draw(st.none() | hashes),
    )


abouts = st.builds(About, name=st.none() | texts(limits.MAX_NAME_CHARS),
                   bio=st.none() | texts(limits.MAX_BIO_CHARS)).filter(
    lambda a: a.name is not None or a.bio is not None)
feed_refs = st.one_of(*(st.builds(cls, feed=keys) for cls in (Follow, Unfollow, Block, Unblock)))
reactions = st.text(min_size=1, max_size=limits.MAX_REACTION_BYTES).filter(
    lambda r: bool(r.strip()) and len(r.encode()) <= limits.MAX_REACTION_BYTES)
reacts = st.builds(React, target=hashes, reaction=reactions)
target_refs = st.builds(Repost, target=hashes) | st.builds(Delete, target=hashes)
relays = st.builds(Relays, addrs=st.lists(addrs, max_size=limits.MAX_RELAY_ADDRS).map(tuple))
private_messages = st.builds(
    PrivateMessage,
    keys=st.lists(st.binary(min_size=80, max_size=80), min_size=1,
                  max_size=limits.MAX_DM_RECIPIENTS + 1).map(tuple),
    nonce=st.binary(min_size=24, max_size=24),
    box=st.binary(min_size=16, max_size=400),
)
contents = st.one_of(posts(), abouts, feed_refs, reacts, target_refs, relays, private_messages)


# --- round trips ---------------------------------------------------------------------------


@given(contents, st.integers(1, 1000), st.integers(0, limits.MAX_TIMESTAMP_MS))
@settings(max_examples=300)
def test_every_known_content_round_trips_through_a_signed_entry(
        content: Content, seq: int, ts: int) -> None:
    payload = content_payload(content)
    assume(len(payload) <= limits.MAX_PAYLOAD_BYTES)  # the content limits can add up past it
    prev = None if seq == 1 else digest(b"prev")
    entry = create_content_entry(ALICE, seq=seq, prev=prev, timestamp=ts, content=content)
    again = decode_entry(entry.header, entry.payload)
    assert again == entry
    assert again.content == content
    assert type(again.content) is type(content)
    assert again.type == content.TYPE
    assert again.payload == payload == encode(content.to_map())
    assert again.hash == digest(entry.header)
    assert (again.seq, again.prev, again.timestamp, again.author) == (
        seq, prev, ts, ALICE.public_key)
    decode_canonical(entry.header, rule="H2", what="header")


@given(contents)
@settings(max_examples=200)
def test_content_payload_is_canonical_and_parses_back(content: Content) -> None:
    payload = content_payload(content)
    assert encode(decode_canonical(payload, rule="P3", what="payload")) == payload
    assert parse_content(content.TYPE, payload) == content


@given(st.from_regex(r"[a-z][a-z0-9_.-]{0,31}", fullmatch=True).filter(
    lambda t: t not in KNOWN_TYPES), st.binary(max_size=500))
@settings(max_examples=100)
def test_unknown_types_carry_opaque_payloads(entry_type: str, payload: bytes) -> None:
    assert not is_known_type(entry_type)
    assert parse_content(entry_type, payload) is None
    entry = create_entry(ALICE, seq=1, prev=None, timestamp=TS, entry_type=entry_type,
                         payload=payload)
    again = decode_entry(entry.header, entry.payload)
    assert again.payload == payload and again.content is None and again.type == entry_type


def test_known_types_are_exactly_the_content_classes() -> None:
    classes = (Post, About, Follow, Unfollow, Block, Unblock, React, Repost, Delete, Relays,
               PrivateMessage)
    assert {cls.TYPE for cls in classes} == KNOWN_TYPES
    assert all(is_known_type(cls.TYPE) for cls in classes)


@pytest.mark.parametrize("content", [
    Post(text="bad \udcff byte"), Post(text="ok", cw="\ud800"),
    About(name="\udcff"), React(target=bytes(32), reaction="\udcff")])
def test_text_that_is_not_unicode_breaks_p4_not_the_encoder(content: Content) -> None:
    """A lone surrogate (how Python keeps bytes that were not UTF-8, e.g. in argv) has no
    UTF-8 form: one SchemaError, not a UnicodeEncodeError from deep in the encoder."""
    with pytest.raises(SchemaError, match="valid Unicode") as caught:
        content_payload(content)
    assert caught.value.rule == "P4"


def test_optional_post_fields_are_omitted_from_the_payload() -> None:
    assert Post(text="hi").to_map() == {"text": "hi"}
    assert content_payload(Post(text="hi")) == encode({"text": "hi"})


def test_unknown_payload_keys_are_ignored() -> None:
    post = parses("post", {"text": "hi", "future": [1, 2, {"x": b""}]})
    assert post == Post(text="hi")
    assert parses("follow", {"feed": K, "since": 5}) == Follow(feed=K)


def test_the_largest_post_of_ascii_text_fits_one_payload() -> None:
    post = Post(text="x" * limits.MAX_POST_CHARS, root=H, parent=H,
                mentions=(K,) * limits.MAX_MENTIONS,
                tags=tuple("t" * limits.MAX_TAG_CHARS for _ in range(limits.MAX_TAGS)),
                cw="c" * limits.MAX_CW_CHARS, quote=H)
    entry = create_content_entry(ALICE, seq=1, prev=None, timestamp=TS, content=post)
    assert decode_entry(entry.header, entry.payload).content == post


# --- P3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry_type", sorted(KNOWN_TYPES))
@pytest.mark.parametrize("payload", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff", id="not-cbor"),
    pytest.param(encode({"text": "hi"}) + b"\x00", id="trailing"),
    pytest.param(b"\xa1\x64text\x78\x02hi", id="long-form-length"),
    pytest.param(b"\xbf\x64text\x62hi\xff", id="indefinite-map"),
    pytest.param(b"\xa2\x61b\x01\x61a\x01", id="unsorted-keys"),
])
def test_p3_payload_not_canonical_cbor(entry_type: str, payload: bytes) -> None:
    with pytest.raises(EncodingError) as info:
        parse_content(entry_type, payload)
    assert info.value.rule == "P3"


def test_p3_non_canonical_reports_lengths() -> None:
    payload = b"\xa1\x64text\x78\x02hi"
    with pytest.raises(EncodingError) as info:
        parse_content("post", payload)
    assert info.value.expected == len(encode({"text": "hi"}))
    assert info.value.found == len(payload)


@pytest.mark.parametrize(("value", "found"), [
    ([1, 2], "list"), ("text", "str"), (5, "int"), (None, "NoneType"), (b"\x00", "bytes"),
    ({1: "x"}, "dict"), ({"text": "hi", b"k": 1}, "dict"),
])
def test_p3_payload_must_be_a_map_with_text_keys(value: Any, found: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_content("post", encode(value))
    assert info.value.rule == "P3"
    assert info.value.expected == "map" and info.value.found == found


@pytest.mark.parametrize("extra", [
    1.5, float("inf"), cbor2.CBORTag(1, 0), cbor2.CBORTag(32, "https://x"), cbor2.undefined,
    cbor2.CBORSimpleValue(99), [1, [2.5]], {"nested": {"deeper": cbor2.CBORTag(99, b"")}},
    frozenset({"a"}),
], ids=repr)
def test_p3_cbor_types_outside_the_allowed_set_even_in_ignored_fields(extra: Any) -> None:
    with pytest.raises(EncodingError) as info:
        parse_content("post", encode({"text": "hi", "future": extra}))
    assert info.value.rule == "P3"
    assert info.value.expected is not None


def test_p3_allowed_types_in_ignored_fields_are_fine() -> None:
    extra = [None, True, False, -(2**64), 2**64 - 1, b"", "", {"k": [1, {"j": None}]}]
    assert parses("post", {"text": "hi", "future": extra}) == Post(text="hi")


def test_p3_nesting_far_too_deep() -> None:
    deep: Any = 0
    for _ in range(40):
        deep = [deep]
    with pytest.raises(EncodingError) as info:
        parse_content("post", encode({"text": "hi", "future": deep}))
    assert info.value.rule == "P3"


@pytest.mark.parametrize("value", [2**64, -(2**64) - 1, 2**200], ids=repr)
def test_p3_bignums_are_tags_outside_the_allowed_set(value: int) -> None:
    with pytest.raises(EncodingError) as info:
        parse_content("post", encode({"text": "hi", "future": value}))
    assert info.value.rule == "P3"


# --- P4: post ------------------------------------------------------------------------------


def test_p4_post_text_limits() -> None:
    assert parses("post", {"text": "x" * limits.MAX_POST_CHARS})
    error = p4("post", {"text": "x" * (limits.MAX_POST_CHARS + 1)})
    assert error.found == limits.MAX_POST_CHARS + 1
    assert error.expected == f"<= {limits.MAX_POST_CHARS} characters"


def test_p4_post_text_counts_code_points_not_bytes() -> None:
    assert parses("post", {"text": "😀" * limits.MAX_POST_CHARS})


@pytest.mark.parametrize("mapping", [{}, {"text": None}, {"cw": "x"}])
def test_p4_post_text_required(mapping: dict[str, Any]) -> None:
    error = p4("post", mapping)
    assert error.expected == "text" and error.found == "missing"


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\u3000"])
def test_p4_post_text_blank(text: str) -> None:
    assert p4("post", {"text": text}).found == "whitespace"


@pytest.mark.parametrize(("value", "found"), [(5, "int"), (b"hi", "bytes"), (["hi"], "list")])
def test_p4_post_text_not_text(value: Any, found: str) -> None:
    error = p4("post", {"text": value})
    assert error.expected == "text" and error.found == found


@pytest.mark.parametrize("mapping", [{"root": H}, {"parent": H}])
def test_p4_reply_needs_both_root_and_parent(mapping: dict[str, Any]) -> None:
    error = p4("post", {"text": "hi", **mapping})
    assert error.expected == "both or neither" and error.found == "one"


@pytest.mark.parametrize("field", ["root", "parent", "quote"])
@pytest.mark.parametrize(("value", "found"), [(b"\x01" * 31, 31), (b"\x01" * 33, 33),
                                              ("h" * 32, "str")])
def test_p4_post_hash_fields_are_32_bytes(field: str, value: Any, found: Any) -> None:
    mapping: dict[str, Any] = {"text": "hi", "root": H, "parent": H, field: value}
    error = p4("post", mapping)
    assert error.expected == "32 bytes" and error.found == found


def test_p4_post_cw_limit() -> None:
    assert parses("post", {"text": "hi", "cw": "c" * limits.MAX_CW_CHARS})
    error = p4("post", {"text": "hi", "cw": "c" * (limits.MAX_CW_CHARS + 1)})
    assert error.found == limits.MAX_CW_CHARS + 1
    assert p4("post", {"text": "hi", "cw": 3}).found == "int"


def test_p4_post_mentions() -> None:
    assert parses("post", {"text": "hi", "mentions": [K] * limits.MAX_MENTIONS})
    error = p4("post", {"text": "hi", "mentions": [K] * (limits.MAX_MENTIONS + 1)})
    assert error.expected == f"<= {limits.MAX_MENTIONS}"
    assert error.found == limits.MAX_MENTIONS + 1
    assert p4("post", {"text": "hi", "mentions": [b"\x01" * 31]}).found == b"\x01" * 31
    assert p4("post", {"text": "hi", "mentions": ["k"]}).found == "str"
    error = p4("post", {"text": "hi", "mentions": K})
    assert error.expected == "list" and error.found == "bytes"


def test_p4_post_tags() -> None:
    assert parses("post", {"text": "hi", "tags": ["t" * limits.MAX_TAG_CHARS] * limits.MAX_TAGS})
    assert p4("post", {"text": "hi", "tags": ["t"] * (limits.MAX_TAGS + 1)}).found == (
        limits.MAX_TAGS + 1)
    for bad in ["", "#tag", "two words", "tab\tbed", "t" * (limits.MAX_TAG_CHARS + 1), 5]:
        error = p4("post", {"text": "hi", "tags": ["ok", bad]})
        assert error.expected == "tag" and error.found == bad
    assert p4("post", {"text": "hi", "tags": "tag"}).found == "str"


# --- P4: the other types -------------------------------------------------------------------


def test_p4_about_needs_a_field() -> None:
    error = p4("about", {})
    assert error.expected == "name or bio" and error.found == "neither"
    assert p4("about", {"name": None, "bio": None}).found == "neither"
    assert parses("about", {"name": ""}) == About(name="")


def test_p4_about_limits() -> None:
    assert parses("about", {"name": "n" * limits.MAX_NAME_CHARS,
                            "bio": "b" * limits.MAX_BIO_CHARS})
    assert p4("about", {"name": "n" * (limits.MAX_NAME_CHARS + 1)}).found == (
        limits.MAX_NAME_CHARS + 1)
    assert p4("about", {"bio": "b" * (limits.MAX_BIO_CHARS + 1)}).found == (
        limits.MAX_BIO_CHARS + 1)
    assert p4("about", {"name": b"bytes"}).found == "bytes"


@pytest.mark.parametrize("entry_type", ["follow", "unfollow", "block", "unblock"])
def test_p4_feed_refs_need_a_32_byte_feed(entry_type: str) -> None:
    assert parses(entry_type, {"feed": K}).feed == K
    error = p4(entry_type, {})
    assert error.expected == "feed" and error.found == "missing"
    assert p4(entry_type, {"feed": K[:31]}).found == 31
    assert p4(entry_type, {"feed": K.hex()}).found == "str"


@pytest.mark.parametrize("entry_type", ["repost", "delete"])
def test_p4_target_refs_need_a_32_byte_target(entry_type: str) -> None:
    assert parses(entry_type, {"target": H}).target == H
    assert p4(entry_type, {}).expected == "target"
    assert p4(entry_type, {"target": H + b"\x00"}).found == 33


def test_p4_react() -> None:
    assert parses("react", {"target": H, "reaction": "❤"}) == React(target=H, reaction="❤")
    assert parses("react", {"target": H, "reaction": "€" * 10 + "xx"})  # 32 bytes
    assert p4("react", {"reaction": "❤"}).expected == "target"
    assert p4("react", {"target": H}).expected == "reaction"
    for bad in [" ", "", "€" * 11]:  # "€" * 11 is 11 characters but 33 bytes
        error = p4("react", {"target": H, "reaction": bad})
        assert error.found == bad
        assert error.expected == f"<= {limits.MAX_REACTION_BYTES} bytes"
    assert p4("react", {"target": H, "reaction": "x" * 33}).found == 33


def test_p4_relays() -> None:
    assert parses("relays", {"addrs": []}) == Relays()
    longest = "/" + "a" * (limits.MAX_RELAY_ADDR_CHARS - 1)
    assert parses("relays", {"addrs": [longest] * limits.MAX_RELAY_ADDRS})
    error = p4("relays", {})
    assert error.expected == "addrs" and error.found == "missing"
    assert p4("relays", {"addrs": ["/a"] * (limits.MAX_RELAY_ADDRS + 1)}).found == (
        limits.MAX_RELAY_ADDRS + 1)
    for bad in ["/", "ip4/1.2.3.4", longest + "a", 4, b"/ip4"]:
        error = p4("relays", {"addrs": [bad]})
        assert error.expected == "/…" and error.found == bad


def test_p4_private_message() -> None:
    good: dict[str, Any] = {"keys": [b"k" * 80], "nonce": b"n" * 24, "box": b"b" * 16}
    assert parses("dm", good) == PrivateMessage(keys=(b"k" * 80,), nonce=b"n" * 24,
                                                box=b"b" * 16)
    assert parses("dm", {**good, "keys": [b"k" * 80] * (limits.MAX_DM_RECIPIENTS + 1)})
    assert p4("dm", {**good, "keys": [b"k" * 80] * (limits.MAX_DM_RECIPIENTS + 2)}).found == (
        limits.MAX_DM_RECIPIENTS + 2)
    error = p4("dm", {**good, "keys": []})
    assert error.expected == ">= 1 key" and error.found == 0
    assert p4("dm", {k: v for k, v in good.items() if k != "keys"}).found == 0
    assert p4("dm", {**good, "keys": [b"k" * 79]}).expected == "80 bytes"
    assert p4("dm", {**good, "nonce": b"n" * 23}).found == 23
    assert p4("dm", {k: v for k, v in good.items() if k != "nonce"}).found == "missing"
    error = p4("dm", {**good, "box": b"b" * 15})
    assert error.expected == "bytes >= 16" and error.found == "bytes"
    assert p4("dm", {**good, "box": "text"}).found == "str"


def test_content_payload_checks_its_own_schema() -> None:
    for bad in (Post(text="  "), Post(text="hi", root=H), About(), React(target=H, reaction=""),
                Relays(addrs=("nope",)), Follow(feed=b"short")):
        with pytest.raises(SchemaError):
            content_payload(bad)


def test_schema_errors_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        parse_content("post", encode({"text": 1}))
