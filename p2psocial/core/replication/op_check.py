"""Checking the ops of a received OPS message (spec O2).

Rules:
- Each op is decoded by the stateless rules K1-K9 (core.account.ops.decode_op), in order.
- An op that breaks one is INVALID_OP, the detail naming the rule ("op 2 of 3: [K8] ..."); an op of
  another account than the message's is WRONG_ACCOUNT. Both are protocol violations.
- The ops before the first bad one are valid and are returned with the error: the driver
  stores them (as it stores the entries before an invalid one) and then fails the session.
- Ops already held are not errors (harmless duplicates): that is for the store to see.
"""

from __future__ import annotations

from collections.abc import Sequence

from p2psocial.core.account.ops import Op, decode_op
from p2psocial.core.errors import ProtocolError, ValidationError
from p2psocial.core.replication.codes import Code

MAX_DETAIL = 200


def check_ops(account: bytes, ops: Sequence[bytes]) -> tuple[list[Op], ProtocolError | None]:
    """The valid ops of an OPS message of `account`, up to the first bad one, and the error
    for that one (None if every op is valid)."""
    valid: list[Op] = []
    for index, raw in enumerate(ops):
        try:
            op = decode_op(raw)
        except ValidationError as exc:
            detail = f"op {index + 1} of {len(ops)}: {exc}"  # str(exc): "[K8] ..."
            return valid, ProtocolError(Code.INVALID_OP, detail[:MAX_DETAIL])
        if op.account != account:
            return valid, ProtocolError(
                Code.WRONG_ACCOUNT, f"op {index + 1} of {len(ops)} is of account "
                f"{op.account.hex()[:16]}…, not {account.hex()[:16]}…")
        valid.append(op)
    return valid, None
