"""Account ops (docs/protocol.md §The op): round trips, the signed bytes, and for every rule
K1-K9 a case that breaks exactly it (signed by the real key wherever a signature is checked
after the rule), plus the order in which rules are reported when two break.
"""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.account.ops import (
    CONSENT_CONTEXT,
    MAX_OP_BYTES,
    OP_CONTEXT,
    Key,
    Op,
    OpType,
    consent_for,
    decode_op,
    make_op,
    op_fields,
    sign_fields,
    signed_message,
    signing_bytes,
)
from p2psocial.core.encoding import digest, encode
from p2psocial.core.errors import AccountOpError, ValidationError
from p2psocial.core.identity import Identity, verify_signature
from p2psocial.testing import identity_for

OWNER = identity_for("alice")
RECOVERY = identity_for("recovery")
PHONE = identity_for("bob")
ACCOUNT = OWNER.public_key
TS = 1_700_000_000_000
PREV = digest(b"the op before")


def _add(**overrides: Any) -> dict[int, Any]:
    """The unsigned fields of a valid add of PHONE by OWNER, with overrides (None drops)."""
    fields = op_fields(account=ACCOUNT, op_type=OpType.ADD, signer=ACCOUNT,
                       key=PHONE.public_key, timestamp=TS, prev=PREV,
                       consent=consent_for(PHONE, ACCOUNT, OpType.ADD), name="phone",
                       admin=True)
    return _patch(fields, overrides)


def _init(**overrides: Any) -> dict[int, Any]:
    fields = op_fields(account=ACCOUNT, op_type=OpType.INIT, signer=ACCOUNT,
                       key=RECOVERY.public_key, timestamp=TS)
    return _patch(fields, overrides)


def _patch(fields: dict[int, Any], overrides: dict[str, Any]) -> dict[int, Any]:
    for name, value in overrides.items():
        key = int(Key[name.upper()])
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def _rule(raw: bytes) -> str:
    with pytest.raises(AccountOpError) as info:
        decode_op(raw)
    assert isinstance(info.value, ValidationError)
    return info.value.rule


def _signed(fields: dict[Any, Any], signer: Identity = OWNER) -> bytes:
    return sign_fields(signer, fields)


# --- valid ops ------------------------------------------------------------------------------


def _all_types() -> list[Op]:
    new_key = identity_for("carol")
    new_recovery = identity_for("dave")
    return [
        make_op(OWNER, account=ACCOUNT, op_type=OpType.INIT, key=RECOVERY.public_key,
                timestamp=TS),
        make_op(OWNER, account=ACCOUNT, op_type=OpType.ADD, key=PHONE.public_key, timestamp=TS,
                prev=PREV, consent=consent_for(PHONE, ACCOUNT, OpType.ADD), name="phone ☎",
                admin=True),
        make_op(OWNER, account=ACCOUNT, op_type=OpType.ADD, key=PHONE.public_key, timestamp=TS,
                prev=PREV, consent=consent_for(PHONE, ACCOUNT, OpType.ADD)),
        make_op(OWNER, account=ACCOUNT, op_type=OpType.REVOKE, key=PHONE.public_key,
                timestamp=TS, prev=PREV, after=0),
        make_op(RECOVERY, account=ACCOUNT, op_type=OpType.ROTATE, key=new_key.public_key,
                timestamp=TS, prev=PREV, consent=consent_for(new_key, ACCOUNT, OpType.ROTATE),
                after=2**53 - 1),
        make_op(RECOVERY, account=ACCOUNT, op_type=OpType.ROTATE, key=new_key.public_key,
                timestamp=TS, prev=PREV, consent=consent_for(new_key, ACCOUNT, OpType.ROTATE)),
        make_op(RECOVERY, account=ACCOUNT, op_type=OpType.RECOVERY,
                key=new_recovery.public_key, timestamp=0, prev=PREV,
                consent=consent_for(new_recovery, ACCOUNT, OpType.RECOVERY)),
    ]


@pytest.mark.parametrize("op", _all_types(), ids=lambda op: f"{op.type}-{op.hash.hex()[:6]}")
def test_round_trip(op: Op) -> None:
    again = decode_op(op.raw)
    assert again == op
    assert again.hash == digest(op.raw)
    assert len(op.raw) <= MAX_OP_BYTES
    assert encode(cbor2.loads(op.raw)) == op.raw


