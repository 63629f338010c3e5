"""Getting the passphrase that unlocks the secret key.

Rules:
- Unattended: $P2PSOCIAL_PASSPHRASE_FILE names a file whose first line is the passphrase.
- Interactive: asked on the terminal without echo; never accepted as a command-line argument
  (it would show in the process list and shell history).
- Keys typed ahead (before the prompt shows, or while a wrong one is being checked) belong to
  the next answer: the terminal's pending input is kept, not flushed (getpass flushes it, so
  a passphrase typed half before and half after its prompt was read as its second half).
  An empty answer to unlock an encrypted key is not a try (an Enter pressed while waiting).
- Except for a new passphrase: an empty one stores the key unencrypted, so what was typed
  before "New passphrase" shows is dropped (a stray Enter must not make a bare key); its
  repeat keeps what was typed ahead.
- With neither a file nor a terminal, the command fails with one line saying what to do.
"""

from __future__ import annotations

import getpass
import os
import sys
import termios
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
    return read_hidden(prompt)


def read_hidden(prompt: str, *, typed_ahead: bool = True) -> str:
    """One line from the terminal without echo, keeping what was typed before the prompt
    (TCSANOW, not getpass's TCSAFLUSH, which drops it) unless `typed_ahead` is False.
    Raises KeyfileError at end of input (ctrl+d)."""
    try:
        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        return getpass.getpass(prompt)  # not a terminal we can set: getpass's fallbacks
    new = list(old)
    new[3] &= ~termios.ECHO
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        termios.tcsetattr(fd, termios.TCSANOW if typed_ahead else termios.TCSAFLUSH, new)
        line = sys.stdin.readline()
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)
        sys.stderr.write("\n")
        sys.stderr.flush()
    if not line:
        raise KeyfileError("no passphrase given (end of input)")
    return line.rstrip("\r\n")


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
    first = read_hidden("New passphrase (empty for none): ", typed_ahead=False)
    if first and read_hidden("Repeat passphrase: ") != first:
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
        given = ask()
        while not given and can_prompt():  # an Enter typed ahead: not a try
            given = ask()
        try:
            return keyfile.unseal(doc, given)
        except WrongPassphrase:
            if attempt == tries - 1:
                raise
            sys.stderr.write("wrong passphrase, try again\n")
    raise WrongPassphrase("wrong passphrase")
