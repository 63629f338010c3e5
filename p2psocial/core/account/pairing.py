"""Pairing tokens: how a new device asks to join an account (docs/protocol.md §Pairing a
device).

Rules:
- A token is `PAIR_PREFIX` followed by the base58btc (as invites) of a canonical CBOR map with
  text keys: account (32 bytes), key (the new device key, 32 bytes), name (1-64 code points,
  not blank), consent (64 bytes: the key's consent to [account, "add"]), expires (ms since
  the epoch), nonce (16 bytes), addrs (at most 8 distinct multiaddrs), sig (64 bytes: the
  key's Ed25519 signature over PAIR_CONTEXT || the canonical map without sig).
- `parse_token` checks the prefix and encoding, the fields, then the signature, and raises
  PairingError with one line for the first broken, for any text at all.
- `check_token` then checks, in order: expires (not passed), account (the checker's own), the
  consent, and that the key is not already a device, the account or recovery key, or barred.
  A token is used once: after its `add`, its key is a device and a second use fails there.
- Pure: no I/O, no clock; callers pass `now_ms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import base58

from p2psocial.core.account.ops import OpType, check_consent, consent_for
from p2psocial.core.account.state import AccountState
from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import EncodingError, PairingError
from p2psocial.core.identity import Identity, handle_of, verify_signature
from p2psocial.core.invite import first_non_base58, format_ms, is_multiaddr_text
from p2psocial.core.limits import KEY_BYTES, MAX_NAME_CHARS, MAX_TIMESTAMP_MS, SIGNATURE_BYTES

PAIR_PREFIX = "p2psocial-pair:"
PAIR_CONTEXT = b"p2psocial/pair/v1\n"
PAIR_NONCE_BYTES = 16
MAX_PAIR_ADDRS = 8
# 8 addresses of 256 characters and every other field at its largest: ~2.3 kB of CBOR, ~3.2k
# base58 digits. Longer text is refused before decoding (base58 decoding is quadratic).
MAX_PAIR_CHARS = 4096

_FIELDS = frozenset({"account", "key", "name", "consent", "expires", "nonce", "addrs", "sig"})


@dataclass(frozen=True, slots=True)
class PairingToken:
    """A parsed pairing token whose signature verified."""

    account: bytes
    key: bytes
    name: str
    consent: bytes
    expires: int
    nonce: bytes
    addrs: tuple[str, ...]

    @property
    def handle(self) -> str:
        """The new device's handle (PeerID)."""
        return handle_of(self.key)


def make_token(device: Identity, *, account: bytes, name: str, expires: int, nonce: bytes,
               addrs: Sequence[str]) -> str:
    """The token text by which `device` asks to become a device of `account`.

    Raises:
        PairingError: an argument breaks a field rule (name, nonce, addrs, expires).
    """
    fields: dict[str, Any] = {
        "account": account, "key": device.public_key, "name": name,
        "consent": consent_for(device, account, OpType.ADD), "expires": expires,
        "nonce": nonce, "addrs": list(addrs)}
    _check_fields(fields)
    fields["sig"] = device.sign(PAIR_CONTEXT + encode(fields))
    return PAIR_PREFIX + base58.b58encode(encode(fields)).decode("ascii")


