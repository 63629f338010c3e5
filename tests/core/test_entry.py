"""Entry format: round trips, single-byte tampering, and one targeted test per header rule.

Every rule test builds the exact bad bytes (signed by a real key where the rule comes after
the signature check would otherwise mask it) and asserts the rule id and its expected/found.
"""

from __future__ import annotations

import random
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core import limits
from p2psocial.core.content import KNOWN_TYPES
from p2psocial.core.encoding import decode_canonical, digest, encode
from p2psocial.core.entry import (
    SIGNING_CONTEXT,
    Entry,
    Field,
    create_entry,
    decode_entry,
    signing_bytes,
)
from p2psocial.core.errors import (
    EncodingError,
    FieldError,
    PayloadError,
    SignatureError,
    ValidationError,
)
from p2psocial.core.identity import Identity
from p2psocial.testing import FeedBuilder, identity_for, make_feed

ALICE = identity_for("alice")
BOB = identity_for("bob")
TS = 1_700_000_000_000
OPAQUE = b"opaque payload bytes"


def unsigned_fields(identity: Identity = ALICE, *, seq: int = 1, prev: bytes | None = None,
                    timestamp: int = TS, entry_type: str = "x.custom",
                    payload: bytes = OPAQUE) -> dict[int, Any]:
    """A correct header map without its signature."""
    fields: dict[int, Any] = {
        0: limits.FORMAT_VERSION,
        1: identity.public_key,
        2: seq,
        4: timestamp,
        5: entry_type,
        6: len(payload),
        7: digest(payload),
    }
    if prev is not None:
        fields[3] = prev
    return fields


def signed_header(fields: dict[Any, Any], identity: Identity = ALICE) -> bytes:
    """Sign `fields` exactly as given (no validation) and return the canonical header."""
    out = dict(fields)
    out[8] = identity.sign(signing_bytes(out))
    return encode(out)


def reject(header: bytes, payload: bytes | None = OPAQUE) -> ValidationError:
    """decode_entry must reject; return the error for inspection."""
    with pytest.raises(ValidationError) as info:
        decode_entry(header, payload)
    return info.value


def with_field(key: Any, value: Any, **kw: Any) -> bytes:
    """A header signed by ALICE whose field `key` is replaced by `value`."""
    fields = unsigned_fields(**kw)
    fields[key] = value
    return signed_header(fields)


def without_field(key: int, **kw: Any) -> bytes:
    fields = unsigned_fields(**kw)
    del fields[key]
    return signed_header(fields)


# --- round trips ---------------------------------------------------------------------------

identities = st.sampled_from([identity_for(n) for n in ("alice", "bob", "carol", "dave")])
type_names = st.from_regex(r"[a-z][a-z0-9_.-]{0,31}", fullmatch=True)
unknown_type_names = type_names.filter(lambda t: t not in KNOWN_TYPES)


# Hypothesis cannot draw 16 KiB of bytes directly; seed a PRNG instead.
large_payloads = st.builds(lambda size, seed: random.Random(seed).randbytes(size),
                           st.integers(limits.MAX_PAYLOAD_BYTES - 4, limits.MAX_PAYLOAD_BYTES),
                           st.integers(0, 2**32))


@st.composite
def entry_args(draw: st.DrawFn) -> dict[str, Any]:
    seq = draw(st.one_of(st.integers(1, 3), st.integers(1, limits.MAX_SEQ)))
    return {
        "identity": draw(identities),
        "seq": seq,
        "prev": None if seq == 1 else draw(st.binary(min_size=32, max_size=32)),
        "timestamp": draw(st.one_of(st.just(0), st.just(limits.MAX_TIMESTAMP_MS),
                                    st.integers(0, limits.MAX_TIMESTAMP_MS))),
        "entry_type": draw(unknown_type_names),
        "payload": draw(st.one_of(st.binary(max_size=300), large_payloads)),
    }


