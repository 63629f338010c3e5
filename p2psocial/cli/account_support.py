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
import time
from collections.abc import Sequence
from typing import Any

from p2psocial.cli import passphrase
from p2psocial.core.account.ops import Op, decode_op
from p2psocial.core.account.phrase import recovery_identity
from p2psocial.core.account.state import AccountState, resolve
from p2psocial.core.errors import RecoveryPhraseError, UsageError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.account_home import LocalAccount, account_key_doc, read_account
from p2psocial.store import keyfile
from p2psocial.store.home import Home

UserAPI = Any


def now_ms() -> int:
    """The wall clock in unix milliseconds."""
    return time.time_ns() // 1_000_000


def require_account(home: Home) -> LocalAccount:
    """This home's account, or one line saying how to make one."""
    local = read_account(home)
    if local is None:
        raise UsageError("this home is a single-key identity, not an account: run "
                         "`p2psocial account upgrade` first")
    return local


async def held_ops(api: UserAPI, account: bytes) -> list[Op]:
    """Every op the store holds for `account`."""
    return [decode_op(bytes.fromhex(h)) for h in await api.account_ops(handle_of(account))]


async def load_state(api: UserAPI, account: bytes) -> tuple[AccountState, list[Op]]:
    """The resolved state of `account` and the ops it was resolved from."""
    ops = await held_ops(api, account)
    return resolve(account, ops), ops


def require_init(state: AccountState) -> None:
    """Refuse unless the account's log has its `init` here (no other op applies before)."""
    if state.tip is None:
        raise UsageError(f"this home holds no log of the account {handle_of(state.account)} "
                         "yet: run `p2psocial run` with a peer that has it, then try again")


def next_timestamp(state: AccountState, ops: Sequence[Op]) -> int:
    """A timestamp for an op following the tip: now, but not below the tip's (S3)."""
    tip = next((op for op in ops if op.hash == state.tip), None)
    return max(now_ms(), tip.timestamp if tip is not None else 0)


async def store_ops(api: UserAPI, ops: Sequence[Op]) -> list[str]:
    """Store ops (through the running node if there is one); the hashes of the new ones."""
    new: list[str] = await api.add_account_ops([op.raw.hex() for op in ops])
    return new


def device_key(home: Home) -> bytes:
    """This home's device key (the public key in key.json)."""
    return keyfile.public_key_of(keyfile.read_doc(home.key_file))


def admin_signer(home: Home, state: AccountState) -> Identity:
    """The key of this home that may add and revoke devices of `state`'s account."""
    sealed = account_key_doc(home)
    if sealed is not None and keyfile.public_key_of(sealed) == state.account_key:
        return passphrase.unlock_interactively(sealed)
    mine = device_key(home)
    if state.priority(mine) > 0:
        return passphrase.unlock_interactively(keyfile.read_doc(home.key_file))
    raise UsageError("this device has no power to add or revoke devices: run it on the "
                     "device that holds the account key or one added with --admin, or use "
                     "the recovery phrase (`p2psocial recover`)")


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