def parse_token(text: str) -> PairingToken:
    """Parse a token and verify its signature; whitespace around it is ignored.

    Raises:
        PairingError: not a pairing token, corrupt, altered, or not signed by its key.
    """
    if not isinstance(text, str):
        raise PairingError("a pairing token is text")
    text = "".join(text.split())  # a token wrapped over lines by a terminal is still whole
    if not text.startswith(PAIR_PREFIX):
        raise PairingError(f"not a pairing token (it does not start with {PAIR_PREFIX})")
    if len(text) > MAX_PAIR_CHARS:
        raise PairingError(f"the pairing token is too long ({len(text):,} characters; at most "
                           f"{MAX_PAIR_CHARS:,})")
    body = text[len(PAIR_PREFIX):]
    if not body:
        raise PairingError("the pairing token is corrupt: nothing after the prefix")
    bad = first_non_base58(body)
    if bad is not None:
        raise PairingError(f"the pairing token is corrupt: {body[bad]!r} at position "
                           f"{len(PAIR_PREFIX) + bad} is not a base58 character")
    try:
        fields = decode_canonical(bytes(base58.b58decode(body)), rule="pair",
                                  what="pairing token")
    except EncodingError:
        raise PairingError("the pairing token is corrupt: not canonical CBOR (was it copied "
                           "whole?)") from None
    if type(fields) is not dict or set(fields) != _FIELDS:
        raise PairingError("the pairing token is corrupt: its fields are not account, key, "
                           "name, consent, expires, nonce, addrs and sig")
    signature = fields.pop("sig")
    _check_fields(fields)
    if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
        raise PairingError("the pairing token is corrupt: its signature is not 64 bytes")
    if not verify_signature(fields["key"], PAIR_CONTEXT + encode(fields), signature):
        raise PairingError("the pairing token's signature does not verify: it was altered "
                           "or forged")
    return PairingToken(account=fields["account"], key=fields["key"], name=fields["name"],
                        consent=fields["consent"], expires=fields["expires"],
                        nonce=fields["nonce"], addrs=tuple(fields["addrs"]))


def check_token(token: PairingToken, *, my_account: bytes, state: AccountState,
                now_ms: int) -> None:
    """Raise unless `token` may be approved now by a device of `my_account` in `state`.

    Raises:
        PairingError: expired, another account, no valid consent, or its key is already a
            device (the token was used) or may never be added.
    """
    if now_ms >= token.expires:
        raise PairingError(f"this pairing token expired on {format_ms(token.expires)}: make "
                           "a new one with `p2psocial device link` on the new device")
    if token.account != my_account:
        raise PairingError(f"this pairing token is for the account {handle_of(token.account)}"
                           f", not this one ({handle_of(my_account)})")
    if not check_consent(token.key, token.account, OpType.ADD, token.consent):
        raise PairingError("the pairing token's consent does not verify under its key")
    if token.key in state.barred:
        raise PairingError(f"{token.handle} was revoked from this account and may never be "
                           "added again")
    if token.key in state.devices:
        raise PairingError(f"{token.handle} is already a device of this account (was the "
                           "token used before?)")
    if token.key in (state.account_key, state.recovery_key):
        raise PairingError(f"{token.handle} is this account's own key, not a new device")


def _check_fields(fields: dict[str, Any]) -> None:
    """The field rules of the unsigned map, in the spec's order."""
    for name in ("account", "key"):
        value = fields[name]
        if type(value) is not bytes or len(value) != KEY_BYTES:
            raise PairingError(f"the pairing token is corrupt: {name} is not {KEY_BYTES} bytes")
    name = fields["name"]
    if type(name) is not str or not 1 <= len(name) <= MAX_NAME_CHARS or not name.strip():
        raise PairingError(f"a device name is 1 to {MAX_NAME_CHARS} characters, not blank")
    consent = fields["consent"]
    if type(consent) is not bytes or len(consent) != SIGNATURE_BYTES:
        raise PairingError("the pairing token is corrupt: its consent is not 64 bytes")
    expires = fields["expires"]
    if type(expires) is not int or not 0 <= expires <= MAX_TIMESTAMP_MS:
        raise PairingError("the pairing token is corrupt: its expiry is not a time")
    nonce = fields["nonce"]
    if type(nonce) is not bytes or len(nonce) != PAIR_NONCE_BYTES:
        raise PairingError(f"the pairing token is corrupt: its nonce is not "
                           f"{PAIR_NONCE_BYTES} bytes")
    addrs = fields["addrs"]
    if type(addrs) is not list or len(addrs) > MAX_PAIR_ADDRS \
            or not all(is_multiaddr_text(a) for a in addrs) or len(set(addrs)) != len(addrs):
        raise PairingError(f"the pairing token's addresses are not a list of at most "
                           f"{MAX_PAIR_ADDRS} distinct multiaddrs")