@pytest.mark.parametrize("op", _all_types(), ids=lambda op: f"{op.type}-{op.hash.hex()[:6]}")
def test_signing_bytes_are_cut_from_the_op(op: Op) -> None:
    fields = cbor2.loads(op.raw)
    assert list(fields)[-1] == Key.SIG
    message = signing_bytes(fields)
    assert message.startswith(OP_CONTEXT)
    # the op's first byte minus one, then the op without its first byte and last 67 bytes
    assert message == OP_CONTEXT + bytes([op.raw[0] - 1]) + op.raw[1:-67]
    assert signed_message(op.raw) == message
    assert verify_signature(op.signer, message, op.raw[-64:])


def test_fields_read_back() -> None:
    op = _all_types()[1]
    assert (op.account, op.prev, op.timestamp, op.type) == (ACCOUNT, PREV, TS, OpType.ADD)
    assert (op.signer, op.key, op.name, op.admin, op.after) == (
        ACCOUNT, PHONE.public_key, "phone ☎", True, None)
    assert op.consent == PHONE.sign(CONSENT_CONTEXT + encode([ACCOUNT, "add"]))


@given(ts=st.integers(0, 2**53 - 1), after=st.integers(0, 2**53 - 1),
       name=st.text(min_size=1, max_size=64).filter(str.strip), admin=st.booleans())
def test_round_trip_any_fields(ts: int, after: int, name: str, admin: bool) -> None:
    add = make_op(OWNER, account=ACCOUNT, op_type=OpType.ADD, key=PHONE.public_key,
                  timestamp=ts, prev=PREV, consent=consent_for(PHONE, ACCOUNT, OpType.ADD),
                  name=name, admin=admin)
    assert decode_op(add.raw) == add
    assert (add.name, add.admin) == (name, admin)
    revoke = make_op(OWNER, account=ACCOUNT, op_type=OpType.REVOKE, key=PHONE.public_key,
                     timestamp=ts, prev=PREV, after=after)
    assert decode_op(revoke.raw).after == after


def test_a_single_byte_flipped_is_rejected() -> None:
    raw = _all_types()[1].raw
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with pytest.raises(AccountOpError):
            decode_op(bytes(bad))


# --- one case per rule ----------------------------------------------------------------------


def test_k1_too_long() -> None:
    raw = _signed(_add())
    assert _rule(raw + bytes(MAX_OP_BYTES + 1 - len(raw))) == "K1"
    # K1 is by length alone, before decoding
    assert _rule(b"\xff" * (MAX_OP_BYTES + 1)) == "K1"


def test_k2_not_canonical() -> None:
    raw = _signed(_add())
    assert raw[1:3] == b"\x00\x01"  # the version item
    longer = raw[:2] + b"\x18\x01" + raw[3:]  # version 1 in a two-byte form
    assert cbor2.loads(longer) == cbor2.loads(raw)
    assert _rule(longer) == "K2"
    assert _rule(raw + b"\x00") == "K2"  # trailing byte
    assert _rule(b"\xa1\x00\xf9\x3c\x00") == "K2"  # a float


def test_k2_keys_out_of_order() -> None:
    fields = cbor2.loads(_signed(_add()))
    items = list(fields.items())
    items[0], items[1] = items[1], items[0]
    raw = bytes([0xA0 + len(items)]) + b"".join(encode(k) + encode(v) for k, v in items)
    assert _rule(raw) == "K2"


@pytest.mark.parametrize("raw", [encode([1, 2, 3]), encode(b"op"), encode(1)])
def test_k3_not_a_map(raw: bytes) -> None:
    assert _rule(raw) == "K3"


@pytest.mark.parametrize("fields", [
    {**_add(), 11: 0},                       # an unknown key
    {**_add(), 16: 0},
    _add(consent=None),                      # add needs consent
    _add(signer=None),                       # a required key missing
    {**_add(), int(Key.AFTER): 5},           # after is not for add
    {**_init(), int(Key.CONSENT): bytes(64)},  # init has no consent
    _patch(_add(name=None, admin=None, consent=None), {"type": "revoke"}),  # revoke needs after
    _patch(_add(admin=None), {"type": "recovery"}),  # recovery has no name
    {**_add(), "x": 1},                      # a text key
    {False: 1, **_add(version=None)},        # a bool key (false) for the version
], ids=["key-11", "key-16", "add-no-consent", "no-signer", "add-after", "init-consent",
        "revoke-no-after", "recovery-with-name", "text-key", "bool-key"])
