"""Regenerate docs/test-vectors.json from the reference core (docs/protocol.md §Test vectors).

    python tests/vectors/generate.py           # rewrite docs/test-vectors.json
    python tests/vectors/generate.py --check   # exit 1 if the file differs from the output

Rules:
- Everything is deterministic: fixed seeds, fixed timestamps, fixed "random" values for the
  private message. Running the script twice gives identical bytes.
- Valid entries are built only through p2psocial.core (create_entry, content_payload).
- Invalid entries are built by hand (canonical encoder plus manual bytes), signed with the
  author's real key where a signature is needed, so that exactly the intended rule breaks.
  Where a second rule necessarily breaks too, the vector says so in `also_breaks`.
- The script checks its own output against the core before writing: every valid vector
  decodes, every invalid vector raises its rule, every chain step places as declared.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import importlib.util
import json
import sys
import unicodedata
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import base58
import cbor2
import nacl.bindings
import nacl.pwhash
import nacl.secret
import nacl.signing

from p2psocial.core import archive, limits
from p2psocial.core.account import ops as account_ops
from p2psocial.core.account.ops import (
    MAX_OP_BYTES,
    RECOVERY_WINDOW_MS,
    Op,
    OpType,
    consent_for,
    decode_op,
    make_op,
)
from p2psocial.core.account.state import MAX_AFTER, AccountState, resolve
from p2psocial.core.content import (
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
)
from p2psocial.core.encoding import digest, encode
from p2psocial.core.entry import SIGNING_CONTEXT, Entry, create_entry, decode_entry, signing_bytes
from p2psocial.core.errors import (
    AccountOpError,
    ArchiveError,
    ChainError,
    ForkError,
    ValidationError,
)
from p2psocial.core.feed import FeedState, Placement, place
from p2psocial.core.identity import Identity, handle_of
from p2psocial.testing.builders import BASE_TS, identity_for

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "test-vectors.json"

T0 = BASE_TS  # 1_700_000_000_000 ms = 2023-11-14T22:13:20Z
STEP = 1000
TEST_PREFIX = b"p2psocial-test-vector:"


# --- identities ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Person:
    name: str
    seed_rule: str
    identity: Identity


def _people() -> dict[str, Person]:
    alice = Person("alice", "bytes 0x00, 0x01, ..., 0x1f", Identity(bytes(range(32))))
    out = {"alice": alice}
    for name in ("bob", "carol", "dave"):
        out[name] = Person(name, f'SHA-256("p2psocial-test-identity:{name}")',
                           identity_for(name))
    return out


PEOPLE = _people()
ALICE = PEOPLE["alice"].identity
BOB = PEOPLE["bob"].identity
CAROL = PEOPLE["carol"].identity
DAVE = PEOPLE["dave"].identity


def _name_of(key: bytes) -> str:
    return next(p.name for p in PEOPLE.values() if p.identity.public_key == key)


def _identity_vector(person: Person) -> dict[str, Any]:
    key = person.identity.public_key
    handle = handle_of(key)
    protobuf = bytes([0x08, 0x01, 0x12, 0x20]) + key
    sha256_peer_id = base58.b58encode(bytes([0x12, 0x20]) + hashlib.sha256(protobuf).digest())
    return {
        "name": person.name,
        "seed_derivation": person.seed_rule,
        "seed": person.identity.seed.hex(),
        "public_key": key.hex(),
        "peer_id_bytes": base58.b58decode(handle).hex(),
        "handle": handle,
        "accepted_forms": ["@" + handle, key.hex(), key.hex().upper(), f"  {handle}\n"],
        "rejected_forms": [
            base58.b58encode(key).decode(),              # the bare key in base58
            sha256_peer_id.decode(),                     # a sha256-multihash PeerID (Qm…)
            key.hex()[:-2],                              # 31 bytes of hex
        ],
    }


# --- CBOR diagnostic notation (RFC 8949 §8), for human readers of the vectors ----------------


def diag(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        sign, digits, exponent = value.as_tuple()
        mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
        return f"4([{exponent}, {mantissa}])"
    if isinstance(value, Fraction):
        return f"30([{value.numerator}, {value.denominator}])"
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(diag(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{diag(k)}: {diag(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no diagnostic notation for {type(value).__name__}")


def _diag_bytes(data: bytes) -> str | None:
    try:
        return diag(cbor2.loads(data))
    except (cbor2.CBORDecodeError, TypeError, ValueError):
        return None


# --- valid entries ---------------------------------------------------------------------------


def _entry(identity: Identity, seq: int, prev: Entry | bytes | None, ts: int,
           content: Content | None = None, *, entry_type: str | None = None,
           payload: bytes | None = None) -> Entry:
    if content is not None:
        entry_type, payload = content.TYPE, content_payload(content)
    assert entry_type is not None and payload is not None
    prev_hash = prev.hash if isinstance(prev, Entry) else prev
    return create_entry(identity, seq=seq, prev=prev_hash, timestamp=ts,
                        entry_type=entry_type, payload=payload)


def _valid_vector(name: str, description: str, entry: Entry, *,
                  withhold_payload: bool = False,
                  unknown_fields: list[str] | None = None) -> dict[str, Any]:
    fields = cbor2.loads(entry.header)
    payload = None if withhold_payload else entry.payload
    assert entry.payload is not None
    out: dict[str, Any] = {
        "name": name,
        "description": description,
        "author": _name_of(entry.author),
        "seq": entry.seq,
        "prev": None if entry.prev is None else entry.prev.hex(),
        "timestamp": entry.timestamp,
        "type": entry.type,
        "payload_size": entry.payload_size,
        "payload_hash": entry.payload_hash.hex(),
        "signature": entry.signature.hex(),
        "header_diag": diag(fields),
        "payload_diag": _diag_bytes(entry.payload) if entry.content is not None else None,
        "signing_bytes": signing_bytes(fields).hex(),
        "header": entry.header.hex(),
        "payload": None if payload is None else payload.hex(),
        "hash": entry.hash.hex(),
    }
    if withhold_payload:
        out["withheld_payload"] = entry.payload.hex()
    if unknown_fields:
        out["unknown_fields"] = unknown_fields
    decode_entry(entry.header, payload)  # self-check
    return out


# --- the private message: libsodium's constructions with fixed "random" values ----------------


def _fixed(label: str, size: int = 32) -> bytes:
    return hashlib.sha256(TEST_PREFIX + label.encode()).digest()[:size]


def _sealed_box(recipient_x25519: bytes, message: bytes, ephemeral_secret: bytes) -> bytes:
    """crypto_box_seal with a chosen ephemeral key: epk || crypto_box_easy(m, n, pk, esk),
    n = BLAKE2b-192(epk || pk)."""
    ephemeral_public = nacl.bindings.crypto_scalarmult_base(ephemeral_secret)
    nonce = hashlib.blake2b(ephemeral_public + recipient_x25519, digest_size=24).digest()
    return ephemeral_public + nacl.bindings.crypto_box_easy(message, nonce, recipient_x25519,
                                                            ephemeral_secret)


def _dm(author: Identity, readers: list[Identity], text: str, order: list[str]
        ) -> tuple[PrivateMessage, dict[str, Any]]:
    everyone = [*readers, author]  # as seal_message orders them: readers, then the author
    key = _fixed("dm-message-key")
    nonce = _fixed("dm-nonce", 24)
    plaintext = encode({"text": text, "to": [r.public_key for r in everyone]})
    box = bytes(nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext)
    sealed: dict[str, dict[str, Any]] = {}
    for reader in everyone:
        name = _name_of(reader.public_key)
        x25519 = bytes(nacl.signing.VerifyKey(reader.public_key).to_curve25519_public_key())
        esk = _fixed(f"dm-ephemeral:{name}")
        sealed_key = _sealed_box(x25519, key, esk)
        sealed[name] = {
            "reader": name,
            "reader_x25519_public": x25519.hex(),
            "ephemeral_secret": esk.hex(),
            "ephemeral_public": sealed_key[:32].hex(),
            "sealed_key": sealed_key.hex(),
        }
    message = PrivateMessage(keys=tuple(bytes.fromhex(sealed[n]["sealed_key"]) for n in order),
                             nonce=nonce, box=box)
    info = {
        "description": "A dm entry with every random value fixed (message key, nonce, "
                       "ephemeral X25519 keys, order of the sealed keys), so its bytes are "
                       "reproducible. Real messages draw these at random and shuffle the keys.",
        "author": _name_of(author.public_key),
        "readers": [_name_of(r.public_key) for r in everyone],
        "not_readers": ["dave"],
        "text": text,
        "plaintext_diag": _diag_bytes(plaintext),
        "plaintext": plaintext.hex(),
        "message_key": key.hex(),
        "nonce": nonce.hex(),
        "box": box.hex(),
        "sealed_keys": [sealed[n] for n in order],
    }
    return message, info


# --- invalid entries -------------------------------------------------------------------------


def _fields(identity: Identity, *, seq: int = 1, prev: bytes | None = None, ts: int = T0,
            entry_type: str = "post", payload: bytes) -> dict[int, Any]:
    fields: dict[int, Any] = {0: limits.FORMAT_VERSION, 1: identity.public_key, 2: seq, 4: ts,
                              5: entry_type, 6: len(payload), 7: digest(payload)}
    if prev is not None:
        fields[3] = prev
    return fields


def _sign(identity: Identity, fields: dict[Any, Any], *, context: bytes = SIGNING_CONTEXT
          ) -> dict[Any, Any]:
    """`fields` plus key 8: the signature over context + canonical encoding of the rest."""
    unsigned = {k: v for k, v in fields.items() if k != 8}
    return {**unsigned, 8: identity.sign(context + encode(unsigned))}


def _items(fields: dict[int, Any]) -> list[bytes]:
    """The encoded (key, value) items of a header map, in key order."""
    return [encode(k) + encode(v) for k, v in sorted(fields.items())]


def _map(items: list[bytes]) -> bytes:
    assert len(items) < 24
    return bytes([0xA0 + len(items)]) + b"".join(items)


def _in_key_order(identity: Identity, fields: dict[int, Any], *,
                  key_bytes: dict[int, bytes] | None = None,
                  value_bytes: dict[int, bytes] | None = None) -> bytes:
    """A header written item by item in key order, some keys or values as the given bytes,
    signed over exactly the bytes a verifier slices from it (the map byte less one, then all
    but the last 67 bytes): so a verifier that compares keys or ints by value would accept
    it, and only the type rules reject it."""
    key_bytes, value_bytes = key_bytes or {}, value_bytes or {}
    items = b"".join(key_bytes.get(k, encode(k)) + value_bytes.get(k, encode(v))
                     for k, v in sorted(fields.items()))
    start = 0xA0 + len(fields) + 1
    prefix = bytes([start]) + items + key_bytes.get(8, b"\x08") + b"\x58\x40"
    return prefix + identity.sign(SIGNING_CONTEXT + bytes([start - 1]) + prefix[1:-3])


def _nested(depth: int) -> list[Any]:
    """`depth` arrays, each the only item of the one around it: [[…[]…]]."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _invalid(name: str, rule: str, description: str, header: bytes, payload: bytes | None,
             *, also_breaks: list[str] | None = None, canonical_form: bytes | None = None
             ) -> dict[str, Any]:
    try:
        decode_entry(header, payload)
    except ValidationError as exc:
        if exc.rule != rule:
            raise AssertionError(f"{name}: the core reports {exc.rule}, not {rule}: {exc}"
                                 ) from exc
    else:
        raise AssertionError(f"{name}: the core accepts it")
    if rule.startswith("P"):
        decode_entry(header, None)  # the header alone is valid: only the payload is wrong
    out: dict[str, Any] = {"name": name, "rule": rule, "description": description}
    if also_breaks:
        out["also_breaks"] = also_breaks
    out["header_diag"] = _diag_bytes(header)
    out["header"] = header.hex()
    out["payload"] = None if payload is None else payload.hex()
    if canonical_form is not None:
        decode_entry(canonical_form, payload)
        out["canonical_form"] = canonical_form.hex()
    return out


