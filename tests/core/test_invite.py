"""Invite tokens (p2psocial/core/invite.py, docs/protocol.md §Invite tokens).

The vectors in docs/invite-vectors.json are built by `build_vectors` below and checked byte
for byte; `python tests/core/test_invite.py` rewrites the file (`--check`: only compare).
Hypothesis checks that any altered token, and any text at all, raises InviteError and nothing
else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import base58
import cbor2
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from p2psocial.core import invite as inv
from p2psocial.core.encoding import encode
from p2psocial.core.errors import InviteError, ValidationError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.core.invite import (
    INVITE_PREFIX,
    INVITE_SIGNING_CONTEXT,
    MAX_INVITE_CHARS,
    Invite,
    check_usable,
    create_invite,
    decode_invite,
    encode_invite,
    invite_signing_bytes,
    looks_like_invite,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = ROOT / "docs" / "invite-vectors.json"
SPEC_FILE = ROOT / "docs" / "protocol.md"

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400_000
MAX_UINT53 = 2**53 - 1


def _seed(name: str) -> bytes:
    if name == "alice":
        return bytes(range(32))
    return hashlib.sha256(b"p2psocial-test-identity:" + name.encode()).digest()


PEOPLE = {name: Identity(_seed(name)) for name in ("alice", "bob", "carol", "dave", "relay")}
RELAY = PEOPLE["relay"].handle
RELAY_ADDR = f"/ip4/203.0.113.7/tcp/4001/p2p/{RELAY}/p2p-circuit"


# --- vector generation -----------------------------------------------------------------------


def _token_of(fields: dict[Any, Any]) -> str:
    return INVITE_PREFIX + base58.b58encode(encode(fields)).decode()


def _signed(signer: Identity, fields: dict[Any, Any]) -> dict[Any, Any]:
    """`fields` with key 6 set to `signer`'s signature over them (whatever they hold)."""
    return {**fields, 6: signer.sign(INVITE_SIGNING_CONTEXT + encode(fields))}


def _valid_vector(name: str, description: str, who: str, addrs: list[str], *,
                  expires_ms: int | None, uses: int | None, nonce: bytes) -> dict[str, Any]:
    identity = PEOPLE[who]
    invite = create_invite(identity, addrs, expires_ms=expires_ms, uses=uses, nonce=nonce)
    token = encode_invite(invite)
    raw = base58.b58decode(token[len(INVITE_PREFIX):])
    return {
        "name": name, "description": description, "inviter": who,
        "seed": identity.seed.hex(), "public_key": identity.public_key.hex(),
        "handle": identity.handle, "addrs": addrs, "expires_ms": expires_ms, "uses": uses,
        "nonce": nonce.hex(), "token_id": invite.token_id,
        "signing_bytes": invite_signing_bytes(invite).hex(),
        "signature": invite.signature.hex(), "cbor": raw.hex(), "token": token,
        "token_chars": len(token),
    }


