"""The test vectors in docs/test-vectors.json, checked byte for byte against the core.

Also keeps the vectors and docs/protocol.md from drifting: the file must equal what
tests/vectors/generate.py writes, and the spec must name every rule id and limit the code has.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib.util
import json
import re
import sys
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

import base58
import cbor2
import nacl.public
import nacl.pwhash
import nacl.secret
import nacl.signing
import pytest
from mnemonic import Mnemonic

from p2psocial.core import archive, limits
from p2psocial.core.account import ops as account_ops
from p2psocial.core.account.ops import OpType, consent_for, decode_op, make_op
from p2psocial.core.account.phrase import recovery_identity
from p2psocial.core.account.state import resolve
from p2psocial.core.content import PrivateMessage, content_payload
from p2psocial.core.dm import open_message
from p2psocial.core.encoding import digest, encode
from p2psocial.core.entry import SIGNING_CONTEXT, create_entry, decode_entry, signing_bytes
from p2psocial.core.errors import (
    AccountOpError,
    ArchiveError,
    ChainError,
    ForkError,
    HandleError,
    ValidationError,
)
from p2psocial.core.feed import FeedState, Placement, place
from p2psocial.core.identity import Identity, handle_of, parse_handle
from p2psocial.core.replication import account_summary
from p2psocial.core.replication.framing import MAX_FRAME, FrameDecoder, encode_frame
from p2psocial.core.replication.messages import (
    AccountNote,
    Accounts,
    More,
    Ops,
    decode_message,
    encode_message,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = ROOT / "docs" / "test-vectors.json"
SPEC_FILE = ROOT / "docs" / "protocol.md"
GENERATOR = ROOT / "tests" / "vectors" / "generate.py"
CORE = ROOT / "p2psocial" / "core"

VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
IDENTITIES = {i["name"]: i for i in VECTORS["identities"]}


def _identity(name: str) -> Identity:
    return Identity(bytes.fromhex(IDENTITIES[name]["seed"]))


def _hex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


# --- identities ------------------------------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["identities"], ids=_ids(VECTORS["identities"]))
def test_identity(vec: dict[str, Any]) -> None:
    identity = Identity(bytes.fromhex(vec["seed"]))
    key = bytes.fromhex(vec["public_key"])
    assert identity.public_key == key
    assert handle_of(key) == vec["handle"] == identity.handle
    peer_id = bytes.fromhex(vec["peer_id_bytes"])
    assert peer_id == bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + key
    assert base58.b58encode(peer_id).decode() == vec["handle"]
    assert parse_handle(vec["handle"]) == key
    for form in vec["accepted_forms"]:
        assert parse_handle(form) == key
    for form in vec["rejected_forms"]:
        with pytest.raises(HandleError):
            parse_handle(form)


def test_signing_context() -> None:
    assert bytes.fromhex(VECTORS["signing_context"]) == SIGNING_CONTEXT == b"p2psocial/entry/v1\n"
    assert VECTORS["signing_context_text"].encode() == SIGNING_CONTEXT
    assert VECTORS["format_version"] == limits.FORMAT_VERSION


# --- valid entries ---------------------------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["valid"], ids=_ids(VECTORS["valid"]))
def test_valid_entry_decodes(vec: dict[str, Any]) -> None:
    header = bytes.fromhex(vec["header"])
    payload = _hex(vec["payload"])
    entry = decode_entry(header, payload)

    author = _identity(vec["author"]).public_key
    assert entry.author == author
    assert entry.seq == vec["seq"]
    assert entry.prev == _hex(vec["prev"])
    assert entry.timestamp == vec["timestamp"]
    assert entry.type == vec["type"]
    assert entry.payload_size == vec["payload_size"]
    assert entry.payload_hash.hex() == vec["payload_hash"]
    assert entry.signature.hex() == vec["signature"]
    assert entry.hash.hex() == vec["hash"] == digest(header).hex()
    assert entry.payload == payload

    committed = payload if payload is not None else bytes.fromhex(vec["withheld_payload"])
    assert len(committed) == vec["payload_size"]
    assert digest(committed).hex() == vec["payload_hash"]

    assert decode_entry(header, None).hash == entry.hash  # the header alone verifies too

    sign_bytes = bytes.fromhex(vec["signing_bytes"])
    assert sign_bytes.startswith(SIGNING_CONTEXT)
    decoded = cbor2.loads(header)
    assert signing_bytes(decoded) == sign_bytes
    assert sign_bytes[len(SIGNING_CONTEXT):] == encode({k: v for k, v in decoded.items()
                                                        if k != 8})
    nacl.signing.VerifyKey(author).verify(sign_bytes, entry.signature)


@pytest.mark.parametrize("vec", VECTORS["valid"], ids=_ids(VECTORS["valid"]))
def test_valid_entry_recreated_from_seed(vec: dict[str, Any]) -> None:
    identity = _identity(vec["author"])
    payload = _hex(vec["payload"])
    committed = payload if payload is not None else bytes.fromhex(vec["withheld_payload"])
    entry = create_entry(identity, seq=vec["seq"], prev=_hex(vec["prev"]),
                         timestamp=vec["timestamp"], entry_type=vec["type"], payload=committed)
    assert entry.header.hex() == vec["header"]
    assert entry.hash.hex() == vec["hash"]
    # Ed25519 is deterministic: the same key and bytes give the same signature
    assert identity.sign(bytes.fromhex(vec["signing_bytes"])).hex() == vec["signature"]


_WRITTEN = [v for v in VECTORS["valid"]
            if v["payload_diag"] is not None and "unknown_fields" not in v]


@pytest.mark.parametrize("vec", _WRITTEN, ids=_ids(_WRITTEN))
def test_known_payload_is_what_a_writer_produces(vec: dict[str, Any]) -> None:
    payload = _hex(vec["payload"])
    committed = payload if payload is not None else bytes.fromhex(vec["withheld_payload"])
    entry = decode_entry(bytes.fromhex(vec["header"]), committed)
    assert entry.content is not None
    assert content_payload(entry.content) == committed


def test_unknown_types_are_not_parsed() -> None:
    unknown = [v for v in VECTORS["valid"] if v["name"].startswith("unknown-type")]
    assert unknown
    for vec in unknown:
        entry = decode_entry(bytes.fromhex(vec["header"]), _hex(vec["payload"]))
        assert entry.content is None
        assert entry.payload == _hex(vec["payload"])


# --- invalid entries -------------------------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["invalid"], ids=_ids(VECTORS["invalid"]))
def test_invalid_entry_breaks_its_rule(vec: dict[str, Any]) -> None:
    header = bytes.fromhex(vec["header"])
    payload = _hex(vec["payload"])
    with pytest.raises(ValidationError) as info:
        decode_entry(header, payload)
    assert info.value.rule == vec["rule"], str(info.value)
    if "canonical_form" in vec:
        # the same map, canonically encoded, is a valid entry: only the encoding was wrong
        canonical = bytes.fromhex(vec["canonical_form"])
        decode_entry(canonical, payload)
        assert cbor2.loads(canonical) == cbor2.loads(header)
    if vec["rule"].startswith("P"):
        decode_entry(header, None)  # the header alone is valid


# --- chain -----------------------------------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["chain"], ids=_ids(VECTORS["chain"]))
def test_chain(vec: dict[str, Any]) -> None:
    author = _identity(vec["author"]).public_key
    state = FeedState(author)
    held: dict[int, bytes] = {}
    for step in vec["steps"]:
        entry = decode_entry(bytes.fromhex(step["header"]), _hex(step["payload"]))
        assert entry.author == author
        assert entry.seq == step["seq"]
        assert entry.hash.hex() == step["hash"]
        try:
            state, placement = place(state, entry,
                                     held.get(entry.seq) if state.holds(entry.seq) else None)
        except ForkError as exc:
            result = exc.rule
            assert (exc.author, exc.seq) == (author, entry.seq)
            state = dataclasses.replace(state, forked=True)
        except ChainError as exc:
            result = exc.rule
        else:
            result = placement.value
            if placement in (Placement.FIRST, Placement.NEXT, Placement.PREVIOUS):
                held[entry.seq] = entry.hash
        assert result == step["result"], f"seq {entry.seq}"


# --- private message -------------------------------------------------------------------------


def test_dm_vector_opens_for_its_readers_only() -> None:
    dm = VECTORS["dm"]
    entry_vec = next(v for v in VECTORS["valid"] if v["name"] == dm["entry"])
    entry = decode_entry(bytes.fromhex(entry_vec["header"]), bytes.fromhex(entry_vec["payload"]))
    assert isinstance(entry.content, PrivateMessage)
    message = entry.content
    key = bytes.fromhex(dm["message_key"])
    assert message.nonce.hex() == dm["nonce"]
    assert message.box.hex() == dm["box"]
    assert [k.hex() for k in message.keys] == [s["sealed_key"] for s in dm["sealed_keys"]]

    plaintext = bytes.fromhex(dm["plaintext"])
    readers = [_identity(n).public_key for n in dm["readers"]]
    assert plaintext == encode({"text": dm["text"], "to": readers})
    assert nacl.secret.SecretBox(key).decrypt(message.box, message.nonce) == plaintext

    for sealed in dm["sealed_keys"]:
        reader = _identity(sealed["reader"])
        x25519 = nacl.signing.VerifyKey(reader.public_key).to_curve25519_public_key()
        assert bytes(x25519).hex() == sealed["reader_x25519_public"]
        esk = nacl.public.PrivateKey(bytes.fromhex(sealed["ephemeral_secret"]))
        assert bytes(esk.public_key).hex() == sealed["ephemeral_public"] == sealed[
            "sealed_key"][:64]
        private = reader.signing_key.to_curve25519_private_key()
        opened = nacl.public.SealedBox(private).decrypt(bytes.fromhex(sealed["sealed_key"]))
        assert opened == key

    for name in dm["readers"]:
        seen = open_message(_identity(name), message)
        assert seen is not None
        assert seen.text == dm["text"]
        assert list(seen.readers) == readers
    for name in dm["not_readers"]:
        assert open_message(_identity(name), message) is None


# --- nesting depth -------------------------------------------------------------------------------


def _depth(value: Any) -> int:
    """Nesting depth as protocol.md counts it: an array or map is 1 + its deepest item."""
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def test_nesting_vectors_sit_at_the_limit_and_one_past_it() -> None:
    valid = {v["name"]: v for v in VECTORS["valid"]}
    invalid = {v["name"]: v for v in VECTORS["invalid"]}
    at_limit = cbor2.loads(bytes.fromhex(valid["nested-16-deep"]["payload"]))
    assert _depth(at_limit) == limits.MAX_NESTING_DEPTH == 16
    over = cbor2.loads(bytes.fromhex(invalid["payload-nested-17-deep"]["payload"]))
    assert _depth(over) == limits.MAX_NESTING_DEPTH + 1
    assert _depth(cbor2.loads(bytes.fromhex(invalid["header-nested-16-deep"]["header"]))) == 16
    assert _depth(cbor2.loads(bytes.fromhex(invalid["header-nested-17-deep"]["header"]))) == 17


def test_fields_a_schema_does_not_define_are_ignored() -> None:
    vectors = [v for v in VECTORS["valid"] if "unknown_fields" in v]
    assert vectors
    for vec in vectors:
        payload = bytes.fromhex(vec["payload"])
        entry = decode_entry(bytes.fromhex(vec["header"]), payload)
        assert entry.content is not None
        assert set(vec["unknown_fields"]) <= set(cbor2.loads(payload))
        assert content_payload(entry.content) != payload  # a writer would leave them out


# --- export archive ------------------------------------------------------------------------------


ARCHIVE = VECTORS["archive"]


def test_archive_vector_unpacks_to_its_key_and_entries() -> None:
    data = bytes.fromhex(ARCHIVE["archive"])
    valid = {v["name"]: v for v in VECTORS["valid"]}
    entries = [(bytes.fromhex(valid[e["entry"]]["header"]),
                None if e["payload_absent"] else bytes.fromhex(valid[e["entry"]]["payload"]))
               for e in ARCHIVE["entries"]]
    unpacked = archive.unpack(data)
    assert unpacked.key_doc == ARCHIVE["key_doc"]
    assert unpacked.entries == entries
    assert archive.pack(archive.Archive(key_doc=ARCHIVE["key_doc"], entries=entries)) == data

    body = cbor2.loads(data)
    assert list(body) == ["key", "check", "format", "entries", "version"]  # canonical order
    assert body["format"] == "p2psocial-archive" and type(body["version"]) is int
    assert body["version"] == 1
    assert body["key"] == ARCHIVE["key_text"] == json.dumps(ARCHIVE["key_doc"], sort_keys=True)
    assert body["entries"] == [[h, p] for h, p in entries]
    check = body.pop("check")
    assert check.hex() == ARCHIVE["check"] and check == digest(encode(body))


def test_archive_key_opens_with_the_passphrase_alone() -> None:
    doc = ARCHIVE["key_doc"]
    salt = base64.b64decode(doc["salt"])
    assert salt.hex() == ARCHIVE["salt"]
    key = nacl.pwhash.argon2id.kdf(32, ARCHIVE["passphrase"].encode(), salt,
                                   opslimit=doc["opslimit"], memlimit=doc["memlimit"])
    assert key.hex() == ARCHIVE["argon2id_key"]
    box = base64.b64decode(doc["box"])
    assert box.hex() == ARCHIVE["box"] and box[:24].hex() == ARCHIVE["box_nonce"]
    seed = nacl.secret.SecretBox(key).decrypt(box)
    assert seed.hex() == ARCHIVE["seed"] == IDENTITIES["alice"]["seed"]
    assert Identity(seed).public_key.hex() == doc["public_key"]


@pytest.mark.parametrize("vec", ARCHIVE["invalid"], ids=_ids(ARCHIVE["invalid"]))
def test_invalid_archive_is_refused(vec: dict[str, Any]) -> None:
    with pytest.raises(ArchiveError) as info:
        archive.unpack(bytes.fromhex(vec["archive"]))
    assert "\n" not in str(info.value)


# --- accounts --------------------------------------------------------------------------------


ACCOUNTS: dict[str, Any] = VECTORS["accounts"]
ACCOUNT_KEYS = {k["name"]: k for k in ACCOUNTS["keys"]}
ACCOUNT_OPS = {o["name"]: o for o in ACCOUNTS["ops"]}


def _account_key(name: str) -> Identity:
    return Identity(bytes.fromhex(ACCOUNT_KEYS[name]["seed"]))


@pytest.mark.parametrize("doc", ACCOUNTS["keys"], ids=_ids(ACCOUNTS["keys"]))
def test_account_key(doc: dict[str, Any]) -> None:
    seed = bytes.fromhex(doc["seed"])
    assert Identity(seed).public_key.hex() == doc["public_key"]
    if doc["derivation"].startswith("identities."):
        assert doc["seed"] == IDENTITIES[doc["name"]]["seed"]
        return
    if doc["derivation"] != "recovery phrase":
        return
    # the spec's derivation, by hand, by the mnemonic package and by the reference
    phrase = doc["phrase"]
    bip39_seed = hashlib.pbkdf2_hmac("sha512", unicodedata.normalize("NFKD", phrase).encode(),
                                     b"mnemonic", 2048)
    assert bip39_seed.hex() == doc["bip39_seed"]
    assert Mnemonic.to_seed(phrase, "") == bip39_seed
    assert Mnemonic("english").check(phrase)
    assert hashlib.blake2b(bip39_seed, digest_size=32, person=b"p2ps/recovery/v1").digest() == seed
    assert recovery_identity(phrase).public_key.hex() == doc["public_key"]


@pytest.mark.parametrize("vec", ACCOUNTS["ops"], ids=_ids(ACCOUNTS["ops"]))
def test_account_op(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["op"])
    op = decode_op(raw)
    public = {name: bytes.fromhex(k["public_key"]) for name, k in ACCOUNT_KEYS.items()}
    assert op.hash.hex() == vec["hash"] == digest(raw).hex()
    assert (op.account, op.signer, op.key) == (
        public[vec["account"]], public[vec["signer"]], public[vec["key"]])
    assert (_hex(vec["prev"]), vec["timestamp"], vec["type"]) == (op.prev, op.timestamp, op.type)
    assert (_hex(vec["consent"]), vec["device_name"], vec["admin"], vec["after"]) == (
        op.consent, op.name, op.admin, op.after)
    signed = bytes.fromhex(vec["signing_bytes"])
    assert signed.startswith(account_ops.OP_CONTEXT)
    assert signed == account_ops.signing_bytes(cbor2.loads(raw))
    assert signed == account_ops.OP_CONTEXT + bytes([raw[0] - 1]) + raw[1:-67]
    assert raw[-64:].hex() == vec["sig"]
    nacl.signing.VerifyKey(op.signer).verify(signed, raw[-64:])
    # rebuilt from the fields and the seeds: the same bytes (Ed25519 is deterministic)
    subject = _account_key(vec["key"])
    if vec["consent"] is not None:
        assert consent_for(subject, op.account, op.type).hex() == vec["consent"]
    again = make_op(_account_key(vec["signer"]), account=op.account, op_type=OpType(vec["type"]),
                    key=subject.public_key, timestamp=vec["timestamp"], prev=op.prev,
                    consent=op.consent, name=vec["device_name"], admin=vec["admin"],
                    after=vec["after"])
    assert again.raw == raw


@pytest.mark.parametrize("vec", ACCOUNTS["scenarios"], ids=_ids(ACCOUNTS["scenarios"]))
def test_account_scenario(vec: dict[str, Any]) -> None:
    public = {name: bytes.fromhex(k["public_key"]) for name, k in ACCOUNT_KEYS.items()}
    key_names = {v: k for k, v in public.items()}
    ops = [decode_op(bytes.fromhex(ACCOUNT_OPS[name]["op"])) for name in vec["ops"]]
    op_names = {op.hash: name for op, name in zip(ops, vec["ops"], strict=True)}
    account = public[ACCOUNTS["account"]]
    expected = vec["state"]
    for order in (ops, ops[::-1]):
        state = resolve(account, order)
        assert key_names[state.account_key] == expected["account_key"]
        assert (None if state.recovery_key is None else key_names[state.recovery_key]) == (
            expected["recovery_key"])
        assert [{"key": key_names[d.key], "name": d.name, "admin": d.admin, "after": d.after,
                 "added_at": d.added_at} for d in state.devices.values()] == expected["devices"]
        assert sorted(key_names[k] for k in state.barred) == expected["barred"]
        assert (None if state.tip is None else op_names[state.tip]) == expected["tip"]
        assert [op_names[h] for h in state.applied] == expected["applied"]
        assert sorted(op_names[h] for h in state.overridden) == expected["overridden"]
        for check in vec["counts"]:
            assert state.counts(public[check["feed"]], check["seq"]) is check["expected"], check


@pytest.mark.parametrize("vec", ACCOUNTS["invalid"], ids=_ids(ACCOUNTS["invalid"]))
def test_invalid_account_op(vec: dict[str, Any]) -> None:
    with pytest.raises(AccountOpError) as info:
        decode_op(bytes.fromhex(vec["op"]))
    assert info.value.rule == vec["rule"]
    if "canonical_form" in vec:
        decode_op(bytes.fromhex(vec["canonical_form"]))


def test_every_account_op_rule_has_a_vector() -> None:
    assert {v["rule"] for v in ACCOUNTS["invalid"]} == {f"K{i}" for i in range(1, 10)}


def test_account_constants() -> None:
    assert bytes.fromhex(ACCOUNTS["op_context"]) == b"p2psocial/account/v1\n"
    assert bytes.fromhex(ACCOUNTS["consent_context"]) == b"p2psocial/consent/v1\n"
    assert ACCOUNTS["max_op_bytes"] == account_ops.MAX_OP_BYTES == 1024
    assert ACCOUNTS["recovery_window_ms"] == account_ops.RECOVERY_WINDOW_MS == 7 * 86_400_000


def test_ops_frame() -> None:
    frame = bytes.fromhex(ACCOUNTS["ops_frame"]["frame"])
    decoder = FrameDecoder(MAX_FRAME)
    decoder.receive(frame)
    message = decoder.next_frame()
    assert message is not None and decoder.next_frame() is None and decoder.buffered == 0
    assert encode_frame(message) == frame
    genesis = bytes.fromhex(ACCOUNT_OPS["genesis"]["op"])
    account = bytes.fromhex(ACCOUNT_KEYS[ACCOUNTS["account"]]["public_key"])
    assert message == encode([8, account, [genesis]])
    assert decode_message(message) == Ops(account=account, ops=(genesis,))
    assert encode_message(Ops(account=account, ops=(genesis,))) == message


def _frame_message(hex_frame: str) -> bytes:
    frame = bytes.fromhex(hex_frame)
    decoder = FrameDecoder(MAX_FRAME)
    decoder.receive(frame)
    message = decoder.next_frame()
    assert message is not None and decoder.next_frame() is None and decoder.buffered == 0
    assert encode_frame(message) == frame
    return message


def test_account_summary() -> None:
    """A1: the 3-device account's summary from its ops and heads, as the code computes it
    (and as a wanter summarises it, A2), and the ACCOUNTS and MORE frames carrying it."""
    vec = ACCOUNTS["summary"]
    account = bytes.fromhex(ACCOUNT_KEYS[ACCOUNTS["account"]]["public_key"])
    ops = [decode_op(bytes.fromhex(ACCOUNT_OPS[name]["op"])) for name in vec["ops"]]
    members = resolve(account, ops).member_feeds()
    heads = {bytes.fromhex(ACCOUNT_KEYS[h["feed"]]["public_key"]): h["hi"] for h in vec["heads"]}
    assert set(account_summary.account_feeds(account, members)) == set(heads)
    assert bytes.fromhex(vec["input"]) == encode(
        [sorted(op.hash for op in ops), [[f, heads[f]] for f in sorted(heads)]])
    value = bytes.fromhex(vec["summary"])
    assert value == digest(bytes.fromhex(vec["input"]))
    assert account_summary.summary((op.hash for op in ops), heads) == value
    depth = vec["depth"]
    states = {f: FeedState(f, lo=1, hi=hi) for f, hi in heads.items() if hi}
    want = account_summary.summarise(account, depth, members, [op.hash for op in ops],
                                     depths=dict.fromkeys(heads, depth), states=states)
    assert want is not None and want.note == AccountNote(account, depth, value)
    accounts = _frame_message(vec["accounts_frame"])
    assert decode_message(accounts) == Accounts(notes=(AccountNote(account, depth, value),))
    assert encode_message(Accounts(notes=(AccountNote(account, depth, value),))) == accounts
    more = _frame_message(vec["more_frame"])
    assert decode_message(more) == More(accounts=(account,))
    assert encode_message(More(accounts=(account,))) == more
    # a 1.0.0 session does not know them: types above 8 are ignored there
    assert decode_message(accounts, known=8) is None


# --- drift -----------------------------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("p2psocial_test_vectors_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_committed_file_is_what_the_generator_writes() -> None:
    assert _generator().render() == VECTORS_FILE.read_text(encoding="utf-8"), (
        "docs/test-vectors.json is out of date: run python tests/vectors/generate.py")


_RULE_SITE = re.compile(r'(?:Error\(\s*|rule\s*=\s*)"([A-Z]\d+)"')


def _rules_in_code() -> set[str]:
    rules: set[str] = set()
    for path in CORE.rglob("*.py"):
        rules.update(_RULE_SITE.findall(path.read_text(encoding="utf-8")))
    return rules


def test_rule_sites_found() -> None:
    rules = _rules_in_code()
    assert {"H1", "H2", "H8", "P1", "P4", "C2", "C6"} <= rules


def test_spec_names_every_rule_the_code_raises() -> None:
    spec = SPEC_FILE.read_text(encoding="utf-8")
    missing = sorted(r for r in _rules_in_code() if not re.search(rf"\b{r}\b", spec))
    assert not missing, f"docs/protocol.md does not mention rules {missing}"


def test_spec_lists_every_limit() -> None:
    spec = SPEC_FILE.read_text(encoding="utf-8")
    constants = {k: v for k, v in vars(limits).items() if k.isupper() and isinstance(v, int)}
    assert constants
    for name, value in constants.items():
        assert re.search(rf"\b{name}\b", spec), f"docs/protocol.md lacks {name}"
        assert re.search(rf"\b{value}\b", spec), f"docs/protocol.md lacks the value of {name}"


def test_every_entry_rule_has_a_vector() -> None:
    in_vectors = {v["rule"] for v in VECTORS["invalid"]}
    in_vectors |= {s["result"] for c in VECTORS["chain"] for s in c["steps"]}
    in_code = _rules_in_code()
    entry_rules = {r for r in in_code if r[0] in "HPC"}
    assert entry_rules - in_vectors == set()
    placements = {p.value for p in Placement}
    assert in_vectors - placements <= in_code
