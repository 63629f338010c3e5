"""Fuzzing the decoders: whatever bytes arrive, the only error is a ValidationError.

Raw bytes, structured CBOR junk (nested values of every CBOR type, tags included), valid
headers with fields mutated, and signed headers committing to junk payloads are fed to
decode_entry, parse_content and decode_canonical. Any other exception fails the test.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from p2psocial.core import limits
from p2psocial.core.content import KNOWN_TYPES, parse_content
from p2psocial.core.encoding import decode_canonical, digest, encode
from p2psocial.core.entry import (
    SIGNING_CONTEXT,
    _check_fields,
    _fast_header,
    decode_entry,
    signing_bytes,
)
from p2psocial.core.errors import EncodingError, ValidationError
from p2psocial.testing import FeedBuilder, identity_for

ALICE = identity_for("alice")


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, suppress_health_check=[HealthCheck.too_slow])


def only_validation_errors(decode: Callable[..., Any], *args: Any) -> Any:
    """Call `decode`; a ValidationError is a fine answer, any other exception fails."""
    try:
        result = decode(*args)
    except ValidationError as exc:
        event(f"rejected by {exc.rule}")  # see pytest --hypothesis-show-statistics
        return None
    event("accepted")
    return result


def allowed_types_only(value: Any, depth: int = 0) -> bool:
    """The data model of the protocol: 64-bit ints, bytes, text, bool, null, lists and maps
    (a wider int is a bignum tag, which the protocol rejects)."""
    if type(value) is int:
        return -(2**64) <= value < 2**64
    if value is None or type(value) in (bool, bytes, str):
        return True
    if depth >= 16:  # protocol.md: nested at most 16 deep
        return False
    if type(value) is list:
        return all(allowed_types_only(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(allowed_types_only(k, depth + 1) and type(k) is not list
                   for k in value) and all(allowed_types_only(v, depth + 1)
                                           for v in value.values())
    return False


def dumps_or_skip(value: Any, *, canonical: bool = True) -> bytes:
    try:
        return bytes(cbor2.dumps(value, canonical=canonical))
    except (cbor2.CBOREncodeError, ValueError, TypeError, OverflowError, RecursionError):
        assume(False)
        raise


def _samples() -> list[tuple[bytes, bytes | None]]:
    bob = identity_for("bob")
    b = FeedBuilder(ALICE)
    first = b.post("hello", tags=("a", "b"), mentions=(bob.public_key,))
    b.reply(first, "again")
    b.follow(bob.public_key)
    b.react(first, "🙂")
    b.relays("/dns4/relay.example/tcp/4001")
    b.add_raw("x.opaque", b"\x00\x01\x02")
    return [(e.header, e.payload) for e in b.entries]


SAMPLES = _samples()
SAMPLE_FIELDS = [cbor2.loads(header) for header, _ in SAMPLES]

# --- CBOR value strategies -----------------------------------------------------------------

# Tags cbor2 gives a meaning to (dates, bignums, decimals, rationals, regexes, UUIDs, sets,
# IP addresses, string references, self-describe, ...), plus any other tag number.
# Tags 28/29 (shared values, possibly cyclic) and 36 (MIME) decode to values cbor2 cannot
# encode again.
SEMANTIC_TAGS = [0, 1, 2, 3, 4, 5, 21, 22, 23, 24, 25, 28, 29, 30, 32, 33, 34, 35, 36, 37, 52,
                 54, 100, 256, 258, 260, 261, 262, 263, 1004, 43000, 55799]

tag_numbers = st.one_of(st.sampled_from(SEMANTIC_TAGS), st.integers(0, 2**64 - 1))
simple_values = st.sampled_from([*range(0, 20), *range(32, 256)]).map(cbor2.CBORSimpleValue)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(0, limits.MAX_SEQ + 2),
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=80),
    st.sampled_from([bytes(24), bytes(32), bytes(64), bytes(80)]),
    st.just(cbor2.undefined),
    simple_values,
)
hashable_keys = st.one_of(st.integers(-3, 12), st.text(max_size=8), st.binary(max_size=4),
                          st.booleans(), st.none(), st.floats())
cbor_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(hashable_keys, children, max_size=5),
        st.builds(cbor2.CBORTag, tag_numbers, children),
    ),
    max_leaves=12,
)


@st.composite
def junk_headers(draw: st.DrawFn) -> bytes:
    """Maps with int keys 0..10 and any values, canonically encoded or not."""
    fields = draw(st.dictionaries(st.integers(0, 10), cbor_values, max_size=11))
    return dumps_or_skip(fields, canonical=draw(st.booleans()))


# Values of the right type and about the right size for each header key, so that mutations
# also get past the structural rules to the range, link, signature and payload rules.
PLAUSIBLE = {
    0: st.integers(0, 2),
    1: st.binary(min_size=31, max_size=33),
    2: st.integers(0, 3) | st.integers(limits.MAX_SEQ - 1, limits.MAX_SEQ + 1),
    3: st.none() | st.binary(min_size=31, max_size=33),
    4: st.integers(-1, 2) | st.integers(limits.MAX_TIMESTAMP_MS - 1,
                                         limits.MAX_TIMESTAMP_MS + 1),
    5: st.from_regex(r"[a-zA-Z0-9_.-]{0,33}", fullmatch=True)
       | st.sampled_from(sorted(KNOWN_TYPES)),
    6: st.integers(-1, 40) | st.integers(limits.MAX_PAYLOAD_BYTES - 1,
                                         limits.MAX_PAYLOAD_BYTES + 1),
    7: st.binary(min_size=31, max_size=33),
    8: st.binary(min_size=63, max_size=65),
    9: st.integers(0, 1),
    10: st.none(),
}


@st.composite
def mutated_headers(draw: st.DrawFn) -> bytes:
    """A valid header with one to three fields set, dropped or added; maybe signed again."""
    fields = dict(draw(st.sampled_from(SAMPLE_FIELDS)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.integers(0, 10))
        action = draw(st.sampled_from(["drop", "plausible", "plausible", "any"]))
        if action == "drop":
            fields.pop(key, None)
        elif action == "plausible":
            fields[key] = draw(PLAUSIBLE[key])
        else:
            fields[key] = draw(cbor_values)
    if draw(st.booleans()):
        try:
            fields[8] = ALICE.sign(signing_bytes(fields))
        except (cbor2.CBOREncodeError, ValueError, TypeError, OverflowError):
            assume(False)
    return dumps_or_skip(fields)


payloads = st.one_of(st.none(), st.binary(max_size=300), st.sampled_from(
    [payload for _, payload in SAMPLES]))
entry_types = st.one_of(st.sampled_from(sorted(KNOWN_TYPES)),
                        st.from_regex(r"[a-z][a-z0-9_.-]{0,31}", fullmatch=True))
SCHEMA_FIELDS = ["text", "root", "parent", "mentions", "tags", "cw", "quote", "name", "bio",
                 "feed", "target", "reaction", "addrs", "keys", "nonce", "box"]
schema_values = st.one_of(
    cbor_values,
    st.lists(st.one_of(st.binary(min_size=32, max_size=32), st.binary(min_size=80,
                                                                      max_size=80),
                       st.text(max_size=70)), max_size=40),
    st.text(min_size=1, max_size=40),
    st.binary(min_size=16, max_size=40),
)
schema_maps = st.dictionaries(st.one_of(st.sampled_from(SCHEMA_FIELDS), st.text(max_size=6)),
                              schema_values, max_size=6)


# --- decode_entry --------------------------------------------------------------------------


@given(st.binary(max_size=limits.MAX_HEADER_BYTES + 20), payloads)
@fuzz(3000)
def test_decode_entry_of_arbitrary_bytes_raises_only_validation_errors(
        header: bytes, payload: bytes | None) -> None:
    only_validation_errors(decode_entry, header, payload)


@given(junk_headers(), payloads)
@fuzz(500)
def test_decode_entry_of_structured_cbor_junk_raises_only_validation_errors(
        header: bytes, payload: bytes | None) -> None:
    only_validation_errors(decode_entry, header, payload)


@given(mutated_headers(), payloads)
@fuzz(700)
def test_decode_entry_of_mutated_headers_raises_only_validation_errors(
        header: bytes, payload: bytes | None) -> None:
    entry = only_validation_errors(decode_entry, header, payload)
    if entry is not None:  # a mutation may be harmless (e.g. the same value set again)
        assert entry.hash == digest(header)


@given(st.data())
@fuzz(600)
def test_decode_entry_of_a_signed_header_over_a_junk_payload(data: st.DataObject) -> None:
    entry_type = data.draw(entry_types)
    payload = data.draw(st.one_of(
        st.binary(max_size=200),
        schema_maps.map(lambda m: dumps_or_skip(m, canonical=data.draw(st.booleans()))),
    ))
    fields = {0: 1, 1: ALICE.public_key, 2: 1, 4: 0, 5: entry_type, 6: len(payload),
              7: digest(payload)}
    fields[8] = ALICE.sign(signing_bytes(fields))
    entry = only_validation_errors(decode_entry, encode(fields), payload)
    if entry is not None:
        assert entry.payload == payload


# --- keys and ints equal by value but not by type (issue 9, item 19) -----------------------


def _lookalikes(n: int) -> list[bytes]:
    """Encodings of values that equal the int `n` in Python but are not CBOR integers."""
    forms = [bytes([0xFB]) + struct.pack(">d", n),
             bytes([0xC4]) + encode([0, n]),            # decimal fraction n × 10^0
             bytes([0xD8, 0x1E]) + encode([n, 1])]      # rational n / 1
    if float(n) == struct.unpack(">f", struct.pack(">f", n))[0]:
        forms.append(bytes([0xFA]) + struct.pack(">f", n))
    if n <= 2048:
        forms.append(bytes([0xF9]) + struct.pack(">e", n))
    if n in (0, 1):
        forms.append(b"\xf5" if n else b"\xf4")
    return forms


@st.composite
def lookalike_headers(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A valid header, item by item in its order, with 1-3 int keys or int values written as
    a look-alike (false, 1.0, a decimal tag …), signed over exactly the bytes a verifier slices
    from it, so only the type rules can reject it."""
    header, payload = draw(st.sampled_from(SAMPLES))
    fields = cbor2.loads(header)
    unsigned = [[encode(k), encode(v)] for k, v in fields.items() if k != 8]
    sig_key = b"\x08"
    spots = [(i, side) for i, (k, v) in enumerate(fields.items()) if k != 8
             for side in (0, 1) if side == 0 or type(v) is int]
    for index, side in draw(st.lists(st.sampled_from([*spots, (-1, 0)]), min_size=1,
                                     max_size=3, unique=True)):
        if index == -1:
            sig_key = draw(st.sampled_from(_lookalikes(8)))
        else:
            value = list(fields.items())[index][side]
            unsigned[index][side] = draw(st.sampled_from(_lookalikes(value)))
    items = b"".join(k + v for k, v in unsigned)
    prefix = bytes([header[0]]) + items + sig_key + b"\x58\x40"
    message = SIGNING_CONTEXT + bytes([header[0] - 1]) + prefix[1:-3]
    return prefix + ALICE.sign(message), payload


