"""What the account and device verbs share: this home's account, its resolved state, which
key may sign an op here, asking for the recovery phrase, and showing it once.

Rules:
- The state is resolved here (core.account.resolve) from the ops the store holds, read through
  the user API: in this process, or from the running node over its control socket.
- An op's timestamp is now, but never below its parent's (S3).
- Adding and revoking devices is signed, in this order of preference, by the account key if
  this home holds it (account-key.json, or key.json for an upgraded single-key identity), else
  by this device's key if the account gave it `admin`; otherwise one line says where to go.
- The recovery phrase is read from the terminal without echo (or one line of stdin when it is
  not a terminal) and never written anywhere; `print_phrase` shows a new one once, on stdout.
"""

from __future__ import annotations

import sys
from typing import Any

from p2psocial.cli import passphrase
from p2psocial.core.account.phrase import recovery_identity
from p2psocial.core.account.state import AccountState
from p2psocial.core.errors import RecoveryPhraseError, UsageError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.account_home import LocalAccount, read_account
from p2psocial.runtime.devices import (
    device_key,
    held_ops,
    load_state,
    next_timestamp,
    now_ms,
    require_init,
    signing_doc,
    store_ops,
)
from p2psocial.store.home import Home

# shared with the UI (runtime.devices); the verbs use them as acct.*
__all__ = ["device_key", "held_ops", "load_state", "next_timestamp", "now_ms",
           "require_init", "signing_doc", "store_ops"]
UserAPI = Any


def require_account(home: Home) -> LocalAccount:
    """This home's account, or one line saying how to make one."""
    local = read_account(home)
    if local is None:
        raise UsageError("this home is a single-key identity, not an account: run "
                         "`p2psocial account upgrade` first")
    return local


def admin_signer(home: Home, state: AccountState) -> Identity:
    """The key of this home that may add and revoke devices of `state`'s account."""
    return passphrase.unlock_interactively(signing_doc(home, state))


def ask_phrase() -> Identity:
    """Ask for the recovery phrase and return the recovery key; the phrase is forgotten."""
    if sys.stdin.isatty():
        line = passphrase.read_hidden("Recovery phrase (24 words): ")
    else:
        line = sys.stdin.readline()
        if not line.strip():
            raise RecoveryPhraseError("no recovery phrase given (type its 24 words, or pipe "
                                      "them on stdin)")
    return recovery_identity(line)


def check_recovery_key(recovery: Identity, state: AccountState) -> None:
    """Refuse a phrase that is valid but not this account's."""
    if state.recovery_key != recovery.public_key:
        raise RecoveryPhraseError(f"this is not the recovery phrase of the account "
                                  f"{handle_of(state.account)} (nothing was signed)")


def print_phrase(phrase: str) -> None:
    """Show a new recovery phrase once, numbered, with what it is for."""
    words = phrase.split()
    print("recovery phrase (write it down now: it is shown once and stored nowhere; it can "
          "replace a lost or stolen account key or add a device when all are lost):")
    for row in range(0, len(words), 6):
        print("  " + "  ".join(f"{i + 1:2d}. {w:<8}" for i, w in
                               enumerate(words[row:row + 6], start=row)).rstrip())
