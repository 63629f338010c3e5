"""Invite tokens: a signed, copy-pasteable "follow me, reach me here" (docs/protocol.md
§Invite tokens).

Rules:
- A token is `INVITE_PREFIX` followed by the base58btc (Bitcoin alphabet) of a canonical CBOR
  map with small integer keys: 0 version (1), 1 inviter key, 2 addresses, 3 expiry (unix ms,
  optional), 4 max uses (optional), 5 nonce (8 random bytes, the token's id), 6 signature.
- The inviter signs `INVITE_SIGNING_CONTEXT || canonical_cbor(map without key 6)` with pure
  Ed25519, so the signature can be valid for nothing else the key signs.
- `decode_invite` checks I1, I2, I3 (the whole token, all keys before any value), then the
  fields in key order, each by its own rule (0: I4, 1: I5, 2: I6, 3-6: I5), then I7, and
  raises `InviteError` for the first broken (its `rule` says which) for any text at all:
  never another exception. Keys and ints are checked by type (`True == 1` in Python).
  `check_usable` applies I8–I9, which depend on the clock and on how often it was used.
- Pure: no I/O, no clock. Callers pass `now_ms`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import base58

from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import EncodingError, InviteError
from p2psocial.core.identity import Identity, handle_of, verify_signature
from p2psocial.core.limits import KEY_BYTES, MAX_TIMESTAMP_MS, SIGNATURE_BYTES

INVITE_PREFIX = "p2ps:invite:"
INVITE_SIGNING_CONTEXT = b"p2psocial/invite/v1\n"
INVITE_VERSION = 1
INVITE_NONCE_BYTES = 8
MAX_INVITE_ADDRS = 8
MAX_INVITE_ADDR_CHARS = 256
MAX_INVITE_USES = 2**53 - 1
# The longest token the field rules allow is 3029 characters (8 addresses of 256 characters,
# expiry and uses of 9 bytes each: 2209 CBOR bytes, 3017 base58 digits, the prefix).
MAX_INVITE_CHARS = 3072

K_VERSION, K_INVITER, K_ADDRS, K_EXPIRES, K_USES, K_NONCE, K_SIG = range(7)
_REQUIRED = frozenset({K_VERSION, K_INVITER, K_ADDRS, K_NONCE, K_SIG})
_KNOWN = _REQUIRED | {K_EXPIRES, K_USES}

_BASE58 = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
# A multiaddr as text: '/' then printable ASCII without spaces, 2-256 characters in all.
_ADDR_RE = re.compile(rf"/[!-~]{{1,{MAX_INVITE_ADDR_CHARS - 1}}}")


@dataclass(frozen=True)
class Invite:
    """A decoded (or freshly created) invite. Build with `create_invite` or `decode_invite`."""

    inviter: bytes
    addrs: tuple[str, ...]
    expires_ms: int | None
    uses: int | None
    nonce: bytes
    signature: bytes

    @property
    def handle(self) -> str:
        """The inviter's handle (PeerID)."""
        return handle_of(self.inviter)

    @property
    def token_id(self) -> str:
        """The token's id: its nonce as 16 hex digits (the inviter counts uses under it)."""
        return self.nonce.hex()


def invite_signing_bytes(invite: Invite) -> bytes:
    """The exact bytes the inviter signs: context + canonical CBOR of the map without key 6."""
    return INVITE_SIGNING_CONTEXT + encode(_unsigned_map(invite))


def create_invite(identity: Identity, addrs: Sequence[str], *, expires_ms: int | None = None,
                  uses: int | None = None, nonce: bytes | None = None) -> Invite:
    """A signed invite from `identity` naming `addrs` (multiaddr strings, most preferred first).

    `nonce` is drawn at random unless given (give it only for reproducible tests).

    Raises:
        InviteError: an argument breaks one of the field rules (I5 or I6).
    """
    if isinstance(addrs, str):
        raise InviteError("I6", "addrs is a list of multiaddr strings, not one string",
                          expected="list", found=addrs)
    if nonce is None:
        nonce = secrets.token_bytes(INVITE_NONCE_BYTES)
    unsigned = Invite(inviter=identity.public_key, addrs=tuple(addrs), expires_ms=expires_ms,
                      uses=uses, nonce=nonce, signature=b"")
    fields = _unsigned_map(unsigned)
    _check_fields(fields)
    signature = identity.sign(INVITE_SIGNING_CONTEXT + encode(fields))
    return Invite(inviter=unsigned.inviter, addrs=unsigned.addrs, expires_ms=expires_ms,
                  uses=uses, nonce=nonce, signature=signature)


