"""The UI's pure parts: text rendering, row merging, trees, network banners, QR, state."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import segno

from p2psocial.core.invite import create_invite, encode_invite
from p2psocial.runtime.views import EntryView, FeedStatus, FeedView, NodeStatus, PeerView
from p2psocial.ui.follow import as_handle, handle_from_invite, to_follow
from p2psocial.ui.help import key_text
from p2psocial.ui.network import banners, bar, peer_cells, progress, summary
from p2psocial.ui.qr import qr_matrix, qr_text
from p2psocial.ui.render import Context, Row, ago, body_text, row_text, short
from p2psocial.ui.rows import apply_counts, merge_positions, refresh_counts, stale_counts
from p2psocial.ui.state import UiState
from p2psocial.ui.thread import tree_rows

from .conftest import ALICE, BOB, ME

HOUR = 3_600_000
NOW = 1_800_000_000_000


def view(n: int, *, author: str = ALICE.handle, ts: int | None = None, **kw: object
         ) -> EntryView:
    fields: dict[str, object] = {"hash": f"{n:064x}", "author": author, "seq": n,
                                 "timestamp": NOW - n * HOUR if ts is None else ts,
                                 "type": "post", "text": f"post {n}"}
    fields.update(kw)
    return EntryView(**fields)  # type: ignore[arg-type]


def test_relative_times() -> None:
    assert ago(NOW - 5_000, NOW) == "now"
    assert ago(NOW - 5 * 60_000, NOW) == "5m"
    assert ago(NOW - 3 * HOUR, NOW) == "3h"
    assert ago(NOW - 50 * HOUR, NOW) == "2d"
    assert ago(NOW - 40 * 24 * HOUR, NOW) == "Dec 06"
    assert ago(NOW - 400 * 24 * HOUR, NOW) == "2025-12-11"
    assert ago(NOW + 10 * HOUR, NOW) == "2027-01-15"  # from the future: a date


def test_mentions_read_as_names_and_mentions_of_me_stand_out() -> None:
    ctx = Context(me=ME.handle, names={ALICE.handle: "Alice"})
    text = body_text(f"hi @{ALICE.handle} and @{ME.handle}, #tag and @{BOB.handle}", ctx)
    assert text.plain == f"hi @Alice and @{short(ME.handle)}, #tag and @{short(BOB.handle)}"
    ctx.styles = {"mention": "blue", "mention-me": "red", "tag": "green"}  # type: ignore[dict-item]
    styled = body_text(f"@{ME.handle} #x", ctx)
    assert [str(s.style) for s in styled.spans] == ["red", "green"]


def test_a_row_reads_name_handle_time_text_and_counts() -> None:
    post = view(1, name="Alice", replies=2, reposts=1, reactions={"❤": 3})
    ctx = Context(now=lambda: NOW)
    lines = row_text(Row(entry=post), ctx).plain.splitlines()
    assert lines == [f"Alice {short(ALICE.handle)} · 1h", "post 1", "↩ 2  ⇄ 1  ❤ 3"]


def test_reply_context_quote_deleted_and_folded_rows() -> None:
    parent = view(2, author=BOB.handle, name="Bob")
    ctx = Context(now=lambda: NOW, related={parent.hash: parent})
    reply = view(1, content={"text": "yes", "parent": parent.hash, "root": parent.hash})
    assert "↳ replying to Bob" in row_text(Row(entry=reply), ctx).plain
    quote = view(3, content={"text": "look", "quote": parent.hash})
    assert "┃ Bob\n┃ post 2" in row_text(Row(entry=quote), ctx).plain
    gone = view(4, deleted=True, text=None)
    assert "(deleted by its author)" in row_text(Row(entry=gone), ctx).plain
    folded = Row(entry=view(5, content={"text": "secret", "cw": "spoilers"}))
    assert "secret" not in row_text(folded, ctx).plain
    folded.opened = True
    assert "⚠ spoilers\npost 5" in row_text(folded, ctx).plain


def test_merge_positions_puts_live_rows_where_they_belong() -> None:
    existing = [Row(entry=view(n)) for n in (2, 4, 6)]  # newest first
    new = [Row(entry=view(n)) for n in (1, 5, 9, 4)]  # 4 is there already; 9 is older
    rows, positions = merge_positions(existing, new, NOW, complete=False)
    assert [r.entry.seq for r in rows] == [1, 5]
    assert positions == [0, 3]  # in the resulting list: 1, 2, 4, 5, 6
    rows, positions = merge_positions(existing, new, NOW, complete=True)
    assert [r.entry.seq for r in rows] == [1, 5, 9] and positions == [0, 3, 5]


def test_counts_are_fetched_for_the_rows_pointed_at_not_bumped() -> None:
    target, other = view(1), view(8)
    rows = [Row(entry=target), Row(entry=view(9, type="repost"), shown=target), Row(entry=other)]
    changes = [
        view(2, author=BOB.handle, content={"text": "r", "parent": target.hash}),
        view(3, author=BOB.handle, type="react", text="🔥", content={"target": target.hash}),
        view(4, author=BOB.handle, type="repost", content={"target": target.hash}),
    ]
    assert apply_counts(rows, changes) == []  # nothing is bumped by guesswork
    assert stale_counts(rows, changes) == {target.hash}
    # Bob's second 🔥 counts once: the node says so, and the rows take the node's counts
    fresh = replace(target, replies=1, reposts=1, reactions={"🔥": 1})
    changed = refresh_counts(rows, [fresh])
    assert len(changed) == 2
    for row in rows[:2]:
        assert (row.post.replies, row.post.reposts, row.post.reactions) == (1, 1, {"🔥": 1})
    assert refresh_counts(rows, [fresh]) == []  # unchanged counts redraw nothing
    # a delete of an entry not shown (Bob takes his reaction back) makes every shown post stale
    undo = view(5, author=BOB.handle, type="delete", content={"target": "cd" * 32})
    assert stale_counts(rows, [undo]) == {target.hash, other.hash}


def test_a_delete_by_the_author_folds_the_post_at_once() -> None:
    target = view(1)
    rows = [Row(entry=target), Row(entry=view(9, type="repost"), shown=target)]
    deletion = view(5, type="delete", content={"target": target.hash})
    assert len(apply_counts(rows, [deletion])) == 2
    assert all(r.post.deleted for r in rows)
    not_theirs = view(6, author=BOB.handle, type="delete", content={"target": "ab" * 32})
    assert apply_counts([Row(entry=view(7, hash="ab" * 32))], [not_theirs]) == []


def test_a_hole_punched_peer_and_a_node_behind_nat_are_named() -> None:
    peer = PeerView(handle=BOB.handle, addr="/ip4/203.0.113.7/tcp/4001", kind="hole-punched")
    assert peer_cells(peer, set())[1] == "punched"  # fits its column, not "hole-pu…"
    status = NodeStatus(handle=ME.handle, listen=["/ip4/10.0.0.2/tcp/4001"], peers=1, feeds=[],
                        reachability="private", observed="/ip4/203.0.113.9/tcp/4001")
    [(severity, text)] = banners(status, [peer], [])
    assert severity == "info" and "Behind a NAT (seen at 203.0.113.9:4001)" in text
    assert banners(replace(status, reachability="public"), [peer], []) == []


def test_tree_rows_nest_replies_under_parents_oldest_first() -> None:
    root = view(1, ts=NOW)
    a = view(2, ts=NOW + 1, content={"parent": root.hash})
    b = view(3, ts=NOW + 2, content={"parent": root.hash})
    a1 = view(4, ts=NOW + 3, content={"parent": a.hash}, author=BOB.handle)
    orphan = view(5, ts=NOW + 4, content={"parent": "ee" * 32})
    rows = tree_rows([root, a, b, a1, orphan])
    assert [(r.entry.seq, r.depth) for r in rows] == [(1, 0), (2, 1), (4, 2), (3, 1), (5, 1)]
    assert [r.entry.seq for r in tree_rows([root, a, a1], {BOB.handle})] == [1, 2]
    assert tree_rows([]) == []


def test_network_banners_say_what_is_wrong() -> None:
    offline = NodeStatus(handle=ME.handle, listen=[], peers=0, feeds=[])
    assert summary(offline, []) == "offline"
    assert banners(offline, [], [])[0][1].startswith("Offline")
    online = NodeStatus(handle=ME.handle, listen=["/ip4/1.2.3.4/tcp/1"], peers=0, feeds=[
        FeedStatus(author=ALICE.handle, hi=50, best_known=100, forked=True)])
    assert summary(online, []) == "no peers"
    texts = [t for _, t in banners(online, [], [FeedView(author=BOB.handle, forked=True)])]
    assert texts[0].startswith("No peers") and texts[1].startswith("2 forked feeds")
    lan = [PeerView(handle=BOB.handle, addr="/ip4/10.0.0.2/tcp/1", kind="lan")]
    assert "no relay reachable" in banners(online, lan, [])[0][1]
    assert summary(online, lan) == "1 peer · syncing 1"
    relayed = [*lan, PeerView(handle=ALICE.handle, addr="x", kind="relayed")]
    assert len(banners(online, relayed, [])) == 1  # only the fork remains


def test_progress_of_a_backfill() -> None:
    assert progress(FeedStatus(author="a", lo=1, hi=100, best_known=100)) == (1.0,
                                                                              "up to date")
    fraction, label = progress(FeedStatus(author="a", lo=1, hi=25, best_known=100))
    assert fraction == 0.25 and label == "75 behind"
    fraction, _ = progress(FeedStatus(author="a", lo=901, hi=1000, depth=200,
                                      best_known=1000))
    assert fraction == 0.5  # wants the newest 200: holds 100 of them
    assert bar(0.5, 4) == "██░░  50%"


def test_qr_code_encodes_the_handle() -> None:
    matrix = qr_matrix(ME.handle, border=0)
    expected = segno.make(ME.handle, error="l", micro=False, boost_error=False)
    assert len(matrix) == expected.symbol_size(scale=1, border=0)[0]
    text = qr_text(ME.handle)
    lines = text.plain.splitlines()
    assert len(lines) == (len(matrix) + 4 + 1) // 2 and set("".join(lines)) == {"▀"}
    assert len(lines[0]) <= 40  # fits beside the details at 80 columns


def test_state_follows_my_relation_entries_and_saves_mutes(tmp_path: Path) -> None:
    state = UiState(me=ME.handle, settings_path=tmp_path / "ui.json")
    follow = view(1, author=ME.handle, type="follow", content={"feed": ALICE.handle})
    assert state.apply_mine(follow) and ALICE.handle in state.following
    assert state.in_timeline(view(2)) and not state.in_timeline(view(3, author=BOB.handle))
    state.apply_mine(view(4, author=ME.handle, type="block", content={"feed": ALICE.handle}))
    assert state.hidden(ALICE.handle) and not state.in_timeline(view(2))
    assert not state.apply_mine(view(5))  # not mine
    state.set_muted(BOB.handle, True)
    assert json.loads((tmp_path / "ui.json").read_text()) == {"muted": [BOB.handle],
                                                              "invite": None, "q": "quit"}
    state.set_invite("p2ps:invite:kept")
    again = UiState(settings_path=tmp_path / "ui.json")
    again.load_mutes()
    assert again.muted == {BOB.handle} and again.invite == "p2ps:invite:kept"
    about = view(6, author=BOB.handle, type="about", content={"name": "Robert"})
    assert again.learn_about(about) and again.names[BOB.handle] == "Robert"


def test_keys_read_as_typed_and_handles_are_recognised() -> None:
    assert key_text("j,down") == "j ↓"
    assert key_text("question_mark,f1") == "? f1"
    assert as_handle(f"  @{ALICE.handle} ") == ALICE.handle
    assert as_handle("alice") is None
    assert to_follow(f"@{ALICE.handle}") == (ALICE.handle, ALICE.handle)
    assert to_follow("alice") is None


def test_invite_tokens_are_followed_with_the_token_itself() -> None:
    token = encode_invite(create_invite(ALICE, ("/ip4/127.0.0.1/tcp/4001",)))
    assert handle_from_invite(f" {token} ") == ALICE.handle
    assert to_follow(token) == (token, ALICE.handle)
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "abd")
    assert handle_from_invite(forged) is None
    assert to_follow(forged) == (forged, None)  # the node says what is wrong with it