def _invalid_vectors(first: Entry) -> list[dict[str, Any]]:
    a = ALICE
    payload = first.payload
    assert payload is not None
    good = cbor2.loads(first.header)  # {0: 1, 1: key, 2: 1, 4: ts, 5: "post", 6, 7, 8: sig}
    items = _items(good)
    out: list[dict[str, Any]] = []

    def add(*args: Any, **kw: Any) -> None:
        out.append(_invalid(*args, **kw))

    # H1: size first, before any decoding.
    long_type = "a" * 400
    add("header-too-large", "H1", "A 513+ byte header (its type is 400 characters). Checked "
        "before decoding, so the size rule is the one reported.",
        encode(_sign(a, _fields(a, entry_type=long_type, payload=b""))), b"",
        also_breaks=["H7"])

    # H2: not the canonical encoding of what it decodes to. All are first-post re-encoded,
    # with first-post's valid signature.
    swapped = items.copy()
    swapped[3], swapped[4] = swapped[4], swapped[3]  # keys 4 and 5
    add("header-keys-out-of-order", "H2", "first-post with the items for keys 4 and 5 "
        "swapped.", _map(swapped), payload, canonical_form=first.header)
    long_int = [b"\x00\x18\x01", *items[1:]]
    add("header-int-not-shortest", "H2", "first-post with version 1 written as 0x18 0x01.",
        _map(long_int), payload, canonical_form=first.header)
    long_len = [items[0], b"\x01\x59\x00\x20" + a.public_key, *items[2:]]
    add("header-length-not-shortest", "H2", "first-post with the author's byte-string "
        "length written in two bytes (0x59 0x00 0x20).", _map(long_len), payload,
        canonical_form=first.header)
    add("header-indefinite-map", "H2", "first-post as an indefinite-length map "
        "(0xbf … 0xff).", b"\xbf" + b"".join(items) + b"\xff", payload,
        canonical_form=first.header)
    duplicated = [*items[:5], items[4], *items[5:]]
    add("header-duplicate-key", "H2", "first-post with the item for key 5 repeated.",
        _map(duplicated), payload, canonical_form=first.header)
    add("header-trailing-byte", "H2", "first-post followed by one 0x00 byte.",
        first.header + b"\x00", payload, canonical_form=first.header)
    add("header-truncated", "H2", "first-post without its last byte: not complete CBOR.",
        first.header[:-1], payload)

    # H3: the map's shape.
    as_array = encode([v for _, v in sorted(good.items())])
    add("header-not-a-map", "H3", "The values of first-post's header as a CBOR array.",
        as_array, payload)
    add("header-unknown-key", "H3", "A header with an extra key 9 (value 0); the signature "
        "covers it.", encode(_sign(a, {**_fields(a, payload=payload), 9: 0})), payload)
    bool_key = _fields(a, payload=payload)
    del bool_key[0]
    bool_key[False] = 1  # type: ignore[index]
    add("header-bool-key", "H3", "A header whose key 0 is written as false (0xf4): keys must "
        "be the integers 0-8.", encode(_sign(a, bool_key)), payload)
    missing = _fields(a, payload=payload)
    del missing[4]
    add("header-missing-timestamp", "H3", "A header without key 4.",
        encode(_sign(a, missing)), payload)

    # Keys and ints written as values equal to them in many languages (False == 0, 1.0 == 1)
    # but of another CBOR type: each header in key order, signed over its own bytes.
    f1 = _fields(a, payload=payload)
    lookalike_keys = [
        ("header-key-0-false", 0, b"\xf4", "key 0 written as false (0xf4)"),
        ("header-key-1-true", 1, b"\xf5", "key 1 written as true (0xf5)"),
        ("header-key-1-float", 1, bytes.fromhex("fb3ff0000000000000"),
         "key 1 written as the float 1.0 (0xfb 3ff0000000000000)"),
        ("header-key-1-half-float", 1, bytes.fromhex("f93c00"),
         "key 1 written as the half-precision float 1.0 (0xf9 3c00)"),
        ("header-key-8-float", 8, bytes.fromhex("fb4020000000000000"),
         "key 8 (the signature's) written as the float 8.0"),
        ("header-key-1-decimal", 1, bytes.fromhex("c4820001"),
         "key 1 written as the decimal fraction 4([0, 1]) (a tag)"),
    ]
    for name, key, encoded, what in lookalike_keys:
        add(name, "H2", f"first-post's fields in key order with {what}, signed over the "
            "header's own bytes. Not canonical (false and true sort after the integers) or "
            "not an allowed type (floats, tags); a decoder that compares keys by value reads "
            "the same fields as first-post. The key is also not one of the integers 0-8.",
            _in_key_order(a, f1, key_bytes={key: encoded}), payload, also_breaks=["H3"])
    add("version-true", "H4", "Version written as true (0xf5) in its place, signed over: "
        "true is not the integer 1.", _in_key_order(a, f1, value_bytes={0: b"\xf5"}),
        payload)
    add("seq-float", "H2", "seq written as the float 1.0 (0xfb 3ff0000000000000), signed "
        "over: floats are outside the allowed types.",
        _in_key_order(a, f1, value_bytes={2: bytes.fromhex("fb3ff0000000000000")}), payload,
        also_breaks=["H5"])
    empty_fields = _fields(a, payload=b"")
    add("payload-size-false", "H5", "payload_size written as false (0xf4) for an empty "
        "payload, signed over: false is not the integer 0.",
        _in_key_order(a, empty_fields, value_bytes={6: b"\xf4"}), b"")

    # H4-H7: field values, each header canonical and validly signed.
    add("wrong-version", "H4", "Version 2.",
        encode(_sign(a, {**_fields(a, payload=payload), 0: 2})), payload)
    add("seq-zero", "H5", "seq 0 (sequence numbers start at 1).",
        encode(_sign(a, _fields(a, seq=0, payload=payload))), payload)
    add("author-31-bytes", "H5", "An author key of 31 bytes.",
        encode(_sign(a, {**_fields(a, payload=payload), 1: a.public_key[:31]})), payload)
    add("timestamp-too-large", "H5", "timestamp 2^53 (one past the limit).",
        encode(_sign(a, _fields(a, ts=limits.MAX_TIMESTAMP_MS + 1, payload=payload))),
        payload)
    big = bytes(limits.MAX_PAYLOAD_BYTES + 1)
    add("payload-size-too-large", "H5", "payload_size 16385 (the payload itself, 16385 zero "
        "bytes, is withheld).", encode(_sign(a, _fields(a, entry_type="blob", payload=big))),
        None)
    short_sig = {**_sign(a, _fields(a, payload=payload))}
    short_sig[8] = short_sig[8][:63]
    add("signature-63-bytes", "H5", "A signature field of 63 bytes.", encode(short_sig),
        payload)
    add("prev-at-seq-1", "H6", "seq 1 with a prev (the hash of first-post).",
        encode(_sign(a, _fields(a, prev=first.hash, payload=payload))), payload)
    add("prev-null-at-seq-1", "H6", "seq 1 with key 3 present and null.",
        encode(_sign(a, {**_fields(a, payload=payload), 3: None})), payload)
    add("no-prev-at-seq-2", "H6", "seq 2 without prev.",
        encode(_sign(a, _fields(a, seq=2, payload=payload))), payload)
    add("type-uppercase", "H7", 'Type "Post".',
        encode(_sign(a, _fields(a, entry_type="Post", payload=payload))), payload)
    add("type-too-long", "H7", "A type of 33 characters.",
        encode(_sign(a, _fields(a, entry_type="x" * 33, payload=b"\x00"))), b"\x00")
    add("type-not-text", "H7", "Type as a byte string.",
        encode(_sign(a, {**_fields(a, payload=payload), 5: b"post"})), payload)

    add("type-trailing-newline", "H7", 'Type "post\\n": the pattern must match the whole '
        "string (a regular expression's $ also matches before a final newline).",
        encode(_sign(a, _fields(a, entry_type="post\n", payload=payload))), payload)

    # H8: signature.
    flipped = bytearray(first.header)
    flipped[-64] ^= 0x01
    add("signature-bit-flipped", "H8", "first-post with the lowest bit of the signature's "
        "first byte flipped.", bytes(flipped), payload)
    add("signature-without-context", "H8", "Signed over the header encoding without the "
        "context prefix.", encode(_sign(a, _fields(a, payload=payload), context=b"")), payload)
    by_bob = {k: v for k, v in good.items() if k != 8}
    by_bob[8] = BOB.sign(signing_bytes(by_bob))
    add("signature-by-another-key", "H8", "first-post's fields signed by bob's key.",
        encode(by_bob), payload)
    tampered = {**good, 4: good[4] + 1}
    add("header-tampered", "H8", "first-post with its timestamp raised by 1 after signing.",
        encode(tampered), payload)

    # P1-P2: the payload against the header (the header alone is valid).
    add("payload-size-mismatch", "P1", "first-post's header with its payload plus one byte.",
        first.header, payload + b"\x00", also_breaks=["P2"])
    changed = payload.replace(b"world", b"World")
    assert len(changed) == len(payload) and changed != payload
    add("payload-hash-mismatch", "P2", "first-post's header with a payload of the same size "
        'whose "world" became "World".', first.header, changed)

    def signed_with(entry_type: str, body: bytes) -> bytes:
        return encode(_sign(a, _fields(a, entry_type=entry_type, payload=body)))

    # P3: payload encoding and shape, for a known type.
    out_of_order = (b"\xa2" + encode("text") + encode("hello") + encode("cw") + encode("test"))
    add("payload-not-canonical", "P3", 'A post payload with "text" before "cw" (canonical '
        'order puts the shorter key "cw" first).', signed_with("post", out_of_order),
        out_of_order)
    not_cbor = b"hello"
    add("payload-not-cbor", "P3", "A post payload that is not CBOR at all.",
        signed_with("post", not_cbor), not_cbor)
    array = encode(["hello"])
    add("payload-not-a-map", "P3", "A post payload that is an array.",
        signed_with("post", array), array)
    with_float = encode({"text": "hello", "x": 1.5})
    add("payload-float", "P3", "A post payload with an extra field holding a float (floats "
        "are not among the allowed CBOR types).", signed_with("post", with_float), with_float)
    int_key = encode({1: "x", "text": "hello"})
    add("payload-int-key", "P3", "A post payload with an integer key.",
        signed_with("post", int_key), int_key)

    # Nesting depth: arrays and maps at most 16 deep, the outermost map counting 1.
    deep = encode({"text": "Nested 17 deep.", "x": _nested(16)})
    add("payload-nested-17-deep", "P3", "A post payload whose extra field x holds 16 nested "
        "arrays: with the payload map, 17 levels, one more than allowed.",
        signed_with("post", deep), deep)
    add("header-nested-16-deep", "H3", "A header with an extra key 9 holding 15 nested "
        "arrays: 16 levels with the header map, allowed, so the unknown key is what is wrong.",
        encode(_sign(a, {**_fields(a, payload=payload), 9: _nested(15)})), payload)
    add("header-nested-17-deep", "H2", "As header-nested-16-deep with one more array: 17 "
        "levels. H2 (the whole structure) is checked before H3.",
        encode(_sign(a, {**_fields(a, payload=payload), 9: _nested(16)})), payload,
        also_breaks=["H3"])

    # Two rules at once: the reference reports the first of H1, H2, H3 (whole structure),
    # then the fields in key order (H4-H7, each field's own rule), then H8, then P1-P4.
    add("two-rules-unknown-key-and-version", "H3", "Key 9 present and version 2: the key set "
        "(H3) is checked before any field.",
        encode(_sign(a, {**_fields(a, payload=payload), 0: 2, 9: 0})), payload,
        also_breaks=["H4"])
    add("two-rules-version-and-author", "H4", "Version 2 (key 0) and a 31-byte author "
        "(key 1): key 0 first.",
        encode(_sign(a, {**_fields(a, payload=payload), 0: 2, 1: a.public_key[:31]})),
        payload, also_breaks=["H5"])
    add("two-rules-prev-and-timestamp", "H6", "seq 1 with a prev (key 3) and timestamp 2^53 "
        "(key 4): key 3 first.", encode(_sign(a, _fields(
            a, prev=first.hash, ts=limits.MAX_TIMESTAMP_MS + 1, payload=payload))), payload,
        also_breaks=["H5"])
    add("two-rules-type-and-signature-size", "H7", 'Type "Post" (key 5) and a 63-byte '
        "signature (key 8): key 5 first.", encode({**_sign(a, _fields(
            a, entry_type="Post", payload=payload)), 8: bytes(63)}), payload,
        also_breaks=["H5"])
    add("two-rules-timestamp-and-signature", "H5", "timestamp 2^53 and a signature by "
        "another key: H5 before H8.", encode(_sign(BOB, _fields(
            a, ts=limits.MAX_TIMESTAMP_MS + 1, payload=payload))), payload,
        also_breaks=["H8"])
    add("two-rules-signature-and-payload", "H8", "first-post's header with its timestamp "
        "raised by 1 after signing, and a payload of the right size but another hash: H8 "
        "before P2.", encode(tampered), changed, also_breaks=["P2"])
    add("two-rules-non-canonical-and-version", "H2", "Version 2 written as 0x18 0x02 (not the "
        "shortest form), signed over the canonical map: H2 before H4.",
        _map([b"\x00\x18\x02", *_items(_sign(a, {**_fields(a, payload=payload), 0: 2}))[1:]]),
        payload, also_breaks=["H4"])

    # P4: schema of a known type.
    def schema_case(name: str, description: str, entry_type: str, body: dict[Any, Any]
                    ) -> None:
        data = encode(body)
        add(name, "P4", description, signed_with(entry_type, data), data)

    schema_case("post-blank-text", "A post whose text is only whitespace.", "post",
                {"text": " \n\t "})
    schema_case("post-missing-text", "A post without text.", "post", {"cw": "empty"})
    schema_case("post-text-too-long", "A post of 3001 code points.", "post",
                {"text": "x" * (limits.MAX_POST_CHARS + 1)})
    schema_case("post-parent-without-root", "A reply with parent but no root.", "post",
                {"text": "a reply", "parent": first.hash})
    schema_case("post-tag-with-hash", 'A tag written "#p2p".', "post",
                {"text": "hello", "tags": ["#p2p"]})
    schema_case("post-mention-31-bytes", "A mention of 31 bytes.", "post",
                {"text": "hello", "mentions": [BOB.public_key[:31]]})
    picture = {"blob": bytes(32), "size": 1000, "type": "image/png"}
    schema_case("post-five-attachments", "A post with 5 attachments (at most 4).", "post",
                {"text": "five", "attachments": [picture] * 5})
    schema_case("post-attachment-too-big", "An attachment of 5 MiB + 1 byte.", "post",
                {"text": "big", "attachments": [{**picture, "size": limits.MAX_BLOB_BYTES + 1}]})
    schema_case("post-attachment-type-uppercase", 'An attachment of type "Image/PNG".', "post",
                {"text": "type", "attachments": [{**picture, "type": "Image/PNG"}]})
    schema_case("post-attachment-name-with-slash", 'An attachment named "../x".', "post",
                {"text": "name", "attachments": [{**picture, "name": "../x"}]})
    schema_case("post-attachment-without-blob", "An attachment without its blob id.", "post",
                {"text": "no blob", "attachments": [{"size": 1000, "type": "image/png"}]})
    schema_case("about-empty", "An about with neither name nor bio.", "about", {})
    schema_case("follow-feed-31-bytes", "A follow of a 31-byte key.", "follow",
                {"feed": BOB.public_key[:31]})
    schema_case("react-too-many-bytes", "A reaction of 9 code points but 36 UTF-8 bytes.",
                "react", {"target": first.hash, "reaction": "😀" * 9})
    schema_case("relays-missing-addrs", "A relays entry without addrs.", "relays", {})
    schema_case("relays-addr-not-multiaddr", "A relay address that does not start "
                'with "/".', "relays", {"addrs": ["relay.example.org:4001"]})
    schema_case("dm-no-keys", "A dm with an empty keys list.", "dm",
                {"box": bytes(16), "keys": [], "nonce": bytes(24)})
    return out