def encode_invite(invite: Invite) -> str:
    """The token text: `INVITE_PREFIX` + base58btc of the canonical CBOR map."""
    fields = _unsigned_map(invite)
    fields[K_SIG] = invite.signature
    return INVITE_PREFIX + base58.b58encode(encode(fields)).decode("ascii")


def looks_like_invite(text: str) -> bool:
    """True if `text` (trimmed) starts with the invite prefix: a cheap test, no decoding."""
    return text.strip().startswith(INVITE_PREFIX)


def decode_invite(text: str) -> Invite:
    """Parse and verify a token; whitespace around it is ignored.

    Raises:
        InviteError: the text breaks a rule I1–I7 (see its `rule`); nothing else is raised.
    """
    if not isinstance(text, str):
        raise InviteError("I1", "an invite token is text", expected="str",
                          found=type(text).__name__)
    text = text.strip()
    if not text.startswith(INVITE_PREFIX):
        raise InviteError("I1", f"not an invite token (it does not start with {INVITE_PREFIX})",
                          found=text[:16])
    if len(text) > MAX_INVITE_CHARS:
        raise InviteError("I2", "invite token is too long",
                          expected=f"at most {MAX_INVITE_CHARS} characters", found=len(text))
    body = text[len(INVITE_PREFIX):]
    if not body:
        raise InviteError("I3", "invite token is corrupt: nothing after the prefix")
    bad = first_non_base58(body)
    if bad is not None:
        raise InviteError("I3", f"invite token is corrupt: {body[bad]!r} at position "
                          f"{len(INVITE_PREFIX) + bad} is not a base58 character")
    raw = bytes(base58.b58decode(body))
    try:
        fields = decode_canonical(raw, rule="I3", what="invite token")
    except EncodingError as exc:
        raise InviteError("I3", "invite token is corrupt: not canonical CBOR (was it copied "
                          "whole?)", found=raw) from exc
    if type(fields) is not dict:
        raise InviteError("I3", "invite token is corrupt: not a CBOR map",
                          found=type(fields).__name__)
    _check_keys(fields)
    signature = fields.pop(K_SIG)
    _check_fields(fields)
    if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
        raise InviteError("I5", "invite signature (key 6) must be 64 bytes",
                          expected=f"{SIGNATURE_BYTES} bytes", found=_describe(signature))
    if not verify_signature(fields[K_INVITER], INVITE_SIGNING_CONTEXT + encode(fields),
                            signature):
        raise InviteError("I7", "invite signature does not verify: the token was altered or "
                          "forged")
    return Invite(inviter=fields[K_INVITER], addrs=tuple(fields[K_ADDRS]),
                  expires_ms=fields.get(K_EXPIRES), uses=fields.get(K_USES),
                  nonce=fields[K_NONCE], signature=signature)


def check_usable(invite: Invite, now_ms: int, *, times_used: int = 0) -> None:
    """Raise unless `invite` may be redeemed at `now_ms` after `times_used` redemptions.

    Raises:
        InviteError: I8 if it expired (`now_ms >= expires_ms`), I9 if its uses are used up.
    """
    if invite.expires_ms is not None and now_ms >= invite.expires_ms:
        raise InviteError("I8", f"this invite expired on {format_ms(invite.expires_ms)}",
                          expected=f"before {invite.expires_ms}", found=now_ms)
    if invite.uses is not None and times_used >= invite.uses:
        raise InviteError("I9", f"this invite has been used up ({times_used} of "
                          f"{invite.uses} uses)", expected=f"fewer than {invite.uses}",
                          found=times_used)


def first_non_base58(text: str) -> int | None:
    """The index of the first character of `text` outside the base58btc alphabet, or None."""
    for index, char in enumerate(text):
        if char not in _BASE58:
            return index
    return None


