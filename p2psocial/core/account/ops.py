"""Account ops: the small signed records of an account log (docs/protocol.md §The op).

Rules:
- An op is a canonical CBOR map with the integer keys of `Key`, at most MAX_OP_BYTES bytes.
  Which keys are present depends on the type: `init` 0, 1, 3-6, 15; `add` 0-7, 15 and
  optionally 8 (name), 9 (admin); `revoke` 0-6, 10, 15; `rotate` 0-7, 15 and optionally 10;
  `recovery` 0-7, 15. Key 2 (prev) is present in every type but `init` (rule K6, not K3).
- `sig` (key 15) is Ed25519 by `signer` over OP_CONTEXT followed by the canonical op without
  key 15. Key 15 sorts last, so the signed bytes are cut from the op: its first byte minus one
  (a map of one item fewer), then the op without its first byte and its last 67 bytes.
- `consent` (key 7; `add`, `rotate`, `recovery`) is Ed25519 by `key` over CONSENT_CONTEXT
  followed by canonical [account, type]: the subject agrees to its role in this account.
- The op hash is BLAKE2b-256 of the op bytes as received.
- `decode_op` checks the stateless rules in this order and raises AccountOpError naming the
  first one broken: K1 (size, before decoding), K2 (canonical CBOR and allowed types, by the
  same code as entries), then "not a map" (K3), K7 (type), K3 (keys), K4 (version), K5 (field
  types, sizes, ranges; init signed by the account key), K6 (prev present iff not init), K8
  (sig), K9 (consent).
- Ints are checked by type: a bool is never an int (CBOR true is not 1).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2psocial.core import limits
from p2psocial.core.encoding import decode_canonical, digest, encode
from p2psocial.core.errors import AccountOpError, EncodingError
from p2psocial.core.identity import Identity, verify_signature
from p2psocial.core.limits import MAX_SEQ

OP_CONTEXT = b"p2psocial/account/v1\n"
CONSENT_CONTEXT = b"p2psocial/consent/v1\n"
MAX_OP_BYTES = 1024
RECOVERY_WINDOW_MS = 604_800_000
OP_VERSION = 1
MAX_OP_NAME_CHARS = 64
MAX_AFTER = MAX_SEQ  # `after` is a seq of the subject's feed


class OpType(enum.StrEnum):
    """The five op types."""

    INIT = "init"
    ADD = "add"
    REVOKE = "revoke"
    ROTATE = "rotate"
    RECOVERY = "recovery"


class Key(enum.IntEnum):
    """Op map keys."""

    VERSION = 0
    ACCOUNT = 1
    PREV = 2
    TIMESTAMP = 3
    TYPE = 4
    SIGNER = 5
    KEY = 6
    CONSENT = 7
    NAME = 8
    ADMIN = 9
    AFTER = 10
    SIG = 15


_ALL_KEYS = frozenset(int(k) for k in Key)
_BASE = frozenset({0, 1, 3, 4, 5, 6, 15})  # every type; prev (2) is K6's business
# type -> (required keys, optional keys), prev left out
_SHAPE: dict[OpType, tuple[frozenset[int], frozenset[int]]] = {
    OpType.INIT: (_BASE, frozenset()),
    OpType.ADD: (_BASE | {7}, frozenset({8, 9})),
    OpType.REVOKE: (_BASE | {10}, frozenset()),
    OpType.ROTATE: (_BASE | {7}, frozenset({10})),
    OpType.RECOVERY: (_BASE | {7}, frozenset()),
}
NEEDS_CONSENT = frozenset({OpType.ADD, OpType.ROTATE, OpType.RECOVERY})
_TYPES = {t.value: t for t in OpType}
# the sig item of a canonical op: 0x0F (key 15), 0x58 0x40 (64-byte string), 64 bytes
_SIG_ITEM_BYTES = 3 + limits.SIGNATURE_BYTES


@dataclass(frozen=True, slots=True, repr=False)
class Op:
    """A valid op (it passed decode_op). `raw` is the op bytes; `hash` their BLAKE2b-256."""

    raw: bytes
    hash: bytes
    account: bytes
    prev: bytes | None
    timestamp: int
    type: OpType
    signer: bytes
    key: bytes
    consent: bytes | None
    name: str | None
    admin: bool
    after: int | None

    def __repr__(self) -> str:
        return (f"Op({self.type} {self.hash.hex()[:12]} by {self.signer.hex()[:8]} of "
                f"{self.key.hex()[:8]} at {self.timestamp})")


def signing_bytes(fields: Mapping[int, Any]) -> bytes:
    """What the signer signs: OP_CONTEXT and the canonical op without key 15."""
    return OP_CONTEXT + encode({k: v for k, v in fields.items() if k != Key.SIG})


def signed_message(raw: bytes) -> bytes:
    """signing_bytes() of an op already known to be canonical, cut from its bytes.

    A canonical map of n < 24 items starts with 0xA0 + n; key 15 sorts last, and its item is
    the last 67 bytes.
    """
    return OP_CONTEXT + bytes((raw[0] - 1,)) + raw[1:-_SIG_ITEM_BYTES]


def consent_message(account: bytes, op_type: OpType) -> bytes:
    """What a subject signs to consent: CONSENT_CONTEXT and canonical [account, type]."""
    return CONSENT_CONTEXT + encode([account, str(op_type)])


def consent_for(subject: Identity, account: bytes, op_type: OpType) -> bytes:
    """`subject`'s consent to be the subject of an `op_type` op of `account`."""
    return subject.sign(consent_message(account, op_type))