# --- chain vectors ---------------------------------------------------------------------------


def _chain_vector(name: str, description: str, steps: list[tuple[Entry, str]]
                  ) -> dict[str, Any]:
    state = FeedState(steps[0][0].author)
    held: dict[int, bytes] = {}
    rendered = []
    for entry, expected in steps:
        try:
            state, placement = place(state, entry,
                                     held.get(entry.seq) if state.holds(entry.seq) else None)
            result = placement.value
            if placement in (Placement.FIRST, Placement.NEXT, Placement.PREVIOUS):
                held[entry.seq] = entry.hash
        except ForkError as exc:
            result = exc.rule
            state = dataclasses.replace(state, forked=True)
        except ChainError as exc:
            result = exc.rule
        if result != expected:
            raise AssertionError(f"{name}: seq {entry.seq} placed as {result}, not {expected}")
        assert entry.payload is not None
        rendered.append({"seq": entry.seq, "timestamp": entry.timestamp,
                         "prev": None if entry.prev is None else entry.prev.hex(),
                         "hash": entry.hash.hex(), "header": entry.header.hex(),
                         "payload": entry.payload.hex(), "result": expected})
    return {"name": name, "author": _name_of(steps[0][0].author), "description": description,
            "steps": rendered}


def _chain_vectors(feed: list[Entry]) -> list[dict[str, Any]]:
    a1, a2, a3 = feed[:3]
    a = ALICE
    a1_alt = _entry(a, 1, None, T0, Post("Hello, world! (written again from an old backup)"))
    a2_alt = _entry(a, 2, a1, T0 + STEP, Post("A different second entry."))
    x2 = _entry(a, 2, a1_alt, T0 + STEP, Post("An entry that follows the other first entry."))
    a2_same_ts = _entry(a, 2, a1, T0, Post("Same millisecond as the first entry."))
    z1 = _entry(a, 1, None, T0 + 10 * STEP, Post("Written at T0 + 10 s."))
    z2 = _entry(a, 2, z1, T0 + 5 * STEP, Post("Written at T0 + 5 s, after the entry above."))
    return [
        _chain_vector("forwards", "Entries in order extend the range; a repeat is held.",
                      [(a1, "first"), (a2, "next"), (a3, "next"), (a2, "held")]),
        _chain_vector("newest-first", "A new follower starts at the newest entry and "
                      "extends the range backwards.",
                      [(a3, "first"), (a2, "previous"), (a1, "previous")]),
        _chain_vector("gap", "An entry that does not touch the range is a gap: not stored, "
                      "not an error. It fits once the gap is filled.",
                      [(a1, "first"), (a3, "gap"), (a2, "next"), (a3, "next")]),
        _chain_vector("equal-timestamps", "Timestamps may repeat.",
                      [(a1, "first"), (a2_same_ts, "next")]),
        _chain_vector("fork-second-entry-at-held-seq", "A second validly signed seq 2: a fork "
                      "(C2). The feed is marked forked and refuses everything after.",
                      [(a1, "first"), (a2, "next"), (a2_alt, "C2"), (a3, "refused")]),
        _chain_vector("fork-prev-mismatch", "seq 2 names a different seq 1 as prev: a fork "
                      "(C3).", [(a1, "first"), (x2, "C3"), (a2, "refused")]),
        _chain_vector("timestamp-decreasing", "seq 2 is earlier than seq 1 (C4); the entry "
                      "is rejected, the feed is not forked.", [(z1, "first"), (z2, "C4")]),
        _chain_vector("fork-backwards", "The held seq 2 names a seq 1 other than this one: "
                      "a fork (C5).", [(a2, "first"), (a1_alt, "C5"), (a1, "refused")]),
        _chain_vector("timestamp-decreasing-backwards", "The same pair as "
                      "timestamp-decreasing, taken newest first (C6).",
                      [(z2, "first"), (z1, "C6")]),
    ]