def _invalid_vectors(base: Invite) -> list[dict[str, Any]]:
    alice, bob = PEOPLE["alice"], PEOPLE["bob"]
    good = encode_invite(base)
    body = good[len(INVITE_PREFIX):]
    unsigned = {0: 1, 1: base.inviter, 2: list(base.addrs), 5: base.nonce}
    canonical = encode(_signed(alice, unsigned))
    assert canonical[:3] == bytes([0xa5, 0x00, 0x01])
    non_shortest = bytes([0xa5, 0x00, 0x18, 0x01]) + canonical[3:]  # version as 0x18 0x01
    cases: list[tuple[str, str, str, str]] = [
        ("I1", "a-handle", "A handle is not a token.", alice.handle),
        ("I1", "wrong-prefix", "The prefix is misspelt.", "p2ps:invit:" + body),
        ("I1", "empty", "Only whitespace.", " \n\t"),
        ("I2", "too-long", f"{MAX_INVITE_CHARS + 1} characters: rejected before decoding.",
         INVITE_PREFIX + "2" * (MAX_INVITE_CHARS + 1 - len(INVITE_PREFIX))),
        ("I3", "nothing-after-prefix", "The prefix alone.", INVITE_PREFIX),
        ("I3", "not-base58", "A '0' (not in the base58 alphabet) replaces a character.",
         good[:-5] + "0" + good[-4:]),
        ("I3", "truncated", "The last character is missing.", good[:-1]),
        ("I3", "inner-space", "A space inside the token.", good[:40] + " " + good[40:]),
        ("I3", "non-canonical", "Version written as 0x18 0x01 (not the shortest form); the "
         "signature is over the canonical map.",
         INVITE_PREFIX + base58.b58encode(non_shortest).decode()),
        ("I3", "not-a-map", "A CBOR array, not a map.", _token_of([1, base.inviter])),
        ("I3", "unknown-key", "A key 7, signed over.",
         _token_of(_signed(alice, {**unsigned, 7: 0}))),
        ("I3", "missing-nonce", "No key 5.",
         _token_of(_signed(alice, {k: v for k, v in unsigned.items() if k != 5}))),
        ("I4", "version-2", "Version 2, signed over.", _token_of(_signed(alice,
                                                                         {**unsigned, 0: 2}))),
        ("I5", "short-inviter", "A 31-byte inviter key.",
         _token_of({**_signed(alice, unsigned), 1: base.inviter[:31]})),
        ("I5", "null-expiry", "Key 3 present as null.",
         _token_of(_signed(alice, {**unsigned, 3: None}))),
        ("I5", "zero-uses", "uses = 0, signed over.",
         _token_of(_signed(alice, {**unsigned, 4: 0}))),
        ("I5", "short-nonce", "A 7-byte nonce, signed over.",
         _token_of(_signed(alice, {**unsigned, 5: base.nonce[:7]}))),
        ("I5", "short-signature", "A 63-byte signature.",
         _token_of({**unsigned, 6: _signed(alice, unsigned)[6][:63]})),
        ("I6", "nine-addresses", "Nine addresses, signed over.",
         _token_of(_signed(alice, {**unsigned, 2: [f"/ip4/10.0.0.{i}/tcp/4001"
                                                   for i in range(9)]}))),
        ("I6", "address-with-space", "An address with a space, signed over.",
         _token_of(_signed(alice, {**unsigned, 2: ["/ip4/10.0.0.1/tcp/4001 "]}))),
        ("I6", "address-not-slash", "An address without the leading '/', signed over.",
         _token_of(_signed(alice, {**unsigned, 2: ["ip4/10.0.0.1/tcp/4001"]}))),
        ("I6", "address-too-long", "A 257-character address, signed over.",
         _token_of(_signed(alice, {**unsigned, 2: ["/" + "a" * 256]}))),
        ("I6", "duplicate-address", "The same address twice, signed over.",
         _token_of(_signed(alice, {**unsigned, 2: [RELAY_ADDR, RELAY_ADDR]}))),
        ("I7", "altered-address", "An address changed after signing.",
         _token_of({**_signed(alice, unsigned), 2: ["/ip4/198.51.100.1/tcp/4001"]})),
        ("I7", "other-signer", "Names alice as inviter but bob signed it.",
         _token_of(_signed(bob, unsigned))),
    ]
    out = [{"name": name, "rule": rule, "description": description, "token": token}
           for rule, name, description, token in cases]
    return out + _lookalike_vectors(unsigned) + _two_rule_vectors(unsigned)


