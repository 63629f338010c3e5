"""O2: the ops of a received OPS are checked by K1-K9 and their account; an invalid op is
`invalid-op` naming the rule, an op of another account `wrong-account`, and the valid ops
before the bad one are kept for storing."""

from __future__ import annotations

from p2psocial.core.account.ops import OpType, consent_for, make_op
from p2psocial.core.replication import Code
from p2psocial.core.replication.op_check import check_ops
from p2psocial.testing import identity_for

ACCOUNT, RECOVERY, DEVICE = (identity_for(n) for n in ("acct", "acct-recovery", "acct-dev"))
OTHER = identity_for("other-acct")
A = ACCOUNT.public_key
T = 1_700_000_000_000

INIT = make_op(ACCOUNT, account=A, op_type=OpType.INIT, key=RECOVERY.public_key, timestamp=T)
ADD = make_op(ACCOUNT, account=A, op_type=OpType.ADD, key=DEVICE.public_key, timestamp=T + 1,
              prev=INIT.hash, consent=consent_for(DEVICE, A, OpType.ADD), name="laptop")
OTHER_INIT = make_op(OTHER, account=OTHER.public_key, op_type=OpType.INIT,
                     key=RECOVERY.public_key, timestamp=T)


def test_valid_ops_pass() -> None:
    valid, error = check_ops(A, [INIT.raw, ADD.raw])
    assert error is None
    assert [op.hash for op in valid] == [INIT.hash, ADD.hash]


def test_a_bad_signature_is_invalid_op_naming_k8_and_keeps_the_ops_before_it() -> None:
    forged = ADD.raw[:-1] + bytes([ADD.raw[-1] ^ 1])
    valid, error = check_ops(A, [INIT.raw, forged, ADD.raw])
    assert [op.hash for op in valid] == [INIT.hash]
    assert error is not None and error.code == Code.INVALID_OP
    assert "[K8]" in error.detail and "op 2 of 3" in error.detail


def test_bytes_that_are_no_op_are_invalid_op() -> None:
    valid, error = check_ops(A, [b"\xa0"])
    assert valid == [] and error is not None and error.code == Code.INVALID_OP
    assert "[K" in error.detail


def test_an_op_of_another_account_is_wrong_account() -> None:
    valid, error = check_ops(A, [INIT.raw, OTHER_INIT.raw])
    assert [op.hash for op in valid] == [INIT.hash]
    assert error is not None and error.code == Code.WRONG_ACCOUNT


def test_duplicates_are_not_errors() -> None:
    valid, error = check_ops(A, [INIT.raw, INIT.raw])
    assert error is None and len(valid) == 2
