"""Getting the passphrase that unlocks the secret key.

Rules:
- Unattended: $P2PSOCIAL_PASSPHRASE_FILE names a file whose first line is the passphrase.
- Interactive: asked on the terminal without echo; never accepted as a command-line argument
  (it would show in the process list and shell history).
- With neither a file nor a terminal, the command fails with one line saying what to do.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from p2psocial.core.errors import KeyfileError, UsageError, WrongPassphrase
from p2psocial.core.identity import Identity
from p2psocial.store import keyfile

ENV_PASSPHRASE_FILE = "P2PSOCIAL_PASSPHRASE_FILE"


def from_file() -> str | None:
    """The passphrase from $P2PSOCIAL_PASSPHRASE_FILE, or None if the variable is unset."""
    name = os.environ.get(ENV_PASSPHRASE_FILE)
    if not name:
        return None
    try:
        text = Path(name).read_text()
    except OSError as exc:
        raise KeyfileError(f"cannot read {ENV_PASSPHRASE_FILE} ({name}): "
                           f"{exc.strerror or exc}") from None
    return text.splitlines()[0] if text else ""


def can_prompt() -> bool:
    """True if a passphrase can be asked on the terminal."""
    return sys.stdin.isatty()


def ask(prompt: str = "Passphrase: ") -> str:
    """Ask for a passphrase once (file first, then terminal)."""
    value = from_file()
    if value is not None:
        return value
    if not can_prompt():
        raise KeyfileError(f"the key is encrypted: set {ENV_PASSPHRASE_FILE} to a file holding "
                           "the passphrase, or run in a terminal")
    return getpass.getpass(prompt)


def ask_new(no_passphrase: bool) -> str:
    """A new passphrase for `init`: asked twice on a terminal; "" means unencrypted."""
    if no_passphrase:
        return ""
    value = from_file()
    if value is not None:
        return value
    if not can_prompt():
        raise UsageError(f"no terminal to ask a passphrase: set {ENV_PASSPHRASE_FILE}, or pass "
                         "--no-passphrase to store the key unencrypted")
    first = getpass.getpass("New passphrase (empty for none): ")
    if first and getpass.getpass("Repeat passphrase: ") != first:
        raise UsageError("the passphrases differ: nothing was created")
    return first


PASSPHRASE_TRIES = 3


def unlock_interactively(doc: dict[str, Any]) -> Identity:
    """Unlock the key file document, asking for the passphrase (three tries on a terminal).
    $P2PSOCIAL_PASSPHRASE_FILE is read once: it may be a pipe (/dev/fd/N), which a second
    read finds empty."""
    if not keyfile.is_encrypted(doc):
        return keyfile.unseal(doc, None)
    given = from_file()
    if given is not None:
        return keyfile.unseal(doc, given)
    tries = PASSPHRASE_TRIES if can_prompt() else 1
    for attempt in range(tries):
        try:
            return keyfile.unseal(doc, ask())
        except WrongPassphrase:
            if attempt == tries - 1:
                raise
            sys.stderr.write("wrong passphrase, try again\n")
    raise WrongPassphrase("wrong passphrase")
