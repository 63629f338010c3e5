"""The device verbs: `device link`, `device add`, `device list`, `device revoke`.

Rules:
- `device link --account HANDLE` on a fresh home makes a new device key (never a reused one),
  records the account in account.json and prints a one-time pairing token (and, with --qr,
  a QR code: ~79 columns for a token with one address). On a home already linked to that
  account and not yet added, it prints a new token for the same key.
- `device add <token>` checks the token (core.account.pairing: expired, another account,
  consent, already a device or barred), signs the `add` with a key that has the power
  (cli.account_support.admin_signer) and stores it; when this home's node runs, the op goes
  through it and the node dials the token's addresses so the new device gets it. Offline,
  it is stored and replication carries it later.
- `device list` shows each device (revoked ones too) with the newest seq of its feed held here,
  then, apart, the account key and any former one (`role`; runtime.devices): the account key
  is counted as a device only if it posts.
- `device revoke <device>` takes a name, handle or hex key; `after` defaults to the head this
  node holds of that device's feed.
- Every refusal is one line and stores nothing. Every verb has --json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable

from p2psocial.cli import account_support as acct
from p2psocial.cli import passphrase
from p2psocial.core.account.ops import MAX_AFTER, OpType, make_op
from p2psocial.core.account.pairing import PAIR_NONCE_BYTES, make_token, parse_token
from p2psocial.core.account.state import AccountState, Device
from p2psocial.core.errors import HandleError, UsageError
from p2psocial.core.identity import Identity, handle_of, parse_handle
from p2psocial.core.invite import format_ms
from p2psocial.runtime import devices
from p2psocial.runtime.account_home import (
    LocalAccount,
    default_device_name,
    read_account,
    write_account,
)
from p2psocial.runtime.control import ControlClient, NodeNotRunning
from p2psocial.store import keyfile
from p2psocial.store.home import Home

VerbAdder = Callable[[str, str], argparse.ArgumentParser]
DEFAULT_LINK_MINUTES = 30.0


def add_verbs(verb: VerbAdder) -> None:
    """The parser of `device`."""
    s = verb("device", "my account's devices: link a new one, add, list, revoke")
    sub = s.add_subparsers(dest="device_verb", metavar="link|add|list|revoke", required=True)
    link = sub.add_parser("link", help="on a new machine: make this home a new device of an "
                          "account and print a one-time pairing token")
    link.add_argument("--account", required=True, metavar="HANDLE", help="the account")
    link.add_argument("--name", help="this device's name (default: the host name)")
    link.add_argument("--minutes", type=float, default=DEFAULT_LINK_MINUTES,
                      help=f"the token is valid this long (default {DEFAULT_LINK_MINUTES:g})")
    link.add_argument("--addr", action="append", default=[], metavar="MULTIADDR",
                      help="an address where this device listens (repeatable; default: the "
                      "running node's)")
    link.add_argument("--qr", action="store_true", help="also print a QR code")
    link.add_argument("--no-passphrase", action="store_true",
                      help="store the new device key unencrypted")
    add = sub.add_parser("add", help="approve a new device by its pairing token")
    add.add_argument("token", help="the token `p2psocial device link` printed")
    add.add_argument("--admin", action="store_true",
                     help="give the device the power to add and revoke devices")
    sub.add_parser("list", help="my account's devices")
    rev = sub.add_parser("revoke", help="revoke a lost or stolen device")
    rev.add_argument("device", help="the device's name, handle or key")
    rev.add_argument("--after", type=int, metavar="SEQ", help="its last entry that still "
                     "counts (default: the newest held here)")
    for p in (link, add, sub.choices["list"], rev):
        p.add_argument("--json", action="store_true")


async def run(args: argparse.Namespace, home: Home) -> int:
    """Run `device …`."""
    handlers = {"link": _link, "add": _add, "list": _list, "revoke": _revoke}
    return await handlers[args.device_verb](args, home)


# --- link -----------------------------------------------------------------------------------


async def _link(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import create_home
    account = parse_handle(args.account)
    if not 0 < args.minutes <= 7 * 24 * 60:
        raise UsageError("--minutes is more than 0 and at most a week (10080)")
    local = read_account(home) if home.exists() else None
    if home.exists() and (local is None or local.account != account):
        raise UsageError(f"{home.root} already holds an identity: link a new device from a "
                         "fresh home (--home DIR)")
    name = args.name or (local.device_name if local else default_device_name())
    device: Identity
    if local is None:
        secret = passphrase.ask_new(args.no_passphrase)
        device = Identity.generate()
        _check_token_fields(device, account, name, args.addr)
        await create_home(home, keyfile.seal(device, secret), device.public_key)
        local = LocalAccount(account=account, device_name=name)
        write_account(home, local)
    else:
        device = passphrase.unlock_interactively(keyfile.read_doc(home.key_file))
    expires = acct.now_ms() + int(args.minutes * 60_000)
    addrs = list(dict.fromkeys([*args.addr, *await _listen_addrs(home)]))[:8]
    token = make_token(device, account=account, name=name, expires=expires,
                       nonce=secrets.token_bytes(PAIR_NONCE_BYTES), addrs=addrs)
    if args.json:
        print(json.dumps({"token": token, "account": handle_of(account),
                          "device": device.handle, "device_name": name, "expires": expires,
                          "addrs": addrs}, indent=2))
        return 0
    print(token)
    if args.qr:
        import segno
        segno.make(token, error="l").terminal(compact=True, border=1)  # 79 columns wide
    sys.stderr.write(f"this home is the new device {device.handle} ({name}) of "
                     f"{handle_of(account)}; approve it on a device of the account with "
                     f"`p2psocial device add <token>` before {format_ms(expires)}\n")
    return 0


def _check_token_fields(device: Identity, account: bytes, name: str, addrs: list[str]) -> None:
    """Refuse a bad name or address before a home is made (make_token checks the same)."""
    make_token(device, account=account, name=name, expires=0, nonce=bytes(PAIR_NONCE_BYTES),
               addrs=addrs)


async def _listen_addrs(home: Home) -> list[str]:
    try:
        client = await ControlClient.open(home.control_socket)
    except NodeNotRunning:
        return []
    try:
        addrs: list[str] = await client.listen_addrs()
    finally:
        await client.close()
    return [a for a in addrs if "/p2p-circuit" not in a]


# --- add ------------------------------------------------------------------------------------


async def _add(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import open_api
    local = acct.require_account(home)
    parse_token(args.token)  # a malformed token is refused before the store is opened
    async with open_api(home) as api:
        pending = await devices.check_pairing(api, home, args.token)
        signer = passphrase.unlock_interactively(pending.doc)
        connect = api.connect if isinstance(api, ControlClient) else None
        reached = await devices.approve(api, pending, signer, admin=args.admin,
                                        connect=connect)
    token = pending.token
    if args.json:
        print(json.dumps({"added": handle_of(token.key), "name": token.name,
                          "admin": args.admin, "account": local.handle,
                          "reached": reached}, indent=2))
        return 0
    print(f"added {token.name} ({handle_of(token.key)}) to {local.handle}"
          + (" with the power to add and revoke devices" if args.admin else ""))
    if not reached:
        sys.stderr.write("note: the new device gets the news when it next syncs with a device "
                         "of the account (its posts count wherever the news arrives)\n")
    return 0


# --- list -----------------------------------------------------------------------------------


async def _list(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import open_api
    from p2psocial.runtime.local import require_identity
    mine = keyfile.public_key_of(require_identity(home))
    account = devices.home_account(home)
    async with open_api(home) as api:
        state, found = await devices.device_list(api, account, mine)
    if args.json:
        print(json.dumps([d.to_json() for d in found], indent=2))
        return 0
    for info in found:
        if info.role == devices.ROLE_DEVICE:
            print(_device_line(info))
    print(f"current devices: {sum(1 for info in found if info.counted)}")
    for info in found:
        if info.role != devices.ROLE_DEVICE:
            print(_key_line(info))
    if mine not in state.devices:
        print(f"(this device {handle_of(mine)} is not added yet: approve its pairing token "
              "on a device of the account)")
    return 0


def _device_line(info: devices.DeviceInfo) -> str:
    d = info.device
    added = format_ms(d.added_at) if d.added_at is not None else "from the start"
    status = "current" if d.current else f"revoked (entries up to seq {d.after} count)"
    marks = [m for m, on in (("this device", info.this_device), ("admin", d.admin)) if on]
    return (f"{info.name}  {info.handle}  added {added}  {status}  {info.held} entries held"
            + (f"  [{', '.join(marks)}]" if marks else ""))


def _key_line(info: devices.DeviceInfo) -> str:
    """An account key, apart from the devices: it signs the account's log; it counts as a
    device only if it posts (an upgraded single-key identity)."""
    d = info.device
    if info.role == devices.ROLE_FORMER_ACCOUNT_KEY:
        what = (f"replaced; {info.held} entries held, those up to seq {d.after} count"
                if info.held else "replaced")
    elif info.counted:
        what = f"signs the account's log and posts too; {info.held} entries held"
    else:
        what = "signs the account's log; not a device (posts nothing)"
    return (f"role: {info.role}  {info.handle}  {what}"
            + ("  [this device]" if info.this_device else ""))


# --- revoke ---------------------------------------------------------------------------------


async def _revoke(args: argparse.Namespace, home: Home) -> int:
    from p2psocial.cli.commands import open_api
    local = acct.require_account(home)
    async with open_api(home) as api:
        state, ops = await acct.load_state(api, local.account)
        acct.require_init(state)
        target = _find_device(state, args.device)
        if target.key == state.account_key:
            raise UsageError("that is the account key's own device: replace the account key "
                             "with `p2psocial account rotate` instead")
        if not target.current:
            raise UsageError(f"{handle_of(target.key)} is already revoked (entries up to seq "
                             f"{target.after} count)")
        after = args.after
        if after is None:
            after = (await api.feed(handle_of(target.key))).hi
        if not 0 <= after <= MAX_AFTER:
            raise UsageError(f"--after is a seq from 0 to {MAX_AFTER}")
        signer = acct.admin_signer(home, state)
        op = make_op(signer, account=local.account, op_type=OpType.REVOKE, key=target.key,
                     timestamp=acct.next_timestamp(state, ops), prev=state.tip, after=after)
        await acct.store_ops(api, [op])
    label = f"{target.name} ({handle_of(target.key)})" if target.name else handle_of(target.key)
    if args.json:
        print(json.dumps({"revoked": handle_of(target.key), "name": target.name,
                          "after": after, "account": local.handle}, indent=2))
    else:
        print(f"revoked {label}: its entries after seq {after} no longer count")
    return 0


def _find_device(state: AccountState, text: str) -> Device:
    named = [d for d in state.devices.values() if d.name == text]
    if len(named) > 1:
        raise UsageError(f"{len(named)} devices are named {text!r}: give the handle")
    if named:
        return named[0]
    try:
        key = parse_handle(text)
    except HandleError:
        raise UsageError(f"no device of this account is named {text!r} (see `p2psocial "
                         "device list`)") from None
    device = state.devices.get(key)
    if device is None:
        raise UsageError(f"{handle_of(key)} is not a device of this account")
    return device
