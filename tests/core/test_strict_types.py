"""Keys and integers are checked by type, never by value (issue 9, item 19).

In Python `False == 0`, `True == 1`, `1.0 == 1`, `Decimal(1) == 1` and `Fraction(1) == 1`, and
each of these hashes like the int, so `{True: x}` finds key 1. A decoder that compares keys or
ints by value accepts a header whose key 1 is written `true` or `1.0`: a second encoding (and a
second hash) of the same entry. Every decoder of signed or hashed CBOR must reject these forms.

The headers here are built item by item in key order (the order a by-value comparison expects)
and signed over exactly the bytes a verifier cuts from them, so the signature is no obstacle:
only the type rules stand between each header and acceptance.
"""

from __future__ import annotations

import json
from typing import Any

import base58
import cbor2
import pytest

from p2psocial.core import archive
from p2psocial.core.content import parse_content
from p2psocial.core.encoding import digest, encode
from p2psocial.core.entry import SIGNING_CONTEXT, decode_entry
from p2psocial.core.errors import ArchiveError, InviteError, ProtocolError, ValidationError
from p2psocial.core.invite import (
    INVITE_PREFIX,
    INVITE_SIGNING_CONTEXT,
    create_invite,
    decode_invite,
    encode_invite,
)
from p2psocial.core.relay_policy import parse_join_answer, parse_join_request
from p2psocial.testing import identity_for

ALICE = identity_for("alice")
PAYLOAD = encode({"text": "hello"})

# Encodings that a by-value comparison takes for the integer 0, 1 or 8.
NOT_INTS: dict[str, dict[int, bytes]] = {
    "false": {0: b"\xf4"},
    "true": {1: b"\xf5"},
    "float64": {0: bytes.fromhex("fb0000000000000000"), 1: bytes.fromhex("fb3ff0000000000000"),
                8: bytes.fromhex("fb4020000000000000")},
    "float32": {1: bytes.fromhex("fa3f800000")},
    "float16": {1: bytes.fromhex("f93c00")},
    "decimal-tag-4": {1: bytes.fromhex("c4820001")},
    "rational-tag-30": {1: bytes.fromhex("d81e820101")},
}
KEY_FORMS = [pytest.param(key, enc, id=f"key-{key}-as-{name}")
             for name, forms in NOT_INTS.items() for key, enc in forms.items()]


def _fields(**changes: Any) -> dict[int, Any]:
    fields: dict[int, Any] = {0: 1, 1: ALICE.public_key, 2: 1, 4: 1_700_000_000_000,
                              5: "post", 6: len(PAYLOAD), 7: digest(PAYLOAD)}
    for key, value in changes.items():
        fields[int(key.removeprefix("k"))] = value
    return fields


def header_in_key_order(fields: dict[int, Any], key_bytes: dict[int, bytes] | None = None,
                        value_bytes: dict[int, bytes] | None = None) -> bytes:
    """Items in key order, some keys or values written as given, signed over the exact bytes
    a verifier slices from the header (all but the map byte's count and the last 67 bytes)."""
    key_bytes, value_bytes = key_bytes or {}, value_bytes or {}
    items = b"".join(key_bytes.get(k, encode(k)) + value_bytes.get(k, encode(v))
                     for k, v in sorted(fields.items()))
    start = 0xA0 + len(fields) + 1
    prefix = bytes([start]) + items + key_bytes.get(8, b"\x08") + b"\x58\x40"
    message = SIGNING_CONTEXT + bytes([start - 1]) + prefix[1:-3]
    return prefix + ALICE.sign(message)


def test_the_helper_builds_the_valid_header_when_nothing_is_replaced() -> None:
    entry = decode_entry(header_in_key_order(_fields()), PAYLOAD)
    assert entry.type == "post"


@pytest.mark.parametrize(("key", "encoded"), KEY_FORMS)
def test_header_key_that_equals_an_int_but_is_not_one_is_rejected(key: int,
                                                                  encoded: bytes) -> None:
    header = header_in_key_order(_fields(), key_bytes={key: encoded})
    assert cbor2.loads(header)[key] is not None  # by value, the key is there
    with pytest.raises(ValidationError) as info:
        decode_entry(header, PAYLOAD)
    # not in canonical order (false/true sort after 8) or not an allowed type (floats, tags)
    assert info.value.rule == "H2", str(info.value)
    with pytest.raises(ValidationError):
        decode_entry(header, None)


@pytest.mark.parametrize(("key", "encoded", "rule"), [
    (0, b"\xf5", "H4"),                                    # version true
    (2, b"\xf5", "H5"),                                    # seq true
    (6, b"\xf4", "H5"),                                    # payload_size false (size 0)
    (0, bytes.fromhex("fb3ff0000000000000"), "H2"),        # version 1.0
    (2, bytes.fromhex("f93c00"), "H2"),                    # seq 1.0
    (4, cbor2.dumps(1_700_000_000_000.0), "H2"),           # a float timestamp
    (6, bytes.fromhex("c4820014"), "H2"),                  # payload_size as decimal 20
], ids=["version-true", "seq-true", "size-false", "version-1.0", "seq-1.0", "ts-float",
        "size-decimal"])
def test_header_value_that_equals_an_int_but_is_not_one_is_rejected(key: int, encoded: bytes,
                                                                   rule: str) -> None:
    fields = _fields()
    payload = b"" if key == 6 and encoded == b"\xf4" else PAYLOAD
    if key == 6:
        fields[6], fields[7] = len(payload), digest(payload)
    header = header_in_key_order(fields, value_bytes={key: encoded})
    with pytest.raises(ValidationError) as info:
        decode_entry(header, payload)
    assert info.value.rule == rule, str(info.value)


