"""The want set: hops, depths and blocks over a follow graph."""

from p2psocial.core.wants import Want, compute_wants, follows_from

ME, A, B, C, D = (bytes([i]) * 32 for i in range(5))


def test_hops_and_depths() -> None:
    graph = {ME: {A, B}, A: {C}, C: {D}}
    wants = compute_wants(ME, follows_from(graph), hops=2, depths=(0, 500, 50))
    assert wants == {ME: Want(0, 0), A: Want(1, 500), B: Want(1, 500), C: Want(2, 50)}


def test_a_feed_takes_its_smallest_hop() -> None:
    graph = {ME: {A, C}, A: {C}}
    assert compute_wants(ME, follows_from(graph))[C].hop == 1


def test_blocked_feeds_are_neither_wanted_nor_traversed() -> None:
    graph = {ME: {A, B}, B: {C}}
    wants = compute_wants(ME, follows_from(graph), blocked={B})
    assert set(wants) == {ME, A}


def test_hops_zero_wants_only_me_and_deeper_hops_reuse_the_last_depth() -> None:
    graph = {ME: {A}, A: {B}, B: {C}}
    assert set(compute_wants(ME, follows_from(graph), hops=0)) == {ME}
    assert compute_wants(ME, follows_from(graph), hops=3, depths=(0, 9))[C] == Want(3, 9)
