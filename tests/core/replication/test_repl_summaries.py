"""Account summaries in sessions (spec A1-A5): an up-to-date follower of an account states it
in one ACCOUNTS note, and nothing else crosses; a follower behind, or one holding other ops,
hears MORE and states the account's feeds as before; live entries go on after a match; a
1.0.0 session ignores both messages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from repl_harness import End, Link, Node, run

from p2psocial.core.encoding import digest, encode
from p2psocial.core.errors import LocalProtocolError
from p2psocial.core.feed import FeedState
from p2psocial.core.replication import (
    Event,
    OpsReceived,
    PeerWants,
    State,
    SyncSession,
    encode_frame,
    encode_message,
)
from p2psocial.core.replication.account_summary import (
    AccountWant,
    Holding,
    SummaryCache,
    summarise,
    summary,
    whole,
)
from p2psocial.core.replication.events import PeerAsksMore, PeerWantsAccounts
from p2psocial.core.replication.messages import (
    AccountNote,
    Accounts,
    Hello,
    More,
    Want,
    decode_message,
)
from p2psocial.testing import identity_for, make_feed

ACCOUNT, DEV1, DEV2 = (identity_for(n) for n in ("account", "laptop", "phone"))
A, D1, D2 = ACCOUNT.public_key, DEV1.public_key, DEV2.public_key
FEEDS = {A: make_feed(ACCOUNT, 2), D1: make_feed(DEV1, 6), D2: make_feed(DEV2, 4)}
OPS = [b"init of A", b"add of laptop", b"add of phone"]
OTHER = identity_for("single")
S = OTHER.public_key
S_FEED = make_feed(OTHER, 3)


class SumNode(Node):
    """A harness node that holds account ops and knows the account's members."""

    def __init__(self, name: str, wants: dict[bytes, int] | None = None) -> None:
        super().__init__(name, wants)
        self.ops: dict[bytes, list[bytes]] = {}
        self.members: dict[bytes, set[bytes]] = {}

    def account_wants(self) -> list[AccountWant]:
        out = []
        for account, depth in self.wants.items():
            if account in self.members:
                want = summarise(account, depth, self.members[account],
                                 map(digest, self.ops[account]), depths=self.wants,
                                 states=self.states)
                if want is not None:
                    out.append(want)
        return out

    def holding(self, account: bytes) -> Holding | None:
        if account not in self.members:
            return None
        return Holding.of(account, self.members[account], map(digest, self.ops[account]),
                          self.states)


@dataclass
class SumEnd(End):
    def handle(self, event: Event) -> None:
        node = self.node
        assert isinstance(node, SumNode)
        if isinstance(event, PeerWantsAccounts):
            held = {a: h for a in event.accounts if (h := node.holding(a)) is not None}
            self.send(self.session.answer_accounts(event, held))
        elif isinstance(event, PeerAsksMore):
            self.send(self.session.more(event, {f: node.state(f) for f in event.feeds}))
        elif isinstance(event, PeerWants):
            self.send(self.session.answer(
                event, {f: node.state(f) for f in event.feeds},
                {f: node.ops[f] for f in event.feeds if f in node.ops}))
        elif isinstance(event, OpsReceived):
            node.ops.setdefault(event.account, []).extend(
                op for op in event.ops if op not in node.ops.get(event.account, []))
        else:
            super().handle(event)


def holder(**cut: int) -> SumNode:
    """A node holding the account (its ops and feeds), each feed cut to its first `cut` entries."""
    node = SumNode("holder")
    for feed, entries in FEEDS.items():
        node.hold(entries[:cut.get(feed.hex(), len(entries))])
    node.ops[A] = list(OPS)
    node.members[A] = {D1, D2}
    return node


def follower(depth: int = 0, *, d1: int = 6, ops: list[bytes] | None = None) -> SumNode:
    node = SumNode("follower", dict.fromkeys((A, D1, D2), depth) | {S: 0})
    node.hold(FEEDS[A])
    node.hold(FEEDS[D1][:d1])
    node.hold(FEEDS[D2])
    node.ops[A] = list(OPS if ops is None else ops)
    node.members[A] = {D1, D2}
    return node


