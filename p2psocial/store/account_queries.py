"""The reads of store/queries.py once some account has devices (`account_devices` has rows):
S7 (an entry of a device feed above its `after` is not shown and does not count) and S9
(the latest about, follow and block across an account's counted device feeds) in SQL.

Rules:
- Used only while `AccountBook.active`: without accounts, queries.py keeps the SQL it had
  before, so single-key networks pay nothing.
- A feed without a row in `account_devices` is a single-key identity: its own account, every
  entry counts. `coalesce(d.account, author)` names the account of a row.
- The viewer (`:me`) stands for its account: its follows and blocks are the latest counted
  ones across the account's device feeds, by (entry timestamp, feed, seq) (S9). Following a
  feed follows the account it counts for, and so every counted feed of that account.
- Latest-wins projections keep one row per (feed, key), its latest by seq; a device's row
  above its `after` is left out (not replaced by the device's earlier one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# S7 for a row `alias` with an author and a seq column, joined to `d` (its device row).
COUNTED = "(d.after IS NULL OR {seq} <= d.after)"

# The account of :me.
_MY_ACCOUNT = "coalesce((SELECT account FROM account_devices WHERE feed = :me), :me)"

# mine(f, after): the device feeds of :me's account (:me alone for a single-key identity).
_MINE = f"""
    mine(f, after) AS (
        SELECT feed, after FROM account_devices WHERE account = {_MY_ACCOUNT}
        UNION ALL SELECT :me, NULL
        WHERE NOT EXISTS (SELECT 1 FROM account_devices WHERE feed = :me))"""

# {name}(dst, value): per dst, the latest counted contacts row of my feeds (S9). A dst in
# the rows of one feed only (the common case) needs no comparison; the others are ranked by
# their entries' timestamps. CROSS JOIN keeps SQLite's order (my feeds, their contacts, each
# row's entry): left free it walked my entries and scanned my contacts for each (170 ms at
# 1,000 follows); ranking every row by its entry cost ~5 ms at 1,000 follows.
_LATEST_CONTACT = """
    {name}_rows(dst, src, value, seq) AS (
        SELECT c.dst, c.src, c.{flag}, c.{seq} FROM mine m CROSS JOIN contacts c ON c.src = m.f
        WHERE c.{seq} > 0 AND (m.after IS NULL OR c.{seq} <= m.after)),
    {name}_n(dst, value, n) AS MATERIALIZED (
        SELECT dst, value, count(*) FROM {name}_rows GROUP BY dst),
    {name}(dst, value) AS (
        SELECT dst, value FROM {name}_n WHERE n = 1
        UNION ALL
        SELECT dst, value FROM (
            SELECT r.dst, r.value, row_number() OVER (PARTITION BY r.dst
                ORDER BY f.ts DESC, r.src DESC, r.seq DESC) AS rank
            FROM {name}_n n CROSS JOIN {name}_rows r ON r.dst = n.dst
            CROSS JOIN entries f ON f.author = r.src AND f.seq = r.seq
            WHERE n.n > 1)
        WHERE rank = 1)"""

_FOLLOWS = _LATEST_CONTACT.format(name="follows", flag="following", seq="follow_seq")
_BLOCKS = _LATEST_CONTACT.format(name="blocks", flag="blocking", seq="block_seq")

# The same for an account of one feed that counts entirely (:me alone): its own rows.
_OWN_FOLLOWS = """
    follows(dst, value) AS (
        SELECT dst, 1 FROM contacts WHERE src = :me AND following = 1 AND blocking = 0)"""
_OWN_BLOCKS = """
    blocks(dst, value) AS (SELECT dst, 1 FROM contacts WHERE src = :me AND blocking = 1)"""


def contacts_cte(single: bool) -> str:
    """The WITH clause naming mine, follows and blocks of :me's account; `single`: the account
    is :me alone, counting entirely (then no merge across feeds is needed)."""
    if single:
        return f"WITH {_MINE},{_OWN_FOLLOWS},{_OWN_BLOCKS}"
    return f"WITH {_MINE},{_FOLLOWS},{_BLOCKS}"


# The accounts :me blocks (a blocked device feed stands for its account).
BLOCKED_ACCOUNTS = ("SELECT coalesce(bd.account, b.dst) FROM blocks b "
                    "LEFT JOIN account_devices bd ON bd.feed = b.dst WHERE b.value = 1")

# Every feed :me's account blocks (S9, across its feeds), each account it blocks (S10: a
# blocked device feed blocks its account) and every device feed of those accounts: what the
# store refuses to store, the replicator to want or serve, the views to show.
BLOCKED_FEEDS = (f"{contacts_cte(False)}, blocked(a) AS MATERIALIZED ({BLOCKED_ACCOUNTS}) "
                 "SELECT dst FROM blocks WHERE value = 1 UNION SELECT a FROM blocked UNION "
                 "SELECT d.feed FROM blocked CROSS JOIN account_devices d "
                 "ON d.account = blocked.a")

# The feeds of :me's account.
MINE_FEEDS = f"WITH {_MINE} SELECT f FROM mine"


def notifications_cte(single: bool) -> str:
    """The WITH clause naming mine and blocks of :me's account (see contacts_cte)."""
    return f"WITH {_MINE},{_OWN_BLOCKS if single else _BLOCKS}"