@pytest.mark.parametrize(("body", "rule"), [
    ({"text": "hello", True: "x"}, "P3"),
    ({"text": "hello", 1.0: "x"}, "P3"),
    ({"text": True}, "P4"),
    ({"text": 1.0}, "P3"),
    ({"feed": True}, "P4"),
    ({"addrs": [True]}, "P4"),
], ids=repr)
def test_payload_bools_and_floats_are_not_what_the_schema_expects(body: dict[Any, Any],
                                                                   rule: str) -> None:
    entry_type = "follow" if "feed" in body else "relays" if "addrs" in body else "post"
    with pytest.raises(ValidationError) as info:
        parse_content(entry_type, cbor2.dumps(body, canonical=True))
    assert info.value.rule == rule


# --- invites ---------------------------------------------------------------------------------


def _token(fields: dict[int, Any], key_bytes: dict[int, bytes] | None = None,
           value_bytes: dict[int, bytes] | None = None) -> str:
    """A token of `fields` in key order, keys or values written as given, signed over the
    bytes before the signature item (so only the type rules can reject it)."""
    key_bytes, value_bytes = key_bytes or {}, value_bytes or {}
    items = b"".join(key_bytes.get(k, encode(k)) + value_bytes.get(k, encode(v))
                     for k, v in sorted(fields.items()))
    unsigned = bytes([0xA0 + len(fields)]) + items
    signature = ALICE.sign(INVITE_SIGNING_CONTEXT + unsigned)
    raw = bytes([0xA0 + len(fields) + 1]) + items + b"\x06\x58\x40" + signature
    return INVITE_PREFIX + base58.b58encode(raw).decode()


INVITE_FIELDS: dict[int, Any] = {0: 1, 1: ALICE.public_key, 2: ["/ip4/192.0.2.1/tcp/4001"],
                                 3: 1_800_000_000_000, 4: 5, 5: bytes(range(8))}


def test_the_invite_helper_builds_a_valid_token() -> None:
    token = _token(INVITE_FIELDS)
    invite = create_invite(ALICE, ["/ip4/192.0.2.1/tcp/4001"], expires_ms=1_800_000_000_000,
                           uses=5, nonce=bytes(range(8)))
    assert token == encode_invite(invite)
    assert decode_invite(token) == invite


@pytest.mark.parametrize(("key_bytes", "value_bytes", "rule"), [
    ({0: b"\xf4"}, {}, "I3"),
    ({1: b"\xf5"}, {}, "I3"),
    ({1: bytes.fromhex("fb3ff0000000000000")}, {}, "I3"),
    ({}, {0: b"\xf5"}, "I4"),
    ({}, {4: b"\xf5"}, "I5"),
    ({}, {4: bytes.fromhex("fb4014000000000000")}, "I3"),
], ids=["key-0-false", "key-1-true", "key-1-float", "version-true", "uses-true", "uses-5.0"])
def test_invite_keys_and_ints_are_checked_by_type(key_bytes: dict[int, bytes],
                                                  value_bytes: dict[int, bytes],
                                                  rule: str) -> None:
    with pytest.raises(InviteError) as info:
        decode_invite(_token(INVITE_FIELDS, key_bytes, value_bytes))
    assert info.value.rule == rule, str(info.value)


# --- archives --------------------------------------------------------------------------------


def _archive(**changes: Any) -> bytes:
    body: dict[str, Any] = {"format": "p2psocial-archive", "version": 1,
                            "key": json.dumps({"format": "p2psocial-key"}), "entries": []}
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not _DROP}
    body["check"] = digest(encode(body))
    return encode(body)


class _Drop:
    """Marks a field the archive leaves out (its repr is stable: test ids must be)."""

    def __repr__(self) -> str:
        return "<left out>"


_DROP = _Drop()


def test_a_well_formed_archive_unpacks() -> None:
    assert archive.unpack(_archive()).key_doc == {"format": "p2psocial-key"}


@pytest.mark.parametrize("changes", [
    {"version": True}, {"format": b"p2psocial-archive"}, {"key": b"{}"},
    {"entries": [[5, None]]}, {"entries": [[[1, 2, 3], None]]}, {"entries": [[b"h", 7]]},
    {"entries": [[b"h", b"p", b"x"]]}, {"entries": {}}, {"extra": 1}, {"key": _DROP},
], ids=repr)
def test_archive_fields_are_checked_by_type(changes: dict[str, Any]) -> None:
    with pytest.raises(ArchiveError):
        archive.unpack(_archive(**changes))


# --- join messages -----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    cbor2.dumps({False: 1}), cbor2.dumps({0: True}), b"\xa1\xf9\x00\x00\x01",
    cbor2.dumps({0: 1, True: "p2ps:invite:x"}),
], ids=["key-false", "version-true", "key-0.0", "key-true"])
def test_join_request_keys_and_version_are_checked_by_type(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_join_request(data)


def test_join_answer_keys_are_checked_by_type() -> None:
    good = {0: True, 1: "welcome", 2: 100}
    assert parse_join_answer(encode(good)) == (True, "welcome", 100)
    # key 0 written as false, in the place of 0 (so not canonical either)
    bad = b"\xa3" + b"\xf4\xf5" + b"\x01" + encode("welcome") + b"\x02" + encode(100)
    with pytest.raises(ProtocolError):
        parse_join_answer(bad)
    with pytest.raises(ProtocolError):
        parse_join_answer(encode({0: True, 1: "welcome", 2: True}))
