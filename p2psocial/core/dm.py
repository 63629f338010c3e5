"""Private messages (entry type `dm`): encrypted so only the named readers can open them.

Rules:
- A fresh 32-byte key K encrypts the message with XSalsa20-Poly1305 (nacl SecretBox) under a
  random 24-byte nonce. K is sealed (nacl SealedBox, X25519 from each reader's Ed25519 key)
  once per reader, including the author, and the sealed keys are shuffled.
- The plaintext is canonical CBOR {"text": str, "to": [reader keys]}, so a reader learns who
  else can read it; outsiders learn only how many readers there are.
- A reader tries each sealed key; a message it cannot open is simply not for it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import nacl.exceptions
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils

from p2psocial.core import limits
from p2psocial.core.content import PrivateMessage
from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import UsageError, ValidationError
from p2psocial.core.identity import Identity


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    """A private message its reader could open."""

    text: str
    readers: tuple[bytes, ...]


def seal_message(author: Identity, readers: list[bytes], text: str) -> PrivateMessage:
    """Encrypt `text` for `readers` (Ed25519 public keys) and the author.

    Raises:
        UsageError: no reader, too many readers, or text too long.
    """
    everyone = list(dict.fromkeys([*readers, author.public_key]))
    if len(everyone) < 2:
        raise UsageError("a private message needs at least one reader besides you")
    if len(everyone) > limits.MAX_DM_RECIPIENTS + 1:
        raise UsageError(f"a private message can have at most {limits.MAX_DM_RECIPIENTS} "
                         "readers")
    if len(text) > limits.MAX_POST_CHARS:
        raise UsageError(f"the message is longer than {limits.MAX_POST_CHARS} characters")
    key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    plaintext = encode({"text": text, "to": everyone})
    box = nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext
    sealed = [bytes(nacl.public.SealedBox(_curve_public(r)).encrypt(key)) for r in everyone]
    secrets.SystemRandom().shuffle(sealed)
    return PrivateMessage(keys=tuple(sealed), nonce=nonce, box=bytes(box))


def open_message(reader: Identity, message: PrivateMessage) -> OpenedMessage | None:
    """The message as `reader` sees it, or None if it is not addressed to `reader`."""
    private = reader.signing_key.to_curve25519_private_key()
    unsealer = nacl.public.SealedBox(private)
    for sealed in message.keys:
        try:
            key = unsealer.decrypt(sealed)
        except nacl.exceptions.CryptoError:
            continue
        try:
            plaintext = nacl.secret.SecretBox(key).decrypt(message.box, message.nonce)
            inner = decode_canonical(plaintext, rule="P4", what="private message")
        except (nacl.exceptions.CryptoError, ValidationError):
            return None
        if not isinstance(inner, dict) or not isinstance(inner.get("text"), str):
            return None
        to = inner.get("to", [])
        if not isinstance(to, list):
            return None
        readers = tuple(r for r in to if isinstance(r, bytes))
        return OpenedMessage(text=inner["text"], readers=readers)
    return None


def _curve_public(ed25519_public: bytes) -> nacl.public.PublicKey:
    try:
        return nacl.signing.VerifyKey(ed25519_public).to_curve25519_public_key()
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise UsageError("a reader's key is not a valid Ed25519 public key") from exc
