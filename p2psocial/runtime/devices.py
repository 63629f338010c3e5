"""My account's devices: the resolved state, the list of devices, and adding one by its
pairing token. Shared by the CLI (`device add`, `device list`, the account verbs) and the UI.

Rules:
- Everything goes through a user API: the Service in this process, a ControlClient to the
  running node, or the UI's backend; anything with `account_ops`, `add_account_ops` and
  `feed` (async). The state is resolved here (core.account.resolve) from the ops it holds.
- An op's timestamp is now, but never below its parent's (S3).
- Adding and revoking devices is signed, in this order of preference, by the account key if
  this home holds it (account-key.json, or key.json for an upgraded single-key identity),
  else by this device's key if the account gave it `admin`; otherwise one line says where to
  go. The caller unlocks the key document (a terminal prompt, a dialog): nothing here asks.
- A token is checked (expired, another account, consent, already a device or barred) before
  anything is signed; nothing is stored on a refusal.
- In a list, each key has a role: "device" (added by an `add`), "account key" (the current
  one) or "former account key" (the account id or a key a `rotate` replaced). The account key
  signs the account's log and is counted as a device only if it posts: its own feed has
  entries here, or it is this home's key (a single-key identity upgraded to an account).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from p2psocial.core.account.ops import Op, OpType, decode_op, make_op
from p2psocial.core.account.pairing import PairingToken, check_token, parse_token
from p2psocial.core.account.state import AccountState, Device, resolve
from p2psocial.core.errors import NetError, UsageError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.account_home import account_key_doc, read_account
from p2psocial.store import keyfile
from p2psocial.store.home import Home

UserAPI = Any  # Service, ControlClient or the UI backend (see the module rules)
Connect = Callable[[str], Awaitable[Any]]


def now_ms() -> int:
    """The wall clock in unix milliseconds."""
    return time.time_ns() // 1_000_000


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


def signing_doc(home: Home, state: AccountState) -> dict[str, Any]:
    """The key document of `home` that may add and revoke devices of `state`'s account
    (still sealed: the caller unlocks it)."""
    sealed = account_key_doc(home)
    if sealed is not None and keyfile.public_key_of(sealed) == state.account_key:
        return sealed
    doc = keyfile.read_doc(home.key_file)
    if state.priority(keyfile.public_key_of(doc)) > 0:
        return doc
    raise UsageError("this device has no power to add or revoke devices: run it on the "
                     "device that holds the account key or one added with --admin, or use "
                     "the recovery phrase (`p2psocial recover`)")


# --- listing --------------------------------------------------------------------------------


ROLE_DEVICE = "device"
ROLE_ACCOUNT_KEY = "account key"
ROLE_FORMER_ACCOUNT_KEY = "former account key"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One key of an account's device list as a person reads it."""

    device: Device
    held: int  # the newest seq of its feed held here (0: none)
    account_key: bool  # the account key's own device
    this_device: bool
    role: str = ROLE_DEVICE  # see the module rules

    @property
    def counted(self) -> bool:
        """A current device that counts as one: any added device, and an account key only
        when it posts (see the module rules)."""
        return self.device.current and (self.role == ROLE_DEVICE or self.this_device
                                         or self.held > 0)

    @property
    def handle(self) -> str:
        return handle_of(self.device.key)

    @property
    def name(self) -> str:
        """Its name; an account key (current or former) and an unnamed device are named for
        what they are."""
        return self.device.name or (self.role if self.role != ROLE_DEVICE else "unnamed")

    @property
    def admin(self) -> bool:
        return self.device.admin or self.account_key

    def to_json(self) -> dict[str, Any]:
        d = self.device
        return {"name": d.name, "role": self.role, "handle": self.handle, "key": d.key.hex(),
                "added": d.added_at, "status": "current" if d.current else "revoked",
                "after": d.after, "admin": self.admin, "account_key": self.account_key,
                "this_device": self.this_device, "held": self.held}