# --- the export archive ------------------------------------------------------------------------

ARCHIVE_PASSPHRASE = "correct horse battery staple"


def _key_document(identity: Identity) -> tuple[dict[str, Any], dict[str, Any]]:
    """A key file document sealing `identity`'s seed under ARCHIVE_PASSPHRASE with fixed salt
    and nonce, and the intermediate values (Argon2id key, nonce) a reader needs to check it."""
    salt = _fixed("archive-salt", nacl.pwhash.argon2id.SALTBYTES)
    nonce = _fixed("archive-box-nonce", nacl.secret.SecretBox.NONCE_SIZE)
    ops, mem = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, ARCHIVE_PASSPHRASE.encode(),
                                   salt, opslimit=ops, memlimit=mem)
    box = bytes(nacl.secret.SecretBox(key).encrypt(identity.seed, nonce))  # nonce || ciphertext
    doc = {"format": "p2psocial-key", "version": 1, "public_key": identity.public_key.hex(),
           "kdf": "argon2id", "opslimit": ops, "memlimit": mem,
           "salt": base64.b64encode(salt).decode(), "box": base64.b64encode(box).decode()}
    return doc, {"salt": salt.hex(), "argon2id_key": bytes(key).hex(), "box_nonce": nonce.hex(),
                 "box": box.hex()}