@given(lookalike_headers())
@fuzz(250)
def test_a_key_or_int_that_only_equals_the_right_int_is_rejected(
        case: tuple[bytes, bytes | None]) -> None:
    header, payload = case
    with pytest.raises(ValidationError):
        decode_entry(header, payload)
    assert _fast_header(header) is None


@given(st.one_of(mutated_headers(), lookalike_headers().map(lambda c: c[0])))
@fuzz(250)
def test_the_fast_header_path_accepts_only_what_the_full_checks_accept(header: bytes) -> None:
    fast = _fast_header(header)
    if fast is None:
        return
    event("fast path took it")
    assert _check_fields(decode_canonical(header, rule="H2", what="header")) == fast


# --- parse_content and decode_canonical ----------------------------------------------------


@given(entry_types, st.binary(max_size=300))
@fuzz(2000)
def test_parse_content_of_arbitrary_bytes_raises_only_validation_errors(
        entry_type: str, payload: bytes) -> None:
    only_validation_errors(parse_content, entry_type, payload)


@given(st.sampled_from(sorted(KNOWN_TYPES)), st.one_of(schema_maps, cbor_values),
       st.booleans())
@fuzz(600)
def test_parse_content_of_structured_junk_raises_only_validation_errors(
        entry_type: str, value: Any, canonical: bool) -> None:
    only_validation_errors(parse_content, entry_type, dumps_or_skip(value, canonical=canonical))


