"""The account verbs: `init` (an account unless `--single-key`), `account
upgrade|rotate|show`, `recover`; and the argument parsers of those and of the device verbs
(cli.device_commands).

Rules:
- `init` makes an account (`--account`, the old opt-in, is accepted and changes nothing): an
  account key (sealed in account-key.json), this device's key (key.json), a recovery phrase
  shown once, also with --no-passphrase (with --json it is a member of the JSON); the ops
  `init` and `add`. `init --single-key` makes a single-key identity (cli.commands).
- `account upgrade` turns a single-key identity into an account: its key signs an `init`
  naming a new recovery key; the key stays the account key and its first device.
- `recover` and `account rotate` need the recovery phrase; `recover` on a fresh home makes a
  new device key (a key is never reused) added with `admin` by the recovery key. `rotate`
  writes `after` (default: the newest entry of the old account key held here), never leaves
  it absent: absent, everything the old key ever writes counts, also a thief's posts.
  `rotate --undo OP` builds on the op before OP, undoing OP and what follows within the
  recovery window (cli.account_undo); `account show` lists the applied ops' hashes.
- Bad input (a phrase with a typo or of another account, a home of the wrong kind) is one
  line and nothing is stored: the phrase is checked before anything is written.
- `account repair` (cli.account_repair) moves a single-key identity whose own feed forked on
  to a new device feed; `upgrade` of a forked feed points to it.
- Every verb has --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from p2psocial.cli import account_repair, device_commands, passphrase
from p2psocial.cli import account_support as acct
from p2psocial.cli.account_undo import log_rows, rotation_base
from p2psocial.core.account.ops import MAX_AFTER, OpType, consent_for, make_op
from p2psocial.core.account.phrase import new_phrase, recovery_identity
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import Identity, handle_of, parse_handle
from p2psocial.runtime.account_home import (
    LocalAccount,
    account_key_doc,
    default_device_name,
    read_account,
    write_account,
    write_account_key,
)
from p2psocial.runtime.devices import device_count
from p2psocial.store import keyfile
from p2psocial.store.home import Home

VerbAdder = Callable[[str, str], argparse.ArgumentParser]
VERB_NAMES = frozenset({"account", "device", "recover"})


def add_verbs(verb: VerbAdder) -> None:
    """The parsers of `account`, `device` and `recover`."""
    s = verb("account", "my account: upgrade a single-key identity, rotate its key, show it")
    sub = s.add_subparsers(dest="account_verb", metavar="upgrade|rotate|show|repair",
                           required=True)
    up = sub.add_parser("upgrade", help="make this single-key identity an account (prints a "
                        "recovery phrase once)")
    up.add_argument("--name", help="this device's name (default: the host name)")
    rot = sub.add_parser("rotate", help="replace the account key (asks the recovery phrase)")
    rot.add_argument("--after", type=int, metavar="SEQ", help="the old account key's last "
                     "entry that still counts (default: the newest held here)")
    rot.add_argument("--no-passphrase", action="store_true",
                     help="store the new account key unencrypted")
    rot.add_argument("--undo", metavar="OP", help="undo this op (a hash listed by `account "
                     "show`) and every op after it: the rotation replaces it (within 7 days)")
    sub.add_parser("show", help="this home's account, device and keys")
    for p in (up, rot, sub.choices["show"]):
        p.add_argument("--json", action="store_true")
    account_repair.add_parser(sub)
    device_commands.add_verbs(verb)
    s = verb("recover", "make this home a new device of my account with the recovery phrase")
    s.add_argument("--account", metavar="HANDLE", help="the account (needed on a fresh home)")
    s.add_argument("--name", help="this device's name (default: the host name)")
    s.add_argument("--no-passphrase", action="store_true",
                   help="store the new device key unencrypted")
    s.add_argument("--json", action="store_true")


async def run(args: argparse.Namespace, home: Home) -> int:
    """Run `account …`, `device …` or `recover`."""
    if args.verb == "device":
        return await device_commands.run(args, home)
    if args.verb == "recover":
        return await _recover(args, home)
    handlers = {"upgrade": _upgrade, "rotate": _rotate, "show": _show,
                "repair": account_repair.repair}
    return await handlers[args.account_verb](args, home)


def _out(args: argparse.Namespace, doc: dict[str, Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))


# --- init (an account) ---------------------------------------------------------------------


async def init_account(args: argparse.Namespace, home: Home) -> int:
    """`init`: a new account with this home as its first device."""
    from p2psocial.cli.commands import create_home, open_api
    secret = passphrase.ask_new(args.no_passphrase)
    device, account_key = Identity.generate(), Identity.generate()
    phrase = new_phrase()
    recovery = recovery_identity(phrase)
    account = account_key.public_key
    name = args.name or default_device_name()
    now = acct.now_ms()
    init = make_op(account_key, account=account, op_type=OpType.INIT,
                   key=recovery.public_key, timestamp=now)
    add = make_op(account_key, account=account, op_type=OpType.ADD, key=device.public_key,
                  timestamp=now, prev=init.hash, name=name,
                  consent=consent_for(device, account, OpType.ADD))
    del recovery
    await create_home(home, keyfile.seal(device, secret), device.public_key)
    write_account_key(home, account_key, secret)
    write_account(home, LocalAccount(account=account, device_name=name))
    async with open_api(home) as api:
        await acct.store_ops(api, [init, add])
    if not secret:
        sys.stderr.write("warning: no passphrase: your device key and account key are stored "
                         f"unencrypted in {home.root} (readable only by you)\n")
    _out(args, {"account": handle_of(account), "device": device.handle, "device_name": name,
                "recovery_phrase": phrase, "home": str(home.root), "single_key": False},
         [f"created account {handle_of(account)}",
          f"this device: {device.handle} ({name})", f"home: {home.root}"])
    if not getattr(args, "json", False):
        acct.print_phrase(phrase)
    return 0


# --- account upgrade ------------------------------------------------------------------------


async def _upgrade(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import open_api
    from p2psocial.runtime.local import require_identity
    doc = require_identity(home)
    if read_account(home) is not None:
        raise UsageError("this home is already a device of an account (see `p2psocial "
                         "account show`)")
    key = keyfile.public_key_of(doc)
    async with open_api(home) as api:
        state, _ = await acct.load_state(api, key)
        if state.tip is not None:
            raise UsageError(f"{handle_of(key)} is already an account (its init is held "
                             "here): nothing to upgrade")
        if (await api.feed(handle_of(key))).forked:
            raise UsageError("your feed is forked, so its key cannot post again: `p2psocial "
                             "account repair` makes the account and moves on to a new device")
        identity = passphrase.unlock_interactively(doc)
        phrase = new_phrase()
        recovery = recovery_identity(phrase)
        init = make_op(identity, account=key, op_type=OpType.INIT, key=recovery.public_key,
                       timestamp=acct.now_ms())
        del recovery
        await acct.store_ops(api, [init])
    name = args.name or default_device_name()
    write_account(home, LocalAccount(account=key, device_name=name))
    _out(args, {"account": handle_of(key), "device": handle_of(key), "device_name": name,
                "recovery_phrase": phrase},
         [f"{handle_of(key)} is now an account; its key stays the account key and this "
          "device; followers need do nothing"])
    if not args.json:
        acct.print_phrase(phrase)
    return 0


# --- account rotate -------------------------------------------------------------------------


async def _rotate(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import open_api
    local = acct.require_account(home)
    async with open_api(home) as api:
        state, ops = await acct.load_state(api, local.account)
        acct.require_init(state)
        prev, timestamp = rotation_base(state, ops, args.undo, acct.now_ms())
        recovery = acct.ask_phrase()
        acct.check_recovery_key(recovery, state)
        after = args.after
        if after is None:  # not "absent" (all it ever writes counts): a thief may hold it
            after = (await api.feed(handle_of(state.account_key))).hi
        if not 0 <= after <= MAX_AFTER:
            raise UsageError(f"--after is a seq from 0 to {MAX_AFTER}")
        secret = passphrase.ask_new(args.no_passphrase)
        new_key = Identity.generate()
        op = make_op(recovery, account=local.account, op_type=OpType.ROTATE,
                     key=new_key.public_key, timestamp=timestamp, prev=prev,
                     consent=consent_for(new_key, local.account, OpType.ROTATE), after=after)
        del recovery
        await acct.store_ops(api, [op])
    write_account_key(home, new_key, secret)
    old = state.account_key
    lines = [f"the account key of {handle_of(local.account)} is now {new_key.handle} "
             f"(sealed in {home.account_key_file}); {handle_of(old)} is revoked (its entries "
             f"after seq {after} no longer count)"]
    if old == acct.device_key(home):
        lines.append("note: this device's key was the old account key, so it can no longer "
                     "post: link a new device (`p2psocial device link` on a fresh home) and "
                     "approve it here with `p2psocial device add`")
    _out(args, {"account": handle_of(local.account), "account_key": new_key.handle,
                "revoked": handle_of(old), "after": after}, lines)
    return 0


# --- account show ---------------------------------------------------------------------------


async def _show(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import open_api
    from p2psocial.runtime.local import require_identity
    mine = keyfile.public_key_of(require_identity(home))
    local = read_account(home)
    account = local.account if local is not None else mine
    async with open_api(home) as api:
        state, ops = await acct.load_state(api, account)
        count = await device_count(api, state, mine)
    device = state.devices.get(mine)
    status = ("pending (not added yet)" if device is None
              else "current" if device.current else f"revoked after seq {device.after}")
    sealed = account_key_doc(home)
    holds = (sealed is not None and keyfile.public_key_of(sealed) == state.account_key) \
        or mine == state.account_key
    log = log_rows(state, ops)
    doc = {"account": handle_of(account), "single_key": local is None,
           "device": handle_of(mine), "device_name": local.device_name if local else None,
           "device_status": status.split(" ", 1)[0], "account_key": handle_of(state.account_key),
           "holds_account_key": holds, "has_recovery_key": state.recovery_key is not None,
           "devices": count, "ops": len(ops),
           "log": log}
    kind = "single-key identity" if local is None else "account"
    _out(args, doc, [
        f"{kind} {handle_of(account)}",
        f"this device: {handle_of(mine)}"
        + (f" ({local.device_name})" if local else "") + f", {status}",
        f"account key: {handle_of(state.account_key)}"
        + (" (held here)" if holds else ""),
        "recovery phrase: " + ("set" if state.recovery_key else
                               "none (run `p2psocial account upgrade`)"),
        f"current devices: {count} (the account key counted only if it posts)",
        *[f"op {row['hash'][:16]} {row['type']} by {row['signer']}" for row in log]])
    return 0


# --- recover --------------------------------------------------------------------------------


async def _recover(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import create_home, open_api
    local = read_account(home) if home.exists() else None
    if home.exists() and local is None:
        raise UsageError(f"{home.root} holds a single-key identity: recover into a fresh "
                         "home (--home DIR)")
    named = parse_handle(args.account) if args.account else None
    if local is not None and named is not None and named != local.account:
        raise UsageError(f"this home is a device of {local.handle}, not of {args.account}")
    if local is None and named is None:
        raise UsageError("on a fresh home, name the account: `p2psocial recover --account "
                         "HANDLE`")
    recovery = acct.ask_phrase()  # a typo stops here, before anything is written
    device: Identity | None = None
    if local is None:
        assert named is not None
        secret = passphrase.ask_new(args.no_passphrase)
        device = Identity.generate()
        local = LocalAccount(account=named, device_name=args.name or default_device_name())
        await create_home(home, keyfile.seal(device, secret), device.public_key)
        write_account(home, local)
    mine = acct.device_key(home)
    async with open_api(home) as api:
        state, ops = await acct.load_state(api, local.account)
        if state.tip is None:
            raise UsageError(f"this home is now a device of {local.handle}, but holds no log "
                             "of it yet: run `p2psocial run` with a peer that has it, then "
                             "`p2psocial recover` again")
        acct.check_recovery_key(recovery, state)
        if mine in state.barred:
            raise UsageError("this device was revoked from the account and can never be added "
                             "again: recover into a fresh home (--home DIR)")
        if mine in state.devices:
            raise UsageError(f"this device is already a device of {local.handle}")
        if device is None:
            device = passphrase.unlock_interactively(keyfile.read_doc(home.key_file))
        op = make_op(recovery, account=local.account, op_type=OpType.ADD, key=mine,
                     timestamp=acct.next_timestamp(state, ops), prev=state.tip,
                     consent=consent_for(device, local.account, OpType.ADD),
                     name=local.device_name, admin=True)
        del recovery
        await acct.store_ops(api, [op])
    _out(args, {"account": local.handle, "device": handle_of(mine),
                "device_name": local.device_name, "admin": True},
         [f"this home is now the device {handle_of(mine)} ({local.device_name}) of "
          f"{local.handle}, with the power to add and revoke devices",
          "if the account key was lost or stolen, replace it: `p2psocial account rotate`"])
    return 0