@given(entry_args())
@settings(max_examples=150)
def test_create_then_decode_gives_back_every_field(args: dict[str, Any]) -> None:
    entry = create_entry(**args)
    again = decode_entry(entry.header, entry.payload)
    assert again == entry
    assert again.author == args["identity"].public_key
    assert again.seq == args["seq"]
    assert again.prev == args["prev"]
    assert again.timestamp == args["timestamp"]
    assert again.type == args["entry_type"]
    assert again.payload == args["payload"]
    assert again.payload_size == len(args["payload"])
    assert again.payload_hash == digest(args["payload"])
    assert again.hash == digest(entry.header)
    assert again.content is None  # unknown types stay opaque
    fields = decode_canonical(entry.header, rule="H2", what="header")
    assert encode(fields) == entry.header
    assert set(fields) == set(Field) - ({Field.PREV} if args["seq"] == 1 else set())


@given(entry_args())
@settings(max_examples=50)
def test_decoding_without_payload_keeps_header_fields(args: dict[str, Any]) -> None:
    entry = create_entry(**args)
    bare = decode_entry(entry.header, None)
    assert bare == entry.without_payload()
    assert bare.payload is None and bare.content is None
    assert bare.hash == entry.hash
    assert bare.payload_size == len(args["payload"])


def test_signature_covers_the_header_without_its_signature_under_the_context() -> None:
    entry = make_feed(ALICE, 2)[1]
    fields = cbor2.loads(entry.header)
    message = signing_bytes(fields)
    assert message.startswith(SIGNING_CONTEXT)
    assert message == SIGNING_CONTEXT + encode({k: v for k, v in fields.items() if k != 8})
    ALICE.signing_key.verify_key.verify(message, entry.signature)


def test_signature_is_the_last_item_and_the_entry_hash_is_over_the_signed_header() -> None:
    entry = make_feed(ALICE, 1)[0]
    assert entry.header.endswith(b"\x08\x58\x40" + entry.signature)
    assert entry.hash == digest(entry.header)


def test_without_payload_drops_payload_and_content_only() -> None:
    entry = FeedBuilder(ALICE).post("hello")
    bare = entry.without_payload()
    assert bare.payload is None and bare.content is None
    assert (bare.header, bare.hash, bare.seq, bare.payload_hash) == (
        entry.header, entry.hash, entry.seq, entry.payload_hash)


# --- tampering -----------------------------------------------------------------------------


def _sample_entries() -> list[Entry]:
    builder = FeedBuilder(ALICE)
    first = builder.post("first post", tags=("intro",))
    builder.follow(BOB.public_key)
    builder.react(first, "👍")
    builder.add_raw("x.blob", bytes(range(256)) * 4)
    builder.add_raw("x.empty", b"")
    return builder.entries


SAMPLES = _sample_entries()


@given(st.data())
@settings(max_examples=400)
def test_flipping_any_header_byte_is_rejected(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(SAMPLES))
    position = data.draw(st.integers(0, len(entry.header) - 1))
    xor = data.draw(st.integers(1, 255))
    header = bytearray(entry.header)
    header[position] ^= xor
    error = reject(bytes(header), entry.payload)
    assert error.rule in {"H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8"}
    if position >= len(header) - limits.SIGNATURE_BYTES:
        assert isinstance(error, SignatureError)  # signature bytes: structure still valid


@given(st.data())
@settings(max_examples=300)
def test_flipping_any_payload_byte_is_rejected(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from([e for e in SAMPLES if e.payload]))
    assert entry.payload is not None
    position = data.draw(st.integers(0, len(entry.payload) - 1))
    xor = data.draw(st.integers(1, 255))
    payload = bytearray(entry.payload)
    payload[position] ^= xor
    error = reject(entry.header, bytes(payload))
    assert isinstance(error, PayloadError) and error.rule == "P2"


def test_every_single_byte_flip_of_one_header_is_rejected() -> None:
    entry = SAMPLES[1]
    for position in range(len(entry.header)):
        for xor in (0x01, 0x02, 0x10, 0x20, 0x80, 0xFF):
            header = bytearray(entry.header)
            header[position] ^= xor
            with pytest.raises(ValidationError):
                decode_entry(bytes(header), entry.payload)


