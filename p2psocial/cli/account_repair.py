"""`account repair`: a single-key identity whose own feed forked moves on to a new device feed
(spec "Fork repair for single-key feeds"; issue 11, acceptance 4).

Rules:
- Only for a home whose key is its account key (a single-key identity, or one upgraded with
  `account upgrade`) and whose own feed is forked here (its node holds a fork proof of it);
  anything else is one line and changes nothing.
- The node must be stopped: the home's device key, which is also the node's libp2p key,
  changes. The verb opens the store itself and refuses (one line) while a node holds it.
- The key, from now on only the account key, signs an `init` naming a new recovery key (the
  phrase is shown once) unless the account's `init` is held already, then the `add` of a
  fresh device key (named like any device; no `admin`: this home holds the account key, which
  signs later adds). The ops are checked and stored before any file changes.
- Then, in this order: account-key.json = the old key.json document unchanged (sealed as it
  was), account.json, key.json = the new device key, the database's owner = the new key. The
  new key has no history, so the home is not in the restored state.
- The forked feed, what is held of it and its fork proofs stay: they remain the account's
  (its account key's feed counts as before) and stay listed by `log`, `status`, `verify`.
"""

from __future__ import annotations

import argparse
import json
import sys

from p2psocial.cli import account_support as acct
from p2psocial.cli import passphrase
from p2psocial.core.account.ops import OpType, consent_for, make_op
from p2psocial.core.account.phrase import new_phrase, recovery_identity
from p2psocial.core.errors import HomeLocked, UsageError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.account_home import (
    LocalAccount,
    account_key_doc,
    default_device_name,
    read_account,
    write_account,
)
from p2psocial.runtime.service.base import RESTORED_KEY
from p2psocial.store import keyfile
from p2psocial.store.home import Home


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the parser of `account repair` to the `account` verbs."""
    p = sub.add_parser("repair", help="my own feed is forked: move on to a new device feed of "
                       "the same account (prints a recovery phrase once)")
    p.add_argument("--name", help="the new device's name (default: the host name)")
    p.add_argument("--no-passphrase", action="store_true",
                   help="store the new device key unencrypted")
    p.add_argument("--json", action="store_true")


async def repair(args: argparse.Namespace, home: Home) -> int:
    """Run `account repair`."""
    from p2psocial.runtime.local import open_local, require_identity
    old_doc = require_identity(home)
    key = keyfile.public_key_of(old_doc)
    local = read_account(home)
    if local is not None and local.account != key:
        raise UsageError(f"this home is a device of {local.handle}, not its account key: to "
                         "replace a forked device, link a fresh home (`p2psocial device link`) "
                         "and revoke this device")
    if account_key_doc(home) is not None:
        raise UsageError(f"{home.account_key_file} exists already: nothing was changed")
    try:
        async with open_local(home, passphrase.unlock_interactively) as service:
            feed = await service.feed(handle_of(key))
            if not feed.forked:
                raise UsageError(f"your feed {handle_of(key)} is not forked here: nothing to "
                                 "repair (to make it an account: `p2psocial account upgrade`)")
            state, ops = await acct.load_state(service, key)
            identity = passphrase.unlock_interactively(old_doc)
            secret = passphrase.ask_new(args.no_passphrase)
            device = Identity.generate()
            name = args.name or (local.device_name if local else default_device_name())
            phrase = None
            made = []
            prev, stamp = state.tip, acct.next_timestamp(state, ops)
            if prev is None:
                phrase = new_phrase()
                recovery = recovery_identity(phrase)
                made.append(make_op(identity, account=key, op_type=OpType.INIT,
                                    key=recovery.public_key, timestamp=stamp))
                del recovery
                prev = made[-1].hash
            made.append(make_op(identity, account=key, op_type=OpType.ADD,
                                key=device.public_key, timestamp=stamp, prev=prev, name=name,
                                consent=consent_for(device, key, OpType.ADD)))
            await acct.store_ops(service, made)
            keyfile.write_doc(home.account_key_file, old_doc)
            write_account(home, LocalAccount(account=key, device_name=name))
            keyfile.write_doc(home.key_file, keyfile.seal(device, secret))
            await service.store.set_owner(device.public_key)
            await service.store.set_meta(RESTORED_KEY, None)
    except HomeLocked:
        raise UsageError("a node is running on this home: stop it first (the device key, "
                         "which is also the node's key, changes), then repair") from None
    if not secret:
        sys.stderr.write("warning: no passphrase: your new device key is stored unencrypted "
                         f"in {home.key_file} (readable only by you)\n")
    doc = {"account": handle_of(key), "device": device.handle, "device_name": name,
           "forked_feed": handle_of(key), "recovery_phrase": phrase}
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    print(f"{handle_of(key)} is now an account: this home posts from the new device "
          f"{device.handle} ({name}); followers need do nothing")
    print(f"the forked feed {handle_of(key)} keeps what was held before the fork, and its "
          f"fork proof; its key is kept as the account key in {home.account_key_file}")
    if phrase is not None:
        acct.print_phrase(phrase)
    return 0
