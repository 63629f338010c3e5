"""Resolving an account's state from the ops held (docs/protocol.md §Resolving an account).

Rules:
- S1. Before any `init` the state is implicit: account key = account id, no recovery key,
  one device (the account id, counting entirely, `admin`). The genesis is the `init` with the
  lowest (timestamp, op hash); it sets the recovery key. Other inits are ignored; without an
  init no op applies.
- S2. From the genesis, each step takes the children of the current op (ops whose prev is its
  hash) that are applicable to the state so far; none: the current op is the tip; else one
  wins (S6), is applied and becomes current. Losers and every op below them are overridden.
- S3. Applicable: timestamp not below the parent's; the signer holds the power (add/revoke:
  the account key, the recovery key, a current device with `admin`; rotate/recovery: the
  recovery key); add: the key is no device, not the account or recovery key, not barred;
  revoke: the key is a current device other than the account key; rotate: the key is not the
  recovery key, not barred, not the account key; recovery: the key is no device, not barred,
  not the account key nor the recovery key.
- S4. Apply: add joins a device; revoke sets its `after` and bars it (its name and `admin`
  stay recorded; a revoked device has no power); rotate makes the old account key a revoked,
  barred device with `after` (absent: MAX_AFTER) and the new key the account key and a device
  with `admin`; recovery replaces the recovery key and bars the old one.
- S5/S6. Priority: recovery key 3, account key 2, current admin device 1. Among the children
  of one op, with `first` the earliest (timestamp, op hash), the winner is the highest
  priority child whose timestamp is at most first's + RECOVERY_WINDOW_MS; ties: earliest.
- S7. An entry (feed, seq) counts if the feed is a device and seq <= its `after` (if any).
- The result depends only on the set of ops (order and duplicates do not matter). Resolving
  walks the chain once with a mutable builder, so a few hundred ops take well under 10 ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from p2psocial.core.account.ops import MAX_AFTER, RECOVERY_WINDOW_MS, Op, OpType

__all__ = ["MAX_AFTER", "AccountState", "Device", "implicit_state", "resolve"]


@dataclass(frozen=True, slots=True)
class Device:
    """A device of an account. `after` None: counts entirely and is current; an int: revoked,
    its entries with seq <= after count. `added_at`: the timestamp of the op that made it a
    device (None for the implicit account-key device)."""

    key: bytes
    name: str | None
    admin: bool
    after: int | None
    added_at: int | None

    @property
    def current(self) -> bool:
        """Not revoked."""
        return self.after is None


@dataclass(frozen=True, slots=True)
class AccountState:
    """The resolved state of one account (see the module rules)."""

    account: bytes
    account_key: bytes
    recovery_key: bytes | None
    devices: Mapping[bytes, Device]  # every device ever applied, revoked ones included
    barred: frozenset[bytes]
    tip: bytes | None  # hash of the last applied op (None: no init)
    applied: tuple[bytes, ...]  # op hashes in chain order
    overridden: frozenset[bytes] = field(default=frozenset())

    def counts(self, feed: bytes, seq: int) -> bool:
        """S7: entry `seq` of `feed` counts as this account's."""
        device = self.devices.get(feed)
        return device is not None and (device.after is None or seq <= device.after)

    def member_feeds(self) -> frozenset[bytes]:
        """The device feeds of which some entry counts (after None or > 0)."""
        return frozenset(k for k, d in self.devices.items() if d.after is None or d.after > 0)

    def current_devices(self) -> tuple[Device, ...]:
        """The devices not revoked, in the order they joined."""
        return tuple(d for d in self.devices.values() if d.after is None)

    def can_add(self, key: bytes) -> bool:
        """`key` has the power to add and revoke devices."""
        return self.priority(key) > 0

    def priority(self, key: bytes) -> int:
        """S5: 3 for the recovery key, 2 for the account key, 1 for a current admin device,
        else 0 (no power)."""
        return _priority(key, self.account_key, self.recovery_key, self.devices)


def _priority(key: bytes, account_key: bytes, recovery_key: bytes | None,
              devices: Mapping[bytes, Device]) -> int:
    if key == recovery_key:
        return 3
    if key == account_key:
        return 2
    device = devices.get(key)
    return 1 if device is not None and device.admin and device.after is None else 0


def implicit_state(account: bytes) -> AccountState:
    """S1: a single-key identity's state, before any init."""
    device = Device(key=account, name=None, admin=True, after=None, added_at=None)
    return AccountState(account=account, account_key=account, recovery_key=None,
                        devices=MappingProxyType({account: device}), barred=frozenset(),
                        tip=None, applied=())


