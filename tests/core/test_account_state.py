"""Resolving an account (docs/protocol.md §Resolving an account, S1-S7): the implicit state,
init, adds, revokes with `after`, rotation, recovery, priority and the 7-day window, and that
the result depends only on the set of ops held (a Hypothesis property over permutations).
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core.account.ops import (
    NEEDS_CONSENT,
    RECOVERY_WINDOW_MS,
    Op,
    OpType,
    consent_for,
    make_op,
)
from p2psocial.core.account.state import (
    MAX_AFTER,
    AccountState,
    Device,
    implicit_state,
    resolve,
)
from p2psocial.core.identity import Identity
from p2psocial.testing import identity_for

OWNER = identity_for("alice")  # the account key
ACCOUNT = OWNER.public_key
RECOVERY = identity_for("recovery")
LAPTOP = identity_for("bob")
PHONE = identity_for("carol")
TABLET = identity_for("dave")
THIEF = identity_for("thief")
NEW_KEY = identity_for("new account key")
NEW_RECOVERY = identity_for("new recovery key")
TS = 1_700_000_000_000
DAY = 86_400_000


def op(signer: Identity, op_type: OpType, subject: Identity, prev: Op | None, ts: int,
       **kw: Any) -> Op:
    """A signed op of ACCOUNT; the subject's consent is added where the type needs it."""
    consent = consent_for(subject, ACCOUNT, op_type) if op_type in NEEDS_CONSENT else None
    return make_op(signer, account=ACCOUNT, op_type=op_type, key=subject.public_key,
                   timestamp=ts, prev=None if prev is None else prev.hash, consent=consent,
                   **kw)


INIT = op(OWNER, OpType.INIT, RECOVERY, None, TS)
ADD_LAPTOP = op(OWNER, OpType.ADD, LAPTOP, INIT, TS + 1, name="laptop", admin=True)
ADD_PHONE = op(LAPTOP, OpType.ADD, PHONE, ADD_LAPTOP, TS + 2, name="phone")


def test_implicit_state() -> None:
    state = resolve(ACCOUNT, [])
    assert state == implicit_state(ACCOUNT)
    assert (state.account, state.account_key, state.recovery_key) == (ACCOUNT, ACCOUNT, None)
    assert dict(state.devices) == {ACCOUNT: Device(ACCOUNT, None, True, None, None)}
    assert (state.tip, state.applied, state.barred, state.overridden) == (
        None, (), frozenset(), frozenset())
    assert state.counts(ACCOUNT, 1) and state.counts(ACCOUNT, MAX_AFTER)
    assert not state.counts(LAPTOP.public_key, 1)
    assert state.member_feeds() == {ACCOUNT}
    assert state.can_add(ACCOUNT) and state.priority(ACCOUNT) == 2
    assert [d.key for d in state.current_devices()] == [ACCOUNT]


def test_without_an_init_nothing_applies() -> None:
    # an add hanging on an init this node does not hold
    state = resolve(ACCOUNT, [ADD_LAPTOP, ADD_PHONE])
    assert state == implicit_state(ACCOUNT)


def test_init_sets_the_recovery_key() -> None:
    state = resolve(ACCOUNT, [INIT])
    assert state.recovery_key == RECOVERY.public_key
    assert state.account_key == ACCOUNT
    assert (state.tip, state.applied) == (INIT.hash, (INIT.hash,))
    assert state.priority(RECOVERY.public_key) == 3
    assert state.priority(ACCOUNT) == 2
    assert list(state.devices) == [ACCOUNT]


def test_add_by_account_key_and_by_admin_device() -> None:
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE])
    assert state.tip == ADD_PHONE.hash
    assert state.applied == (INIT.hash, ADD_LAPTOP.hash, ADD_PHONE.hash)
    assert state.devices[LAPTOP.public_key] == Device(LAPTOP.public_key, "laptop", True, None,
                                                      TS + 1)
    assert state.devices[PHONE.public_key] == Device(PHONE.public_key, "phone", False, None,
                                                     TS + 2)
    assert state.priority(LAPTOP.public_key) == 1 and state.can_add(LAPTOP.public_key)
    assert state.priority(PHONE.public_key) == 0 and not state.can_add(PHONE.public_key)
    assert state.member_feeds() == {ACCOUNT, LAPTOP.public_key, PHONE.public_key}
    assert state.counts(PHONE.public_key, 1)
    assert [d.key for d in state.current_devices()] == [
        ACCOUNT, LAPTOP.public_key, PHONE.public_key]