def test_every_truncation_and_extension_of_a_header_is_rejected() -> None:
    entry = SAMPLES[0]
    for cut in range(len(entry.header)):
        with pytest.raises(ValidationError):
            decode_entry(entry.header[:cut], entry.payload)
    for extra in (b"\x00", b"\xa0", entry.header):
        with pytest.raises(EncodingError):
            decode_entry(entry.header + extra, entry.payload)


def test_signature_from_another_entry_of_the_same_author_is_rejected() -> None:
    one, two = make_feed(ALICE, 2)
    fields = cbor2.loads(two.header)
    fields[8] = one.signature
    assert reject(encode(fields), two.payload).rule == "H8"


# --- H1..H8 --------------------------------------------------------------------------------


def test_h1_header_over_512_bytes() -> None:
    header = encode({0: b"x" * 600})
    error = reject(header)
    assert isinstance(error, FieldError) and error.rule == "H1"
    assert error.found == len(header)
    assert error.expected == f"<= {limits.MAX_HEADER_BYTES}"


def test_h1_boundary_a_512_byte_header_is_judged_by_later_rules() -> None:
    header = encode({0: b"x" * (limits.MAX_HEADER_BYTES - 5)})  # a1 00 59 hi lo <bytes>
    assert len(header) == limits.MAX_HEADER_BYTES
    assert reject(header).rule != "H1"


@pytest.mark.parametrize("header", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff", id="break-byte"),
    pytest.param(b"\xa8\x00", id="truncated-map"),
    pytest.param(b"\x1c", id="reserved-additional-info"),
])
def test_h2_not_cbor(header: bytes) -> None:
    error = reject(header)
    assert isinstance(error, EncodingError) and error.rule == "H2"


def _non_canonical_variants() -> list[tuple[str, bytes]]:
    good = SAMPLES[0].header
    assert good[:3] == b"\xa8\x00\x01"  # map(8), key 0, version 1
    fields = cbor2.loads(good)
    unsorted = b"\xa8" + b"".join(
        encode(k) + encode(fields[k]) for k in sorted(fields, reverse=True))
    indefinite = b"\xbf" + good[1:] + b"\xff"
    return [
        ("long-form-int", b"\xa8\x00\x18\x01" + good[3:]),
        ("long-form-map-length", b"\xb8\x08" + good[1:]),
        ("unsorted-keys", unsorted),
        ("indefinite-map", indefinite),
        ("duplicate-key", b"\xa9\x00\x01" + good[1:]),
        ("trailing-byte", good + b"\x00"),
    ]


@pytest.mark.parametrize(("name", "header"), _non_canonical_variants())
def test_h2_not_canonical(name: str, header: bytes) -> None:
    error = reject(header)
    assert isinstance(error, EncodingError) and error.rule == "H2", name


def test_h2_not_canonical_reports_canonical_and_found_lengths() -> None:
    header = b"\xa8\x00\x18\x01" + SAMPLES[0].header[3:]
    error = reject(header)
    assert error.rule == "H2"
    assert error.expected == len(SAMPLES[0].header)
    assert error.found == len(header)


@pytest.mark.parametrize(("value", "type_name"), [
    ([1, 2, 3], "list"), ("header", "str"), (7, "int"), (None, "NoneType"),
])
def test_h3_header_not_a_map(value: Any, type_name: str) -> None:
    error = reject(encode(value))
    assert isinstance(error, FieldError) and error.rule == "H3"
    assert error.expected == "map" and error.found == type_name


@pytest.mark.parametrize("key", [9, 10, 23, 24, -1, 2**32])
def test_h3_unknown_integer_key(key: int) -> None:
    error = reject(with_field(key, 0))
    assert isinstance(error, FieldError) and error.rule == "H3"
    assert error.expected == "keys 0-8" and error.found == [repr(key)]


@pytest.mark.parametrize("key", ["text", "0", b"\x01", None])
def test_h3_key_that_is_not_an_integer(key: Any) -> None:
    error = reject(with_field(key, 0))
    assert isinstance(error, FieldError) and error.rule == "H3"
    assert error.expected == "int keys"
    assert error.found == sorted({"int", type(key).__name__})