async def device_list(api: UserAPI, account: bytes, mine: bytes
                      ) -> tuple[AccountState, list[DeviceInfo]]:
    """The account's state and every device it ever had (revoked ones too), oldest first,
    each with the newest seq of its feed held here; `mine` is this device's key."""
    state, ops = await load_state(api, account)
    devices = sorted(state.devices.values(),
                     key=lambda d: (d.added_at or 0, d.key != state.account_key, d.key))
    former = _account_keys(state, ops)
    out = [DeviceInfo(device=d, held=(await api.feed(handle_of(d.key))).hi,
                      account_key=d.key == state.account_key, this_device=d.key == mine,
                      role=(ROLE_ACCOUNT_KEY if d.key == state.account_key else
                            ROLE_FORMER_ACCOUNT_KEY if d.key in former else ROLE_DEVICE))
           for d in devices]
    return state, out


def _account_keys(state: AccountState, ops: Sequence[Op]) -> frozenset[bytes]:
    """Every key that was the account key: the account id and each applied rotation's key."""
    applied = set(state.applied)
    return frozenset({state.account, *(op.key for op in ops
                                       if op.type is OpType.ROTATE and op.hash in applied)})


async def device_count(api: UserAPI, state: AccountState, mine: bytes | None = None) -> int:
    """How many current devices `state`'s account has, the account key counted only if it
    posts (its feed has entries here, or it is `mine`, this home's key)."""
    added = sum(1 for d in state.current_devices() if d.key != state.account_key)
    key = state.account_key
    posts = key == mine or (await api.feed(handle_of(key))).hi > 0
    return added + (1 if posts else 0)


def home_account(home: Home) -> bytes:
    """The account this home's device belongs to: account.json's, else its own key (a
    single-key identity)."""
    local = read_account(home)
    return local.account if local is not None else device_key(home)


# --- pairing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingAdd:
    """A pairing token checked against the account's state, and the key that may sign the
    `add` (still sealed)."""

    token: PairingToken
    state: AccountState
    ops: list[Op]
    doc: dict[str, Any]

    @property
    def encrypted(self) -> bool:
        """The signing key needs its passphrase."""
        return keyfile.is_encrypted(self.doc)


async def check_pairing(api: UserAPI, home: Home, text: str) -> PendingAdd:
    """Check a pairing token for this home's account; raises PairingError or UsageError
    (one line each) if it cannot be approved here."""
    local = read_account(home)
    if local is None:
        raise UsageError("this home is a single-key identity, not an account: run "
                         "`p2psocial account upgrade` first")
    token = parse_token(text.strip())
    state, ops = await load_state(api, local.account)
    check_token(token, my_account=local.account, state=state, now_ms=now_ms())
    require_init(state)
    return PendingAdd(token=token, state=state, ops=ops, doc=signing_doc(home, state))


async def approve(api: UserAPI, pending: PendingAdd, signer: Identity, *, admin: bool,
                  connect: Connect | None = None) -> bool:
    """Sign the `add` of the token's device with `signer` (the unlocked `pending.doc`), store
    it, and dial the device if `connect` is given (a running node); True if a dial worked."""
    if signer.public_key != keyfile.public_key_of(pending.doc):
        raise UsageError("that key cannot sign for this account")
    state, token = pending.state, pending.token
    op = make_op(signer, account=state.account, op_type=OpType.ADD, key=token.key,
                 timestamp=next_timestamp(state, pending.ops), prev=state.tip,
                 consent=token.consent, name=token.name, admin=admin)
    await store_ops(api, [op])
    return False if connect is None else await reach(connect, token.key, token.addrs)


async def reach(connect: Connect, key: bytes, addrs: Sequence[str]) -> bool:
    """Dial a new device at the addresses of its token; True if a dial succeeded."""
    suffix = "/p2p/" + handle_of(key)
    for addr in addrs:
        try:
            await connect(addr if "/p2p/" in addr else addr + suffix)
        except (NetError, UsageError):
            continue
        return True
    return False