def _in_key_order(fields: dict[int, Any], *, key_bytes: dict[int, bytes] | None = None,
                  value_bytes: dict[int, bytes] | None = None) -> str:
    """A token of alice's `fields` written item by item in key order, some keys or values as
    the given bytes, signed over exactly the bytes before the signature item: a reader that
    compared keys or integers by value would accept it."""
    key_bytes, value_bytes = key_bytes or {}, value_bytes or {}
    items = b"".join(key_bytes.get(k, encode(k)) + value_bytes.get(k, encode(v))
                     for k, v in sorted(fields.items()))
    signature = PEOPLE["alice"].sign(INVITE_SIGNING_CONTEXT + bytes([0xA0 + len(fields)])
                                     + items)
    raw = bytes([0xA0 + len(fields) + 1]) + items + b"\x06\x58\x40" + signature
    return INVITE_PREFIX + base58.b58encode(raw).decode()


def _lookalike_vectors(unsigned: dict[int, Any]) -> list[dict[str, Any]]:
    """Keys and integers of another CBOR type that equal the right int in many languages."""
    limited = {**unsigned, 4: 5}
    cases = [
        ("I3", "key-0-false", "Key 0 written as false (0xf4) in its place: not canonical "
         "(false sorts after the integers), and not a key 0-6.",
         _in_key_order(unsigned, key_bytes={0: b"\xf4"})),
        ("I3", "key-1-true", "Key 1 written as true (0xf5) in its place.",
         _in_key_order(unsigned, key_bytes={1: b"\xf5"})),
        ("I3", "key-1-float", "Key 1 written as the float 1.0 (0xfb 3ff0000000000000): a type "
         "outside the allowed set.",
         _in_key_order(unsigned, key_bytes={1: bytes.fromhex("fb3ff0000000000000")})),
        ("I4", "version-true", "Version written as true (0xf5): true is not the integer 1.",
         _in_key_order(unsigned, value_bytes={0: b"\xf5"})),
        ("I5", "uses-true", "uses written as true (0xf5): true is not the integer 1.",
         _in_key_order(limited, value_bytes={4: b"\xf5"})),
        ("I3", "uses-float", "uses written as the float 5.0: a type outside the allowed set.",
         _in_key_order(limited, value_bytes={4: bytes.fromhex("fb4014000000000000")})),
    ]
    return [{"name": name, "rule": rule, "description": description, "token": token}
            for rule, name, description, token in cases]


def _two_rule_vectors(unsigned: dict[int, Any]) -> list[dict[str, Any]]:
    """Tokens breaking two rules: the fields are checked in key order, each by its own rule,
    so the rule reported is that of the lower key, whatever the rules' numbers."""
    alice = PEOPLE["alice"]
    dup = [RELAY_ADDR, RELAY_ADDR]
    cases = [
        ("I6", ["I5"], "two-rules-addrs-before-nonce", "The same address twice (key 2, I6) and "
         "a 7-byte nonce (key 5, I5), signed over: key 2 is checked first.",
         _token_of(_signed(alice, {**unsigned, 2: dup, 5: unsigned[5][:7]}))),
        ("I5", ["I6"], "two-rules-inviter-before-addrs", "A 31-byte inviter (key 1, I5) and "
         "addrs that is text (key 2, I6).",
         _token_of(_signed(alice, {**unsigned, 1: unsigned[1][:31], 2: RELAY_ADDR}))),
        ("I6", ["I5"], "two-rules-addrs-before-uses", "Nine addresses (key 2, I6) and uses 0 "
         "(key 4, I5), signed over.",
         _token_of(_signed(alice, {**unsigned, 2: [f"/ip4/10.0.0.{i}/tcp/4001"
                                                   for i in range(9)], 4: 0}))),
        ("I3", ["I4"], "two-rules-unknown-key-and-version", "A key 7 and version 2: all keys "
         "(I3) are checked before any field.",
         _token_of(_signed(alice, {**unsigned, 0: 2, 7: 0}))),
        ("I4", ["I5"], "two-rules-version-and-inviter", "Version 2 (key 0) and a 31-byte "
         "inviter (key 1).",
         _token_of(_signed(alice, {**unsigned, 0: 2, 1: unsigned[1][:31]}))),
        ("I5", ["I7"], "two-rules-signature-size-and-forged", "A 63-byte signature: its size "
         "(key 6, I5) is checked before it is verified (I7).",
         _token_of({**unsigned, 6: bytes(63)})),
        ("I6", ["I7"], "two-rules-addrs-and-forged", "An address without '/' changed after "
         "signing: the fields (I6) before the signature (I7).",
         _token_of({**_signed(alice, unsigned), 2: ["ip4/10.0.0.1/tcp/4001"]})),
    ]
    return [{"name": name, "rule": rule, "also_breaks": also, "description": description,
             "token": token} for rule, also, name, description, token in cases]