@pytest.mark.parametrize("field", [0, 1])
def test_h3_bool_key_in_place_of_the_field_number_it_equals(field: int) -> None:
    fields = unsigned_fields()
    fields[bool(field)] = fields.pop(field)  # False == 0 and True == 1 in Python
    error = reject(signed_header(fields))
    assert isinstance(error, FieldError) and error.rule == "H3"
    assert error.expected == "int keys" and error.found == ["bool", "int"]


@pytest.mark.parametrize("key", [0, 1, 2, 4, 5, 6, 7])
def test_h3_missing_required_key(key: int) -> None:
    error = reject(without_field(key))
    assert isinstance(error, FieldError) and error.rule == "H3"
    assert error.expected == [0, 1, 2, 4, 5, 6, 7, 8]
    assert error.found == sorted({0, 1, 2, 4, 5, 6, 7, 8} - {key})


def test_h3_missing_signature() -> None:
    error = reject(encode(unsigned_fields()))
    assert error.rule == "H3"
    assert error.found == [0, 1, 2, 4, 5, 6, 7]


def test_h2_float_key_in_place_of_a_field_number() -> None:
    fields = unsigned_fields()
    fields[1.0] = fields.pop(1)
    error = reject(signed_header(fields))
    assert isinstance(error, EncodingError) and error.rule == "H2"


def test_h2_author_cannot_sign_a_header_with_a_float_signature_key() -> None:
    # Key 8.0 (f9 4800) sorts last like key 8; the author signs exactly the bytes the verifier
    # slices off the header, so only the allowed-types rule stands between this and acceptance.
    unsigned = encode(unsigned_fields())  # map(7)
    message = SIGNING_CONTEXT + b"\xa7" + unsigned[1:] + b"\xf9\x48"
    header = b"\xa8" + unsigned[1:] + b"\xf9\x48\x00\x58\x40" + ALICE.sign(message)
    assert cbor2.dumps(cbor2.loads(header), canonical=True) == header
    error = reject(header)
    assert isinstance(error, EncodingError) and error.rule == "H2"