def test_recovery_key_can_add() -> None:
    add = op(RECOVERY, OpType.ADD, TABLET, INIT, TS + 1)
    assert TABLET.public_key in resolve(ACCOUNT, [INIT, add]).devices


def test_non_admin_device_cannot_add() -> None:
    by_phone = op(PHONE, OpType.ADD, TABLET, ADD_PHONE, TS + 3)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, by_phone])
    assert TABLET.public_key not in state.devices
    assert state.tip == ADD_PHONE.hash
    assert by_phone.hash not in state.overridden  # never applicable: not a contender
    revoke = op(PHONE, OpType.REVOKE, LAPTOP, ADD_PHONE, TS + 3, after=0)
    assert resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, revoke]).tip == ADD_PHONE.hash


def test_a_device_cannot_be_added_twice_nor_be_the_recovery_key() -> None:
    again = op(OWNER, OpType.ADD, LAPTOP, ADD_PHONE, TS + 3)
    recovery = op(OWNER, OpType.ADD, RECOVERY, ADD_PHONE, TS + 3)
    own = op(OWNER, OpType.ADD, OWNER, ADD_PHONE, TS + 3)
    for bad in (again, recovery, own):
        assert resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, bad]).tip == ADD_PHONE.hash


def test_revoke_with_after_and_what_counts() -> None:
    revoke = op(LAPTOP, OpType.REVOKE, PHONE, ADD_PHONE, TS + 3, after=7)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, revoke])
    phone = state.devices[PHONE.public_key]
    assert phone == Device(PHONE.public_key, "phone", False, 7, TS + 2)
    assert not phone.current
    assert state.counts(PHONE.public_key, 1) and state.counts(PHONE.public_key, 7)
    assert not state.counts(PHONE.public_key, 8)
    assert PHONE.public_key in state.barred
    assert PHONE.public_key in state.member_feeds()
    assert [d.key for d in state.current_devices()] == [ACCOUNT, LAPTOP.public_key]
    # after = 0: nothing counts, and it is no member feed
    none = op(LAPTOP, OpType.REVOKE, PHONE, ADD_PHONE, TS + 3, after=0)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, none])
    assert not state.counts(PHONE.public_key, 1)
    assert PHONE.public_key not in state.member_feeds()


def test_a_revoked_admin_device_loses_its_power() -> None:
    revoke = op(OWNER, OpType.REVOKE, LAPTOP, ADD_PHONE, TS + 3, after=2)
    by_laptop = op(LAPTOP, OpType.ADD, TABLET, revoke, TS + 4)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, revoke, by_laptop])
    assert state.tip == revoke.hash
    assert state.devices[LAPTOP.public_key].admin  # on record, but no power
    assert state.priority(LAPTOP.public_key) == 0 and not state.can_add(LAPTOP.public_key)


def test_the_account_key_and_revoked_devices_cannot_be_revoked() -> None:
    own = op(LAPTOP, OpType.REVOKE, OWNER, ADD_PHONE, TS + 3, after=0)
    assert resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, own]).tip == ADD_PHONE.hash
    first = op(OWNER, OpType.REVOKE, PHONE, ADD_PHONE, TS + 3, after=5)
    again = op(OWNER, OpType.REVOKE, PHONE, first, TS + 4, after=9)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, first, again])
    assert state.tip == first.hash and state.devices[PHONE.public_key].after == 5


def test_barred_keys_are_never_added_again() -> None:
    revoke = op(OWNER, OpType.REVOKE, PHONE, ADD_PHONE, TS + 3, after=1)
    re_add = op(OWNER, OpType.ADD, PHONE, revoke, TS + 4)
    re_rotate = op(RECOVERY, OpType.ROTATE, PHONE, revoke, TS + 4)
    re_recovery = op(RECOVERY, OpType.RECOVERY, PHONE, revoke, TS + 4)
    for bad in (re_add, re_rotate, re_recovery):
        state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, revoke, bad])
        assert state.tip == revoke.hash
        assert state.devices[PHONE.public_key].after == 1