def _usable_vectors() -> list[dict[str, Any]]:
    cases = [
        ("no-limits", "minimal", T0 + 1000 * DAY, 1000, None),
        ("before-expiry", "relay-and-direct", T0 + 7 * DAY - 1, 0, None),
        ("at-expiry", "relay-and-direct", T0 + 7 * DAY, 0, "I8"),
        ("last-use", "relay-and-direct", T0, 2, None),
        ("used-up", "relay-and-direct", T0, 3, "I9"),
    ]
    return [{"name": name, "invite": valid, "now_ms": now, "times_used": used, "rule": rule}
            for name, valid, now, used, rule in cases]


def build_vectors() -> dict[str, Any]:
    long_addrs = [f"/dns4/relay{i}.example.org/tcp/4001/p2p/{RELAY}/p2p-circuit/"
                  for i in range(8)]
    long_addrs = [a + "x" * (256 - len(a)) for a in long_addrs]
    valid = [
        _valid_vector("minimal", "One relay address, no expiry, unlimited uses.", "alice",
                      [RELAY_ADDR], expires_ms=None, uses=None, nonce=bytes(range(8))),
        _valid_vector("relay-and-direct", "A relay and a direct address; expires 7 days after "
                      "T0; 3 uses.", "bob",
                      [RELAY_ADDR, "/ip6/2001:db8::1/udp/4001/quic-v1",
                       "/ip4/192.0.2.10/tcp/4001"],
                      expires_ms=T0 + 7 * DAY, uses=3, nonce=bytes.fromhex("0123456789abcdef")),
        _valid_vector("no-addresses", "No address: names the inviter only; one use.", "carol",
                      [], expires_ms=T0, uses=1, nonce=b"\x00" * 8),
        _valid_vector("largest", "The largest token the rules allow: 8 addresses of 256 "
                      "characters, expiry and uses 2^53 - 1.", "dave", long_addrs,
                      expires_ms=MAX_UINT53, uses=MAX_UINT53, nonce=b"\xff" * 8),
    ]
    base = decode_invite(valid[0]["token"])
    return {
        "about": "Test vectors for invite tokens (docs/protocol.md §Invite tokens). Generated "
                 "by tests/core/test_invite.py; do not edit by hand.",
        "conventions": {
            "bytes": "lowercase hex",
            "null": "absent (no expiry, unlimited uses)",
            "seeds": "alice: bytes 0x00..0x1f; others: SHA-256(\"p2psocial-test-identity:\" "
                     "+ name)",
            "timestamps": "milliseconds since the Unix epoch; T0 = 1700000000000",
        },
        "prefix": INVITE_PREFIX,
        "signing_context": INVITE_SIGNING_CONTEXT.hex(),
        "version": inv.INVITE_VERSION,
        "limits": {
            "MAX_INVITE_CHARS": MAX_INVITE_CHARS,
            "MAX_INVITE_ADDRS": inv.MAX_INVITE_ADDRS,
            "MAX_INVITE_ADDR_CHARS": inv.MAX_INVITE_ADDR_CHARS,
            "MAX_INVITE_USES": inv.MAX_INVITE_USES,
            "INVITE_NONCE_BYTES": inv.INVITE_NONCE_BYTES,
        },
        "valid": valid,
        "invalid": _invalid_vectors(base),
        "usable": _usable_vectors(),
    }


