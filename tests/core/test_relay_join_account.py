"""The join request naming the device's account, and what a relay keeps for a member's
account (docs/protocol.md "Relays and joining", J2-J5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2psocial.core.encoding import encode
from p2psocial.core.errors import ProtocolError
from p2psocial.core.relay_policy import (
    JoinRequest,
    Policy,
    accounts_members,
    blocked_feeds,
    decide_join,
    join_request,
    member_wants,
    parse_join_request,
)
from p2psocial.core.wants import Want

SPEC = Path(__file__).parents[2] / "docs" / "protocol.md"
VECTORS = Path(__file__).parents[2] / "docs" / "test-vectors.json"
ACC, DEV, DEV2, OTHER, STRANGER = (bytes([n]) * 32 for n in range(1, 6))


def test_the_spec_example_of_a_request_naming_an_account() -> None:
    ids = {i["name"]: i for i in json.loads(VECTORS.read_text())["identities"]}
    alice = bytes.fromhex(ids["alice"]["public_key"])
    request = join_request(None, alice)
    assert request.hex() == "a2000102" + "5820" + alice.hex()
    assert request.hex() in SPEC.read_text()
    assert parse_join_request(request) == JoinRequest(None, alice)


def test_requests_round_trip_and_unknown_keys_are_ignored() -> None:
    assert parse_join_request(join_request("p2ps:x", ACC)) == JoinRequest("p2ps:x", ACC)
    assert parse_join_request(join_request(None)) == JoinRequest()
    assert parse_join_request(encode({0: 1, 2: ACC, 7: "later"})) == JoinRequest(None, ACC)


@pytest.mark.parametrize("account", [b"\x01" * 31, "text", 5, [ACC]])
def test_an_account_that_is_not_32_bytes_is_a_protocol_error(account: object) -> None:
    with pytest.raises(ProtocolError, match="32 bytes"):
        parse_join_request(encode({0: 1, 2: account}))


def test_a_member_without_an_account_keeps_its_feed_at_the_whole_quota() -> None:
    assert member_wants({DEV: None}, 900, account_members={}, blocked=()) == \
        {DEV: Want(1, 900)}


def test_a_device_naming_its_account_brings_the_account_sharing_the_quota() -> None:
    wants = member_wants({DEV: ACC}, 900, account_members={ACC: {ACC, DEV, DEV2}},
                         blocked=())
    assert wants == {ACC: Want(1, 300), DEV: Want(1, 300), DEV2: Want(1, 300)}
    # before any op is held: the account id alone, to learn its ops (J4)
    assert member_wants({DEV: ACC}, 900, account_members={}, blocked=()) == \
        {ACC: Want(1, 450), DEV: Want(1, 450)}
    assert member_wants({DEV: ACC}, 0, account_members={ACC: {DEV, DEV2}}, blocked=()) == \
        {ACC: Want(1, 0), DEV: Want(1, 0), DEV2: Want(1, 0)}


def test_a_claim_the_ops_held_do_not_grant_is_dropped() -> None:
    assert member_wants({STRANGER: ACC}, 900, account_members={ACC: {ACC, DEV}},
                        blocked=()) == {STRANGER: Want(1, 900)}
    assert accounts_members({STRANGER: ACC}, {ACC: {ACC, DEV}}) == {STRANGER}


def test_an_account_id_member_and_blocked_feeds() -> None:
    assert member_wants({ACC: None}, 10, account_members={ACC: {ACC, DEV}}, blocked=()) == \
        {ACC: Want(1, 5), DEV: Want(1, 5)}
    assert member_wants({DEV: ACC}, 10, account_members={ACC: {ACC, DEV, DEV2}},
                        blocked={DEV2}) == {ACC: Want(1, 5), DEV: Want(1, 5)}
    assert member_wants({DEV: ACC}, 10, account_members={ACC: {DEV}}, blocked={ACC}) == \
        {DEV: Want(1, 10)}
    assert member_wants({DEV: ACC}, 10, account_members={}, blocked={DEV}) == {}


def test_two_members_keep_a_shared_feed_at_the_deeper_depth() -> None:
    wants = member_wants({DEV: ACC, DEV2: None}, 10, account_members={ACC: {DEV, DEV2}},
                         blocked=())
    assert wants[DEV2] == Want(1, 10)


def test_devices_of_a_member_account_are_admitted_as_members() -> None:
    assert accounts_members({DEV: ACC, OTHER: None}, {ACC: {ACC, DEV, DEV2}}) == \
        {DEV, DEV2, ACC, OTHER}
    assert accounts_members({DEV: ACC}, {}) == {DEV}  # not confirmed by ops: nobody more


def test_blocking_an_account_refuses_its_devices() -> None:
    refused = blocked_feeds({ACC, OTHER}, {ACC: {ACC, DEV, DEV2}})
    assert refused == {ACC, OTHER, DEV, DEV2}
    decision = decide_join(Policy.OPEN, DEV2, relay=STRANGER, members={DEV}, blocked=refused,
                           allowed=(), invite=None, uses_so_far=0, now_ms=0)
    assert not decision.admitted
    assert member_wants({DEV: ACC}, 10, account_members={ACC: {ACC, DEV, DEV2}},
                        blocked=refused) == {}