@given(st.one_of(st.binary(max_size=200), cbor_values.map(dumps_or_skip)))
@fuzz(600)
def test_decode_canonical_raises_only_encoding_errors(data: bytes) -> None:
    try:
        value = decode_canonical(data, rule="X1", what="fuzz")
    except EncodingError as exc:
        assert exc.rule == "X1"
        return
    assert encode(value) == data
    assert allowed_types_only(value)


@given(cbor_values)
@fuzz(400)
def test_decode_canonical_accepts_every_canonical_encoding_it_can_read_back(value: Any) -> None:
    data = dumps_or_skip(value)
    try:
        again = decode_canonical(data, rule="X1", what="fuzz")
    except EncodingError:
        assert not allowed_types_only(value)  # a float, tag or simple value somewhere
        return
    assert encode(again) == data
    assert allowed_types_only(again)
    if isinstance(value, float) and math.isnan(value):
        return
    if type(value) in (int, str, bytes, bool, type(None)):
        assert again == value


# --- values cbor2 decodes but cannot encode again ------------------------------------------

REENCODE_FAILURES = [
    pytest.param(b"\xd8\x24\x60", id="mime-message-tag-36"),
    pytest.param(b"\xd8\x24\x64Subj", id="mime-message-tag-36-text"),
    pytest.param(b"\xd8\x1c\x81\xd8\x1d\x00", id="cyclic-shared-list-tags-28-29"),
    pytest.param(b"\xa1\x00\xd8\x24\x60", id="mime-inside-a-header-map"),
]

@pytest.mark.parametrize("data", REENCODE_FAILURES)
def test_decode_entry_of_values_cbor2_cannot_reencode_is_a_validation_error(data: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        decode_entry(data, None)
    assert info.value.rule == "H2"


@pytest.mark.parametrize("data", REENCODE_FAILURES)
def test_parse_content_of_values_cbor2_cannot_reencode_is_a_validation_error(
        data: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        parse_content("post", data)
    assert info.value.rule == "P3"