def test_rotate_by_the_recovery_key() -> None:
    rotate = op(RECOVERY, OpType.ROTATE, NEW_KEY, ADD_PHONE, TS + 3, after=40)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, rotate])
    assert state.account == ACCOUNT and state.account_key == NEW_KEY.public_key
    assert state.devices[ACCOUNT] == Device(ACCOUNT, None, True, 40, None)
    assert state.counts(ACCOUNT, 40) and not state.counts(ACCOUNT, 41)
    assert ACCOUNT in state.barred
    assert state.devices[NEW_KEY.public_key] == Device(NEW_KEY.public_key, None, True, None,
                                                       TS + 3)
    assert state.priority(NEW_KEY.public_key) == 2 and state.priority(ACCOUNT) == 0
    # the old account key has no power left; the new one has
    by_old = op(OWNER, OpType.ADD, TABLET, rotate, TS + 4)
    assert resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, rotate, by_old]).tip == rotate.hash
    by_new = op(NEW_KEY, OpType.ADD, TABLET, rotate, TS + 4)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, rotate, by_new])
    assert state.tip == by_new.hash


def test_rotate_without_after_keeps_the_whole_old_feed() -> None:
    rotate = op(RECOVERY, OpType.ROTATE, NEW_KEY, INIT, TS + 3)
    state = resolve(ACCOUNT, [INIT, rotate])
    assert state.devices[ACCOUNT].after == MAX_AFTER
    assert state.counts(ACCOUNT, MAX_AFTER)
    assert state.member_feeds() == {ACCOUNT, NEW_KEY.public_key}


def test_rotate_onto_a_device_keeps_its_name() -> None:
    rotate = op(RECOVERY, OpType.ROTATE, PHONE, ADD_PHONE, TS + 3, after=0)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, ADD_PHONE, rotate])
    assert state.account_key == PHONE.public_key
    assert state.devices[PHONE.public_key] == Device(PHONE.public_key, "phone", True, None,
                                                     TS + 2)
    assert ACCOUNT not in state.member_feeds()


def test_only_the_recovery_key_rotates() -> None:
    by_owner = op(OWNER, OpType.ROTATE, NEW_KEY, INIT, TS + 1)
    by_laptop = op(LAPTOP, OpType.RECOVERY, NEW_RECOVERY, ADD_LAPTOP, TS + 2)
    assert resolve(ACCOUNT, [INIT, by_owner]).tip == INIT.hash
    assert resolve(ACCOUNT, [INIT, ADD_LAPTOP, by_laptop]).tip == ADD_LAPTOP.hash


def test_recovery_key_replaced() -> None:
    replace = op(RECOVERY, OpType.RECOVERY, NEW_RECOVERY, INIT, TS + 1)
    state = resolve(ACCOUNT, [INIT, replace])
    assert state.recovery_key == NEW_RECOVERY.public_key
    assert RECOVERY.public_key in state.barred
    assert state.priority(RECOVERY.public_key) == 0
    by_old = op(RECOVERY, OpType.ROTATE, NEW_KEY, replace, TS + 2)
    by_new = op(NEW_RECOVERY, OpType.ROTATE, NEW_KEY, replace, TS + 2)
    assert resolve(ACCOUNT, [INIT, replace, by_old]).tip == replace.hash
    assert resolve(ACCOUNT, [INIT, replace, by_new]).account_key == NEW_KEY.public_key


def test_two_admin_devices_adding_at_once() -> None:
    add_tablet = op(OWNER, OpType.ADD, TABLET, ADD_LAPTOP, TS + 2, admin=True)
    by_laptop = op(LAPTOP, OpType.ADD, PHONE, add_tablet, TS + 3)
    by_tablet = op(TABLET, OpType.ADD, THIEF, add_tablet, TS + 3)
    ops = [INIT, ADD_LAPTOP, add_tablet, by_laptop, by_tablet]
    state = resolve(ACCOUNT, ops)
    first, second = sorted((by_laptop, by_tablet), key=lambda o: o.hash)
    assert state.tip == first.hash
    assert state.overridden == {second.hash}
    assert first.key in state.devices and second.key not in state.devices
    assert resolve(ACCOUNT, list(reversed(ops))) == state


