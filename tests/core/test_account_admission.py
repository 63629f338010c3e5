"""O5: which received ops a node keeps (core.account.admission), independent of arrival order."""

from __future__ import annotations

import itertools

from p2psocial.core.account.admission import admissible
from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.identity import Identity
from p2psocial.testing import identity_for

ACC = identity_for("adm-account")
REC = identity_for("adm-recovery")
NEW_REC = identity_for("adm-recovery-2")
DEV = identity_for("adm-device")
STRANGER = identity_for("adm-stranger")
A = ACC.public_key
T0 = 1_700_000_000_000


def op(signer: Identity, op_type: OpType, key: Identity, ts: int, prev: Op | None = None,
       *, account: bytes = A) -> Op:
    consent = (consent_for(key, account, op_type)
               if op_type in (OpType.ADD, OpType.ROTATE, OpType.RECOVERY) else None)
    return make_op(signer, account=account, op_type=op_type, key=key.public_key, timestamp=ts,
                   prev=None if prev is None else prev.hash, consent=consent,
                   after=0 if op_type is OpType.REVOKE else None)


GENESIS = op(ACC, OpType.INIT, REC, T0)
ADD_DEV = op(ACC, OpType.ADD, DEV, T0 + 1, GENESIS)
DEV_REVOKES_ITSELF = op(DEV, OpType.REVOKE, DEV, T0 + 2, ADD_DEV)  # signer named by an add
NEW_RECOVERY = op(REC, OpType.RECOVERY, NEW_REC, T0 + 3, ADD_DEV)
BY_NEW_RECOVERY = op(NEW_REC, OpType.REVOKE, DEV, T0 + 4, NEW_RECOVERY)
CHAIN = [GENESIS, ADD_DEV, DEV_REVOKES_ITSELF, NEW_RECOVERY, BY_NEW_RECOVERY]


def test_the_accounts_own_ops_are_kept_in_any_arrival_order() -> None:
    for order in itertools.permutations(CHAIN):
        assert {o.hash for o in admissible(A, [], order)} == {o.hash for o in CHAIN}


def test_held_ops_let_their_children_in() -> None:
    assert admissible(A, CHAIN[:2], CHAIN[2:]) == sorted(
        CHAIN[2:], key=lambda o: (o.timestamp, o.hash))


def test_a_strangers_op_is_dropped_even_on_a_held_parent() -> None:
    spam = op(STRANGER, OpType.ADD, identity_for("adm-spam"), T0 + 5, ADD_DEV)
    assert admissible(A, CHAIN, [spam]) == []


def test_an_orphan_and_other_accounts_ops_are_dropped() -> None:
    assert admissible(A, [], [ADD_DEV]) == []          # its parent is not held
    other = op(STRANGER, OpType.INIT, REC, T0, account=STRANGER.public_key)
    assert admissible(A, [], [other]) == []            # another account's op
    assert admissible(A, [GENESIS], [GENESIS]) == []   # held already: nothing new