@pytest.mark.parametrize(("key", "value"), [
    (0, 1.0), (2, 1.0), (4, 1.5), (4, float("nan")), (5, cbor2.CBORTag(32, "post")),
    (4, cbor2.CBORTag(1, TS // 1000)), (7, cbor2.undefined), (1, cbor2.CBORSimpleValue(99)),
    (9, [0.5]), (9, {"a": cbor2.CBORTag(99, 0)}), (9, frozenset({1})),
], ids=repr)
def test_h2_cbor_types_outside_the_allowed_set(key: int, value: Any) -> None:
    fields = unsigned_fields()
    fields[key] = value
    header = signed_header(fields)
    error = reject(header)
    assert isinstance(error, EncodingError) and error.rule == "H2"
    assert error.expected is not None and error.found is not None


@pytest.mark.parametrize(("key", "value"), [(0, 2**64), (2, 2**64), (4, -(2**64) - 1),
                                            (9, 2**100)], ids=repr)
def test_h2_bignums_are_tags_outside_the_allowed_set(key: int, value: int) -> None:
    fields = unsigned_fields()
    fields[key] = value
    assert cbor2.dumps(value)[0] in (0xC2, 0xC3)  # written as tag 2 or 3
    assert reject(signed_header(fields)).rule == "H2"


def test_largest_plain_integers_are_not_bignums() -> None:
    for key, value in ((9, 2**64 - 1), (9, -(2**64))):
        fields = unsigned_fields()
        fields[key] = value
        assert reject(signed_header(fields)).rule == "H3"  # decodes fine, then the unknown key


@pytest.mark.parametrize("version", [0, 2, -1, 2**63, True, False, "1", b"\x01", None, [1]])
def test_h4_unsupported_version(version: Any) -> None:
    error = reject(with_field(0, version))
    assert isinstance(error, FieldError) and error.rule == "H4"
    assert error.expected == limits.FORMAT_VERSION
    assert error.found == version


@pytest.mark.parametrize(("key", "value", "found"), [
    (1, b"\x01" * 31, 31),
    (1, b"\x01" * 33, 33),
    (1, "a" * 32, "str"),
    (7, b"\x02" * 31, 31),
    (7, None, "NoneType"),
    (8, b"\x03" * 63, 63),
    (8, [b"\x03" * 64], "list"),
])
def test_h5_wrong_size_bytes(key: int, value: Any, found: Any) -> None:
    fields = unsigned_fields()
    fields[key] = value
    header = encode(fields) if key == 8 else signed_header(fields)  # no sig: H5 comes first
    error = reject(header)
    assert isinstance(error, FieldError) and error.rule == "H5"
    assert error.found == found
    assert error.expected == ("64 bytes" if key == 8 else "32 bytes")


def test_h5_prev_of_wrong_size() -> None:
    error = reject(with_field(3, b"\x04" * 31, seq=2, prev=b"\x04" * 32))
    assert error.rule == "H5" and error.expected == "32 bytes" and error.found == 31


@pytest.mark.parametrize(("key", "value", "expected"), [
    (2, 0, f"1..{limits.MAX_SEQ}"),
    (2, limits.MAX_SEQ + 1, f"1..{limits.MAX_SEQ}"),
    (2, -5, f"1..{limits.MAX_SEQ}"),
    (2, True, f"1..{limits.MAX_SEQ}"),
    (2, "1", f"1..{limits.MAX_SEQ}"),
    (4, -1, f"0..{limits.MAX_TIMESTAMP_MS}"),
    (4, limits.MAX_TIMESTAMP_MS + 1, f"0..{limits.MAX_TIMESTAMP_MS}"),
    (4, False, f"0..{limits.MAX_TIMESTAMP_MS}"),
    (6, limits.MAX_PAYLOAD_BYTES + 1, f"0..{limits.MAX_PAYLOAD_BYTES}"),
    (6, -1, f"0..{limits.MAX_PAYLOAD_BYTES}"),
    (6, None, f"0..{limits.MAX_PAYLOAD_BYTES}"),
])
def test_h5_integer_out_of_range(key: int, value: Any, expected: str) -> None:
    error = reject(with_field(key, value), None)
    assert isinstance(error, FieldError) and error.rule == "H5"
    assert error.expected == expected
    assert error.found == value


def test_h5_limits_themselves_are_accepted() -> None:
    for key, value in ((2, limits.MAX_SEQ), (4, limits.MAX_TIMESTAMP_MS), (4, 0)):
        kw: dict[str, Any] = {"seq": 2, "prev": b"\x05" * 32} if key == 2 else {}
        entry = decode_entry(with_field(key, value, **kw), None)
        assert getattr(entry, "seq" if key == 2 else "timestamp") == value


def test_h5_payload_size_at_the_limit_is_accepted() -> None:
    payload = bytes(limits.MAX_PAYLOAD_BYTES)
    entry = create_entry(ALICE, seq=1, prev=None, timestamp=TS, entry_type="x.big",
                         payload=payload)
    assert entry.payload_size == limits.MAX_PAYLOAD_BYTES
    with pytest.raises(FieldError) as info:
        create_entry(ALICE, seq=1, prev=None, timestamp=TS, entry_type="x.big",
                     payload=payload + b"\x00")
    assert info.value.rule == "H5"


def test_h6_first_entry_with_prev() -> None:
    prev = b"\x06" * 32
    error = reject(with_field(3, prev))
    assert isinstance(error, FieldError) and error.rule == "H6"
    assert error.expected == "no key 3" and error.found == prev


def test_h6_later_entry_without_prev() -> None:
    error = reject(signed_header(unsigned_fields(seq=2)))
    assert isinstance(error, FieldError) and error.rule == "H6"
    assert error.expected == "32 bytes" and error.found is None


def test_h6_later_entry_with_null_prev() -> None:
    error = reject(with_field(3, None, seq=7))
    assert error.rule == "H6"


def test_h6_first_entry_with_null_prev_key_present() -> None:
    error = reject(with_field(3, None))
    assert isinstance(error, FieldError) and error.rule == "H6"
    assert error.expected == "no key 3" and error.found is None


@pytest.mark.parametrize("entry_type", [
    "", "Post", "1post", "_post", ".x", "-x", "post!", "po st", "pöst", "a" * 33, "post\n",
    7, b"post", None, ["post"],
])
def test_h7_bad_type(entry_type: Any) -> None:
    error = reject(with_field(5, entry_type))
    assert isinstance(error, FieldError) and error.rule == "H7"
    assert error.expected == "type name" and error.found == entry_type


@pytest.mark.parametrize("entry_type", ["a", "a" * 32, "x.y-z_0", "post", "z9"])
def test_h7_good_type_names(entry_type: str) -> None:
    assert decode_entry(with_field(5, entry_type), None).type == entry_type


def test_h8_signed_by_someone_else() -> None:
    error = reject(signed_header(unsigned_fields(ALICE), identity=BOB))
    assert isinstance(error, SignatureError) and error.rule == "H8"


def test_h8_signature_over_other_bytes() -> None:
    fields = unsigned_fields()
    fields[8] = ALICE.sign(encode(fields))  # forgot the context prefix
    error = reject(encode(fields))
    assert isinstance(error, SignatureError) and error.rule == "H8"


def test_h8_author_key_that_is_not_a_curve_point_is_rejected_not_raised() -> None:
    fields = unsigned_fields()
    fields[1] = b"\xff" * 32
    fields[8] = b"\x00" * 64
    assert reject(encode(fields)).rule == "H8"


def test_verify_false_skips_only_the_signature_check() -> None:
    fields = unsigned_fields()
    fields[8] = b"\x00" * 64
    header = encode(fields)
    entry = decode_entry(header, OPAQUE, verify=False)
    assert entry.signature == b"\x00" * 64 and entry.hash == digest(header)
    with pytest.raises(PayloadError):
        decode_entry(header, OPAQUE + b"!", verify=False)


# --- P1, P2 and payload rules applied through decode_entry ---------------------------------


def test_p1_payload_size_differs() -> None:
    entry = SAMPLES[0]
    assert entry.payload is not None
    for payload in (entry.payload[:-1], entry.payload + b"\x00", b""):
        error = reject(entry.header, payload)
        assert isinstance(error, PayloadError) and error.rule == "P1"
        assert error.expected == entry.payload_size and error.found == len(payload)


def test_p2_payload_hash_differs() -> None:
    entry = SAMPLES[0]
    assert entry.payload is not None
    other = bytes(reversed(entry.payload))
    error = reject(entry.header, other)
    assert isinstance(error, PayloadError) and error.rule == "P2"
    assert error.expected == entry.payload_hash and error.found == digest(other)


def test_known_type_payload_is_schema_checked_by_decode_entry() -> None:
    bad = encode({"text": "   "})
    header = signed_header(unsigned_fields(entry_type="post", payload=bad))
    error = reject(header, bad)
    assert error.rule == "P4"
    assert decode_entry(header, None).content is None  # the header alone is fine


def test_known_type_payload_must_be_canonical_through_decode_entry() -> None:
    bad = b"\xa1\x64text\x62hi\x00"  # trailing byte
    header = signed_header(unsigned_fields(entry_type="post", payload=bad))
    assert reject(header, bad).rule == "P3"


def test_create_entry_refuses_what_it_would_not_accept() -> None:
    with pytest.raises(ValidationError) as info:
        create_entry(ALICE, seq=1, prev=None, timestamp=TS, entry_type="post",
                     payload=encode({"text": ""}))
    assert info.value.rule == "P4"
    with pytest.raises(ValidationError) as info:
        create_entry(ALICE, seq=1, prev=None, timestamp=TS, entry_type="Bad", payload=b"")
    assert info.value.rule == "H7"
    with pytest.raises(ValidationError) as info:
        create_entry(ALICE, seq=2, prev=None, timestamp=TS, entry_type="x", payload=b"")
    assert info.value.rule == "H6"