def test_the_earlier_of_equal_priority_wins_and_higher_priority_beats_earlier() -> None:
    by_laptop = op(LAPTOP, OpType.ADD, PHONE, ADD_LAPTOP, TS + 5)
    by_owner = op(OWNER, OpType.ADD, TABLET, ADD_LAPTOP, TS + 6)
    later_laptop = op(LAPTOP, OpType.ADD, THIEF, ADD_LAPTOP, TS + 7)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, by_laptop, by_owner, later_laptop])
    assert state.tip == by_owner.hash
    assert state.overridden == {by_laptop.hash, later_laptop.hash}


def test_an_op_older_than_its_parent_is_not_applicable() -> None:
    early = op(OWNER, OpType.ADD, PHONE, ADD_LAPTOP, TS)  # ADD_LAPTOP is at TS + 1
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, early])
    assert state.tip == ADD_LAPTOP.hash and PHONE.public_key not in state.devices
    same = op(OWNER, OpType.ADD, PHONE, ADD_LAPTOP, TS + 1)  # equal is fine
    assert resolve(ACCOUNT, [INIT, ADD_LAPTOP, same]).tip == same.hash


def test_a_second_init_is_ignored() -> None:
    other = op(OWNER, OpType.INIT, THIEF, None, TS + 10)
    below = op(OWNER, OpType.ADD, TABLET, other, TS + 11)
    state = resolve(ACCOUNT, [INIT, ADD_LAPTOP, other, below])
    assert state.recovery_key == RECOVERY.public_key
    assert state.tip == ADD_LAPTOP.hash and TABLET.public_key not in state.devices
    assert state.overridden == frozenset()
    # the genesis is the earliest init, whatever arrives first
    assert resolve(ACCOUNT, [other, below]).recovery_key == THIEF.public_key
    assert resolve(ACCOUNT, [other, below, INIT]).recovery_key == RECOVERY.public_key
    # same timestamp: the lowest op hash
    twin = op(OWNER, OpType.INIT, THIEF, None, TS)
    genesis = min((INIT, twin), key=lambda o: o.hash)
    assert resolve(ACCOUNT, [INIT, twin]).tip == genesis.hash


def test_ops_of_other_accounts_are_ignored() -> None:
    other = make_op(LAPTOP, account=LAPTOP.public_key, op_type=OpType.INIT,
                    key=RECOVERY.public_key, timestamp=TS)
    assert resolve(ACCOUNT, [other]) == implicit_state(ACCOUNT)
    assert resolve(ACCOUNT, [INIT, other]) == resolve(ACCOUNT, [INIT])


# --- the thief and the recovery window ------------------------------------------------------


def _thief_ops(rescue_at: int) -> tuple[list[Op], Op, Op, Op]:
    """The thief, holding the account key, adds a device and revokes the owner's laptop; the
    owner rotates the account key with the recovery key, hanging on the last op before."""
    steal = op(OWNER, OpType.ADD, THIEF, ADD_PHONE, TS + DAY, admin=True)
    oust = op(THIEF, OpType.REVOKE, LAPTOP, steal, TS + DAY + 1, after=0)
    rescue = op(RECOVERY, OpType.ROTATE, NEW_KEY, ADD_PHONE, rescue_at, after=3)
    return [INIT, ADD_LAPTOP, ADD_PHONE, steal, oust, rescue], steal, oust, rescue


def test_recovery_overrides_a_thief_within_the_window() -> None:
    ops, steal, oust, rescue = _thief_ops(TS + DAY + RECOVERY_WINDOW_MS)  # the last instant
    before = resolve(ACCOUNT, ops[:-1])
    assert not before.counts(LAPTOP.public_key, 1)
    assert before.can_add(THIEF.public_key)
    state = resolve(ACCOUNT, ops)
    assert state.tip == rescue.hash
    assert state.overridden == {steal.hash, oust.hash}
    assert THIEF.public_key not in state.devices
    assert state.counts(LAPTOP.public_key, 1_000)  # the owner's device counts again
    assert state.devices[LAPTOP.public_key].current
    assert state.account_key == NEW_KEY.public_key
    assert state.counts(ACCOUNT, 3) and not state.counts(ACCOUNT, 4)