def test_k3_wrong_keys(fields: dict[Any, Any]) -> None:
    assert _rule(_signed(fields)) == "K3"


@pytest.mark.parametrize("version", [2, 0, True, "1", b"\x01"])
def test_k4_version(version: object) -> None:
    assert _rule(_signed(_add(version=version))) == "K4"


@pytest.mark.parametrize("fields", [
    _add(account=ACCOUNT[:31]),
    _add(account="alice"),
    _add(prev=PREV + b"\x00"),
    _add(timestamp=2**53),
    _add(timestamp=-1),
    _add(timestamp=True),
    _add(signer=ACCOUNT[:31]),
    _add(key=bytes(33)),
    _add(consent=bytes(63)),
    _add(name=""),
    _add(name=" \n"),
    _add(name="x" * 65),
    _add(name=b"phone"),
    _add(admin=0),
    _add(admin=2),
    _add(admin=True),
    _patch(_add(name=None, admin=None, consent=None), {"type": "revoke", "after": 2**53}),
    _patch(_add(name=None, admin=None, consent=None), {"type": "revoke", "after": -1}),
], ids=["account-31", "account-text", "prev-33", "ts-2^53", "ts-negative", "ts-true",
        "signer-31", "key-33", "consent-63", "name-empty", "name-blank", "name-65",
        "name-bytes", "admin-0", "admin-2", "admin-true", "after-2^53", "after-negative"])
def test_k5_field(fields: dict[int, Any]) -> None:
    assert _rule(_signed(fields)) == "K5"


def test_k5_name_of_64_code_points_is_fine() -> None:
    assert decode_op(_signed(_add(name="é" * 64))).name == "é" * 64


def test_k5_init_signed_by_another_key() -> None:
    assert _rule(_signed(_init(signer=PHONE.public_key), PHONE)) == "K5"


def test_k5_sig_size() -> None:
    raw = encode({**_add(), int(Key.SIG): bytes(63)})
    assert _rule(raw) == "K5"


def test_k6_prev() -> None:
    assert _rule(_signed(_init(prev=PREV))) == "K6"
    assert _rule(_signed(_add(prev=None))) == "K6"


@pytest.mark.parametrize("value", ["delete", "Init", "", b"init", 1, None])
def test_k7_type(value: object) -> None:
    fields = _add(type=value) if value is not None else _add(type=None)
    assert _rule(_signed(fields)) == "K7"


def test_k8_signature() -> None:
    raw = bytearray(_signed(_add()))
    raw[-1] ^= 0x01
    assert _rule(bytes(raw)) == "K8"
    # signed by another key than the signer field names
    assert _rule(_signed(_add(), PHONE)) == "K8"


def test_k9_consent() -> None:
    assert _rule(_signed(_add(consent=consent_for(PHONE, ACCOUNT, OpType.ROTATE)))) == "K9"
    assert _rule(_signed(_add(consent=consent_for(OWNER, ACCOUNT, OpType.ADD)))) == "K9"
    other_account = identity_for("carol").public_key
    assert _rule(_signed(_add(consent=consent_for(PHONE, other_account, OpType.ADD)))) == "K9"


# --- order ----------------------------------------------------------------------------------


def test_order_of_rules() -> None:
    # K7 before K3: an unknown type with an unknown key
    assert _rule(_signed({**_add(type="delete"), 11: 0})) == "K7"
    # K3 before K4
    assert _rule(_signed({**_add(version=2), 11: 0})) == "K3"
    # K4 before K5
    assert _rule(_signed(_add(version=2, name=""))) == "K4"
    # K5 before K6
    assert _rule(_signed(_add(prev=None, name=""))) == "K5"
    # K6 before K8
    raw = bytearray(_signed(_add(prev=None)))
    raw[-1] ^= 1
    assert _rule(bytes(raw)) == "K6"
    # K8 before K9
    assert _rule(_signed(_add(consent=bytes(64)), PHONE)) == "K8"


def test_make_op_refuses_what_it_cannot_sign_validly() -> None:
    with pytest.raises(AccountOpError) as info:
        make_op(OWNER, account=ACCOUNT, op_type=OpType.ADD, key=PHONE.public_key,
                timestamp=TS, prev=PREV)  # no consent
    assert info.value.rule == "K3"