def _archive_bytes(body: dict[str, Any]) -> bytes:
    """`body` with "check" set over the rest, canonically encoded (whatever `body` holds)."""
    return encode({**body, "check": digest(encode(body))})


def _archive_vectors(entries: list[tuple[str, Entry, bool]]) -> dict[str, Any]:
    doc, sealed = _key_document(ALICE)
    pairs = [(e.header, None if withheld else e.payload) for _, e, withheld in entries]
    data = archive.pack(archive.Archive(key_doc=doc, entries=pairs))
    unpacked = archive.unpack(data)  # self-check
    assert unpacked.key_doc == doc and unpacked.entries == pairs
    body = cbor2.loads(data)
    good = {k: v for k, v in body.items() if k != "check"}
    wrong_check = {**body, "check": bytes(32)}
    invalid = [
        ("check-altered", "The check is 32 zero bytes.", encode(wrong_check)),
        ("version-true", "version written as true, the check over it: true is not 1.",
         _archive_bytes({**good, "version": True})),
        ("version-2", "version 2, the check over it.", _archive_bytes({**good, "version": 2})),
        ("extra-field", 'A sixth field "note", the check over it.',
         _archive_bytes({**good, "note": "hi"})),
        ("header-not-bytes", "An entry whose header is text, the check over it.",
         _archive_bytes({**good, "entries": [["not bytes", None]]})),
        ("key-not-json", "key is text that is not JSON, the check over it.",
         _archive_bytes({**good, "key": "not json"})),
        ("not-canonical", "The map's items in the writer's order, not canonical order.",
         cbor2.dumps({"format": archive.FORMAT, **{k: v for k, v in body.items()
                                                   if k != "format"}})),
    ]
    for name, _, bad in invalid:
        try:
            archive.unpack(bad)
        except ArchiveError:
            continue
        raise AssertionError(f"archive {name}: accepted")
    return {
        "description": "alice's export archive: her key file document sealed under the "
                       "passphrase with fixed salt and nonce, and three of her entries "
                       "(second-post with its payload absent). Real archives draw salt and "
                       "nonce at random.",
        "passphrase": ARCHIVE_PASSPHRASE,
        "key_doc": doc,
        "key_text": json.dumps(doc, sort_keys=True),
        **sealed,
        "seed": ALICE.seed.hex(),
        "entries": [{"entry": name, "payload_absent": withheld} for name, _, withheld in entries],
        "check": body["check"].hex(),
        "archive_diag": _diag_bytes(data),
        "archive": data.hex(),
        "invalid": [{"name": name, "description": description, "archive": bad.hex()}
                    for name, description, bad in invalid],
    }


# --- the document ----------------------------------------------------------------------------


# --- accounts (docs/protocol.md §Accounts and devices) ----------------------------------------

# BIP-39's own test phrases (entropy 0x7f × 32 and 0x00 × 32), used with no BIP-39 passphrase.
RECOVERY_PHRASE = ("legal winner thank year wave sausage worth useful legal winner thank year "
                   "wave sausage worth useful legal winner thank year wave sausage worth title")
RECOVERY_PHRASE_2 = " ".join(["abandon"] * 23 + ["art"])
RECOVERY_PERSON = b"p2ps/recovery/v1"
DAY_MS = 86_400_000


def _recovery_seed(phrase: str) -> tuple[bytes, bytes]:
    """(bip39_seed, recovery seed) of a phrase, as the spec says (§Recovery phrase)."""
    words = unicodedata.normalize("NFKD", phrase).encode()
    bip39_seed = hashlib.pbkdf2_hmac("sha512", words, b"mnemonic", 2048)
    return bip39_seed, hashlib.blake2b(bip39_seed, digest_size=32,
                                       person=RECOVERY_PERSON).digest()


def _account_keys() -> dict[str, tuple[Identity, dict[str, Any]]]:
    keys: dict[str, tuple[Identity, dict[str, Any]]] = {}
    for person in PEOPLE.values():
        keys[person.name] = (person.identity, {"name": person.name,
                                               "derivation": "identities." + person.name})
    erin = identity_for("erin")
    keys["erin"] = (erin, {"name": "erin",
                           "derivation": 'SHA-256("p2psocial-test-identity:erin")'})
    for name, phrase in (("recovery", RECOVERY_PHRASE), ("recovery-2", RECOVERY_PHRASE_2)):
        bip39_seed, seed = _recovery_seed(phrase)
        keys[name] = (Identity(seed), {"name": name, "derivation": "recovery phrase",
                                       "phrase": phrase, "bip39_seed": bip39_seed.hex()})
    for identity, doc in keys.values():
        doc["seed"] = identity.seed.hex()
        doc["public_key"] = identity.public_key.hex()
    return keys


