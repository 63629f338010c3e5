"""Who may join a relay (core.relay_policy): every policy, invites, blocks, the wire format."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.errors import ProtocolError, UsageError
from p2psocial.core.invite import create_invite
from p2psocial.core.relay_policy import (
    JoinDecision,
    Policy,
    decide_join,
    join_answer,
    join_request,
    parse_join_answer,
    parse_join_request,
)
from p2psocial.testing import identity_for

RELAY = identity_for("relay")
MEMBER = identity_for("member")
NEWCOMER = identity_for("newcomer")
STRANGER = identity_for("stranger")
NOW = 1_700_000_000_000


def decide(policy: Policy, peer: bytes = NEWCOMER.public_key, **kw: object) -> JoinDecision:
    args: dict[str, object] = {"relay": RELAY.public_key, "members": {MEMBER.public_key},
                               "blocked": set(), "allowed": set(), "invite": None,
                               "uses_so_far": 0, "now_ms": NOW}
    args.update(kw)
    return decide_join(policy, peer, **args)  # type: ignore[arg-type]


def test_open_admits_anyone_but_the_blocked() -> None:
    assert decide(Policy.OPEN).admitted
    refused = decide(Policy.OPEN, blocked={NEWCOMER.public_key})
    assert not refused.admitted and "no longer" in refused.reason
    # a blocked member is refused too
    assert not decide(Policy.OPEN, MEMBER.public_key, blocked={MEMBER.public_key}).admitted


def test_allowlist() -> None:
    assert not decide(Policy.ALLOWLIST).admitted
    assert decide(Policy.ALLOWLIST, allowed={NEWCOMER.public_key}).admitted
    assert decide(Policy.ALLOWLIST, MEMBER.public_key).admitted  # members come back


def test_invite_policy_needs_a_usable_invite_from_the_relay_or_a_member() -> None:
    assert not decide(Policy.INVITE).admitted
    from_relay = create_invite(RELAY, ("/ip4/1.2.3.4/tcp/1/p2p/" + RELAY.handle,))
    ok = decide(Policy.INVITE, invite=from_relay)
    assert ok.admitted and ok.spend == from_relay.nonce
    from_member = create_invite(MEMBER, ())
    assert decide(Policy.INVITE, invite=from_member).admitted
    from_stranger = create_invite(STRANGER, ())
    assert "not from this relay" in decide(Policy.INVITE, invite=from_stranger).reason

    expired = create_invite(RELAY, (), expires_ms=NOW - 1)
    assert "expired" in decide(Policy.INVITE, invite=expired).reason
    twice = create_invite(RELAY, (), uses=2)
    assert decide(Policy.INVITE, invite=twice, uses_so_far=1).admitted
    assert "used up" in decide(Policy.INVITE, invite=twice, uses_so_far=2).reason
    # a member comes back without spending anything
    back = decide(Policy.INVITE, MEMBER.public_key, invite=twice, uses_so_far=2)
    assert back.admitted and back.spend is None


def test_policy_names() -> None:
    assert Policy.parse("invite") is Policy.INVITE
    with pytest.raises(UsageError, match="open, invite, allowlist"):
        Policy.parse("closed")


def test_join_messages_round_trip() -> None:
    assert parse_join_request(join_request(None)).token is None
    assert parse_join_request(join_request("p2ps:abc")).token == "p2ps:abc"
    decision = JoinDecision(False, "this relay admits listed users only")
    assert parse_join_answer(join_answer(decision, 0)) == (False, decision.reason, 0)
    assert parse_join_answer(join_answer(JoinDecision(True, "welcome"), 500)) == \
        (True, "welcome", 500)


@given(st.binary(max_size=300))
def test_garbage_join_messages_raise_protocol_errors_only(data: bytes) -> None:
    for parse in (parse_join_request, parse_join_answer):
        with contextlib.suppress(ProtocolError):
            parse(data)


def test_oversized_join_messages_are_refused() -> None:
    with pytest.raises(ProtocolError, match="too large"):
        parse_join_request(b"\xa1" + b"\x00" * 5000)
