"""Pairing tokens: made by a new device, parsed and checked by a device of the account."""

from __future__ import annotations

from typing import Any

import base58
import pytest

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.account.pairing import (
    PAIR_CONTEXT,
    PAIR_PREFIX,
    PairingToken,
    check_token,
    make_token,
    parse_token,
)
from p2psocial.core.account.state import AccountState, resolve
from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import PairingError
from p2psocial.core.identity import Identity, verify_signature

NOW = 1_800_000_000_000
NONCE = bytes(range(16))
ADDRS = ["/ip4/127.0.0.1/tcp/4001"]


def _seed(n: int) -> Identity:
    return Identity(bytes([n]) * 32)


ACCOUNT, RECOVERY, LAPTOP, PHONE = _seed(1), _seed(2), _seed(3), _seed(4)
A = ACCOUNT.public_key


def _genesis() -> list[Op]:
    init = make_op(ACCOUNT, account=A, op_type=OpType.INIT, key=RECOVERY.public_key,
                   timestamp=NOW - 10_000)
    add = make_op(ACCOUNT, account=A, op_type=OpType.ADD, key=LAPTOP.public_key,
                  timestamp=NOW - 9_000, prev=init.hash, name="laptop",
                  consent=consent_for(LAPTOP, A, OpType.ADD))
    return [init, add]


def _state(ops: list[Op]) -> AccountState:
    return resolve(A, ops)


def _token(device: Identity = PHONE, *, account: bytes = A, expires: int = NOW + 60_000,
           name: str = "phone") -> str:
    return make_token(device, account=account, name=name, expires=expires, nonce=NONCE,
                      addrs=ADDRS)


def _fields(text: str) -> dict[str, Any]:
    fields: dict[str, Any] = decode_canonical(
        bytes(base58.b58decode(text[len(PAIR_PREFIX):])), rule="t", what="t")
    return fields


def _pack(fields: dict[str, Any]) -> str:
    return PAIR_PREFIX + base58.b58encode(encode(fields)).decode()


def _resign(fields: dict[str, Any], signer: Identity) -> str:
    unsigned = {k: v for k, v in fields.items() if k != "sig"}
    return _pack({**unsigned, "sig": signer.sign(PAIR_CONTEXT + encode(unsigned))})


def test_a_token_round_trips_and_passes_the_checks() -> None:
    text = _token()
    assert text.startswith("p2psocial-pair:")
    token = parse_token("  " + text[:40] + "\n" + text[40:] + "\n")  # wrapped by a terminal
    assert token == PairingToken(account=A, key=PHONE.public_key, name="phone",
                                 consent=consent_for(PHONE, A, OpType.ADD),
                                 expires=NOW + 60_000, nonce=NONCE, addrs=tuple(ADDRS))
    check_token(token, my_account=A, state=_state(_genesis()), now_ms=NOW)


def test_the_fields_are_the_spec_text_keys_and_the_signature_covers_them() -> None:
    fields = _fields(_token())
    assert set(fields) == {"account", "key", "name", "consent", "expires", "nonce", "addrs",
                           "sig"}
    unsigned = {k: v for k, v in fields.items() if k != "sig"}
    assert verify_signature(PHONE.public_key, PAIR_CONTEXT + encode(unsigned), fields["sig"])


def test_an_expired_token_is_refused() -> None:
    token = parse_token(_token(expires=NOW))
    with pytest.raises(PairingError, match=r"expired on .*device link"):
        check_token(token, my_account=A, state=_state(_genesis()), now_ms=NOW)


def test_a_token_used_twice_finds_its_key_already_a_device() -> None:
    ops = _genesis()
    token = parse_token(_token())
    check_token(token, my_account=A, state=_state(ops), now_ms=NOW)
    add = make_op(ACCOUNT, account=A, op_type=OpType.ADD, key=token.key, timestamp=NOW,
                  prev=ops[-1].hash, consent=token.consent, name=token.name)
    with pytest.raises(PairingError, match="already a device of this account"):
        check_token(token, my_account=A, state=_state([*ops, add]), now_ms=NOW)


