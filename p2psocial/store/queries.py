"""Reading the projections: timelines, threads, links and counts, profiles, the follow graph,
relay lists and notifications (`Queries`, a part of `Store`).

Rules:
- Only reads: every write goes through the store's write path, in one transaction per batch.
- Counts and notifications are once per author: an author's repeated reaction, repost or
  notification counts once; a deleted entry's links are gone (see the store's delete rule).
- The timeline orders by min(author timestamp, arrival time), so a post dated in the future
  cannot pin itself to the top.
- Accounts (S7, S9): once an account has devices (`accounts.active`), the reads use the SQL of
  store/account_queries.py instead: uncounted entries of device feeds are left out, rows name
  their account, profiles and the viewer's follows span the account's devices. Until then
  the SQL below is all there is.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite

from p2psocial.core.entry import Entry
from p2psocial.store import account_queries as acct
from p2psocial.store.account_reads import latest_by_account
from p2psocial.store.accounts import AccountBook
from p2psocial.store.errors import translated
from p2psocial.store.mutes import ACCOUNT_CONDITION as MUTED_OUT
from p2psocial.store.mutes import MuteBook
from p2psocial.store.records import Counts, Notification, Profile, TimelineItem
from p2psocial.store.rows import (
    HASH_KEY,
    chunked,
    entry_of_row,
    like_escape,
)

# Rows (kind, author, seq, ts, target) of Store.notifications, before filtering and paging.
_NOTIFICATION_SOURCES = """
    SELECT 'mention' AS kind, l.author, l.seq, l.ts, NULL AS target FROM links l
    WHERE l.target = :me AND l.rel = 'mention' AND NOT EXISTS (
        SELECT 1 FROM links p
        JOIN entries m ON substr(m.hash, 1, 8) = substr(p.target, 1, 8) AND m.hash = p.target
        WHERE p.author = l.author AND p.seq = l.seq AND p.rel IN ('parent', 'quote')
        AND m.author = :me)
    UNION ALL
    SELECT CASE l.rel WHEN 'parent' THEN 'reply' ELSE l.rel END, l.author, l.seq, l.ts, l.target
    FROM entries m JOIN links l ON l.target = m.hash
    WHERE m.author = :me AND l.rel IN ('parent', 'quote', 'react', 'repost')
    AND (l.rel IN ('parent', 'quote') OR NOT EXISTS (
        SELECT 1 FROM links d WHERE d.target = l.target AND d.rel = l.rel
        AND d.author = l.author AND d.seq < l.seq AND d.extra IS l.extra))
    UNION ALL
    SELECT 'follow', c.src, c.follow_seq, f.ts, NULL FROM contacts c
    JOIN entries f ON f.author = c.src AND f.seq = c.follow_seq
    WHERE c.dst = :me AND c.following = 1"""


# True for a timeline row (t) that repeats its author's earlier live repost of the same entry.
# Written so that SQLite finds r by (author, seq), then o by the primary key: as a join it
# scanned every link of the author, and with a plain `r.rel =` every repost (the `+`).
_REPEATED_REPOST = """
    SELECT 1 FROM links r WHERE r.author = t.author AND r.seq = t.seq AND +r.rel = 'repost'
    AND EXISTS (SELECT 1 FROM links o WHERE o.target = r.target AND o.rel = 'repost'
                AND o.author = r.author AND o.seq < r.seq)"""

_ACCOUNT_NOTIFICATION_SOURCES = acct.notification_sources(_NOTIFICATION_SOURCES)

# A row (t: timeline, n: notification sources) whose feed or account is not muted (the
# feed too: a feed muted before its account was known here).
_MUTED_ACCOUNT_ROW = " AND ".join(MUTED_OUT.format(account=a)
                                  for a in ("t.author", "coalesce(d.account, t.author)"))
_MUTED_NOTIFICATION = " AND ".join(MUTED_OUT.format(account=a)
                                   for a in ("n.author", "coalesce(d.account, n.author)"))

_Item = TypeVar("_Item", TimelineItem, Notification)


class Queries:
    """The store's reads of its projections (mixed into `Store`)."""

    _conn: aiosqlite.Connection
    accounts: AccountBook
    mutes: MuteBook

    @translated
    async def get(self, entry_hash: bytes) -> Entry | None:
        """The entry with this hash, or None."""
        row = await self._one(f"SELECT header, payload FROM entries WHERE {HASH_KEY} = "
                              "substr(?1, 1, 8) AND hash = ?1", (entry_hash,))
        return None if row is None else entry_of_row(row)

    @translated
    async def timeline(self, viewer: bytes, *, limit: int = 50,
                       before: tuple[int, bytes, int] | None = None,
                       authors: Sequence[bytes] | None = None) -> list[TimelineItem]:
        """Newest posts and reposts of the feeds `viewer` follows and of `viewer`; an
        author's repeated repost of one entry is shown once (its first). The home timeline
        leaves out what the mutes hide (store/mutes.py); a profile view (`authors`) does not.

        Args:
            viewer: whose follows define the timeline.
            limit: how many items.
            before: a cursor from a previous page's last item, to page backwards.
            authors: instead of the followed set, exactly these feeds (a profile view); with
                accounts, every counted feed of the accounts they count for.
        """
        if authors is not None or self.mutes.empty:
            return await self._timeline_page(viewer, limit, before, authors)
        return await self._unmuted(
            lambda n, cursor: self._timeline_page(viewer, n, cursor, None, muted=True),
            limit, before)

    async def _timeline_page(self, viewer: bytes, limit: int,
                             before: tuple[int, bytes, int] | None,
                             authors: Sequence[bytes] | None, *, muted: bool = False
                             ) -> list[TimelineItem]:
        """One page of `timeline`; `muted`: leave out rows of muted accounts."""
        if self.accounts.active:
            if authors is not None and not authors:
                return []
            single = await self.accounts.is_single(viewer)
            kept = authors is None and await self.accounts.timeline_feeds.ready(
                self.accounts.in_db_thread, viewer, self.accounts.generation, single)
            sql, named = acct.timeline_query(viewer, authors, _REPEATED_REPOST, before, limit,
                                             single=single, kept=kept,
                                             also=" AND " + _MUTED_ACCOUNT_ROW if muted else "")
            async with self._conn.execute(sql, named) as cur:
                return [TimelineItem(entry_of_row(r), int(r[2]), bytes(r[3]))
                        for r in await cur.fetchall()]
        params: list[Any] = []
        if authors is None:
            source = ("SELECT dst FROM contacts WHERE src = ? AND following = 1 AND "
                      "blocking = 0 UNION ALL SELECT ?")
            params.extend([viewer, viewer])
        else:
            source = ",".join("?" * len(authors)) or "NULL"
            params.extend(authors)
        query = (f"SELECT e.header, e.payload, t.ts FROM timeline t JOIN entries e "
                 f"ON e.author = t.author AND e.seq = t.seq WHERE t.author IN ({source}) "
                 f"AND NOT EXISTS ({_REPEATED_REPOST})")
        if muted:
            query += " AND " + MUTED_OUT.format(account="t.author")
        if before is not None:
            query += " AND (t.ts, t.author, t.seq) < (?, ?, ?)"
            params.extend(before)
        query += " ORDER BY t.ts DESC, t.author DESC, t.seq DESC LIMIT ?"
        params.append(limit)
        async with self._conn.execute(query, params) as cur:
            return [TimelineItem(entry_of_row(r), int(r[2])) for r in await cur.fetchall()]

    @translated
    async def thread(self, root: bytes, *, viewer: bytes | None = None) -> list[Entry]:
        """The root entry (if held) and every reply naming it as root, oldest first.

        Replies by feeds `viewer` blocks are left out.
        """
        out: list[Entry] = []
        first = await self.get(root)
        if first is not None:
            out.append(first)
        head = (acct.LINKED if self.accounts.active else
                "SELECT e.header, e.payload FROM links l JOIN entries e ON e.author = l.author "
                "AND e.seq = l.seq WHERE ")
        async with self._conn.execute(
                head + "l.target = ? AND l.rel = 'root' ORDER BY l.ts, l.author, l.seq",
                (root,)) as cur:
            out.extend(entry_of_row(r) for r in await cur.fetchall())
        if viewer is not None:
            blocked = await self.blocked_feeds(viewer)
            out = [e for e in out if e.author not in blocked]
        return out

    @translated
    async def linked(self, target: bytes, rel: str, *, limit: int = 100) -> list[Entry]:
        """Entries that point at `target` with relation `rel`, newest first."""
        head = (acct.LINKED if self.accounts.active else
                "SELECT e.header, e.payload FROM links l JOIN entries e ON e.author = l.author "
                "AND e.seq = l.seq WHERE ")
        async with self._conn.execute(
                head + "l.target = ? AND l.rel = ? ORDER BY l.ts DESC LIMIT ?",
                (target, rel, limit)) as cur:
            return [entry_of_row(r) for r in await cur.fetchall()]

    @translated
    async def counts(self, hashes: Sequence[bytes]) -> dict[bytes, Counts]:
        """Reply, repost and reaction counts for each of `hashes`: every reply counts, but
        reposts and each reaction count once per author (per account, with accounts; deleted
        and uncounted ones not at all)."""
        if not hashes:
            return {}
        replies: dict[bytes, int] = {}
        reposts: dict[bytes, int] = {}
        reactions: dict[bytes, dict[str, int]] = {}
        marks = ",".join("?" * len(hashes))
        query = (acct.COUNTS.format(marks=marks) if self.accounts.active else
                 f"SELECT target, rel, extra, CASE rel WHEN 'parent' THEN count(*) "
                 f"ELSE count(DISTINCT author) END FROM links WHERE target IN ({marks}) "
                 f"AND rel IN ('parent', 'repost', 'react') GROUP BY target, rel, extra")
        async with self._conn.execute(query, list(hashes)) as cur:
            for target, rel, extra, n in await cur.fetchall():
                key = bytes(target)
                if rel == "parent":
                    replies[key] = replies.get(key, 0) + int(n)
                elif rel == "repost":
                    reposts[key] = reposts.get(key, 0) + int(n)
                else:
                    reactions.setdefault(key, {})[str(extra)] = int(n)
        return {h: Counts(replies.get(h, 0), reposts.get(h, 0), reactions.get(h, {}))
                for h in hashes}

    @translated
    async def links_by(self, author: bytes, targets: Iterable[bytes]
                       ) -> list[tuple[bytes, str, str | None, bytes]]:
        """`author`'s live reactions and reposts of `targets`, as (target, rel, reaction,
        hash of the react or repost entry); deleted ones are gone from `links`."""
        rows = await self._rows_in(
            "SELECT l.target, l.rel, l.extra, e.hash FROM links l JOIN entries e ON "
            "e.author = l.author AND e.seq = l.seq WHERE l.rel IN ('react', 'repost') AND "
            "l.author = ? AND l.target IN ({marks})", set(targets), first=[author])
        return [(bytes(t), str(rel), None if x is None else str(x), bytes(h))
                for t, rel, x, h in rows]

    @translated
    async def profile(self, author: bytes) -> Profile:
        """The latest name and bio a feed gave itself; with accounts, those of the account
        it counts for (S9)."""
        if self.accounts.active:
            found = await self.profiles([author])
            return found.get(author) or Profile(
                (await self.accounts.accounts_of([author]))[author])
        row = await self._one("SELECT name, bio FROM profiles WHERE author = ?", (author,))
        return Profile(author) if row is None else Profile(author, row[0], row[1])

    @translated
    async def profiles(self, authors: Iterable[bytes]) -> dict[bytes, Profile]:
        """Profiles of several feeds (those that have one), by the keys asked; with accounts,
        a device feed or account id gets its account's profile (S9)."""
        query = "SELECT author, name, bio FROM profiles WHERE author IN ({marks})"
        if self.accounts.active:
            found = await latest_by_account(self._conn, self.accounts, authors, query,
                                            acct.ACCOUNT_PROFILE)
            return {key: Profile(a, *values) for key, (a, values) in found.items()}
        rows = await self._rows_in(query, set(authors))
        return {bytes(a): Profile(bytes(a), name, bio) for a, name, bio in rows}

    @translated
    async def find_profiles(self, text: str, *, limit: int = 20) -> list[Profile]:
        """Feeds whose name contains `text` (case-insensitive); with accounts, accounts whose
        name (S9) does."""
        async with self._conn.execute(
                "SELECT author, name, bio FROM profiles WHERE name LIKE ? ESCAPE '\\' LIMIT ?",
                ("%" + like_escape(text) + "%", limit)) as cur:
            found = [Profile(bytes(a), n, b) for a, n, b in await cur.fetchall()]
        folded = text.casefold()
        return [p for p in await self._as_accounts(found)
                if p.name is not None and folded in p.name.casefold()]

    @translated
    async def named(self, key: str) -> list[Profile]:
        """Feeds whose name, without whitespace, is `key` (ASCII letters in any case); the
        caller compares exactly (see runtime.names). With accounts, the accounts of those
        feeds, with their names (S9)."""
        pattern = like_escape("".join(key.split()))
        async with self._conn.execute(
                "SELECT author, name, bio FROM profiles WHERE replace(replace(name, ' ', ''), "
                "char(9), '') LIKE ? ESCAPE '\\'", (pattern,)) as cur:
            found = [Profile(bytes(a), n, b) for a, n, b in await cur.fetchall()]
        return await self._as_accounts(found)

    async def _as_accounts(self, found: list[Profile]) -> list[Profile]:
        """With accounts, each profile found becomes its account's (S9), once; without,
        `found` as it is."""
        if not self.accounts.active:
            return found
        theirs = await self.profiles(p.author for p in found)
        out: dict[bytes, Profile] = {}
        for p in found:
            account = theirs.get(p.author)
            if account is not None:
                out.setdefault(account.author, account)
        return list(out.values())

    @translated
    async def referenced(self, key: bytes) -> bool:
        """True if an entry held mentions the feed `key`, or follows, unfollows, blocks or
        unblocks it."""
        row = await self._one("SELECT EXISTS (SELECT 1 FROM links WHERE target = ? AND "
                              "rel = 'mention') OR EXISTS (SELECT 1 FROM contacts WHERE "
                              "dst = ?)", (key, key))
        return bool(row[0])

    @translated
    async def following(self, src: bytes) -> set[bytes]:
        """Feeds that `src` follows (and does not block); with accounts, that `src`'s account
        follows (S9, across its device feeds)."""
        if self.accounts.active:
            return await self._account_contact_set(acct.FOLLOWING, src)
        return await self._contact_set("SELECT dst FROM contacts WHERE src = ? AND "
                                       "following = 1 AND blocking = 0", src)

    @translated
    async def follow_graph(self, sources: Iterable[bytes]) -> dict[bytes, set[bytes]]:
        """For each of `sources`, the feeds it follows (as far as we hold its log)."""
        listed = set(sources)
        out: dict[bytes, set[bytes]] = {src: set() for src in listed}
        for src, dst in await self._rows_in("SELECT src, dst FROM contacts WHERE following = 1 "
                                            "AND blocking = 0 AND src IN ({marks})", listed):
            out[bytes(src)].add(bytes(dst))
        return out

    @translated
    async def blocking(self, src: bytes) -> set[bytes]:
        """Feeds that `src` blocks; with accounts, that `src`'s account blocks (S9)."""
        if self.accounts.active:
            return await self._account_contact_set(acct.BLOCKING, src)
        return await self._contact_set("SELECT dst FROM contacts WHERE src = ? AND "
                                       "blocking = 1", src)

    @translated
    async def blocked_feeds(self, src: bytes) -> set[bytes]:
        """Every feed whose entries `src` must not replicate, serve or show: the feeds it
        blocks (as `blocking`) and, with accounts, each account blocked through its id or
        one of its device feeds, with all that account's device feeds (S10). One query; the
        one answer for every "is this blocked?" outside the block verbs."""
        if not self.accounts.active:
            return await self.blocking(src)
        accounts = self.accounts
        found: set[bytes] = await accounts.in_db_thread(accounts.blocked_feeds_sync, src)
        return found

    @translated
    async def followers(self, dst: bytes) -> set[bytes]:
        """Feeds we hold that follow `dst`."""
        return await self._contact_set("SELECT src FROM contacts WHERE dst = ? AND "
                                       "following = 1", dst)

    async def _rows_in(self, template: str, keys: Iterable[Any],
                       first: Sequence[Any] = ()) -> list[Any]:
        """All rows of `template` (its `{marks}` become one `?` per key) for `keys`, asked
        IN_CHUNK keys per query; `first` are the values of `?`s before `{marks}`."""
        rows: list[Any] = []
        for part, marks in chunked(keys):
            async with self._conn.execute(template.format(marks=marks),
                                          [*first, *part]) as cur:
                rows.extend(await cur.fetchall())
        return rows

    async def _contact_set(self, query: str, key: bytes) -> set[bytes]:
        async with self._conn.execute(query, (key,)) as cur:
            return {bytes(r[0]) for r in await cur.fetchall()}

    async def _account_contact_set(self, query: str, key: bytes) -> set[bytes]:
        cte = acct.contacts_cte(await self.accounts.is_single(key))
        async with self._conn.execute(f"{cte} {query}", {"me": key}) as cur:
            return {bytes(r[0]) for r in await cur.fetchall()}

    @translated
    async def relay_list(self, author: bytes) -> list[str]:
        """The relay addresses a feed last published."""
        return (await self.relay_lists([author])).get(author, [])

    @translated
    async def relay_lists(self, authors: Iterable[bytes]) -> dict[bytes, list[str]]:
        """The relay addresses each of `authors` last published (feeds with none left out);
        with accounts, those its account last published (S9)."""
        query = "SELECT author, addrs FROM relay_lists WHERE author IN ({marks})"
        if self.accounts.active:
            found = await latest_by_account(self._conn, self.accounts, authors, query,
                                            acct.ACCOUNT_RELAYS)
            return {key: list(json.loads(values[0])) for key, (_, values) in found.items()}
        rows = await self._rows_in(query, set(authors))
        return {bytes(author): list(json.loads(addrs)) for author, addrs in rows}

    @translated
    async def notifications(self, viewer: bytes, *, limit: int = 50,
                            before: tuple[int, bytes, int] | None = None
                            ) -> list[Notification]:
        """What other feeds did that concerns `viewer`, newest first: posts mentioning it,
        replies, quotes, reactions and reposts of its entries, and follows of it (those still
        in force). Feeds `viewer` blocks and `viewer`'s own entries are left out; a reply or
        quote that also mentions `viewer` is listed once, as the reply or quote. So is what
        the mutes hide (store/mutes.py).

        Args:
            viewer: whose notifications.
            limit: how many.
            before: a cursor from a previous page's last item, to page backwards.
        """
        if self.mutes.empty:
            return await self._notification_page(viewer, limit, before)
        return await self._unmuted(
            lambda n, cursor: self._notification_page(viewer, n, cursor, muted=True),
            limit, before)

    async def _unmuted(self, fetch: Callable[[int, tuple[int, bytes, int] | None],
                                             Awaitable[list[_Item]]],
                       limit: int, before: tuple[int, bytes, int] | None) -> list[_Item]:
        """`limit` items of `fetch` (pages newest first) that the mutes do not hide: pages are
        read on from where the last one stopped until enough are found or none are left."""
        out: list[_Item] = []
        while True:
            page = await fetch(limit, before)
            hidden = await self.mutes.hidden([i.entry for i in page], self.get,
                                             self.accounts.accounts_of)
            out.extend(i for i in page if i.entry.hash not in hidden)
            if len(out) >= limit or len(page) < limit:
                return out[:limit]
            before = page[-1].cursor

    async def _notification_page(self, viewer: bytes, limit: int,
                                 before: tuple[int, bytes, int] | None, *,
                                 muted: bool = False) -> list[Notification]:
        """One page of `notifications`; `muted`: leave out rows of muted accounts."""
        if self.accounts.active:
            query = f"""{acct.notifications_cte(await self.accounts.is_single(viewer))}
                SELECT n.kind, e.header, e.payload, n.ts, n.target, coalesce(d.account, n.author)
                FROM ({_ACCOUNT_NOTIFICATION_SOURCES}) n
                JOIN entries e ON e.author = n.author AND e.seq = n.seq
                LEFT JOIN account_devices d ON d.feed = n.author
                WHERE {acct.COUNTED.format(seq="n.seq")}
                AND n.author NOT IN (SELECT f FROM mine)
                AND coalesce(d.account, n.author) NOT IN ({acct.BLOCKED_ACCOUNTS})"""
        else:
            query = f"""
                SELECT n.kind, e.header, e.payload, n.ts, n.target, n.author
                FROM ({_NOTIFICATION_SOURCES}) n
                JOIN entries e ON e.author = n.author AND e.seq = n.seq
                WHERE n.author != :me AND n.author NOT IN
                    (SELECT dst FROM contacts WHERE src = :me AND blocking = 1)"""
            if muted:
                query += " AND " + MUTED_OUT.format(account="n.author")
        if muted and self.accounts.active:
            query += " AND " + _MUTED_NOTIFICATION
        params: dict[str, Any] = {"me": viewer, "limit": limit}
        if before is not None:
            query += " AND (n.ts, n.author, n.seq) < (:ts, :author, :seq)"
            params.update(ts=before[0], author=before[1], seq=before[2])
        query += " ORDER BY n.ts DESC, n.author DESC, n.seq DESC LIMIT :limit"
        async with self._conn.execute(query, params) as cur:
            return [Notification(str(kind), entry_of_row((h, p)), None if t is None else bytes(t),
                                 int(ts), bytes(a)) for kind, h, p, ts, t, a
                    in await cur.fetchall()]

    async def _one(self, query: str, params: Sequence[Any]) -> Any:
        async with self._conn.execute(query, params) as cur:
            return await cur.fetchone()
