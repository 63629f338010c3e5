"""The secret key at rest: `HOME/key.json`, mode 0600.

Rules:
- By default the 32-byte seed is sealed with nacl SecretBox under a key derived from the
  passphrase by Argon2id (parameters stored in the file, so they can be raised later).
- An empty passphrase is an explicit opt-out: the seed is stored in the clear (still 0600),
  and the caller warns the user.
- The public key is stored in the clear so `id` never needs the passphrase.
- The seed is never logged or printed; errors name the file, never its content.
- `used` records whether this key has signed an entry: false when the key is made, set true
  when the first entry is appended (or when a database holding my entries is opened). A key
  with a history and a database without it must learn its feed before writing (a lost
  database would otherwise fork the feed). Files written before `used` existed lack it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from p2psocial.core.errors import KeyfileError, WrongPassphrase
from p2psocial.core.identity import Identity
from p2psocial.store.home import write_private_file

FORMAT = "p2psocial-key"
VERSION = 1
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
_MAX_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE
_MAX_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE


def seal(identity: Identity, passphrase: str) -> dict[str, Any]:
    """The key file document for `identity`; encrypted unless `passphrase` is empty."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                           "public_key": identity.public_key.hex(), "used": False}
    if not passphrase:
        doc["kdf"] = "none"
        doc["seed"] = _b64(identity.seed)
        return doc
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    key = _derive(passphrase, salt, OPSLIMIT, MEMLIMIT)
    doc.update(kdf="argon2id", opslimit=OPSLIMIT, memlimit=MEMLIMIT, salt=_b64(salt),
               box=_b64(bytes(nacl.secret.SecretBox(key).encrypt(identity.seed))))
    return doc


def unseal(doc: dict[str, Any], passphrase: str | None) -> Identity:
    """The identity in a key file document.

    Raises:
        WrongPassphrase: the passphrase does not open the box.
        KeyfileError: the document is malformed, or a passphrase is needed and none given.
    """
    try:
        version = doc.get("version")
        if doc.get("format") != FORMAT or type(version) is not int or version != VERSION:
            raise KeyfileError("not a p2psocial key file (unknown format or version)")
        public_key = bytes.fromhex(doc["public_key"])
        if doc["kdf"] == "none":
            identity = Identity(_unb64(doc["seed"]))
        elif doc["kdf"] == "argon2id":
            if passphrase is None:
                raise KeyfileError("the key is encrypted: a passphrase is needed")
            opslimit, memlimit = _exact_int(doc["opslimit"]), _exact_int(doc["memlimit"])
            if not (0 < opslimit <= _MAX_OPSLIMIT and 0 < memlimit <= _MAX_MEMLIMIT):
                raise KeyfileError("the key file asks for unreasonable Argon2id parameters")
            key = _derive(passphrase, _unb64(doc["salt"]), opslimit, memlimit)
            try:
                seed = nacl.secret.SecretBox(key).decrypt(_unb64(doc["box"]))
            except nacl.exceptions.CryptoError:
                raise WrongPassphrase("wrong passphrase") from None
            identity = Identity(seed)
        else:
            raise KeyfileError(f"unknown key derivation {doc['kdf']!r}")
    except (KeyError, TypeError, ValueError, nacl.exceptions.CryptoError) as exc:
        raise KeyfileError(f"the key file is corrupt ({type(exc).__name__})") from None
    if identity.public_key != public_key:
        raise KeyfileError("the key file is corrupt (public key does not match the secret)")
    return identity


def is_encrypted(doc: dict[str, Any]) -> bool:
    """True if the document needs a passphrase."""
    return doc.get("kdf") != "none"


def has_history(doc: dict[str, Any]) -> bool | None:
    """True if the key has signed entries, False if not, None if the file does not say (it
    was written by a release before `used` existed)."""
    used = doc.get("used")
    return used if isinstance(used, bool) else None


def mark_used(path: Path, doc: dict[str, Any]) -> None:
    """Record in the key file at `path` that its key has signed entries."""
    if doc.get("used") is not True:
        doc["used"] = True
        write_doc(path, doc)


def public_key_of(doc: dict[str, Any]) -> bytes:
    """The public key recorded in a key file document."""
    try:
        key = bytes.fromhex(doc["public_key"])
    except (KeyError, TypeError, ValueError):
        raise KeyfileError("the key file is corrupt (no public key)") from None
    if len(key) != 32:
        raise KeyfileError("the key file is corrupt (bad public key)")
    return key


def read_doc(path: Path) -> dict[str, Any]:
    """Read a key file document.

    Raises:
        KeyfileError: missing, unreadable, or not JSON.
    """
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyfileError(f"no identity at {path.parent} (run `p2psocial init`)") from None
    except (OSError, ValueError) as exc:
        raise KeyfileError(f"cannot read the key file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise KeyfileError(f"the key file {path} is corrupt")
    return doc


def write_doc(path: Path, doc: dict[str, Any]) -> None:
    """Write a key file document with mode 0600."""
    write_private_file(path, json.dumps(doc, indent=2).encode() + b"\n")


def _exact_int(value: object) -> int:
    """A JSON integer as written: `true`, `2.9` and `"2"` are not integers here."""
    if type(value) is not int:
        raise TypeError("not an integer")
    return value


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE,
                                          passphrase.encode(), salt,
                                          opslimit=opslimit, memlimit=memlimit))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
