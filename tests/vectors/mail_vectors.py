"""The `mail` section of docs/test-vectors.json (docs/protocol.md §Mail test vectors).

Called by tests/vectors/generate.py with the `accounts` section it built: the keys and ops
come from there (alice's account in the `revocation` scenario: current devices alice, bob and
dave, carol revoked; erin a single-key account).

Rules:
- Every "random" value is fixed: draw(label, size) is SHA-256("p2psocial-test-vector:mail:"
  + label + counter), so running twice gives the same bytes.
- Valid objects are made by the core (make_inner, seal with the fixed draw, the wire
  encoders); the per-device slot values are recomputed here with libsodium directly and must
  match. Invalid ones are made by hand and must raise their rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import cbor2
import nacl.bindings

from p2psocial.core import limits
from p2psocial.core.account.ops import decode_op
from p2psocial.core.account.state import resolve
from p2psocial.core.encoding import encode
from p2psocial.core.errors import MailError
from p2psocial.core.identity import Identity
from p2psocial.core.mail import inner as mail_inner
from p2psocial.core.mail import pad as mail_pad
from p2psocial.core.mail import wire
from p2psocial.core.mail.inner import Kind, make_inner, message_fields, parse_inner
from p2psocial.core.mail.stamp import DAY_MS, make_stamp, stamp_hash
from p2psocial.core.mail.wrap import (
    SLOT_PERSON,
    device_x25519,
    open_wrap,
    parse_wrap,
    seal,
    slot_secret,
)

T0 = 1_700_000_000_000
PREFIX = b"p2psocial-test-vector:mail:"
SCENARIO_OPS = ["genesis", "add-bob", "add-carol", "add-dave-by-bob", "revoke-carol"]
TEXT = "Meet at 10?"


class FixedDraw:
    """draw(label, size) with fixed values; `drawn` records them in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.drawn: list[tuple[str, bytes]] = []

    def __call__(self, label: str, size: int) -> bytes:
        seed = f"{self.name}:{label}:{len(self.drawn)}".encode()
        value = b""
        while len(value) < size:
            value += hashlib.sha256(PREFIX + seed + bytes([len(value)])).digest()
        self.drawn.append((label, value[:size]))
        return value[:size]

    def first(self, label: str) -> bytes:
        return next(v for k, v in self.drawn if k == label)

    def all(self, label: str) -> list[bytes]:
        return [v for k, v in self.drawn if k == label]


def diag(value: Any) -> str:
    """CBOR diagnostic notation of the plain values used here."""
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(diag(v) for v in value) + "]"
    return "{" + ", ".join(f"{diag(k)}: {diag(v)}" for k, v in value.items()) + "}"