# Followed feeds, but none of an account blocked (S10: through it or any of its devices).
FOLLOWING = ("SELECT fo.dst FROM follows fo LEFT JOIN account_devices fd ON fd.feed = fo.dst "
             f"WHERE fo.value = 1 AND coalesce(fd.account, fo.dst) NOT IN ({BLOCKED_ACCOUNTS})")
BLOCKING = "SELECT dst FROM blocks WHERE value = 1"

# sources(f): every feed of the accounts `accounts(a)` (a feed with no row is its own).
_SOURCES = """,
    sources(f) AS (
        SELECT a FROM accounts
        UNION SELECT d.feed FROM accounts JOIN account_devices d ON d.account = accounts.a)"""

# followed(a): the accounts :me's account follows (a followed device feed stands for its
# account), and its own. With one feed, :me's own contacts; else merged across its feeds (S9).
_FOLLOWED_OWN = f"""WITH
    followed(a) AS (
        SELECT coalesce(d.account, c.dst) FROM contacts c
        LEFT JOIN account_devices d ON d.feed = c.dst
        WHERE c.src = :me AND c.following = 1 AND c.blocking = 0
        AND coalesce(d.account, c.dst) NOT IN (
            SELECT coalesce(bd.account, b.dst) FROM contacts b
            LEFT JOIN account_devices bd ON bd.feed = b.dst
            WHERE b.src = :me AND b.blocking = 1)
        UNION ALL SELECT {_MY_ACCOUNT})"""
_FOLLOWED_MERGED = contacts_cte(False) + f""",
    followed(a) AS (
        SELECT coalesce(d.account, fo.dst) FROM ({FOLLOWING}) fo
        LEFT JOIN account_devices d ON d.feed = fo.dst
        UNION ALL SELECT {_MY_ACCOUNT})"""


def followed_feeds(single: bool) -> str:
    """Every feed whose entries :me's timeline may show: the accounts its account follows and
    its own, and all their device feeds (S7 is applied to each row). `single`: :me is all of
    its account (see AccountBook.is_single)."""
    head = _FOLLOWED_OWN if single else _FOLLOWED_MERGED
    return (f"{head} SELECT a FROM followed UNION ALL SELECT d.feed FROM followed "
            "CROSS JOIN account_devices d ON d.account = followed.a")


def _timeline_filter(viewer: bytes, authors: Sequence[bytes] | None, single: bool,
                     kept: bool) -> tuple[str, str, dict[str, Any]]:
    """(WITH clause or "", condition on t, parameters): the rows of the accounts `viewer`'s
    account follows and its own (from temp.timeline_feeds if `kept`), or of the accounts of
    `authors`."""
    if authors is None:
        if kept:
            return "", "t.author IN temp.timeline_feeds", {}
        return "", f"t.author IN ({followed_feeds(single)})", {"me": viewer}
    params = {f"a{i}": key for i, key in enumerate(authors)}
    given = ", ".join(f"(:{name})" for name in params)
    head = f"""
        WITH given(a) AS (VALUES {given}),
        accounts(a) AS (
            SELECT coalesce(d.account, g.a) FROM given g
            LEFT JOIN account_devices d ON d.feed = g.a){_SOURCES}"""
    return head, "t.author IN (SELECT f FROM sources)", params


