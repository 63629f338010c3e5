"""Which received account ops a node keeps (docs/protocol.md §Account ops in sessions, O5).

Rules:
- O5. Anyone can sign an op that passes K1-K9 (with their own key, for any account), so the
  stateless rules alone would let a stranger fill a node's store, and everyone it serves, with
  ops that can never apply. A node keeps an op only if it hangs on the account's tree and its
  signer is a key of the account:
  - an `init` is kept (K5 already requires its signer to be the account id);
  - any other op is kept if its `prev` names an op held or kept, and its signer is a key that
    held or kept ops name: the account id, the `key` of an `init` or a `recovery` (recovery
    keys), or the `key` of an `add` or a `rotate` (devices, account keys).
  Everything else is dropped: not stored, not served, not an error (it may be a stranger's
  noise, or an op whose parent this node has not got).
- New ops are taken in (timestamp, op hash) order, the order O1 sends them in, and taken again
  until no more is kept, so the order they arrive in within one batch does not matter.
- Keeping is not applying: resolution (state.py) still decides what applies. A thief's ops
  signed with a key the account really had are kept, and stay as proof when overridden.
"""

from __future__ import annotations

from collections.abc import Iterable

from p2psocial.core.account.ops import Op, OpType

__all__ = ["admissible"]

_NAMING = frozenset({OpType.INIT, OpType.RECOVERY, OpType.ADD, OpType.ROTATE})


def admissible(account: bytes, held: Iterable[Op], new: Iterable[Op]) -> list[Op]:
    """The ops of `new` that a node holding `held` (ops of `account`) keeps, by O5."""
    kept: set[bytes] = set()
    keys = {account}
    for op in held:
        kept.add(op.hash)
        _learn(keys, op)
    pending = sorted({op.hash: op for op in new
                      if op.account == account and op.hash not in kept}.values(),
                     key=lambda op: (op.timestamp, op.hash))
    out: list[Op] = []
    progress = True
    while pending and progress:
        progress = False
        rest: list[Op] = []
        for op in pending:
            if _fits(op, kept, keys):
                out.append(op)
                kept.add(op.hash)
                _learn(keys, op)
                progress = True
            else:
                rest.append(op)
        pending = rest
    return out


def _fits(op: Op, kept: set[bytes], keys: set[bytes]) -> bool:
    if op.type is OpType.INIT:
        return True
    return op.prev in kept and op.signer in keys


def _learn(keys: set[bytes], op: Op) -> None:
    if op.type in _NAMING:
        keys.add(op.key)