ACCOUNT_KEYS = _account_keys()


def _key_name(key: bytes) -> str:
    return next(n for n, (i, _) in ACCOUNT_KEYS.items() if i.public_key == key)


def _op_vector(name: str, description: str, op: Op) -> dict[str, Any]:
    fields = cbor2.loads(op.raw)
    assert decode_op(op.raw) == op
    return {
        "name": name, "description": description,
        "account": _key_name(op.account),
        "prev": None if op.prev is None else op.prev.hex(),
        "timestamp": op.timestamp, "type": str(op.type),
        "signer": _key_name(op.signer), "key": _key_name(op.key),
        "consent": None if op.consent is None else op.consent.hex(),
        "device_name": op.name, "admin": op.admin, "after": op.after,
        "sig": op.raw[-64:].hex(),
        "signing_bytes": account_ops.signing_bytes(fields).hex(),
        "op_diag": diag(fields),
        "op": op.raw.hex(),
        "hash": op.hash.hex(),
    }


def _state_vector(state: AccountState, names: dict[bytes, str]) -> dict[str, Any]:
    return {
        "account_key": _key_name(state.account_key),
        "recovery_key": None if state.recovery_key is None else _key_name(state.recovery_key),
        "devices": [{"key": _key_name(d.key), "name": d.name, "admin": d.admin,
                     "after": d.after, "added_at": d.added_at}
                    for d in state.devices.values()],
        "barred": sorted(_key_name(k) for k in state.barred),
        "tip": None if state.tip is None else names[state.tip],
        "applied": [names[h] for h in state.applied],
        "overridden": sorted(names[h] for h in state.overridden),
    }


def _invalid_op(name: str, rule: str, description: str, raw: bytes, *,
                also_breaks: list[str] | None = None,
                canonical_form: bytes | None = None) -> dict[str, Any]:
    try:
        decode_op(raw)
    except AccountOpError as exc:
        if exc.rule != rule:
            raise AssertionError(f"{name}: the core reports {exc.rule}, not {rule}: {exc}"
                                 ) from exc
    else:
        raise AssertionError(f"{name}: the core accepts it")
    out: dict[str, Any] = {"name": name, "rule": rule, "description": description}
    if also_breaks:
        out["also_breaks"] = also_breaks
    out["op_diag"] = _diag_bytes(raw)
    out["op"] = raw.hex()
    if canonical_form is not None:
        decode_op(canonical_form)
        out["canonical_form"] = canonical_form.hex()
    return out


def _invalid_ops(genesis: Op, add: Op) -> list[dict[str, Any]]:
    alice, bob = ACCOUNT_KEYS["alice"][0], ACCOUNT_KEYS["bob"][0]
    account = alice.public_key
    fields = {k: v for k, v in cbor2.loads(add.raw).items() if k != account_ops.Key.SIG}

    def signed(changes: dict[int, Any], *, drop: tuple[int, ...] = (),
               signer: Identity = alice, base: dict[int, Any] = fields) -> bytes:
        new = {k: v for k, v in base.items() if k not in drop}
        new.update(changes)
        return account_ops.sign_fields(signer, new)

    init_fields = {k: v for k, v in cbor2.loads(genesis.raw).items() if k != 15}
    assert add.raw[1:3] == b"\x00\x01"
    flipped = bytearray(add.raw)
    flipped[-1] ^= 0x01
    return [
        _invalid_op("op-too-long", "K1", "add-bob followed by zero bytes to 1,025 bytes: "
                    "refused by length before decoding.",
                    add.raw + bytes(MAX_OP_BYTES + 1 - len(add.raw)), also_breaks=["K2"]),
        _invalid_op("version-two-byte-form", "K2", "add-bob with version 1 written as "
                    "0x18 0x01: not the shortest form. canonical_form is add-bob.",
                    add.raw[:2] + b"\x18\x01" + add.raw[3:], canonical_form=add.raw),
        _invalid_op("not-a-map", "K3", "An array, not a map.",
                    encode([1, account, "init"])),
        _invalid_op("unknown-key", "K3", "add-bob with key 11 (0), signed.",
                    signed({11: 0})),
        _invalid_op("add-without-consent", "K3", "add-bob without its consent (key 7), "
                    "signed.", signed({}, drop=(7,))),
        _invalid_op("version-2", "K4", "add-bob with version 2, signed.", signed({0: 2})),
        _invalid_op("name-blank", "K5", "add-bob named \" \" (blank), signed.",
                    signed({8: " "})),
        _invalid_op("admin-0", "K5", "add-bob with admin 0 (absent means no admin), signed.",
                    signed({9: 0})),
        _invalid_op("init-by-another-key", "K5", "genesis signed by bob with signer bob: an "
                    "init is signed by the account key.",
                    signed({5: bob.public_key}, signer=bob, base=init_fields)),
        _invalid_op("init-with-prev", "K6", "genesis with a prev, signed.",
                    signed({2: add.hash}, base=init_fields)),
        _invalid_op("add-without-prev", "K6", "add-bob without prev, signed.",
                    signed({}, drop=(2,))),
        _invalid_op("type-unknown", "K7", "add-bob with type \"delete\", signed.",
                    signed({4: "delete"})),
        _invalid_op("sig-flipped", "K8", "add-bob with the last signature bit flipped.",
                    bytes(flipped)),
        _invalid_op("consent-for-rotate", "K9", "add-bob carrying bob's consent to "
                    "[account, \"rotate\"], not to \"add\"; signed.",
                    signed({7: consent_for(bob, account, OpType.ROTATE)})),
    ]


