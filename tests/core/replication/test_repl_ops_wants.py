"""O3 as pure functions: a wanted account brings its member feeds at its hop and depth (a
feed wanted nearer keeps its hop; blocked feeds stay out); an account follows what its
member feeds follow."""

from __future__ import annotations

from p2psocial.core.replication.account_ops import expand_wants, fold_follows
from p2psocial.core.wants import Want, compute_wants, follows_from

ME, ACC, D1, D2, FRIEND, OTHER = (bytes([n]) * 32 for n in range(1, 7))


def test_members_come_at_the_accounts_hop_and_depth() -> None:
    wants = {ME: Want(0, 0), ACC: Want(1, 1000)}
    got = expand_wants(wants, {ACC: {ACC, D1, D2}})
    assert got == {ME: Want(0, 0), ACC: Want(1, 1000), D1: Want(1, 1000), D2: Want(1, 1000)}


def test_a_member_wanted_nearer_keeps_its_hop_and_blocked_members_stay_out() -> None:
    wants = {ME: Want(0, 0), D1: Want(1, 1000), ACC: Want(2, 100)}
    got = expand_wants(wants, {ACC: {ACC, D1, D2}}, blocked={D2})
    assert got == {ME: Want(0, 0), D1: Want(1, 1000), ACC: Want(2, 100)}


def test_at_the_same_hop_the_deeper_depth_wins() -> None:
    wants = {D1: Want(1, 100), ACC: Want(1, 0)}
    assert expand_wants(wants, {ACC: {D1}})[D1] == Want(1, 0)


def test_accounts_without_a_resolved_state_bring_nothing() -> None:
    wants = {ME: Want(0, 0), OTHER: Want(1, 1000)}
    assert expand_wants(wants, {ACC: {D1}}) == wants


def test_an_account_follows_what_its_devices_follow() -> None:
    graph = {ME: {ACC}, D1: {FRIEND}, D2: {ACC}, ACC: set()}
    folded = fold_follows(graph, {ACC: {ACC, D1, D2}})
    assert folded[ACC] == {FRIEND}
    wants = compute_wants(ME, follows_from(folded), hops=2, depths=(0, 1000, 100))
    assert wants[FRIEND] == Want(2, 100)