def render_vectors() -> str:
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"


# --- vectors ---------------------------------------------------------------------------------


VECTORS: dict[str, Any] = (json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
                           if VECTORS_FILE.exists() else {"valid": [], "invalid": [],
                                                          "usable": []})
VALID = {v["name"]: v for v in VECTORS["valid"]}


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


def test_vector_file_is_what_the_generator_writes() -> None:
    assert render_vectors() == VECTORS_FILE.read_text(encoding="utf-8"), (
        "docs/invite-vectors.json is out of date: run python tests/core/test_invite.py")


def test_constants() -> None:
    assert VECTORS["prefix"] == INVITE_PREFIX == "p2ps:invite:"
    assert bytes.fromhex(VECTORS["signing_context"]) == b"p2psocial/invite/v1\n"
    for name, value in VECTORS["limits"].items():
        assert getattr(inv, name) == value


@pytest.mark.parametrize("vec", VECTORS["valid"], ids=_ids(VECTORS["valid"]))
def test_valid_vector_recreated_from_seed(vec: dict[str, Any]) -> None:
    identity = Identity(bytes.fromhex(vec["seed"]))
    assert identity.public_key.hex() == vec["public_key"]
    assert identity.handle == vec["handle"]
    invite = create_invite(identity, vec["addrs"], expires_ms=vec["expires_ms"],
                           uses=vec["uses"], nonce=bytes.fromhex(vec["nonce"]))
    assert invite_signing_bytes(invite).hex() == vec["signing_bytes"]
    assert invite.signature.hex() == vec["signature"]
    token = encode_invite(invite)
    assert token == vec["token"]  # byte for byte
    assert len(token) == vec["token_chars"] <= MAX_INVITE_CHARS
    assert token.encode("ascii") == INVITE_PREFIX.encode() + base58.b58encode(
        bytes.fromhex(vec["cbor"]))
    signing = bytes.fromhex(vec["signing_bytes"])
    assert signing[len(INVITE_SIGNING_CONTEXT):] == encode(
        {k: v for k, v in cbor2.loads(bytes.fromhex(vec["cbor"])).items() if k != 6})


@pytest.mark.parametrize("vec", VECTORS["valid"], ids=_ids(VECTORS["valid"]))
def test_valid_vector_decodes(vec: dict[str, Any]) -> None:
    invite = decode_invite("\n  " + vec["token"] + " \r\n")
    assert invite.inviter.hex() == vec["public_key"]
    assert invite.handle == vec["handle"] == handle_of(invite.inviter)
    assert list(invite.addrs) == vec["addrs"]
    assert invite.expires_ms == vec["expires_ms"]
    assert invite.uses == vec["uses"]
    assert invite.nonce.hex() == vec["nonce"] == invite.token_id == vec["token_id"]
    assert invite.signature.hex() == vec["signature"]
    assert encode_invite(invite) == vec["token"]
    assert looks_like_invite(vec["token"])


@pytest.mark.parametrize("vec", VECTORS["invalid"], ids=_ids(VECTORS["invalid"]))
def test_invalid_vector_breaks_its_rule(vec: dict[str, Any]) -> None:
    with pytest.raises(InviteError) as info:
        decode_invite(vec["token"])
    assert info.value.rule == vec["rule"], str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("vec", VECTORS["usable"], ids=_ids(VECTORS["usable"]))
def test_usable_vector(vec: dict[str, Any]) -> None:
    invite = decode_invite(VALID[vec["invite"]]["token"])
    if vec["rule"] is None:
        check_usable(invite, vec["now_ms"], times_used=vec["times_used"])
        return
    with pytest.raises(InviteError) as info:
        check_usable(invite, vec["now_ms"], times_used=vec["times_used"])
    assert info.value.rule == vec["rule"]