def test_a_revoked_key_is_never_added_again() -> None:
    ops = _genesis()
    revoke = make_op(ACCOUNT, account=A, op_type=OpType.REVOKE, key=LAPTOP.public_key,
                     timestamp=NOW, prev=ops[-1].hash, after=0)
    state = _state([*ops, revoke])
    assert LAPTOP.public_key in state.barred
    with pytest.raises(PairingError, match="was revoked from this account"):
        check_token(parse_token(_token(LAPTOP)), my_account=A, state=state, now_ms=NOW)


def test_a_token_for_another_account_is_refused() -> None:
    other = _seed(9).public_key
    token = parse_token(_token(account=other))
    with pytest.raises(PairingError, match=r"is for the account .*not this one"):
        check_token(token, my_account=A, state=_state(_genesis()), now_ms=NOW)


def test_a_consent_to_another_account_is_refused() -> None:
    fields = _fields(_token())
    fields["consent"] = consent_for(PHONE, _seed(9).public_key, OpType.ADD)
    token = parse_token(_resign(fields, PHONE))
    with pytest.raises(PairingError, match="consent does not verify"):
        check_token(token, my_account=A, state=_state(_genesis()), now_ms=NOW)


def test_the_account_key_itself_is_not_a_new_device() -> None:
    with pytest.raises(PairingError, match=r"already a device"):
        check_token(parse_token(_token(ACCOUNT)), my_account=A, state=_state(_genesis()),
                    now_ms=NOW)


def test_a_bad_signature_is_refused() -> None:
    fields = _fields(_token())
    with pytest.raises(PairingError, match="signature does not verify"):
        parse_token(_resign(fields, _seed(7)))


@pytest.mark.parametrize(("field", "value"), [
    ("name", "tablet"), ("expires", NOW + 10**9), ("account", bytes(32)),
    ("addrs", ["/ip4/10.0.0.1/tcp/1"]), ("nonce", bytes(16))])
def test_a_tampered_field_breaks_the_signature(field: str, value: Any) -> None:
    fields = _fields(_token())
    fields[field] = value
    with pytest.raises(PairingError, match="signature does not verify"):
        parse_token(_pack(fields))


@pytest.mark.parametrize(("text", "says"), [
    ("p2ps:invite:abc", "not a pairing token"),
    ("", "not a pairing token"),
    (PAIR_PREFIX, "nothing after the prefix"),
    (PAIR_PREFIX + "0OIl", "not a base58 character"),
    (PAIR_PREFIX + "3mJr7AoUXx2Wqd", "corrupt"),
    (PAIR_PREFIX + "1" * 5000, "too long"),
])
def test_bad_prefix_or_encoding_is_one_line(text: str, says: str) -> None:
    with pytest.raises(PairingError, match=says) as caught:
        parse_token(text)
    assert "\n" not in str(caught.value)


def test_a_dropped_character_is_refused() -> None:
    text = _token()
    with pytest.raises(PairingError):
        parse_token(text[:-1])


@pytest.mark.parametrize(("field", "value", "says"), [
    ("name", " ", "device name"), ("name", "x" * 65, "device name"),
    ("nonce", bytes(8), "nonce"), ("addrs", ["not an addr"], "addresses"),
    ("addrs", [f"/ip4/1.2.3.{i}/tcp/1" for i in range(9)], "addresses"),
    ("expires", -1, "expiry"), ("key", bytes(31), "key is not 32")])
def test_fields_out_of_range_are_refused(field: str, value: Any, says: str) -> None:
    fields = _fields(_token())
    fields[field] = value
    with pytest.raises(PairingError, match=says):
        parse_token(_resign(fields, PHONE))


def test_unknown_or_missing_fields_are_refused() -> None:
    fields = _fields(_token())
    with pytest.raises(PairingError, match="fields are not"):
        parse_token(_resign({**fields, "extra": 1}, PHONE))
    del fields["nonce"]
    with pytest.raises(PairingError, match="fields are not"):
        parse_token(_resign(fields, PHONE))


def test_make_token_refuses_a_blank_name() -> None:
    with pytest.raises(PairingError, match="device name"):
        _token(name="   ")