def timeline_query(viewer: bytes, authors: Sequence[bytes] | None, repeated_repost: str,
                   before: tuple[int, bytes, int] | None, limit: int, *, single: bool,
                   kept: bool, also: str = "") -> tuple[str, dict[str, Any]]:
    """The timeline (see Queries.timeline) with S7 applied: rows (header, payload, ts,
    account). `single`: `viewer` is all of its account; `kept`: temp.timeline_feeds holds
    followed_feeds for `viewer` (store/timeline_feeds.py); `also`: more conditions on the
    row, each led by AND (the mutes')."""
    head, shown, params = _timeline_filter(viewer, authors, single, kept)
    query = f"""{head}
        SELECT e.header, e.payload, t.ts, coalesce(d.account, t.author) FROM timeline t
        JOIN entries e ON e.author = t.author AND e.seq = t.seq
        LEFT JOIN account_devices d ON d.feed = t.author
        WHERE {shown} AND {COUNTED.format(seq="t.seq")}
        AND NOT EXISTS ({repeated_repost}){also}"""
    if before is not None:
        query += " AND (t.ts, t.author, t.seq) < (:ts, :author, :seq)"
        params.update(ts=before[0], author=before[1], seq=before[2])
    query += " ORDER BY t.ts DESC, t.author DESC, t.seq DESC LIMIT :limit"
    params["limit"] = limit
    return query, params


# Entries linking to a target (rows of links l), S7 applied: the `{where}` is the caller's.
LINKED = ("SELECT e.header, e.payload FROM links l JOIN entries e ON e.author = l.author "
          "AND e.seq = l.seq LEFT JOIN account_devices d ON d.feed = l.author "
          f"WHERE {COUNTED.format(seq='l.seq')} AND ")

# Counts (see Queries.counts), S7 applied; reposts and reactions once per account.
COUNTS = ("SELECT l.target, l.rel, l.extra, CASE l.rel WHEN 'parent' THEN count(*) "
          "ELSE count(DISTINCT coalesce(d.account, l.author)) END FROM links l "
          "LEFT JOIN account_devices d ON d.feed = l.author WHERE l.target IN ({marks}) "
          "AND l.rel IN ('parent', 'repost', 'react') AND "
          f"{COUNTED.format(seq='l.seq')} GROUP BY l.target, l.rel, l.extra")

# The latest counted value of one about field across the device feeds of account ?1 (S9).
_LATEST_ABOUT = """
    SELECT p.{field} FROM account_devices d JOIN profiles p ON p.author = d.feed
    JOIN entries e ON e.author = p.author AND e.seq = p.{field}_seq
    WHERE d.account = ?1 AND p.{field}_seq > 0 AND (d.after IS NULL OR p.{field}_seq <= d.after)
    ORDER BY e.ts DESC, p.author DESC, p.{field}_seq DESC LIMIT 1"""

# (name, bio) of account ?1 (S9): NULLs if none counts.
ACCOUNT_PROFILE = (f"SELECT ({_LATEST_ABOUT.format(field='name')}), "
                   f"({_LATEST_ABOUT.format(field='bio')})")

# (addrs,) of the latest counted relays entry of account ?1 (S9), if any.
ACCOUNT_RELAYS = """
    SELECT r.addrs FROM account_devices d JOIN relay_lists r ON r.author = d.feed
    JOIN entries e ON e.author = r.author AND e.seq = r.seq
    WHERE d.account = ?1 AND (d.after IS NULL OR r.seq <= d.after)
    ORDER BY e.ts DESC, r.author DESC, r.seq DESC LIMIT 1"""


def notification_sources(plain: str) -> str:
    """The notification sources of queries.py for :me's account: what concerns any of my
    account's feeds (or the account id), with the S7 filter on the actor left to the caller.

    Raises:
        ValueError: `plain` no longer says what is replaced here (caught by the tests at
            import).
    """
    mine_or_account = f"(SELECT f FROM mine UNION SELECT {_MY_ACCOUNT})"
    for old, new in (("l.target = :me", f"l.target IN {mine_or_account}"),
                     ("m.author = :me", "m.author IN (SELECT f FROM mine)"),
                     ("c.dst = :me", f"c.dst IN {mine_or_account}")):
        if old not in plain:
            raise ValueError(f"notification sources without {old!r}")
        plain = plain.replace(old, new)
    return plain