def resolve(account: bytes, ops: Iterable[Op]) -> AccountState:
    """The state of `account` from the ops held (S1-S6). Ops of other accounts are ignored."""
    held: dict[bytes, Op] = {op.hash: op for op in ops if op.account == account}
    inits = [op for op in held.values() if op.type is OpType.INIT]
    if not inits:
        return implicit_state(account)
    children: dict[bytes, list[Op]] = {}
    for op in held.values():
        if op.prev is not None:
            children.setdefault(op.prev, []).append(op)
    genesis = min(inits, key=_earliest)
    walk = _Walk(account, genesis.key)
    current = genesis
    applied = [genesis.hash]
    losers: list[Op] = []
    while True:
        candidates = [op for op in children.get(current.hash, ())
                      if op.timestamp >= current.timestamp and walk.applicable(op)]
        if not candidates:
            break
        winner = _winner(candidates, walk)
        losers.extend(op for op in candidates if op is not winner)
        walk.apply(winner)
        applied.append(winner.hash)
        current = winner
    return AccountState(account=account, account_key=walk.account_key,
                        recovery_key=walk.recovery_key,
                        devices=MappingProxyType(walk.devices), barred=frozenset(walk.barred),
                        tip=current.hash, applied=tuple(applied),
                        overridden=_below(losers, children))


def _earliest(op: Op) -> tuple[int, bytes]:
    return op.timestamp, op.hash


def _winner(candidates: list[Op], walk: _Walk) -> Op:
    """S6: the highest priority child within the window of the first; ties: the earliest."""
    first = min(candidates, key=_earliest)
    end = first.timestamp + RECOVERY_WINDOW_MS
    return min((op for op in candidates if op.timestamp <= end),
               key=lambda op: (-walk.priority(op.signer), op.timestamp, op.hash))


def _below(losers: list[Op], children: Mapping[bytes, list[Op]]) -> frozenset[bytes]:
    """The losers and every op that hangs below one of them."""
    found: set[bytes] = set()
    stack = list(losers)
    while stack:
        op = stack.pop()
        if op.hash not in found:
            found.add(op.hash)
            stack.extend(children.get(op.hash, ()))
    return frozenset(found)


class _Walk:
    """The state while the chain is walked: mutable, frozen into an AccountState at the end."""

    __slots__ = ("account_key", "barred", "devices", "recovery_key")

    def __init__(self, account: bytes, recovery_key: bytes) -> None:
        self.account_key = account
        self.recovery_key = recovery_key
        self.devices = {account: Device(key=account, name=None, admin=True, after=None,
                                        added_at=None)}
        self.barred: set[bytes] = set()

    def priority(self, key: bytes) -> int:
        return _priority(key, self.account_key, self.recovery_key, self.devices)

    def _fresh(self, key: bytes) -> bool:
        """Not a device (even revoked), not barred, not the account or recovery key."""
        return (key not in self.devices and key not in self.barred
                and key not in (self.account_key, self.recovery_key))

    def applicable(self, op: Op) -> bool:
        """S3, but for the timestamp (compared with the parent by the caller)."""
        key = op.key
        if op.type is OpType.ADD:
            return self.priority(op.signer) > 0 and self._fresh(key)
        if op.type is OpType.REVOKE:
            device = self.devices.get(key)
            return (self.priority(op.signer) > 0 and device is not None
                    and device.after is None and key != self.account_key)
        if op.type is OpType.ROTATE:
            return (op.signer == self.recovery_key and key != self.recovery_key
                    and key not in self.barred and key != self.account_key)
        if op.type is OpType.RECOVERY:
            return op.signer == self.recovery_key and self._fresh(key)
        return False  # a second init

    def apply(self, op: Op) -> None:
        """S4."""
        key = op.key
        if op.type is OpType.ADD:
            self.devices[key] = Device(key=key, name=op.name, admin=op.admin, after=None,
                                       added_at=op.timestamp)
        elif op.type is OpType.REVOKE:
            self._revoke(key, op.after if op.after is not None else 0)
        elif op.type is OpType.ROTATE:
            self._revoke(self.account_key, op.after if op.after is not None else MAX_AFTER)
            old = self.devices.get(key)
            self.devices[key] = (replace(old, admin=True) if old is not None else
                                 Device(key=key, name=None, admin=True, after=None,
                                        added_at=op.timestamp))
            self.account_key = key
        elif op.type is OpType.RECOVERY:
            self.barred.add(self.recovery_key)
            self.recovery_key = key

    def _revoke(self, key: bytes, after: int) -> None:
        self.devices[key] = replace(self.devices[key], after=after)
        self.barred.add(key)