def test_recovery_fails_to_override_after_the_window() -> None:
    ops, steal, oust, rescue = _thief_ops(TS + DAY + RECOVERY_WINDOW_MS + 1)
    state = resolve(ACCOUNT, ops)
    assert state.tip == oust.hash
    assert state.applied[-2:] == (steal.hash, oust.hash)
    assert state.overridden == {rescue.hash}
    assert not state.counts(LAPTOP.public_key, 1)
    assert state.account_key == ACCOUNT
    # then a rotate at the tip works, and the thief's device can be cut off
    at_tip = op(RECOVERY, OpType.ROTATE, NEW_KEY, oust, TS + 9 * DAY, after=3)
    cut = op(RECOVERY, OpType.REVOKE, THIEF, at_tip, TS + 9 * DAY, after=0)
    state = resolve(ACCOUNT, [*ops, at_tip, cut])
    assert state.tip == cut.hash
    assert state.account_key == NEW_KEY.public_key
    assert not state.can_add(ACCOUNT) and not state.can_add(THIEF.public_key)
    assert THIEF.public_key not in state.member_feeds()
    assert not state.counts(LAPTOP.public_key, 1)  # the thief's revoke stays


# --- order independence and speed -----------------------------------------------------------


def _tangle() -> list[Op]:
    """Ops with concurrent branches, a thief, a late rescue, a second init and duplicates."""
    ops, *_ = _thief_ops(TS + 3 * DAY)
    add_tablet = op(LAPTOP, OpType.ADD, TABLET, ADD_LAPTOP, TS + 2, admin=True)
    by_tablet = op(TABLET, OpType.REVOKE, LAPTOP, add_tablet, TS + 4, after=9)
    late = op(RECOVERY, OpType.RECOVERY, NEW_RECOVERY, ADD_LAPTOP, TS + 30 * DAY)
    other_init = op(OWNER, OpType.INIT, THIEF, None, TS + 5)
    early = op(OWNER, OpType.ADD, NEW_RECOVERY, INIT, TS - 1)
    return [*ops, add_tablet, by_tablet, late, other_init, early]


TANGLE = _tangle()
TANGLE_STATE = resolve(ACCOUNT, TANGLE)


@settings(max_examples=60)
@given(order=st.permutations(TANGLE), extra=st.lists(st.sampled_from(TANGLE), max_size=4))
def test_resolve_is_order_independent(order: list[Op], extra: list[Op]) -> None:
    assert resolve(ACCOUNT, [*order, *extra]) == TANGLE_STATE


@settings(max_examples=40)
@given(subset=st.sets(st.sampled_from(range(len(TANGLE)))), data=st.data())
def test_any_subset_resolves_the_same_in_any_order(subset: set[int], data: Any) -> None:
    chosen = [TANGLE[i] for i in sorted(subset)]
    shuffled = data.draw(st.permutations(chosen))
    assert resolve(ACCOUNT, shuffled) == resolve(ACCOUNT, chosen)


def test_tangle_state() -> None:
    state = TANGLE_STATE
    assert isinstance(state, AccountState)
    assert state.applied[0] == INIT.hash
    assert set(state.applied).isdisjoint(state.overridden)


def test_resolve_few_hundred_ops_is_fast() -> None:
    ops = [INIT]
    admin = LAPTOP
    ops.append(op(OWNER, OpType.ADD, LAPTOP, INIT, TS + 1, admin=True))
    for i in range(300):
        device = Identity(i.to_bytes(32, "big"))
        signer = admin if i % 2 else OWNER
        ops.append(op(signer, OpType.ADD, device, ops[-1], TS + 2 + i))
    ops.reverse()
    best = min(_timed(ops) for _ in range(5))
    assert len(resolve(ACCOUNT, ops).devices) == 302
    assert best < 0.05, f"resolve of {len(ops)} ops took {best * 1000:.1f} ms"


def _timed(ops: list[Op]) -> float:
    start = time.perf_counter()
    resolve(ACCOUNT, ops)
    return time.perf_counter() - start