class Vectors:
    """Builds the section from the accounts section."""

    def __init__(self, accounts: dict[str, Any]) -> None:
        self.keys: dict[str, Identity] = {k["name"]: Identity(bytes.fromhex(k["seed"]))
                                          for k in accounts["keys"]}
        ops = {o["name"]: decode_op(bytes.fromhex(o["op"])) for o in accounts["ops"]}
        self.alice = self.keys["alice"].public_key
        self.erin = self.keys["erin"].public_key
        self.state = resolve(self.alice, [ops[n] for n in SCENARIO_OPS])
        self.alice_devices = [d.key for d in self.state.current_devices()]
        assert [self.name(k) for k in self.alice_devices] == ["alice", "bob", "dave"]

    def name(self, key: bytes) -> str:
        return next(n for n, i in self.keys.items() if i.public_key == key)

    def message(self, n: int, kind: Kind, device: str, *, account: str = "alice",
                to: tuple[str, ...] = ("erin",), **kw: Any) -> mail_inner.InnerMessage:
        return make_inner(self.keys[device], account=self.keys[account].public_key,
                          to=[self.keys[t].public_key for t in to],
                          msg_id=hashlib.sha256(PREFIX + b"id" + bytes([n])).digest()[:16],
                          ts=T0 + n * 1000, kind=kind, **kw)

    def inner_vector(self, name: str, message: mail_inner.InnerMessage) -> dict[str, Any]:
        fields = cbor2.loads(message.raw)
        unsigned = {k: v for k, v in fields.items() if k != "sig"}
        return {"name": name, "from": self.name(message.from_account),
                "dev": self.name(message.dev), "to": [self.name(t) for t in message.to],
                "id": message.id.hex(), "ts": message.ts, "kind": str(message.kind),
                "text": message.text,
                "target": None if message.target is None else message.target.hex(),
                "fields_diag": diag(fields),
                "signing_bytes": mail_inner.signing_bytes(unsigned).hex(),
                "sig": message.sig.hex(), "inner": message.raw.hex(),
                "padded": mail_pad.pad(message.raw).hex(),
                "conversation": message.conversation.hex()}

    def wrap_vector(self, name: str, message: mail_inner.InnerMessage, mailbox: bytes,
                    devices: list[bytes], not_readers: list[str]) -> dict[str, Any]:
        draw = FixedDraw(name)
        wrap = seal(message.raw, mailbox=mailbox, devices=devices, draw=draw)
        key, nonce, secret = draw.first("key"), draw.first("nonce"), draw.first("ephemeral")
        epk = bytes(nacl.bindings.crypto_scalarmult_base(secret))
        per_device = [self.slot_vector(d, secret, epk, key) for d in devices]
        dummies = draw.all("dummy")
        slots = sorted([bytes.fromhex(d["slot"]) for d in per_device] + dummies)
        box = nacl.bindings.crypto_secretbox_easy(mail_pad.pad(message.raw), nonce, key)
        raw = encode({0: 1, 1: mailbox, 2: epk, 3: slots, 4: nonce, 5: box})
        assert raw == wrap.raw
        readers = [self.name(d) for d in devices]
        for reader in readers:
            assert open_wrap(wrap, self.keys[reader]) == message.raw
        for other in not_readers:
            assert open_wrap(wrap, self.keys[other]) is None
        return {"name": name, "inner": message.raw.hex(), "mailbox": self.name(mailbox),
                "K": key.hex(), "nonce": nonce.hex(), "e": secret.hex(), "E": epk.hex(),
                "devices": per_device, "dummies": [d.hex() for d in dummies],
                "slots": [s.hex() for s in slots], "box": bytes(box).hex(),
                "wrap": raw.hex(), "wrap_hash": wrap.hash.hex(),
                "readers": readers, "not_readers": not_readers}

    def slot_vector(self, device: bytes, secret: bytes, epk: bytes,
                    key: bytes) -> dict[str, Any]:
        device_x = bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(device))
        assert device_x == device_x25519(device)
        shared = bytes(nacl.bindings.crypto_scalarmult(secret, device_x))
        t = hashlib.blake2b(epk + device_x, key=shared, digest_size=40,
                            person=SLOT_PERSON).digest()
        assert (t[:8], t[8:]) == slot_secret(shared, epk, device_x)
        slot = t[:8] + nacl.bindings.crypto_secretbox_easy(key, bytes(24), t[8:])
        return {"device": self.name(device), "D": device_x.hex(), "s": shared.hex(),
                "t": t.hex(), "slot_id": t[:8].hex(), "slot_key": t[8:].hex(),
                "slot": slot.hex()}

    def build(self) -> dict[str, Any]:
        text = self.message(1, Kind.TEXT, "bob", text=TEXT)
        edit = self.message(2, Kind.EDIT, "dave", text="Meet at 11?", target=text.id)
        delete = self.message(3, Kind.DELETE, "alice", target=text.id)
        accept = self.message(4, Kind.ACCEPT, "erin", account="erin", to=("alice",))
        wraps = [
            self.wrap_vector("to-erin", text, self.erin, [self.erin],
                             ["alice", "bob", "carol", "dave"]),
            self.wrap_vector("sent-copy", text, self.alice, self.alice_devices,
                             ["carol", "erin"]),
        ]
        return {
            "description": "Private messages (docs/protocol.md §Private messages). alice's "
                           "account as in the accounts scenario `revocation` (ops listed), "
                           "erin a single-key account.",
            "mail_context": mail_inner.MAIL_CONTEXT.hex(),
            "buckets": list(mail_pad.BUCKETS),
            "max_wrap_bytes": limits.MAX_WRAP_BYTES,
            "account_ops": SCENARIO_OPS,
            "alice_devices": [self.name(k) for k in self.alice_devices],
            "inner": [self.inner_vector(n, m) for n, m in
                      (("text", text), ("edit", edit), ("delete", delete),
                       ("accept", accept))],
            "wraps": wraps,
            "padding": self.padding(),
            "largest": self.largest(),
            "pow": self.pow(bytes.fromhex(wraps[0]["wrap_hash"])),
            "frames": self.frames(bytes.fromhex(wraps[0]["wrap"])),
            "invalid": self.invalid(text, bytes.fromhex(wraps[0]["wrap"])),
        }

    def padding(self) -> dict[str, Any]:
        sizes = [0, 10, 510, 511, 16_382]
        return {"sizes": [{"inner_bytes": s, "padded_bytes": mail_pad.bucket_for(s)}
                          for s in sizes],
                "example_inner": "00" * 10, "example_padded": mail_pad.pad(bytes(10)).hex(),
                "rejected_inner_bytes": limits.MAX_INNER_BYTES + 1}

    def largest(self) -> dict[str, Any]:
        devices = [hashlib.sha256(PREFIX + b"largest" + bytes([n])).digest()
                   for n in range(16)]
        keys = [Identity(seed).public_key for seed in devices]
        wrap = seal(bytes(limits.MAX_INNER_BYTES), mailbox=self.erin, devices=keys,
                    draw=FixedDraw("largest"))
        assert len(wrap.raw) == limits.MAX_WRAP_BYTES
        return {"description": "16 slots, an inner of 16382 zero bytes (bucket 16384): the "
                               "largest wrap. Device seeds: SHA-256(prefix + \"largest\" + n).",
                "device_seeds": [d.hex() for d in devices], "bytes": len(wrap.raw),
                "wrap_hash": wrap.hash.hex(), "wrap": wrap.raw.hex()}

    def pow(self, wrap_hash: bytes) -> dict[str, Any]:
        day = T0 // DAY_MS
        n = make_stamp(wrap_hash, day, 8)
        return {"wrap_hash": wrap_hash.hex(), "day": day, "bits": 8, "n": n.hex(),
                "counter": int.from_bytes(n, "big"),
                "hash": stamp_hash(wrap_hash, day, n).hex()}

    def frames(self, wrap: bytes) -> list[dict[str, Any]]:
        day = T0 // DAY_MS
        n = make_stamp(parse_wrap(wrap).hash, day, 8)
        requests: list[tuple[str, wire.Request]] = [
            ("put", wire.Put(wrap)),
            ("put-stamped", wire.Put(wrap, wire.Stamp(n, day))),
            ("fetch", wire.MailboxRequest(wire.Op.FETCH, self.alice, 0)),
            ("ack", wire.MailboxRequest(wire.Op.ACK, self.alice, 3)),
            ("notify", wire.MailboxRequest(wire.Op.NOTIFY, self.alice, 4)),
            ("policy", wire.MailboxRequest(wire.Op.POLICY, self.alice, 1)),
        ]
        out: list[dict[str, Any]] = []
        for name, request in requests:
            raw = wire.encode_request(request)
            assert wire.parse_request(raw) == request
            out.append({"name": name, "kind": "request", "bytes": raw.hex(),
                        "diag": diag(cbor2.loads(raw)) if len(raw) < 200 else None})
        answers = [(f"answer-{s.value}", wire.Answer(s)) for s in wire.Status
                   if s not in (wire.Status.POW, wire.Status.QUOTA)]
        answers += [("answer-pow", wire.Answer(wire.Status.POW, 20)),
                    ("answer-quota", wire.Answer(wire.Status.QUOTA, 3600)),
                    ("answer-fetch", wire.Answer(wire.Status.OK, items=((1, wrap),),
                                                 more=False))]
        for name, answer in answers:
            raw = wire.encode_answer(answer)
            assert wire.parse_answer(raw) == answer
            out.append({"name": name, "kind": "answer", "bytes": raw.hex(),
                        "diag": diag(cbor2.loads(raw)) if len(raw) < 200 else None})
        return out

    def invalid(self, text: mail_inner.InnerMessage, wrap: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []

        def add(name: str, rule: str, kind: str, data: bytes, check: Callable[[], Any],
                description: str, **extra: Any) -> None:
            shown = data.hex() if len(data) <= limits.MAX_WRAP_BYTES else None
            try:
                check()
            except MailError as exc:
                assert exc.rule == rule, (name, exc.rule, rule)
            else:
                raise AssertionError(f"{name} does not break {rule}")
            out.append({"name": name, "rule": rule, "kind": kind, "bytes": shown,
                        "size": len(data), "description": description, **extra})

        bob = self.keys["bob"]

        def signed(**changes: Any) -> bytes:
            fields = message_fields(account=self.alice, dev=bob.public_key, to=[self.erin],
                                    msg_id=text.id, ts=text.ts, kind=Kind.TEXT, text=TEXT)
            fields = {k: v for k, v in {**fields, **changes}.items() if v is not None}
            return encode({**fields, "sig": bob.sign(mail_inner.signing_bytes(fields))})

        others = sorted(hashlib.sha256(PREFIX + bytes([n])).digest() for n in range(17))
        form: list[tuple[str, dict[str, Any], str]] = [
            ("blank-text", {"text": " \n"}, "text of only whitespace"),
            ("text-3001", {"text": "é" * 3001}, "3001 code points"),
            ("to-unsorted", {"to": sorted([self.erin, self.keys["carol"].public_key],
                                          reverse=True)}, "to not sorted bytewise"),
            ("from-in-to", {"to": sorted([self.erin, self.alice])}, "from listed in to"),
            ("seventeen-others", {"to": others}, "17 other participants"),
            ("edit-without-target", {"kind": "edit"}, "an edit with no target"),
        ]
        for name, changes, description in form:
            data = signed(**changes)
            add(name, "M5a", "inner", data, partial(parse_inner, data), description)
        flipped = bytearray(text.raw)
        flipped[-1] ^= 1
        add("bad-sig", "M5b", "inner", bytes(flipped), lambda: parse_inner(bytes(flipped)),
            "the text message with the last signature byte flipped")
        add("forwarded", "M5c", "inner", text.raw, lambda: mail_inner.admit(
            text, reader_account=self.keys["carol"].public_key, devices=None,
            waiting_since_ms=0, now_ms=0), "the text message (alice to erin) re-wrapped "
            "to carol as a single-key account: she is no participant", reader="carol")
        by_carol = self.message(5, Kind.TEXT, "carol", text=TEXT)
        add("revoked-device", "M5d", "inner", by_carol.raw, lambda: mail_inner.admit(
            by_carol, reader_account=self.erin, devices=set(self.alice_devices),
            waiting_since_ms=0, now_ms=0), "signed by carol, revoked by the ops erin holds",
            reader="erin")
        accept = self.message(6, Kind.ACCEPT, "alice", to=("erin",))
        add("foreign-accept", "M5e", "inner", accept.raw, lambda: mail_inner.admit(
            accept, reader_account=self.erin, devices=set(self.alice_devices),
            waiting_since_ms=0, now_ms=0), "an accept from alice's account read by erin",
            reader="erin")
        bad_pad = bytearray(mail_pad.pad(text.raw))
        bad_pad[-1] = 1
        add("pad-not-zero", "M7", "padded", bytes(bad_pad),
            lambda: mail_pad.unpad(bytes(bad_pad)), "the text message padded, last byte 1")
        fields = cbor2.loads(wrap)
        small = encode({**fields, 2: bytes(32)})
        add("small-order-epk", "M9", "wrap", small,
            lambda: open_wrap(parse_wrap(small), self.keys["erin"]),
            "the wrap to erin with E all zero: erin's X25519 gives all zero", reader="erin")
        for name, changed, description in [
            ("three-slots", {**fields, 3: fields[3][:3]}, "3 slots"),
            ("short-slot", {**fields, 3: sorted([fields[3][0][:55], *fields[3][1:]])},
             "a 55-byte slot"),
            ("slots-unsorted", {**fields, 3: list(reversed(fields[3]))}, "slots descending"),
            ("box-300", {**fields, 5: fields[5][:300]}, "a 300-byte box"),
            ("sixth-key", {**fields, 6: 0}, "a key 6"),
        ]:
            data = encode(changed)
            add(name, "M10", "wrap", data, partial(parse_wrap, data), description)
        long_len = b"\xa6\x18\x00" + wrap[2:]  # key 0 written in two bytes
        add("non-canonical", "M10", "wrap", long_len, lambda: parse_wrap(long_len),
            "the wrap to erin with key 0 as 0x18 0x00")
        too_long = bytes(limits.MAX_WRAP_BYTES + 1)
        add("too-long", "M10", "wrap", too_long, lambda: parse_wrap(too_long),
            "17435 zero bytes (bytes null: too long to list): refused before decoding")
        for name, request, description in [
            ("request-version-2", {0: 2, 1: 1, 2: self.alice, 3: 0}, "version 2"),
            ("request-op-5", {0: 1, 1: 5, 2: self.alice, 3: 0}, "op 5"),
            ("fetch-short-account", {0: 1, 1: 1, 2: self.alice[:31], 3: 0},
             "a 31-byte account"),
            ("put-short-stamp", {0: 1, 1: 0, 2: wrap, 3: bytes(7), 4: 19_675},
             "a 7-byte stamp"),
        ]:
            data = encode(request)
            add(name, "M15", "request", data, partial(wire.parse_request, data),
                description)
        return out


def build(accounts: dict[str, Any]) -> dict[str, Any]:
    """The `mail` section."""
    return Vectors(accounts).build()
