"""Identities and handles.

Rules:
- A user is one Ed25519 key pair. The same key signs log entries and is the libp2p host key,
  so the public handle is the libp2p PeerID of the key: base58btc of the identity multihash of
  the protobuf-encoded public key (`12D3KooW…`, 52 characters).
- `parse_handle` also accepts the raw public key as 64 hex characters and an `@`-prefixed handle.
- Secret key bytes never appear in repr() or str().
"""

from __future__ import annotations

import functools
import re

import base58
import nacl.bindings
import nacl.exceptions
import nacl.signing

from p2psocial.core.errors import HandleError
from p2psocial.core.limits import KEY_BYTES, SIGNATURE_BYTES

_HEX_KEY_RE = re.compile(r"[0-9a-fA-F]{64}")
# protobuf PublicKey{Type: Ed25519 (1), Data: <32 bytes>} wrapped in an identity multihash.
_PEER_ID_PREFIX = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])


@functools.lru_cache(maxsize=4096)
def handle_of(public_key: bytes) -> str:
    """The public handle (libp2p PeerID, base58btc) of a 32-byte Ed25519 public key.

    Cached: base58 is slow pure Python, and a node names the same few thousand feeds often.
    """
    if len(public_key) != KEY_BYTES:
        raise HandleError(f"a public key is {KEY_BYTES} bytes, not {len(public_key)}")
    return base58.b58encode(_PEER_ID_PREFIX + public_key).decode("ascii")


def short_handle(public_key: bytes) -> str:
    """A short form for display: the last 8 characters of the handle."""
    return "…" + handle_of(public_key)[-8:]


def parse_handle(text: str) -> bytes:
    """Return the 32-byte public key named by `text`.

    Accepts a PeerID handle (`12D3KooW…`, optionally prefixed with `@`) or 64 hex characters.

    Raises:
        HandleError: `text` names no Ed25519 key.
    """
    text = text.strip().removeprefix("@")
    if _HEX_KEY_RE.fullmatch(text):
        return bytes.fromhex(text)
    if len(text) > 2 * KEY_BYTES:  # longer than any handle; base58 decoding is quadratic
        raise HandleError(f"not a handle: {text[:60]!r}… ({len(text):,} characters)")
    try:
        raw = base58.b58decode(text)
    except ValueError as exc:
        raise HandleError(f"not a handle: {text!r}") from exc
    if len(raw) != len(_PEER_ID_PREFIX) + KEY_BYTES or not raw.startswith(_PEER_ID_PREFIX):
        raise HandleError(f"not an Ed25519 handle: {text!r}")
    return raw[len(_PEER_ID_PREFIX):]


class Identity:
    """A user's key pair: signs entries; its public key is the user's feed id."""

    __slots__ = ("_signing_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != KEY_BYTES:
            raise HandleError(f"an Ed25519 seed is {KEY_BYTES} bytes, not {len(seed)}")
        self._signing_key = nacl.signing.SigningKey(seed)
        self.public_key: bytes = bytes(self._signing_key.verify_key)

    @classmethod
    def generate(cls) -> Identity:
        """A fresh random identity."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed. Handle with care: never log it."""
        return bytes(self._signing_key)

    @property
    def handle(self) -> str:
        """The public handle (PeerID)."""
        return handle_of(self.public_key)

    @property
    def signing_key(self) -> nacl.signing.SigningKey:
        """The pynacl signing key (for adapters that need it, e.g. the libp2p host)."""
        return self._signing_key

    def sign(self, message: bytes) -> bytes:
        """Detached Ed25519 signature of `message`."""
        return bytes(self._signing_key.sign(message).signature)

    def __repr__(self) -> str:
        return f"Identity({self.handle})"


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if `signature` is a valid Ed25519 signature of `message` by `public_key`.

    Calls libsodium's crypto_sign_open directly: VerifyKey objects add ~10% per check.
    """
    if len(signature) != SIGNATURE_BYTES or len(public_key) != KEY_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.TypeError):
        return False
    return True