def test_every_rule_has_a_vector_and_is_in_the_spec() -> None:
    rules = {v["rule"] for v in VECTORS["invalid"]} | {
        v["rule"] for v in VECTORS["usable"] if v["rule"]}
    assert rules == {f"I{n}" for n in range(1, 10)}
    code = (ROOT / "p2psocial" / "core" / "invite.py").read_text(encoding="utf-8")
    assert set(re.findall(r'InviteError\(\s*"(I\d+)"', code)) == rules
    spec = SPEC_FILE.read_text(encoding="utf-8")
    assert "## Invite tokens" in spec
    for rule in rules:
        assert re.search(rf"\b{rule}\b", spec), rule
    for name, value in VECTORS["limits"].items():
        assert name in spec and str(value) in spec, name
    assert INVITE_PREFIX in spec and "p2psocial/invite/v1" in spec
    assert "docs/invite-vectors.json" in spec


# --- behaviour -------------------------------------------------------------------------------


def test_expiry_message_names_the_date() -> None:
    invite = decode_invite(VALID["relay-and-direct"]["token"])
    check_usable(invite, T0)
    with pytest.raises(InviteError) as info:
        check_usable(invite, T0 + 30 * DAY)
    assert info.value.rule == "I8"
    assert "this invite expired on 2023-11-21 22:13 UTC" in str(info.value)
    assert isinstance(info.value, ValidationError)


def test_uses() -> None:
    invite = decode_invite(VALID["relay-and-direct"]["token"])
    for used in range(3):
        check_usable(invite, T0, times_used=used)
    with pytest.raises(InviteError, match=r"used up \(3 of 3 uses\)"):
        check_usable(invite, T0, times_used=3)
    unlimited = decode_invite(VALID["minimal"]["token"])
    check_usable(unlimited, MAX_UINT53, times_used=10**9)


def test_random_nonces_differ() -> None:
    alice = PEOPLE["alice"]
    nonces = {create_invite(alice, [RELAY_ADDR]).nonce for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) == 8 for n in nonces)


@pytest.mark.parametrize(("rule", "kwargs"), [
    ("I6", {"addrs": [f"/ip4/10.0.0.{i}/tcp/1" for i in range(9)]}),
    ("I6", {"addrs": ["/ip4/1.2.3.4/tcp/1 "]}),
    ("I6", {"addrs": ["ip4/1.2.3.4"]}),
    ("I6", {"addrs": ["/"]}),
    ("I6", {"addrs": ["/" + "a" * 256]}),
    ("I6", {"addrs": ["/ip4/1.2.3.4/tcp/1"] * 2}),
    ("I6", {"addrs": "/ip4/1.2.3.4/tcp/1"}),
    ("I6", {"addrs": ["/dns4/exämple.org"]}),
    ("I5", {"uses": 0}),
    ("I5", {"uses": True}),
    ("I5", {"expires_ms": -1}),
    ("I5", {"expires_ms": 2**53}),
    ("I5", {"nonce": b"1234567"}),
])
def test_create_rejects_bad_fields(rule: str, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"addrs": [RELAY_ADDR], **kwargs}
    addrs = args.pop("addrs")
    with pytest.raises(InviteError) as info:
        create_invite(PEOPLE["alice"], addrs, **args)
    assert info.value.rule == rule


def test_looks_like_invite() -> None:
    token = VALID["minimal"]["token"]
    assert looks_like_invite(token)
    assert looks_like_invite(f"  {token}\n")
    assert not looks_like_invite(PEOPLE["alice"].handle)
    assert not looks_like_invite("@" + PEOPLE["alice"].handle)
    assert not looks_like_invite("")
    assert not looks_like_invite("P2PS:INVITE:abc")


# --- properties ------------------------------------------------------------------------------


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, suppress_health_check=[HealthCheck.too_slow])


