"""Which op `account rotate` builds on, and the account's log as `account show` lists it.

Rules (docs/protocol.md S6):
- Without `--undo`, the rotation follows the tip: it takes effect from there (after the
  recovery window, the only way left).
- With `--undo OP` (an op hash, or a prefix of at least 8 hex digits, of an applied op other
  than the `init`, as `account show` lists them), the rotation's `prev` is OP's `prev`: the
  last op before the first one to undo. Signed by the recovery key (priority 3), it wins
  over OP and every sibling (S6) while its timestamp is within RECOVERY_WINDOW of the
  earliest of them, so OP and everything after it no longer apply.
- Refused with one line: no op or several ops with that prefix, an op that does not apply,
  the `init`, or the window passed (then rotate at the tip and revoke the thief's devices).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from p2psocial.core.account.ops import RECOVERY_WINDOW_MS, Op
from p2psocial.core.account.state import AccountState
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import handle_of

MIN_PREFIX = 8


def rotation_base(state: AccountState, ops: Sequence[Op], undo: str | None, now_ms: int
                  ) -> tuple[bytes, int]:
    """(prev, timestamp) for a rotation: after the tip, or in place of the op `undo` names.

    Raises:
        UsageError: `undo` names no applied op after the init, or the window has passed.
    """
    by_hash = {op.hash: op for op in ops}
    if undo is None:
        if state.tip is None:
            raise UsageError("this home holds no log of the account yet")
        tip = by_hash.get(state.tip)
        return state.tip, max(now_ms, tip.timestamp if tip is not None else 0)
    target = _named_op(state, ops, undo)
    if target.prev is None:
        raise UsageError("the init cannot be undone (it names the recovery key)")
    parent = by_hash[target.prev]
    siblings = [op for op in ops if op.prev == target.prev]
    first = min(siblings, key=lambda op: (op.timestamp, op.hash))
    timestamp = max(now_ms, parent.timestamp)
    if timestamp > first.timestamp + RECOVERY_WINDOW_MS:
        raise UsageError(f"too late to undo op {target.hash.hex()[:12]}: the recovery window "
                         "(7 days) has passed; rotate without --undo and revoke the devices "
                         "you do not know")
    return target.prev, timestamp


def _named_op(state: AccountState, ops: Sequence[Op], undo: str) -> Op:
    text = undo.strip().lower()
    if len(text) < MIN_PREFIX or any(c not in string.hexdigits for c in text):
        raise UsageError(f"--undo takes an op hash (at least {MIN_PREFIX} hex digits, as "
                         "`p2psocial account show` lists them)")
    found = [op for op in ops if op.hash.hex().startswith(text)]
    if not found:
        raise UsageError(f"no op of this account held here starts with {text}")
    if len(found) > 1:
        raise UsageError(f"several ops start with {text}: give more digits")
    if found[0].hash not in state.applied:
        raise UsageError(f"op {text} does not apply (it was overridden): nothing to undo")
    return found[0]


def log_rows(state: AccountState, ops: Sequence[Op]) -> list[dict[str, Any]]:
    """The applied ops in chain order, for `account show`."""
    by_hash = {op.hash: op for op in ops}
    return [{"hash": h.hex(), "type": by_hash[h].type.value,
             "signer": handle_of(by_hash[h].signer), "key": handle_of(by_hash[h].key),
             "timestamp": by_hash[h].timestamp} for h in state.applied if h in by_hash]