def _account_vectors() -> dict[str, Any]:
    k = {name: ident for name, (ident, _) in ACCOUNT_KEYS.items()}
    account = k["alice"].public_key
    ops: dict[str, Op] = {}
    described: list[dict[str, Any]] = []

    def add_op(label: str, description: str, signer: str, op_type: OpType, key: str,
               prev: str | None, ts: int, **kw: Any) -> Op:
        subject = k[key]
        consent = (consent_for(subject, account, op_type)
                   if op_type in account_ops.NEEDS_CONSENT else None)
        op = make_op(k[signer], account=account, op_type=op_type, key=subject.public_key,
                     timestamp=ts, prev=None if prev is None else ops[prev].hash,
                     consent=consent, **kw)
        ops[label] = op
        described.append(_op_vector(label, description, op))
        return op

    window_end = T0 + DAY_MS + RECOVERY_WINDOW_MS
    genesis = add_op("genesis", "alice's account begins: init naming the recovery key.",
                     "alice", OpType.INIT, "recovery", None, T0)
    add_bob = add_op("add-bob", "alice (the account key) adds bob as \"laptop\" with admin.",
                     "alice", OpType.ADD, "bob", "genesis", T0 + STEP, name="laptop",
                     admin=True)
    add_op("add-carol", "alice adds carol as \"phone\", no admin.", "alice", OpType.ADD,
           "carol", "add-bob", T0 + 2 * STEP, name="phone")
    add_op("add-dave-by-bob", "bob (an admin device) adds dave as \"tablet\" with admin.",
           "bob", OpType.ADD, "dave", "add-carol", T0 + 3 * STEP, name="tablet", admin=True)
    add_op("revoke-carol", "bob revokes carol: her entries up to seq 5 still count.", "bob",
           OpType.REVOKE, "carol", "add-dave-by-bob", T0 + 4 * STEP, after=5)
    add_op("revoke-carol-by-dave", "dave revokes carol at the same moment as bob, after 7: "
           "same priority and timestamp, the lower op hash wins.", "dave", OpType.REVOKE,
           "carol", "add-dave-by-bob", T0 + 4 * STEP, after=7)
    add_op("rotate-to-erin", "The recovery key makes erin the account key; alice's feed "
           "counts up to seq 10.", "recovery", OpType.ROTATE, "erin", "revoke-carol",
           T0 + 5 * STEP, after=10)
    add_op("replace-recovery", "The recovery key replaces itself with recovery-2.",
           "recovery", OpType.RECOVERY, "recovery-2", "rotate-to-erin", T0 + 6 * STEP)
    add_op("second-init", "alice signs a second init (naming erin): ignored, the genesis is "
           "the earlier one.", "alice", OpType.INIT, "erin", None, T0 + 500)
    add_op("thief-adds-dave", "A thief holding alice's key adds dave (admin), a day later.",
           "alice", OpType.ADD, "dave", "add-carol", T0 + DAY_MS, name="mine", admin=True)
    add_op("thief-revokes-bob", "dave (the thief's device) revokes bob's whole feed.", "dave",
           OpType.REVOKE, "bob", "thief-adds-dave", T0 + DAY_MS + STEP, after=0)
    add_op("rescue-in-window", "The owner, with the recovery key, rotates the account key "
           "to erin, hanging on add-carol, exactly 7 days after thief-adds-dave: inside the "
           "window (at most first + 604800000).", "recovery", OpType.ROTATE, "erin",
           "add-carol", window_end, after=2)
    add_op("rescue-late", "The same rotate 1 ms later: outside the window.", "recovery",
           OpType.ROTATE, "erin", "add-carol", window_end + 1, after=2)
    add_op("rotate-at-tip", "After the window the recovery key rotates at the tip.",
           "recovery", OpType.ROTATE, "erin", "thief-revokes-bob", window_end + 2 * STEP,
           after=2)
    add_op("revoke-thief", "...and revokes the thief's device, none of its feed counting.",
           "recovery", OpType.REVOKE, "dave", "rotate-at-tip", window_end + 3 * STEP, after=0)

    names = {op.hash: name for name, op in ops.items()}
    a, b, c, d, e = "alice", "bob", "carol", "dave", "erin"

    def scenario(name: str, description: str, op_names: list[str],
                 counts: list[tuple[str, int, bool]]) -> dict[str, Any]:
        held = [ops[n] for n in op_names]
        state = resolve(account, held)
        assert resolve(account, list(reversed(held))) == state
        for feed, seq, expected in counts:
            assert state.counts(k[feed].public_key, seq) is expected, (name, feed, seq)
        return {"name": name, "description": description, "ops": op_names,
                "state": _state_vector(state, names),
                "counts": [{"feed": f, "seq": s, "expected": x} for f, s, x in counts]}

    three = ["genesis", "add-bob", "add-carol", "add-dave-by-bob"]
    concurrent = min(ops["revoke-carol"], ops["revoke-carol-by-dave"], key=lambda o: o.hash)
    assert concurrent.after is not None
    thief = ["genesis", "add-bob", "add-carol", "thief-adds-dave", "thief-revokes-bob"]
    scenarios = [
        scenario("no-ops", "Nothing held: the implicit state of a single-key identity.", [],
                 [(a, 1, True), (a, MAX_AFTER, True), (b, 1, False)]),
        scenario("three-devices", "init and three adds, one by an admin device.", three,
                 [(a, 1, True), (b, 1, True), (c, 1, True), (d, 1, True), (e, 1, False)]),
        scenario("revocation", "carol revoked with after 5.", [*three, "revoke-carol"],
                 [(c, 5, True), (c, 6, False), (b, 100, True)]),
        scenario("concurrent-revokes", "bob and dave revoke carol at once: one wins "
                 "everywhere (S6: equal priority and timestamp, lowest op hash).",
                 [*three, "revoke-carol-by-dave", "revoke-carol"],
                 [(c, concurrent.after, True), (c, concurrent.after + 1, False)]),
        scenario("rotation", "The recovery key rotates the account key to erin (alice's feed "
                 "counts up to 10) and then replaces itself.",
                 [*three, "revoke-carol", "rotate-to-erin", "replace-recovery"],
                 [(a, 10, True), (a, 11, False), (e, 1, True), (c, 5, True)]),
        scenario("second-init", "A second init is ignored, and so is what hangs on it.",
                 ["genesis", "add-bob", "second-init"], [(b, 1, True)]),
        scenario("thief-recovered-in-window", "The recovery key overrides the thief within "
                 "7 days: the thief's ops are overridden, bob counts again.",
                 [*thief, "rescue-in-window"],
                 [(b, 1, True), (d, 1, False), (a, 2, True), (a, 3, False), (e, 1, True)]),
        scenario("thief-outside-window", "The same rescue a millisecond too late loses: the "
                 "thief's ops stand.", [*thief, "rescue-late"],
                 [(b, 1, False), (d, 1, True), (a, 3, True), (e, 1, False)]),
        scenario("thief-outside-window-then-tip", "After the window the recovery key acts at "
                 "the tip: erin becomes the account key and dave is cut off.",
                 [*thief, "rescue-late", "rotate-at-tip", "revoke-thief"],
                 [(b, 1, False), (d, 1, False), (a, 2, True), (a, 3, False), (e, 1, True)]),
    ]
    genesis_message = encode([8, account, [genesis.raw]])
    return {
        "op_context": account_ops.OP_CONTEXT.hex(),
        "consent_context": account_ops.CONSENT_CONTEXT.hex(),
        "max_op_bytes": MAX_OP_BYTES,
        "recovery_window_ms": RECOVERY_WINDOW_MS,
        "recovery_person": RECOVERY_PERSON.decode(),
        "account": "alice",
        "keys": [doc for _, doc in ACCOUNT_KEYS.values()],
        "ops": described,
        "scenarios": scenarios,
        "invalid": _invalid_ops(genesis, add_bob),
        "ops_frame": {"description": "OPS (message type 8) with the genesis, as a frame: "
                                     "LEB128 length, then canonical [8, account, [op]].",
                      "message_diag": diag(cbor2.loads(genesis_message)),
                      "frame": _frame(genesis_message).hex()},
        "summary": _summary_vector(account, [ops[n] for n in three], names,
                                   {a: 0, b: 12, c: 5, d: 1}, k),
    }


def _frame(message: bytes) -> bytes:
    """A sync frame: the message's length as LEB128, then the message."""
    size = len(message)
    prefix = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        prefix.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes(prefix) + message


def _summary_vector(account: bytes, held: list[Op], names: dict[bytes, str],
                    heads: dict[str, int], keys: dict[str, Identity]) -> dict[str, Any]:
    """A1: the summary of the 3-device account (ops and heads given), and the ACCOUNTS and
    MORE frames that carry it (sync 1.1.0)."""
    depth = 100
    by_key = {keys[name].public_key: hi for name, hi in heads.items()}
    body = encode([sorted(op.hash for op in held),
                   [[feed, by_key[feed]] for feed in sorted(by_key)]])
    value = digest(body)
    accounts_message = encode([9, [[account, depth, value]]])
    more_message = encode([10, [account]])
    return {"description": "The summary (A1) of the three-devices scenario's account by a "
                           "node holding its 4 ops and these heads (alice, the account id, "
                           "posts nothing), and the frames of an ACCOUNTS note for it at depth "
                           f"{depth} and of a MORE naming it.",
            "ops": [names[op.hash] for op in held],
            "heads": [{"feed": name, "hi": hi} for name, hi in heads.items()],
            "depth": depth,
            "input": body.hex(),
            "input_diag": diag(cbor2.loads(body)),
            "summary": value.hex(),
            "accounts_frame": _frame(accounts_message).hex(),
            "more_frame": _frame(more_message).hex()}