def only_invite_errors(text: str) -> Invite | None:
    """decode_invite(text); an InviteError is a fine answer, any other exception fails."""
    try:
        result = decode_invite(text)
    except InviteError as exc:
        event(f"rejected by {exc.rule}")
        return None
    event("accepted")
    return result


addr_chars = st.characters(min_codepoint=0x21, max_codepoint=0x7e)
addresses = st.lists(st.text(addr_chars, min_size=1, max_size=255).map(lambda s: "/" + s),
                     max_size=8, unique=True)
invites = st.builds(
    lambda who, addrs, expires, uses, nonce: create_invite(
        PEOPLE[who], addrs, expires_ms=expires, uses=uses, nonce=nonce),
    st.sampled_from(sorted(PEOPLE)), addresses,
    st.none() | st.integers(0, MAX_UINT53), st.none() | st.integers(1, MAX_UINT53),
    st.binary(min_size=8, max_size=8))


@fuzz(150)
@given(invites)
def test_round_trip(invite: Invite) -> None:
    token = encode_invite(invite)
    assert len(token) <= MAX_INVITE_CHARS
    assert decode_invite(token) == invite
    assert decode_invite(f"\t{token}  \n") == invite
    assert looks_like_invite(token)


@fuzz(300)
@given(invites, st.data())
def test_any_changed_cbor_byte_is_rejected(invite: Invite, data: st.DataObject) -> None:
    raw = bytearray(base58.b58decode(encode_invite(invite)[len(INVITE_PREFIX):]))
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]), label="value")
    raw[index] = value
    with pytest.raises(InviteError):
        decode_invite(INVITE_PREFIX + base58.b58encode(bytes(raw)).decode())


@fuzz(300)
@given(invites, st.data())
def test_any_changed_character_is_rejected(invite: Invite, data: st.DataObject) -> None:
    token = encode_invite(invite)
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    char = data.draw(st.characters().filter(lambda c: c != token[index]), label="char")
    with pytest.raises(InviteError):
        decode_invite(token[:index] + char + token[index + 1:])


@fuzz(150)
@given(invites, st.data())
def test_cut_or_extended_tokens_are_rejected(invite: Invite, data: st.DataObject) -> None:
    token = encode_invite(invite)
    cut = data.draw(st.integers(0, len(token) - 1), label="cut")
    with pytest.raises(InviteError):
        decode_invite(token[:cut])
    extra = data.draw(st.text(st.sampled_from(sorted(inv._BASE58)), min_size=1), label="extra")
    with pytest.raises(InviteError):
        decode_invite(token + extra)


@fuzz(300)
@given(st.text() | st.text().map(lambda s: INVITE_PREFIX + s)
       | st.text(st.sampled_from(sorted(inv._BASE58)), max_size=400).map(
           lambda s: INVITE_PREFIX + s)
       | st.binary(max_size=600).map(
           lambda b: INVITE_PREFIX + base58.b58encode(b).decode()))
def test_arbitrary_text_raises_only_invite_errors(text: str) -> None:
    only_invite_errors(text)


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=70)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.integers(0, 8) | st.text(max_size=2), inner, max_size=4),
    max_leaves=12)


@fuzz(300)
@given(st.dictionaries(st.integers(0, 7), cbor_values, max_size=8), st.booleans())
def test_arbitrary_maps_raise_only_invite_errors(fields: dict[int, Any], sign: bool) -> None:
    if sign:
        fields = _signed(PEOPLE["alice"], {k: v for k, v in fields.items() if k != 6})
    try:
        body = encode(fields)
    except (ValueError, TypeError, OverflowError):
        return
    only_invite_errors(INVITE_PREFIX + base58.b58encode(body).decode())


# --- generator entry point -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write docs/invite-vectors.json")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    text = render_vectors()
    if args.check:
        same = VECTORS_FILE.read_text(encoding="utf-8") == text
        print("up to date" if same else "out of date", file=sys.stderr)
        return 0 if same else 1
    VECTORS_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {VECTORS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
