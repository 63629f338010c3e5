"""Sealing an inner message for one account, and opening it (docs/protocol.md §Private
messages, M8-M10).

Rules:
- M8: per wrap a fresh message key K, nonce and ephemeral X25519 pair (e, E). Per current
  device d of the mailbox's account (the last 16 added): D = X25519 of d, s = X25519(e, D),
  t = BLAKE2b(E || D, key=s, 40 bytes, personal "p2ps/mail/slot/1"), a 56-byte slot
  t[:8] || secretbox(K, zero nonce, t[8:]). Random dummies fill up to 4, 8 or 16 slots, ids
  distinct, slots sorted. box = secretbox(pad(I), nonce, K).
- M9: a device finds its slot by id with one X25519, no trial decryption; no slot: not for
  it (None). An all-zero s, a slot or box that does not open, or bad padding: MailError.
- M10: the wrap is the canonical map {0: 1, 1: to, 2: E, 3: slots, 4: nonce, 5: box} of at
  most MAX_WRAP_BYTES (checked before decoding), nothing else; holders run `parse_wrap`.
- Randomness comes from `draw(label, size)` so vectors can fix it; labels: "key", "nonce",
  "ephemeral", "dummy" (one call per dummy, again on an id clash).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.utils

from p2psocial.core.encoding import decode_canonical, digest, encode
from p2psocial.core.errors import EncodingError, MailError, UsageError
from p2psocial.core.identity import Identity
from p2psocial.core.limits import KEY_BYTES, MAIL_MAX_SLOTS, MAIL_SLOT_BYTES, MAX_WRAP_BYTES
from p2psocial.core.mail.pad import BUCKETS, pad, unpad

Draw = Callable[[str, int], bytes]

WRAP_VERSION = 1
SLOT_COUNTS = (4, 8, 16)
SLOT_ID_BYTES = 8
SLOT_PERSON = b"p2ps/mail/slot/1"
NONCE_BYTES = 24
MAC_BYTES = 16
BOX_SIZES = frozenset(b + MAC_BYTES for b in BUCKETS)
_ZERO_NONCE = bytes(NONCE_BYTES)
_MAX_DRAWS = 64  # dummy draws before giving up (a clash of 8 random bytes is ~never)
_KEYS = frozenset(range(6))
_CRYPTO_ERRORS = (nacl.exceptions.CryptoError, nacl.exceptions.ValueError,
                  nacl.exceptions.TypeError)


def system_draw(label: str, size: int) -> bytes:
    """Fresh random bytes from the operating system (`label` is for fixed draws only)."""
    del label
    return bytes(nacl.utils.random(size))


@dataclass(frozen=True, slots=True)
class Wrap:
    """A wrap that passed M10; `raw` is its exact bytes."""

    to: bytes
    epk: bytes
    slots: tuple[bytes, ...]
    nonce: bytes
    box: bytes
    raw: bytes

    @property
    def hash(self) -> bytes:
        """The wrap hash: BLAKE2b-256 of the bytes."""
        return digest(self.raw)

    def __repr__(self) -> str:
        return f"Wrap(to={self.to.hex()[:16]}…, {len(self.slots)} slots, {len(self.raw)} bytes)"


def device_x25519(device: bytes) -> bytes | None:
    """The X25519 public key of an Ed25519 device key, or None if it does not convert."""
    try:
        return bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(device))
    except _CRYPTO_ERRORS:
        return None


def slot_secret(shared: bytes, epk: bytes, device_x: bytes) -> tuple[bytes, bytes]:
    """(slot id, slot key) from the X25519 result `shared`, E and D (M8 step 3)."""
    t = hashlib.blake2b(epk + device_x, key=shared, digest_size=40, person=SLOT_PERSON).digest()
    return t[:SLOT_ID_BYTES], t[SLOT_ID_BYTES:]


def seal(inner: bytes, *, mailbox: bytes, devices: Sequence[bytes],
         draw: Draw = system_draw) -> Wrap:
    """Seal inner message bytes for `mailbox`'s account, one slot per device (M8).

    Args:
        devices: the account's current device keys in the order they were added.
    Raises:
        UsageError: the message is too long, or no device key can be sealed to.
    """
    padded = pad(inner)
    key, nonce = draw("key", 32), draw("nonce", NONCE_BYTES)
    secret = draw("ephemeral", 32)
    epk = bytes(nacl.bindings.crypto_scalarmult_base(secret))
    slots = [s for s in (_slot(key, secret, epk, d)
                         for d in list(dict.fromkeys(devices))[-MAIL_MAX_SLOTS:]) if s]
    if not slots:
        raise UsageError("none of the account's device keys can receive a message")
    _fill(slots, draw)
    box = bytes(nacl.bindings.crypto_secretbox_easy(padded, nonce, key))
    return parse_wrap(encode({0: WRAP_VERSION, 1: mailbox, 2: epk, 3: sorted(slots),
                              4: nonce, 5: box}))


def _slot(key: bytes, secret: bytes, epk: bytes, device: bytes) -> bytes | None:
    device_x = device_x25519(device)
    if device_x is None:
        return None
    try:
        shared = bytes(nacl.bindings.crypto_scalarmult(secret, device_x))
    except _CRYPTO_ERRORS:
        return None
    slot_id, slot_key = slot_secret(shared, epk, device_x)
    return slot_id + bytes(nacl.bindings.crypto_secretbox_easy(key, _ZERO_NONCE, slot_key))


def _fill(slots: list[bytes], draw: Draw) -> None:
    size = next(n for n in SLOT_COUNTS if n >= len(slots))
    ids = {s[:SLOT_ID_BYTES] for s in slots}
    for _ in range(_MAX_DRAWS):
        if len(slots) == size:
            return
        dummy = draw("dummy", MAIL_SLOT_BYTES)
        if dummy[:SLOT_ID_BYTES] not in ids:
            ids.add(dummy[:SLOT_ID_BYTES])
            slots.append(dummy)
    raise UsageError("the random source keeps repeating itself")


def parse_wrap(raw: bytes) -> Wrap:
    """Check a wrap's structure (M10), all a holder can check.

    Raises:
        MailError: rule "M10".
    """
    if len(raw) > MAX_WRAP_BYTES:
        raise MailError("M10", "wrap too long", expected=MAX_WRAP_BYTES, found=len(raw))
    try:
        fields = decode_canonical(raw, rule="M10", what="wrap")
    except EncodingError as exc:
        raise MailError("M10", str(exc)) from exc
    if type(fields) is not dict or set(fields) != _KEYS or any(type(k) is not int
                                                               for k in fields):
        raise MailError("M10", "a wrap is a map of exactly the keys 0-5")
    if type(fields[0]) is not int or fields[0] != WRAP_VERSION:
        raise MailError("M10", "wrap version must be 1", found=fields[0])
    box = _sized(fields, 5, None)
    if len(box) not in BOX_SIZES:
        raise MailError("M10", "box is not a bucket + 16 bytes", found=len(box))
    return Wrap(to=_sized(fields, 1, KEY_BYTES), epk=_sized(fields, 2, KEY_BYTES),
                slots=_slots(fields[3]), nonce=_sized(fields, 4, NONCE_BYTES), box=box,
                raw=raw)


def _sized(fields: dict[Any, Any], key: int, size: int | None) -> bytes:
    value = fields[key]
    if type(value) is not bytes or (size is not None and len(value) != size):
        raise MailError("M10", f"wrap key {key} must be {size or 'a byte string of'} bytes")
    return value


def _slots(value: Any) -> tuple[bytes, ...]:
    if type(value) is not list or len(value) not in SLOT_COUNTS:
        raise MailError("M10", "slots must be 4, 8 or 16 byte strings")
    if any(type(s) is not bytes or len(s) != MAIL_SLOT_BYTES for s in value):
        raise MailError("M10", f"a slot is {MAIL_SLOT_BYTES} bytes")
    if any(a >= b for a, b in itertools.pairwise(value)):
        raise MailError("M10", "slots must be strictly ascending")
    if len({s[:SLOT_ID_BYTES] for s in value}) != len(value):
        raise MailError("M10", "two slots share an id")
    return tuple(value)


def open_wrap(wrap: Wrap, device: Identity) -> bytes | None:
    """The inner bytes if `device` has a slot in `wrap`, else None (M9).

    Raises:
        MailError: "M9" (E of small order, a slot or box that does not open) or "M7".
    """
    secret = bytes(device.signing_key.to_curve25519_private_key())
    device_x = device_x25519(device.public_key)
    if device_x is None:
        return None
    try:
        shared = bytes(nacl.bindings.crypto_scalarmult(secret, wrap.epk))
    except _CRYPTO_ERRORS as exc:
        raise MailError("M9", "the ephemeral key has small order") from exc
    slot_id, slot_key = slot_secret(shared, wrap.epk, device_x)
    slot = next((s for s in wrap.slots if s[:SLOT_ID_BYTES] == slot_id), None)
    if slot is None:
        return None
    try:
        key = nacl.bindings.crypto_secretbox_open_easy(slot[SLOT_ID_BYTES:], _ZERO_NONCE,
                                                       slot_key)
        padded = nacl.bindings.crypto_secretbox_open_easy(wrap.box, wrap.nonce, key)
    except _CRYPTO_ERRORS as exc:
        raise MailError("M9", "a slot or the box does not open") from exc
    return unpad(bytes(padded))
