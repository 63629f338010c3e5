"""The `mail` vectors of docs/test-vectors.json, checked against the core and libsodium
(docs/protocol.md §Mail test vectors), and the spec against the M rules the code raises.

The file being what tests/vectors/generate.py writes is checked by test_vectors.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import cbor2
import nacl.bindings
import pytest

from p2psocial.core import limits
from p2psocial.core.account.ops import decode_op
from p2psocial.core.account.state import resolve
from p2psocial.core.encoding import encode
from p2psocial.core.errors import MailError
from p2psocial.core.identity import Identity, verify_signature
from p2psocial.core.mail import inner as mail_inner
from p2psocial.core.mail import wire
from p2psocial.core.mail.inner import Kind, admit, make_inner, parse_inner
from p2psocial.core.mail.pad import BUCKETS, bucket_for, pad, unpad
from p2psocial.core.mail.stamp import DAY_MS, make_stamp, stamp_is_good, zero_bits
from p2psocial.core.mail.wrap import open_wrap, parse_wrap, seal

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((ROOT / "docs" / "test-vectors.json").read_text("utf-8"))
MAIL: dict[str, Any] = VECTORS["mail"]
ACCOUNTS: dict[str, Any] = VECTORS["accounts"]
KEYS = {k["name"]: Identity(bytes.fromhex(k["seed"])) for k in ACCOUNTS["keys"]}
SPEC = (ROOT / "docs" / "protocol.md").read_text("utf-8")


def _key(name: str) -> bytes:
    return KEYS[name].public_key


def _alice_devices() -> set[bytes]:
    ops = {o["name"]: decode_op(bytes.fromhex(o["op"])) for o in ACCOUNTS["ops"]}
    state = resolve(_key("alice"), [ops[n] for n in MAIL["account_ops"]])
    devices = {d.key for d in state.current_devices()}
    assert devices == {_key(n) for n in MAIL["alice_devices"]}
    return devices


def test_constants() -> None:
    assert bytes.fromhex(MAIL["mail_context"]) == mail_inner.MAIL_CONTEXT == \
        b"p2psocial/mail/v1\n"
    assert tuple(MAIL["buckets"]) == BUCKETS
    assert MAIL["max_wrap_bytes"] == limits.MAX_WRAP_BYTES == 17_434


@pytest.mark.parametrize("vec", MAIL["inner"], ids=[v["name"] for v in MAIL["inner"]])
def test_inner(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["inner"])
    signing = bytes.fromhex(vec["signing_bytes"])
    assert signing.startswith(mail_inner.MAIL_CONTEXT)
    fields = cbor2.loads(raw)
    assert signing[len(mail_inner.MAIL_CONTEXT):] == encode(
        {k: v for k, v in fields.items() if k != "sig"})
    assert verify_signature(_key(vec["dev"]), signing, bytes.fromhex(vec["sig"]))
    message = parse_inner(raw)
    assert (message.kind, message.ts, message.id.hex(), message.text) == (
        Kind(vec["kind"]), vec["ts"], vec["id"], vec["text"])
    assert message.to == tuple(_key(n) for n in vec["to"])
    target = None if vec["target"] is None else bytes.fromhex(vec["target"])
    rebuilt = make_inner(KEYS[vec["dev"]], account=_key(vec["from"]),
                         to=[_key(n) for n in vec["to"]], msg_id=message.id, ts=vec["ts"],
                         kind=Kind(vec["kind"]), text=vec["text"], target=target)
    assert rebuilt.raw == raw
    padded = bytes.fromhex(vec["padded"])
    assert padded == len(raw).to_bytes(2, "big") + raw + bytes(len(padded) - len(raw) - 2)
    assert len(padded) == 512 == len(pad(raw))
    participants = sorted([_key(vec["from"]), *(_key(n) for n in vec["to"])])
    expected = hashlib.blake2b(b"".join(participants), digest_size=32,
                               person=b"p2ps/mail/conv/1").digest()
    assert bytes.fromhex(vec["conversation"]) == expected == message.conversation
    assert vec["conversation"] in SPEC  # M2's example
    reader = vec["from"] if vec["kind"] == "accept" else vec["to"][0]
    devices = _alice_devices() if vec["from"] == "alice" else None
    assert admit(message, reader_account=_key(reader), devices=devices, waiting_since_ms=0,
                 now_ms=0)


@pytest.mark.parametrize("vec", MAIL["wraps"], ids=[v["name"] for v in MAIL["wraps"]])
def test_wrap_from_libsodium_and_the_core(vec: dict[str, Any]) -> None:
    key, nonce = bytes.fromhex(vec["K"]), bytes.fromhex(vec["nonce"])
    secret, epk = bytes.fromhex(vec["e"]), bytes.fromhex(vec["E"])
    assert nacl.bindings.crypto_scalarmult_base(secret) == epk
    slots = []
    for device in vec["devices"]:
        d = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(_key(device["device"]))
        s = nacl.bindings.crypto_scalarmult(secret, d)
        t = hashlib.blake2b(epk + d, key=s, digest_size=40, person=b"p2ps/mail/slot/1").digest()
        slot = t[:8] + nacl.bindings.crypto_secretbox_easy(key, bytes(24), t[8:])
        assert (d.hex(), s.hex(), t.hex(), slot.hex()) == (device["D"], device["s"],
                                                           device["t"], device["slot"])
        assert (t[:8].hex(), t[8:].hex()) == (device["slot_id"], device["slot_key"])
        slots.append(slot)
    slots += [bytes.fromhex(d) for d in vec["dummies"]]
    assert len(slots) in (4, 8, 16) and [s.hex() for s in sorted(slots)] == vec["slots"]
    inner = bytes.fromhex(vec["inner"])
    box = nacl.bindings.crypto_secretbox_easy(pad(inner), nonce, key)
    assert box.hex() == vec["box"]
    raw = encode({0: 1, 1: _key(vec["mailbox"]), 2: epk, 3: sorted(slots), 4: nonce, 5: box})
    assert raw.hex() == vec["wrap"]
    wrap = parse_wrap(raw)
    assert wrap.hash == hashlib.blake2b(raw, digest_size=32).digest()
    assert wrap.hash.hex() == vec["wrap_hash"]
    for reader in vec["readers"]:
        assert open_wrap(wrap, KEYS[reader]) == inner
    for other in vec["not_readers"]:  # D5
        assert open_wrap(wrap, KEYS[other]) is None
    again = seal(inner, mailbox=_key(vec["mailbox"]), devices=[_key(d["device"]) for d in
                                                               vec["devices"]],
                 draw=_replay(vec))
    assert again.raw == raw


def _replay(vec: dict[str, Any]) -> Any:
    values = {"key": [vec["K"]], "nonce": [vec["nonce"]], "ephemeral": [vec["e"]],
              "dummy": list(vec["dummies"])}

    def draw(label: str, size: int) -> bytes:
        value = bytes.fromhex(values[label].pop(0))
        assert len(value) == size
        return value
    return draw


def test_the_sent_copy_reaches_every_current_device_not_the_revoked_one() -> None:
    copy = next(v for v in MAIL["wraps"] if v["mailbox"] == "alice")
    assert {_key(n) for n in copy["readers"]} == _alice_devices()
    assert "carol" in copy["not_readers"]  # revoked: M29


def test_padding() -> None:
    for size in MAIL["padding"]["sizes"]:
        assert bucket_for(size["inner_bytes"]) == size["padded_bytes"]
    example = bytes.fromhex(MAIL["padding"]["example_padded"])
    assert unpad(example) == bytes.fromhex(MAIL["padding"]["example_inner"])
    assert example[:2] == b"\x00\x0a" and len(example) == 512
    assert MAIL["padding"]["rejected_inner_bytes"] == limits.MAX_INNER_BYTES + 1


def test_largest() -> None:
    raw = bytes.fromhex(MAIL["largest"]["wrap"])
    assert len(raw) == MAIL["largest"]["bytes"] == limits.MAX_WRAP_BYTES
    wrap = parse_wrap(raw)
    assert len(wrap.slots) == 16 and len(wrap.box) == 16_384 + 16
    device = Identity(bytes.fromhex(MAIL["largest"]["device_seeds"][-1]))
    assert open_wrap(wrap, device) == bytes(limits.MAX_INNER_BYTES)


def test_pow() -> None:
    vec = MAIL["pow"]
    wrap_hash, n = bytes.fromhex(vec["wrap_hash"]), bytes.fromhex(vec["n"])
    assert make_stamp(wrap_hash, vec["day"], vec["bits"]) == n
    assert int.from_bytes(n, "big") == vec["counter"]
    digest = hashlib.blake2b(wrap_hash + vec["day"].to_bytes(4, "big") + n, digest_size=32,
                             person=b"p2ps/mail/pow/1").digest()
    assert digest.hex() == vec["hash"] and zero_bits(digest) >= vec["bits"]
    assert stamp_is_good(wrap_hash, vec["day"], n, bits=vec["bits"],
                         now_ms=vec["day"] * DAY_MS)


@pytest.mark.parametrize("vec", MAIL["frames"], ids=[v["name"] for v in MAIL["frames"]])
def test_frames(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["bytes"])
    if vec["kind"] == "request":
        assert wire.encode_request(wire.parse_request(raw)) == raw
    else:
        assert wire.encode_answer(wire.parse_answer(raw)) == raw


def test_frames_byte_exact_examples_in_the_spec() -> None:
    frames = {v["name"]: v["bytes"] for v in MAIL["frames"]}
    assert frames["answer-stored"] == "a1006673746f726564"
    assert frames["answer-pow"] == "a20063706f770114"
    for name in ("answer-stored", "answer-pow"):
        assert frames[name] in SPEC
    assert {f"answer-{s.value}" for s in wire.Status} <= set(frames)


@pytest.mark.parametrize("vec", MAIL["invalid"], ids=[v["name"] for v in MAIL["invalid"]])
def test_invalid(vec: dict[str, Any]) -> None:
    raw = bytes(vec["size"]) if vec["bytes"] is None else bytes.fromhex(vec["bytes"])
    with pytest.raises(MailError) as caught:
        _read(vec["kind"], raw, vec.get("reader"))
    assert caught.value.rule == vec["rule"]


def _read(kind: str, raw: bytes, reader: str | None) -> None:
    if kind == "padded":
        unpad(raw)
    elif kind == "request":
        wire.parse_request(raw)
    elif kind == "wrap":
        wrap = parse_wrap(raw)
        open_wrap(wrap, KEYS[reader or "erin"])
    else:
        message = parse_inner(raw)
        devices = _alice_devices() if message.from_account == _key("alice") else None
        admit(message, reader_account=_key(reader or "erin"), devices=devices,
              waiting_since_ms=0, now_ms=0)


_MAIL_RULE = re.compile(r'MailError\(\s*"(M\d+[a-e]?)"')


def _mail_rules_in_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "p2psocial" / "core").rglob("*.py"):
        found.update(_MAIL_RULE.findall(path.read_text("utf-8")))
    return found


def test_every_mail_rule_the_code_raises_is_in_the_spec_and_has_a_vector() -> None:
    rules = _mail_rules_in_code()
    assert {"M5a", "M5b", "M5c", "M5d", "M5e", "M7", "M9", "M10", "M15"} <= rules
    assert not [r for r in rules if not re.search(rf"\*\*{r}\b", SPEC)]  # **M7.**, **M5a**
    assert rules == {v["rule"] for v in MAIL["invalid"]}


def test_spec_claims_d1_to_d6_are_stated() -> None:
    for claim in ("D1", "D2", "D3", "D4", "D5", "D6"):
        assert f"**{claim}.**" in SPEC