def wire(a: SumNode, b: SumNode, *, summaries: bool = True) -> Link:
    ends = [SumEnd(n, SyncSession(n.want_notes(), agent=n.name, summaries=summaries,
                                  accounts=n.account_wants() if summaries else ()))
            for n in (a, b)]
    link = Link(*ends)
    a.ends.append(link.a)
    b.ends.append(link.b)
    for end in ends:
        end.send(end.session.initiate())
    run([link])
    return link


def test_an_up_to_date_follower_states_the_account_in_one_note_and_nothing_else_crosses() -> None:
    h, f = holder(), follower()
    h.hold(S_FEED)
    f.hold(S_FEED)
    link = wire(h, f)
    held, mine = link.a.session.stats, link.b.session.stats
    assert held.summaries_matched == 1 and held.summaries_differed == 0
    assert held.entries_out == 0 and held.ops_out == 0
    # the follower's first WANT holds only the single-key feed; the account went in ACCOUNTS
    assert [type(e) for e in link.a.events].count(PeerWants) == 1
    assert next(e for e in link.a.events if isinstance(e, PeerWants)).feeds == (S,)
    assert link.b.session.caught_up and mine.entries_in == 0


def test_after_a_match_new_entries_of_every_member_feed_go_out_live_and_nothing_twice() -> None:
    h = holder(**{D1.hex(): 4})
    f = follower(d1=4)
    link = wire(h, f)
    assert link.a.session.stats.summaries_matched == 1
    for entry in FEEDS[D1][4:]:
        h.append(entry)
    run([link])
    assert f.held(D1) == (1, 6)
    assert link.a.session.stats.entries_out == 2 and f.duplicates == 0


def test_a_follower_behind_hears_more_states_the_feeds_and_is_caught_up_only_after() -> None:
    h, f = holder(), follower(d1=3)
    link = wire(h, f)
    assert link.a.session.stats.summaries_differed == 1
    kinds = [type(e) for e in link.b.events]
    assert PeerAsksMore in kinds
    assert f.held(D1) == (1, 6) and f.duplicates == 0
    assert link.b.session.caught_up
    assert link.b.session.wants_sent == 3   # its WANT (S), the ACCOUNTS, the WANT after MORE


def test_caught_up_waits_for_the_answer_to_the_want_that_followed_more() -> None:
    h, f = holder(), follower(d1=3)
    ends = [SumEnd(n, SyncSession(n.want_notes(), agent=n.name, summaries=True,
                                  accounts=n.account_wants())) for n in (h, f)]
    link = Link(*ends)
    for end in ends:
        end.send(end.session.initiate())
    seen: list[bool] = []
    while link.pending():
        link.deliver()
        seen.append(link.b.session.caught_up)
    # caught up once at the end, never in between (SYNCED for the ACCOUNTS came before the
    # answer to the WANT sent on MORE)
    assert seen[-1] and f.held(D1) == (1, 6)
    assert all(not up for up in seen[:seen.index(True)])
    assert seen.index(True) >= len(seen) - 2


def test_other_ops_are_more_and_the_answer_brings_them() -> None:
    h, f = holder(), follower(ops=OPS[:2])
    link = wire(h, f)
    assert link.a.session.stats.summaries_differed == 1
    assert f.ops[A] == OPS
    assert link.a.session.stats.ops_out == 3   # O1: all it holds (it cannot know which)


def test_a_blocked_or_unknown_account_differs() -> None:
    h, f = holder(), follower()
    del h.members[A]   # the holder does not know the account (or serves nothing of it)
    link = wire(h, f)
    assert link.a.session.stats.summaries_differed == 1
    assert link.b.session.caught_up and f.held(D1) == (1, 6)


def test_a_feed_not_whole_to_depth_or_wanted_at_another_depth_is_not_summarised() -> None:
    f = follower()
    assert f.account_wants()
    f.states[D1] = FeedState(D1, 3, 6)   # holds 3..6 of a feed wanted whole (depth 0)
    assert f.account_wants() == []
    f = follower(depth=4)
    f.states[D1] = FeedState(D1, 3, 6)   # 3..6 is the newest 4: whole to depth 4
    assert f.account_wants()
    f.wants[D2] = 0                      # a member wanted deeper than the account
    assert f.account_wants() == []
    assert whole(FeedState(D1, 1, 6, forked=True), 0) is False
    assert whole(None, 0) and whole(FeedState(D1), 5)