def check_consent(key: bytes, account: bytes, op_type: OpType, consent: bytes) -> bool:
    """True if `consent` is `key`'s valid consent to `op_type` in `account`."""
    return verify_signature(key, consent_message(account, op_type), consent)


def op_fields(*, account: bytes, op_type: OpType, signer: bytes, key: bytes, timestamp: int,
              prev: bytes | None = None, consent: bytes | None = None, name: str | None = None,
              admin: bool = False, after: int | None = None) -> dict[int, Any]:
    """The unsigned op map (no key 15), keys in order."""
    fields: dict[int, Any] = {Key.VERSION: OP_VERSION, Key.ACCOUNT: account}
    if prev is not None:
        fields[Key.PREV] = prev
    fields[Key.TIMESTAMP] = timestamp
    fields[Key.TYPE] = str(op_type)
    fields[Key.SIGNER] = signer
    fields[Key.KEY] = key
    if consent is not None:
        fields[Key.CONSENT] = consent
    if name is not None:
        fields[Key.NAME] = name
    if admin:
        fields[Key.ADMIN] = 1
    if after is not None:
        fields[Key.AFTER] = after
    return {int(k): v for k, v in fields.items()}


def sign_fields(signer: Identity, fields: Mapping[int, Any]) -> bytes:
    """The op bytes of `fields` (without key 15) signed by `signer`; nothing is checked, and
    the keys are kept as given (tests and vectors sign ops that break a rule)."""
    signed = {k: v for k, v in fields.items() if k != Key.SIG}
    signed[int(Key.SIG)] = signer.sign(signing_bytes(signed))
    return encode(signed)


def make_op(signer: Identity, *, account: bytes, op_type: OpType, key: bytes, timestamp: int,
            prev: bytes | None = None, consent: bytes | None = None, name: str | None = None,
            admin: bool = False, after: int | None = None) -> Op:
    """Sign a new op. The result passes decode_op (it is checked: AccountOpError if not)."""
    fields = op_fields(account=account, op_type=op_type, signer=signer.public_key, key=key,
                       timestamp=timestamp, prev=prev, consent=consent, name=name,
                       admin=admin, after=after)
    return decode_op(sign_fields(signer, fields))