def is_multiaddr_text(addr: object) -> bool:
    """True if `addr` is multiaddr-like text: '/' then 1-255 printable ASCII, no spaces."""
    return type(addr) is str and _ADDR_RE.fullmatch(addr) is not None


def format_ms(ms: int) -> str:
    """A unix-ms time as `YYYY-MM-DD HH:MM UTC` (or the number if no calendar holds it)."""
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms after 1970"


# --- checks ----------------------------------------------------------------------------------


def _unsigned_map(invite: Invite) -> dict[int, Any]:
    fields: dict[int, Any] = {K_VERSION: INVITE_VERSION, K_INVITER: invite.inviter,
                              K_ADDRS: list(invite.addrs)}
    if invite.expires_ms is not None:
        fields[K_EXPIRES] = invite.expires_ms
    if invite.uses is not None:
        fields[K_USES] = invite.uses
    fields[K_NONCE] = invite.nonce
    return fields


def _check_keys(fields: dict[Any, Any]) -> None:
    """I3: only keys 0–6 (unsigned ints), every required key present."""
    for key in fields:
        if type(key) is not int or key not in _KNOWN:
            raise InviteError("I3", f"invite token is corrupt: unknown key {key!r}",
                              expected="keys 0-6", found=key)
    missing = sorted(_REQUIRED - fields.keys())
    if missing:
        raise InviteError("I3", f"invite token is corrupt: key {missing[0]} is missing",
                          expected="keys 0, 1, 2, 5, 6", found=sorted(fields))


def _check_fields(fields: dict[int, Any]) -> None:
    """I4–I6 on the unsigned map (keys already checked), in key order: the first broken is
    reported, whatever its number (docs/protocol.md §Invite tokens, Rules)."""
    version = fields[K_VERSION]
    if type(version) is not int or version != INVITE_VERSION:
        raise InviteError("I4", "invite made by another version of p2psocial",
                          expected=INVITE_VERSION, found=_describe(version))
    inviter = fields[K_INVITER]
    if type(inviter) is not bytes or len(inviter) != KEY_BYTES:
        raise InviteError("I5", "inviter key (key 1) must be 32 bytes",
                          expected=f"{KEY_BYTES} bytes", found=_describe(inviter))
    _check_addrs(fields[K_ADDRS])
    if K_EXPIRES in fields:
        _check_uint(fields[K_EXPIRES], 0, MAX_TIMESTAMP_MS, "expiry (key 3)")
    if K_USES in fields:
        _check_uint(fields[K_USES], 1, MAX_INVITE_USES, "uses (key 4)")
    nonce = fields[K_NONCE]
    if type(nonce) is not bytes or len(nonce) != INVITE_NONCE_BYTES:
        raise InviteError("I5", "invite nonce (key 5) must be 8 bytes",
                          expected=f"{INVITE_NONCE_BYTES} bytes", found=_describe(nonce))


def _check_uint(value: Any, low: int, high: int, name: str) -> None:
    if type(value) is not int or not low <= value <= high:
        raise InviteError("I5", f"invite {name} must be an integer from {low} to {high}",
                          expected=f"{low}..{high}", found=_describe(value))


def _check_addrs(addrs: Any) -> None:
    """I6: at most 8 distinct multiaddr-like strings."""
    if type(addrs) is not list:
        raise InviteError("I6", "invite addresses (key 2) must be a list",
                          expected="list", found=_describe(addrs))
    if len(addrs) > MAX_INVITE_ADDRS:
        raise InviteError("I6", f"an invite holds at most {MAX_INVITE_ADDRS} addresses",
                          expected=f"at most {MAX_INVITE_ADDRS}", found=len(addrs))
    for addr in addrs:
        if not is_multiaddr_text(addr):
            raise InviteError("I6", "invite address is not a multiaddr ('/' then 1 to "
                              f"{MAX_INVITE_ADDR_CHARS - 1} printable ASCII characters, "
                              "no spaces)", expected="/ip4/…", found=_describe(addr))
    if len(set(addrs)) != len(addrs):
        raise InviteError("I6", "invite lists an address twice", found=len(addrs))


def _describe(value: Any) -> Any:
    """`value` for an error message: bytes and text as they are, other types by name."""
    if type(value) in (bytes, str, int):
        return value
    return type(value).__name__
