"""A seeded simulation of many peers replicating a few honest feeds until nothing moves.

Each seed builds a random topology of 6-10 peers. Some peers author a feed and keep appending
to it while the simulation runs; the others hold random contiguous ranges of random feeds and
want random feeds at random depths. Bytes move in random amounts over random links until every
session is quiescent. Then, for every seed:
- no session failed, every session is caught up, no entry was stored twice;
- every peer holds a contiguous range of the true chain of each feed it holds;
- no peer can get anything more from any neighbour (the planner finds nothing to send): each
  has the largest range it can reach, given the depths;
- where every peer reachable from the author through wanters wants the whole feed (depth 0),
  all of them hold the whole feed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from repl_harness import Link, Node, connect, run

from p2psocial.core.entry import Entry
from p2psocial.core.replication import State, plan_sends
from p2psocial.testing import identity_for, make_feed

FEED_LENGTH = 40
AUTHORS = [identity_for(f"sim-author-{i}") for i in range(3)]
CHAINS: dict[bytes, list[Entry]] = {a.public_key: make_feed(a, FEED_LENGTH) for a in AUTHORS}
DEPTHS = [0, 0, 3, 10, 25]


@dataclass
class World:
    nodes: list[Node]
    links: list[Link]
    edges: list[tuple[int, int]]
    authors: dict[bytes, int]            # feed -> index of its author's node
    pending: list[tuple[int, Entry]]     # appends still to come, in order


def build(seed: int) -> World:
    rng = random.Random(seed)
    count = rng.randint(6, 10)
    feeds = list(CHAINS)
    nodes = [Node(f"peer{i}") for i in range(count)]
    authors = {feed: i for i, feed in enumerate(feeds)}
    pending: list[tuple[int, Entry]] = []
    for feed, index in authors.items():
        start = rng.randint(1, FEED_LENGTH // 2)
        nodes[index].hold(CHAINS[feed][:start])
        pending.extend((index, e) for e in CHAINS[feed][start:])
    for i, node in enumerate(nodes):
        for feed in feeds:
            if authors[feed] == i:
                continue
            if rng.random() < 0.6:
                node.wants[feed] = rng.choice(DEPTHS)
            if rng.random() < 0.3:
                lo = rng.randint(1, 15)
                hi = rng.randint(lo, 15)
                chain = CHAINS[feed]
                node.hold(chain[hi - 1:lo - 2 if lo > 1 else None:-1])  # newest first
    edges = [(i, j) for i in range(count) for j in range(i + 1, count) if rng.random() < 0.35]
    for i in range(1, count):  # keep every peer linked to someone
        if not any(i in edge for edge in edges):
            edges.append((rng.randrange(i), i))
    rng.shuffle(pending)
    pending.sort(key=lambda item: item[1].seq)  # per feed, appends stay in seq order
    links = [connect(nodes[i], nodes[j]) for i, j in edges]
    return World(nodes, links, edges, authors, pending)


def simulate(seed: int) -> World:
    world = build(seed)
    rng = random.Random(seed + 1)
    while world.pending:
        busy = [link for link in world.links if link.pending()]
        if busy and rng.random() < 0.9:
            rng.choice(busy).deliver(rng)
        else:
            index, entry = world.pending.pop(0)
            world.nodes[index].append(entry)
    run(world.links, rng)
    return world


def check_converged(world: World) -> None:
    for link in world.links:
        for end in (link.a, link.b):
            assert end.failure is None, end.failure
            assert end.session.state is State.OPEN
            assert end.session.caught_up
    for node in world.nodes:
        assert node.stored_twice == 0
        for feed, held in node.entries.items():
            state = node.state(feed)
            assert sorted(held) == list(range(state.lo, state.hi + 1))
            assert all(held[s].hash == CHAINS[feed][s - 1].hash for s in held)
    for i, j in world.edges:
        for p, q in ((world.nodes[i], world.nodes[j]), (world.nodes[j], world.nodes[i])):
            for feed, depth in p.wants.items():
                lo, hi = p.held(feed)
                assert plan_sends(feed, lo, hi, depth, q.state(feed)) == [], (
                    f"{p.name} {p.held(feed)} (depth {depth}) could still get "
                    f"{plan_sends(feed, lo, hi, depth, q.state(feed))} from {q.name} "
                    f"{q.held(feed)}")


def wanters_component(world: World, feed: bytes) -> set[int]:
    """The author and every wanter of `feed` it reaches through wanters."""
    reached = {world.authors[feed]}
    frontier = list(reached)
    while frontier:
        at = frontier.pop()
        for i, j in world.edges:
            other = j if i == at else i if j == at else None
            if other is not None and other not in reached and feed in world.nodes[other].wants:
                reached.add(other)
                frontier.append(other)
    return reached


def check_whole_feeds(world: World) -> int:
    """Where all wanters around the author want everything, they all have everything."""
    checked = 0
    for feed in CHAINS:
        component = wanters_component(world, feed)
        depths = [world.nodes[i].wants[feed] for i in component if i != world.authors[feed]]
        if depths and all(d == 0 for d in depths):
            for i in component:
                assert world.nodes[i].held(feed) == (1, FEED_LENGTH)
            checked += 1
    return checked


@pytest.mark.parametrize("seed", range(12))
def test_every_peer_converges(seed: int) -> None:
    world = simulate(seed)
    check_converged(world)
    check_whole_feeds(world)


def test_the_simulation_exercises_what_it_claims() -> None:
    """Across the seeds: authors' new entries travel several hops, some components want
    whole feeds, and pushes, re-WANTs and duplicates all happen."""
    whole = 0
    hops = 0
    rewants = 0
    for seed in range(12):
        world = simulate(seed)
        whole += check_whole_feeds(world)
        for feed in world.authors:
            reached = [n for n in world.nodes if n.held(feed)[1] == FEED_LENGTH]
            hops += len(reached) > 2
        for link in world.links:
            for end in (link.a, link.b):
                rewants += end.session.stats.frames_out > 0 and end.session.wants_sent > 1
    assert whole >= 3
    assert hops >= 6
    assert rewants >= 3