def decode_op(raw: bytes) -> Op:
    """Decode `raw` and check the stateless rules K1-K9, in the spec's order.

    Raises:
        AccountOpError: `.rule` names the first rule broken.
    """
    if len(raw) > MAX_OP_BYTES:
        raise AccountOpError("K1", "account op too large", expected=f"<= {MAX_OP_BYTES}",
                             found=len(raw))
    try:
        fields = decode_canonical(raw, rule="K2", what="account op")
    except EncodingError as exc:
        raise AccountOpError("K2", str(exc).removeprefix("[K2] ")) from exc
    if type(fields) is not dict:
        raise AccountOpError("K3", "account op must be a map", expected="map",
                             found=type(fields).__name__)
    op_type = _op_type(fields)
    _check_keys(fields, op_type)
    version = fields[Key.VERSION]
    if type(version) is not int or version != OP_VERSION:
        raise AccountOpError("K4", "unsupported account op version", expected=OP_VERSION,
                             found=version)
    account = _exact_bytes(fields, Key.ACCOUNT, limits.KEY_BYTES)
    prev = _exact_bytes(fields, Key.PREV, limits.HASH_BYTES) if Key.PREV in fields else None
    timestamp = _uint(fields, Key.TIMESTAMP, limits.MAX_TIMESTAMP_MS)
    signer = _exact_bytes(fields, Key.SIGNER, limits.KEY_BYTES)
    key = _exact_bytes(fields, Key.KEY, limits.KEY_BYTES)
    consent = (_exact_bytes(fields, Key.CONSENT, limits.SIGNATURE_BYTES)
               if Key.CONSENT in fields else None)
    name = _name(fields[Key.NAME]) if Key.NAME in fields else None
    admin = Key.ADMIN in fields
    if admin and (type(fields[Key.ADMIN]) is not int or fields[Key.ADMIN] != 1):
        raise AccountOpError("K5", "admin must be 1 (absent: no admin)", expected=1,
                             found=fields[Key.ADMIN])
    after = _uint(fields, Key.AFTER, MAX_AFTER) if Key.AFTER in fields else None
    sig = _exact_bytes(fields, Key.SIG, limits.SIGNATURE_BYTES)
    if op_type is OpType.INIT and signer != account:
        raise AccountOpError("K5", "an init is signed by the account key", expected=account,
                             found=signer)
    if (op_type is OpType.INIT) != (prev is None):
        raise AccountOpError("K6", "prev is absent exactly in an init",
                             expected="no prev" if op_type is OpType.INIT else "prev",
                             found=prev)
    if not verify_signature(signer, signed_message(raw), sig):
        raise AccountOpError("K8", "account op signature does not verify under its signer")
    if consent is not None and not check_consent(key, account, op_type, consent):
        raise AccountOpError("K9", "consent does not verify under the subject key")
    return Op(raw=raw, hash=digest(raw), account=account, prev=prev, timestamp=timestamp,
              type=op_type, signer=signer, key=key, consent=consent, name=name, admin=admin,
              after=after)


def _op_type(fields: dict[Any, Any]) -> OpType:
    """K7: the type, read before the keys are checked (which keys belong depends on it)."""
    value = fields.get(int(Key.TYPE))
    op_type = _TYPES.get(value) if type(value) is str else None
    if op_type is None:
        raise AccountOpError("K7", "unknown account op type", expected=sorted(_TYPES),
                             found=value)
    return op_type


def _check_keys(fields: dict[Any, Any], op_type: OpType) -> None:
    """K3: int keys (not bools) among 0-10, 15; exactly those the type requires and allows."""
    if any(type(k) is not int for k in fields):
        raise AccountOpError("K3", "account op keys must be integers",
                             expected="int keys", found=sorted({type(k).__name__ for k in fields}))
    keys = set(fields)
    unknown = keys - _ALL_KEYS
    if unknown:
        raise AccountOpError("K3", "account op has unknown keys", expected="keys 0-10, 15",
                             found=sorted(unknown))
    required, optional = _SHAPE[op_type]
    keys.discard(int(Key.PREV))
    if not required <= keys or keys - required - optional:
        raise AccountOpError("K3", f"wrong keys for a {op_type} op",
                             expected=sorted(required) + [f"{k}?" for k in sorted(optional)],
                             found=sorted(keys))


def _exact_bytes(fields: dict[Any, Any], key: Key, size: int) -> bytes:
    value = fields[key]
    if type(value) is not bytes or len(value) != size:
        raise AccountOpError("K5", f"{key.name.lower()} must be {size} bytes",
                             expected=f"{size} bytes",
                             found=len(value) if type(value) is bytes else type(value).__name__)
    return value


def _uint(fields: dict[Any, Any], key: Key, high: int) -> int:
    value = fields[key]
    if type(value) is not int or not 0 <= value <= high:
        raise AccountOpError("K5", f"{key.name.lower()} out of range", expected=f"0..{high}",
                             found=value)
    return value


def _name(value: Any) -> str:
    if (type(value) is not str or not 1 <= len(value) <= MAX_OP_NAME_CHARS
            or not value.strip()):
        raise AccountOpError("K5", f"name must be 1-{MAX_OP_NAME_CHARS} characters, not blank",
                             expected="device name", found=value)
    return value