def build() -> dict[str, Any]:
    """The whole test-vector document."""
    a, b, c = ALICE, BOB, CAROL
    ts = iter(range(T0, T0 + 1000 * STEP, STEP))
    feed: list[Entry] = []

    def append(content: Content | None = None, **kw: Any) -> Entry:
        prev = feed[-1] if feed else None
        entry = _entry(a, len(feed) + 1, prev, next(ts), content, **kw)
        feed.append(entry)
        return entry

    # bob and carol first: alice's entries refer to them.
    b1 = _entry(b, 1, None, T0 + 500, Post("Hi, I am bob."))

    first = append(Post("Hello, world!"))
    second = append(Post("My second entry."))
    c1 = _entry(c, 1, None, T0 + 700, Post("Hello back!", root=first.hash, parent=first.hash))
    reply_text = (f"@{a.handle} @{c.handle} ¿Qué tal? 👋 #p2p #TestVectors")
    b2 = _entry(b, 2, b1, T0 + 900, Post(reply_text, root=first.hash, parent=c1.hash,
                                         mentions=(a.public_key, c.public_key),
                                         tags=("p2p", "TestVectors"), cw="test vectors"))
    about = append(About(name="Alice", bio="Writes test vectors."))
    follow = append(Follow(feed=b.public_key))
    react = append(React(target=b2.hash, reaction="❤"))
    repost = append(Repost(target=b1.hash))
    delete = append(Delete(target=second.hash))
    relays = append(Relays(addrs=(
        f"/ip4/192.0.2.10/tcp/4001/p2p/{c.handle}/p2p-circuit",
        f"/dns4/relay.example.org/udp/4001/quic-v1/p2p/{c.handle}/p2p-circuit")))
    opaque = append(entry_type="x.poll", payload=b"\x00\x01opaque, not parsed\xff")
    empty = append(entry_type="checkpoint", payload=b"")
    unfollow = append(Unfollow(feed=b.public_key))
    block = append(Block(feed=DAVE.public_key))
    unblock = append(Unblock(feed=DAVE.public_key))
    quote = append(Post("Worth reading.", quote=b1.hash))
    deep = _entry(DAVE, 1, None, T0 + 300, entry_type="post", payload=encode(
        {"text": "Nested 16 deep.", "x": _nested(15)}))
    c2 = _entry(c, 2, c1, T0 + 800, Post("Golden hour over the river. #photography",
                                         tags=("photography",),
                                         attachments=_blob_module().attachments()))
    message, dm_info = _dm(a, [b, c], "Meet at 10?", order=["carol", "alice", "bob"])
    dm = append(message)

    valid = [
        _valid_vector("first-post", "alice's first entry: seq 1, no prev.", first),
        _valid_vector("second-post", "seq 2: prev is the hash of first-post.", second),
        _valid_vector("bob-first-post", "bob's first entry.", b1),
        _valid_vector("carol-reply", "carol replies to first-post: root = parent = its hash.",
                      c1),
        _valid_vector("post-with-attachments", "carol's second post with a picture and a "
                      "file (the blobs of the blobs section).", c2),
        _valid_vector("bob-reply", "bob replies to carol-reply in the thread of first-post, "
                      "with mentions, tags (as typed in the text, without '#') and a content "
                      "warning. The text is not ASCII.", b2),
        _valid_vector("about", "alice sets name and bio.", about),
        _valid_vector("follow", "alice follows bob.", follow),
        _valid_vector("react", "alice reacts to bob-reply.", react),
        _valid_vector("repost", "alice reposts bob-first-post.", repost),
        _valid_vector("delete", "alice deletes second-post.", delete),
        _valid_vector("relays", "alice can be reached through carol's relay.", relays),
        _valid_vector("unknown-type", "Type x.poll is not defined here: its payload (not CBOR) "
                      "is stored and passed on without parsing.", opaque),
        _valid_vector("unknown-type-empty-payload", "An unknown type with an empty payload "
                      "(size 0, hash of the empty string).", empty),
        _valid_vector("unfollow", "alice unfollows bob.", unfollow),
        _valid_vector("block", "alice blocks dave.", block),
        _valid_vector("unblock", "alice unblocks dave.", unblock),
        _valid_vector("quote-post", "A post quoting bob-first-post.", quote),
        _valid_vector("dm", "A private message from alice to bob and carol (see the dm "
                      "section).", dm),
        _valid_vector("nested-16-deep", "dave's post with an extra field x (ignored, as "
                      "every field a schema does not define) holding 15 nested arrays: with "
                      "the payload map, 16 levels, the most allowed (the outermost counts 1).",
                      deep, unknown_fields=["x"]),
        _valid_vector("second-post-without-payload", "second-post as held after delete: the "
                      "header alone, payload absent. It still verifies; withheld_payload is "
                      "what it committed to.", second, withhold_payload=True),
    ]
    dm_info["entry"] = "dm"
    dm_info["payload_diag"] = _diag_bytes(dm.payload or b"")

    return {
        "about": "Test vectors for the p2psocial log entry format (docs/protocol.md). "
                 "Generated by tests/vectors/generate.py; do not edit by hand.",
        "conventions": {
            "bytes": "lowercase hex",
            "null": "absent (prev at seq 1, a payload that is withheld)",
            "diag": "*_diag fields are CBOR diagnostic notation (RFC 8949 §8), informative",
            "timestamps": "milliseconds since the Unix epoch; T0 = 1700000000000",
        },
        "format_version": limits.FORMAT_VERSION,
        "signing_context": SIGNING_CONTEXT.hex(),
        "signing_context_text": SIGNING_CONTEXT.decode(),
        "hash": "BLAKE2b-256: BLAKE2b (RFC 7693) with a 32-byte digest, no key, no salt",
        "identities": [_identity_vector(p) for p in PEOPLE.values()],
        "valid": valid,
        "invalid": _invalid_vectors(first),
        "chain": _chain_vectors(feed),
        "dm": dm_info,
        "archive": _archive_vectors([("first-post", first, False),
                                     ("second-post-without-payload", second, True),
                                     ("about", about, False)]),
        "accounts": (accounts := _account_vectors()),
        "mail": _mail_vectors(accounts),
        "blobs": _blob_module().build(),
    }


def _blob_module() -> Any:
    """tests/vectors/blob_vectors.py, which builds the `blobs` section."""
    name = "p2psocial_blob_vectors"
    if name not in sys.modules:
        path = Path(__file__).with_name("blob_vectors.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _mail_vectors(accounts: dict[str, Any]) -> dict[str, Any]:
    """The `mail` section, built by tests/vectors/mail_vectors.py from the accounts one."""
    path = Path(__file__).with_name("mail_vectors.py")
    spec = importlib.util.spec_from_file_location("p2psocial_mail_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    section: dict[str, Any] = module.build(accounts)
    return section


def render() -> str:
    """The file's exact text."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the file differs from the output")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python "
                  "tests/vectors/generate.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    doc = json.loads(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(doc['identities'])} identities, "
          f"{len(doc['valid'])} valid, {len(doc['invalid'])} invalid, "
          f"{len(doc['chain'])} chain vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
