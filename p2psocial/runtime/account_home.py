"""Which account a home's device belongs to, and the account key if the home holds it.

Rules:
- `HOME/account.json` {"account": hex, "device_name": text}, mode 0600, names the account
  this home's device (its key.json key) belongs to. A home without it is a single-key
  identity: its key is the account id and its one device (unchanged behaviour).
- `HOME/account-key.json` holds the account key sealed like key.json (same format, Argon2id
  under a passphrase unless the user opted out), mode 0600, if this home holds it. A
  single-key identity upgraded to an account holds its account key as key.json itself.
- Neither file ever holds the recovery phrase or the recovery key: those are asked for and
  forgotten after signing.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from p2psocial.core.errors import KeyfileError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.core.limits import KEY_BYTES, MAX_NAME_CHARS
from p2psocial.store import keyfile
from p2psocial.store.home import Home, write_private_file

FORMAT = "p2psocial-account"


@dataclass(frozen=True, slots=True)
class LocalAccount:
    """What account.json says: the account id and this device's name."""

    account: bytes
    device_name: str

    @property
    def handle(self) -> str:
        """The account handle (the PeerID of the account id)."""
        return handle_of(self.account)


def read_account(home: Home) -> LocalAccount | None:
    """The account this home's device belongs to; None for a single-key identity.

    Raises:
        KeyfileError: account.json exists but cannot be read or is corrupt.
    """
    path = home.account_file
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KeyfileError(f"cannot read {path}: {exc}") from None
    try:
        account = bytes.fromhex(doc["account"])
        name = doc["device_name"]
    except (KeyError, TypeError, ValueError):
        raise KeyfileError(f"{path} is corrupt") from None
    if len(account) != KEY_BYTES or not isinstance(name, str) or not name.strip():
        raise KeyfileError(f"{path} is corrupt")
    return LocalAccount(account=account, device_name=name)


def write_account(home: Home, local: LocalAccount) -> None:
    """Record, mode 0600, that this home's device belongs to `local.account`."""
    doc = {"format": FORMAT, "account": local.account.hex(), "device_name": local.device_name}
    write_private_file(home.account_file, json.dumps(doc, indent=2).encode() + b"\n")


def account_key_doc(home: Home) -> dict[str, Any] | None:
    """The sealed account key document, or None if this home does not hold one."""
    if not home.account_key_file.exists():
        return None
    return keyfile.read_doc(home.account_key_file)


def write_account_key(home: Home, account_key: Identity, passphrase: str) -> None:
    """Seal `account_key` under `passphrase` (empty: unsealed) into account-key.json."""
    keyfile.write_doc(home.account_key_file, keyfile.seal(account_key, passphrase))


def default_device_name() -> str:
    """A name for this device when none is given: the host name, cut to fit."""
    name = (os.environ.get("P2PSOCIAL_DEVICE_NAME") or socket.gethostname() or "device").strip()
    return name[:MAX_NAME_CHARS] or "device"