def test_the_summary_is_the_spec_hash_and_covers_every_feed_and_op() -> None:
    heads = {D2: 4, A: 2, D1: 6}
    ops = [digest(op) for op in OPS]
    expected = digest(encode([sorted(ops), [[k, heads[k]] for k in sorted(heads)]]))
    assert summary(reversed(ops), heads) == expected   # any order in, sorted inside
    assert summary(ops, {**heads, D1: 5}) != expected
    assert summary(ops[:2], heads) != expected


def test_the_summary_cache_answers_as_summary_and_follows_every_change() -> None:
    cache = SummaryCache()
    heads = {A: 2, D1: 6, D2: 4}
    ops = [digest(op) for op in OPS]
    for op_hashes, hs in [(ops, heads), (ops, heads), (ops, {**heads, D1: 7}),
                          (ops[:2], {**heads, D1: 7}), (ops, heads)]:
        assert cache.summary(A, set(op_hashes), hs) == summary(op_hashes, hs)
    assert len(cache) == 1
    cache.forget(A)
    assert len(cache) == 0


def test_a_1_0_session_sends_no_summary_and_ignores_accounts_and_more() -> None:
    h, f = holder(), follower()
    link = wire(h, f, summaries=False)
    assert link.a.session.stats.summaries_matched == 0
    assert link.b.session.caught_up and link.a.session.stats.ops_out == 3
    old = SyncSession([], agent="old")
    old.initiate()
    note = AccountNote(A, 0, bytes(32))
    old.receive_data(encode_frame(encode_message(Hello(1, "x", 1 << 20)))
                     + encode_frame(encode_message(Accounts((note,))))
                     + encode_frame(encode_message(More((A,)))))
    while old.next_event() is not None and old.stats.unknown < 2:
        pass
    assert old.stats.unknown == 2 and old.state is State.OPEN


def test_more_for_an_account_not_summarised_is_ignored() -> None:
    h, f = holder(), follower()
    link = wire(h, f)
    before = link.b.session.wants_sent
    link.b.receive(encode_frame(encode_message(More((S,)))))
    assert link.b.session.wants_sent == before and link.b.session.state is State.OPEN


def test_summarised_feeds_must_be_among_the_wants() -> None:
    want = follower().account_wants()[0]
    with pytest.raises(LocalProtocolError):
        SyncSession([], summaries=True, accounts=[want])


def test_accounts_and_more_round_trip_and_refuse_bad_shapes() -> None:
    msg = Accounts((AccountNote(A, 5, bytes(range(32))),))
    assert decode_message(encode_message(msg)) == msg
    assert decode_message(encode_message(More((A, D1)))) == More((A, D1))
    assert isinstance(decode_message(encode_message(Want(()))), Want)


def test_a_holding_is_reused_while_the_heads_are_the_same_and_made_again_when_one_moves(
        ) -> None:
    """A node keeps the last holding of each account (runtime.account_sync): answering the
    same ACCOUNTS in every session must not build the summary, the sort or the spans again,
    and a moved head must give the summary of the new heads."""
    ops = [digest(op) for op in OPS]
    states = {A: FeedState(A, 1, 2), D1: FeedState(D1, 1, 6), D2: FeedState(D2, 1, 4)}
    first = Holding.of(A, [D1, D2], ops, states)
    assert Holding.of(A, [D1, D2], ops, dict(states), last=first) is first
    assert first.peer_spans(2) is first.peer_spans(2)
    assert sorted(first.peer_spans(2)) == sorted([(A, 1, 2, 2), (D1, 5, 6, 2), (D2, 3, 4, 2)])
    moved = Holding.of(A, [D1, D2], ops, {**states, D1: FeedState(D1, 1, 7)}, last=first)
    assert moved is not first and moved.heads[D1] == 7
    assert moved.summary == summary(ops, {A: 2, D1: 7, D2: 4}) != first.summary
