"""The application service: everything a user can do, over the store (and, later, the node).

Rules:
- This is the one API the CLI, the control socket and the UI call. It speaks in handles,
  hex hashes and view objects (p2psocial.runtime.views), never SQL or libp2p.
- Reads need only the public key; the secret key is unlocked on the first write, through the
  `unlock` callable the caller supplies (which may prompt for a passphrase).
- An identity restored from an archive writes nothing until its latest entries were learnt
  from the network or the user confirms the backup is current (`confirm_restored`), because
  writing from a stale backup would fork the feed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from p2psocial.core import limits
from p2psocial.core.archive import Archive
from p2psocial.core.content import (
    About,
    Block,
    Content,
    Delete,
    Follow,
    Post,
    PrivateMessage,
    React,
    Relays,
    Repost,
    Unblock,
    Unfollow,
)
from p2psocial.core.dm import OpenedMessage, open_message, seal_message
from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import HandleError, UsageError, ValidationError
from p2psocial.core.feed import FeedState, Placement, place
from p2psocial.core.identity import Identity, handle_of, parse_handle
from p2psocial.core.invite import (
    check_usable,
    create_invite,
    decode_invite,
    encode_invite,
    looks_like_invite,
)
from p2psocial.core.text import mentions_in, tags_in
from p2psocial.runtime import names, toggles
from p2psocial.runtime.views import (
    EntryView,
    FeedCheck,
    FeedLog,
    FeedView,
    NotificationView,
    PeerView,
    VerifyReport,
    entry_view,
)
from p2psocial.store.sqlite import Store, TimelineItem

RESTORED_KEY = "restored"  # meta: b"1" after an import, LOST_DATABASE for a lost database
LOST_DATABASE = b"lost"
HINTS_PREFIX = "hints:"
MIN_REF_HEX = 6


MAX_PAGE = 10_000


def _page(limit: int) -> int:
    """A page size asked for: 1 to MAX_PAGE (SQLite would read a negative one as no limit)."""
    if not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"a page holds 1 to {MAX_PAGE:,} items, not {limit}")
    return limit


def relay_token_key(addr: str) -> str:
    """Meta key of the invite to present when joining the relay at `addr`."""
    return "relay-invite:" + addr.rsplit("/p2p/", 1)[-1]


def _hint_list(raw: bytes | None) -> list[str]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _relay_addr(addr: str) -> str:
    addr = addr.strip()
    head, sep, peer = addr.rpartition("/p2p/")
    if not addr.startswith("/") or not sep or not head or "/" in peer or " " in addr \
            or "/p2p-circuit" in addr:
        raise UsageError(f"not a relay address: {addr!r:.120} "
                         "(expected /ip4/…/tcp/…/p2p/<relay>)")
    parse_handle(peer)
    return addr


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an archive import stored."""

    handle: str
    stored: int
    duplicates: int


class Service:
    """The user's actions and views over one store."""

    def __init__(self, store: Store, public_key: bytes,
                 unlock: Callable[[], Identity]) -> None:
        self.store = store
        self.public_key = public_key
        self._unlock = unlock
        self._identity: Identity | None = None
        self.on_appended: list[Callable[[Entry], Any]] = []
        # the node's connected peers, when a node runs (for `follow`'s check of unknown feeds)
        self.peers: Callable[[], Awaitable[list[PeerView]]] | None = None

    @property
    def handle(self) -> str:
        """My handle."""
        return handle_of(self.public_key)

    def identity(self) -> Identity:
        """My identity, unlocking the secret key on first use."""
        if self._identity is None:
            identity = self._unlock()
            if identity.public_key != self.public_key:
                raise UsageError("the key file does not belong to this database's owner")
            self._identity = identity
        return self._identity

    # --- writing --------------------------------------------------------------------------

    async def append(self, content: Content) -> EntryView:
        """Sign and append `content` to my feed."""
        restored = await self.store.get_meta(RESTORED_KEY)
        if restored == LOST_DATABASE:
            raise UsageError("your key has posted before, but this home's database holds "
                             "none of your entries: run `p2psocial run` with a peer that "
                             "follows you so the node learns them first, or pass --force to "
                             "start again without them (whoever holds them sees a fork)")
        if restored:
            raise UsageError("this identity was restored from a backup: run `p2psocial run` "
                             "so the node can learn your latest entries from the network "
                             "first, or pass --force if the backup is current")
        try:
            entry = await self.store.append(self.identity(), content)
        except ValidationError as exc:
            # e.g. a post within every field limit whose encoding exceeds the payload limit
            raise UsageError(f"this cannot be posted: {exc}") from exc
        for callback in self.on_appended:
            callback(entry)
        return await self._view(entry)

    async def confirm_restored(self) -> None:
        """Declare that the restored backup is current: writing is allowed again."""
        await self.store.set_meta(RESTORED_KEY, None)

    async def post(self, text: str, *, reply_to: str | None = None, quote: str | None = None,
                   cw: str | None = None, tags: Sequence[str] = (), plain: bool = False
                   ) -> EntryView:
        """Post `text`; @handles and @names of people I know become mentions (an @name
        that names nobody known, or several, is refused unless `plain`), #words tags."""
        text = text.strip()
        if not text:
            raise UsageError("the post is empty: nothing was posted")
        if not plain:
            text = await names.resolve_mentions(self.store, text)
        if len(text) > limits.MAX_POST_CHARS:
            raise UsageError(f"the post is {len(text)} characters long; the limit is "
                             f"{limits.MAX_POST_CHARS}")
        if cw is not None and len(cw) > limits.MAX_CW_CHARS:
            raise UsageError(f"the content warning is longer than {limits.MAX_CW_CHARS} "
                             "characters")
        root = parent = None
        if reply_to:
            parent = await self.resolve(reply_to)
            target = await self.store.get(parent)
            root = parent
            if target is not None and isinstance(target.content, Post) and target.content.root:
                root = target.content.root
        all_tags = list(dict.fromkeys([*tags_in(text), *(t.lstrip("#") for t in tags)]))
        content = Post(text=text, root=root, parent=parent, mentions=tuple(mentions_in(text)),
                       tags=tuple(all_tags[:limits.MAX_TAGS]), cw=cw or None,
                       quote=await self.resolve(quote) if quote else None)
        return await self.append(content)

    async def set_about(self, name: str | None = None, bio: str | None = None) -> EntryView:
        """Set my display name and/or bio."""
        if name is None and bio is None:
            raise UsageError("give --name and/or --bio")
        if name is not None and len(name) > limits.MAX_NAME_CHARS:
            raise UsageError(f"the name is longer than {limits.MAX_NAME_CHARS} characters")
        if bio is not None and len(bio) > limits.MAX_BIO_CHARS:
            raise UsageError(f"the bio is longer than {limits.MAX_BIO_CHARS} characters")
        return await self.append(About(name=name, bio=bio))

    async def follow(self, handle: str, *, unknown: bool = False) -> EntryView:
        """Follow a feed, by handle, name or invite token. A feed nothing here has ever
        seen (most likely a mistyped handle) is refused unless `unknown` (see names.seen).

        An invite also remembers where the inviter can be reached, and if I have no relays
        yet, the inviter's relays become mine (with the invite to present when joining).
        """
        if looks_like_invite(handle):
            return await self._follow_invite(handle)
        key = await self._other(handle, "follow")
        if key in await self.store.following(self.public_key):
            raise UsageError(f"you already follow {handle_of(key)}")
        if not unknown and not await self._seen(key):
            raise UsageError(f"nothing here has ever seen {handle_of(key)}: check the handle "
                             "(a typo follows nobody), or pass --unknown to follow it anyway")
        return await self.append(Follow(feed=key))

    async def _seen(self, key: bytes) -> bool:
        if await names.seen(self.store, key, await self.address_hints(handle_of(key))):
            return True
        peers = [] if self.peers is None else await self.peers()  # the slowest check: last
        return handle_of(key) in {p.handle for p in peers}

    async def unfollow(self, handle: str) -> EntryView:
        """Stop following a feed."""
        key = await self._other(handle, "unfollow")
        if key not in await self.store.following(self.public_key):
            raise UsageError(f"you do not follow {handle_of(key)}")
        return await self.append(Unfollow(feed=key))

    async def block(self, handle: str) -> EntryView:
        """Block a feed: it is hidden, and never replicated or served."""
        key = await self._other(handle, "block")
        if key in await self.store.blocking(self.public_key):
            raise UsageError(f"you already block {handle_of(key)}")
        return await self.append(Block(feed=key))

    async def unblock(self, handle: str) -> EntryView:
        """Lift a block."""
        key = await self._other(handle, "unblock")
        if key not in await self.store.blocking(self.public_key):
            raise UsageError(f"you do not block {handle_of(key)}")
        return await self.append(Unblock(feed=key))

    async def react(self, ref: str, reaction: str = "❤") -> EntryView:
        """React to an entry (once per reaction: see runtime.toggles)."""
        reaction = toggles.check_reaction(reaction)
        target = await self.resolve(ref)
        if await toggles.reacted(self.store, self.public_key, target, reaction):
            raise toggles.refuse_again(f"reacted {reaction} to", target.hex(),
                                       f"unreact {target.hex()[:12]} {reaction}")
        return await self.append(React(target=target, reaction=reaction))

    async def unreact(self, ref: str, reaction: str = "❤") -> EntryView:
        """Undo my reaction to an entry: delete my react entries giving it `reaction`."""
        reaction = toggles.check_reaction(reaction)
        target = await self.resolve(ref)
        mine = await toggles.reacted(self.store, self.public_key, target, reaction)
        if not mine:
            raise toggles.refuse_undo(f"reacted {reaction} to", target.hex())
        return await self._delete_all(mine)

    async def repost(self, ref: str) -> EntryView:
        """Repost an entry to my followers (once: see runtime.toggles)."""
        target = await self.resolve(ref)
        if await toggles.reposted(self.store, self.public_key, target):
            raise toggles.refuse_again("reposted", target.hex(),
                                       f"unrepost {target.hex()[:12]}")
        return await self.append(Repost(target=target))

    async def unrepost(self, ref: str) -> EntryView:
        """Undo my repost of an entry: delete my repost entries of it."""
        target = await self.resolve(ref)
        mine = await toggles.reposted(self.store, self.public_key, target)
        if not mine:
            raise toggles.refuse_undo("reposted", target.hex())
        return await self._delete_all(mine)

    async def _delete_all(self, hashes: Sequence[bytes]) -> EntryView:
        views = [await self.append(Delete(target=h)) for h in hashes]
        return views[-1]

    async def delete(self, ref: str) -> EntryView:
        """Delete one of my entries: every peer drops its payload."""
        target_hash = await self.resolve(ref)
        target = await self.store.get(target_hash)
        if target is None or target.author != self.public_key:
            raise UsageError("you can only delete your own entries")
        if target.payload is None:
            raise UsageError("that entry is already deleted")
        return await self.append(Delete(target=target_hash))

    async def send_dm(self, handles: Sequence[str], text: str) -> EntryView:
        """Send an encrypted private message readable only by `handles` and me."""
        readers = [await self._other(h, "message") for h in handles]
        return await self.append(seal_message(self.identity(), readers, text.strip()))

    def open_dm(self, entry: Entry) -> OpenedMessage | None:
        """A private message opened with my key, or None if it is not for me."""
        if not isinstance(entry.content, PrivateMessage):
            return None
        return open_message(self.identity(), entry.content)

    # --- reading --------------------------------------------------------------------------

    async def resolve(self, ref: str) -> bytes:
        """The full hash of the entry `ref` names (64 hex characters or a unique prefix)."""
        text = ref.strip().lower()
        try:
            raw = bytes.fromhex(text if len(text) % 2 == 0 else text[:-1])
        except ValueError:
            raise UsageError(f"not an entry reference: {ref!r:.80} (expected hex)") from None
        if len(text) > 2 * limits.HASH_BYTES:
            raise UsageError(f"an entry reference is at most {2 * limits.HASH_BYTES} hex "
                             f"characters, not {len(text):,}")
        if len(text) == 2 * limits.HASH_BYTES:
            return raw
        if len(text) < MIN_REF_HEX:
            raise UsageError(f"an entry reference needs at least {MIN_REF_HEX} hex characters")
        matches = [e for e in await self.store.find_by_prefix(raw)
                   if e.hash.hex().startswith(text)]
        if not matches:
            raise UsageError(f"no entry starts with {text}")
        if len(matches) > 1:
            raise UsageError(f"{text} names more than one entry: give more characters")
        return matches[0].hash

    async def feed(self, handle: str | None = None) -> FeedView:
        """What we hold of a feed and how I relate to it."""
        key = self.public_key if handle is None else await self.key_of(handle)
        state = await self.store.feed_state(key)
        profile = await self.store.profile(key)
        following = await self.store.following(self.public_key)
        blocking = await self.store.blocking(self.public_key)
        return FeedView(author=handle_of(key), name=profile.name, bio=profile.bio,
                        lo=state.lo, hi=state.hi, forked=state.forked,
                        following=key in following, blocked=key in blocking,
                        is_me=key == self.public_key,
                        followers=len(await self.store.followers(key)),
                        follows=len(await self.store.following(key)),
                        seen=key == self.public_key or key in following
                        or await self._seen(key))

    async def log(self, handle: str | None = None, *, limit: int = 50,
                  before_seq: int | None = None) -> FeedLog:
        """A feed's entries, newest first."""
        feed = await self.feed(handle)
        entries = await self.store.feed_entries(parse_handle(feed.author), limit=_page(limit),
                                                before_seq=before_seq)
        return FeedLog(feed=feed, entries=await self._views(entries))

    async def timeline(self, *, limit: int = 50, before: Sequence[Any] | None = None
                       ) -> list[EntryView]:
        """My home timeline: posts and reposts of the feeds I follow and mine, newest first."""
        items = await self.store.timeline(self.public_key, limit=_page(limit),
                                          before=_cursor(before))
        return await self._timeline_views(items)

    async def thread(self, ref: str) -> list[EntryView]:
        """An entry's thread: its root and every reply, oldest first."""
        target_hash = await self.resolve(ref)
        target = await self.store.get(target_hash)
        root = target_hash
        if target is not None and isinstance(target.content, Post) and target.content.root:
            root = target.content.root
        entries = await self.store.thread(root, viewer=self.public_key)
        if not entries and target is not None:
            entries = [target]
        return await self._views(entries)

    async def feeds(self) -> list[FeedView]:
        """Every feed held, with my relation to it."""
        states = await self.store.feed_states()
        following = await self.store.following(self.public_key)
        blocking = await self.store.blocking(self.public_key)
        profiles = await self.store.profiles(states)
        out = []
        for key, state in sorted(states.items(), key=lambda kv: kv[0] != self.public_key):
            p = profiles.get(key)
            out.append(FeedView(author=handle_of(key), name=p.name if p else None,
                                bio=p.bio if p else None, lo=state.lo, hi=state.hi,
                                forked=state.forked, following=key in following,
                                blocked=key in blocking, is_me=key == self.public_key))
        return out

    # --- reading, for the UI -----------------------------------------------------------------

    async def posts(self, handle: str | None = None, *, limit: int = 50,
                    before: Sequence[Any] | None = None) -> list[EntryView]:
        """A feed's posts and reposts, newest first, with cursors to page backwards (a
        profile's timeline; default: mine)."""
        key = self.public_key if handle is None else await self.key_of(handle)
        items = await self.store.timeline(self.public_key, limit=_page(limit),
                                          before=_cursor(before), authors=[key])
        return await self._timeline_views(items)

    async def entries(self, refs: Sequence[str]) -> list[EntryView]:
        """Views of the held entries among `refs` (full hex hashes), in the order given;
        refs not held (or not hex) are left out."""
        hashes = []
        for ref in refs:
            try:
                hashes.append(bytes.fromhex(ref))
            except ValueError:
                continue
        found = await self.store.get_many(hashes)
        return await self._views([found[h] for h in dict.fromkeys(hashes) if h in found])

    async def notifications(self, *, limit: int = 50, before: Sequence[Any] | None = None
                            ) -> list[NotificationView]:
        """What others did that concerns me, newest first: mentions, replies, quotes,
        reactions and reposts of my entries, and new followers (see Store.notifications)."""
        items = await self.store.notifications(self.public_key, limit=_page(limit),
                                               before=_cursor(before))
        views = await self._views([n.entry for n in items])
        targets = {t.hash: t for t in await self.entries(
            [n.target.hex() for n in items if n.target is not None])}
        return [NotificationView(kind=n.kind, entry=v,
                                 target=targets.get(n.target.hex()) if n.target else None,
                                 cursor=[n.sort_ts, v.author, v.seq])
                for n, v in zip(items, views, strict=True)]

    async def find_feeds(self, text: str, *, limit: int = 20) -> list[FeedView]:
        """Held feeds whose display name contains `text` (case-insensitive), with my
        relation to each."""
        text = text.strip()
        if not text:
            return []
        found = await self.store.find_profiles(text, limit=_page(limit))
        following = await self.store.following(self.public_key)
        blocking = await self.store.blocking(self.public_key)
        states = await self.store.feed_states([p.author for p in found])
        out = []
        for p in found:
            state = states.get(p.author) or FeedState(p.author)
            out.append(FeedView(author=handle_of(p.author), name=p.name, bio=p.bio,
                                lo=state.lo, hi=state.hi, forked=state.forked,
                                following=p.author in following, blocked=p.author in blocking,
                                is_me=p.author == self.public_key))
        return out

    async def following(self, handle: str | None = None) -> list[str]:
        """Handles of the feeds a feed follows (default: mine), held or not yet held."""
        key = self.public_key if handle is None else await self.key_of(handle)
        return sorted(handle_of(k) for k in await self.store.following(key))

    async def blocking(self) -> list[str]:
        """Handles of the feeds I block."""
        return sorted(handle_of(k) for k in await self.store.blocking(self.public_key))

    async def relays(self, handle: str | None = None) -> list[str]:
        """The relay addresses a feed last published (default: mine)."""
        key = self.public_key if handle is None else await self.key_of(handle)
        return await self.store.relay_list(key)

    async def add_relay(self, addr: str, invite: str | None = None) -> list[str]:
        """Add a relay (its full address, `…/p2p/<relay>`) to my published relays entry;
        `invite` is a token to present if the relay admits invited users only."""
        addr = _relay_addr(addr)
        if invite is not None:
            decode_invite(invite)
            await self.store.set_meta(relay_token_key(addr), invite.strip().encode())
        current = await self.relays()
        if addr in current:
            raise UsageError(f"{addr} is already one of your relays")
        if len(current) >= limits.MAX_RELAY_ADDRS:
            raise UsageError(f"you have {len(current)} relays already (the most is "
                             f"{limits.MAX_RELAY_ADDRS}): remove one first")
        await self.append(Relays(addrs=(*current, addr)))
        return [*current, addr]

    async def remove_relay(self, addr: str) -> list[str]:
        """Remove a relay from my published relays entry."""
        current = await self.relays()
        if addr not in current:
            raise UsageError(f"{addr:.120} is not one of your relays (see `p2psocial relays list`)")
        rest = tuple(a for a in current if a != addr)
        await self.append(Relays(addrs=rest))
        return list(rest)

    async def invite(self, uses: int | None = None, expires_hours: float | None = None
                     ) -> str:
        """An invite token to me: my handle and my relays, optionally limited."""
        if uses is not None and uses < 1:
            raise UsageError("--uses must be at least 1")
        if expires_hours is not None and not 0 < expires_hours <= 876_000:
            raise UsageError("--expires must be a positive number of hours (at most 100 years)")
        expires_ms = None if expires_hours is None else \
            int(time.time() * 1000 + expires_hours * 3_600_000)
        made = create_invite(self.identity(), tuple(await self.relays()),
                             expires_ms=expires_ms, uses=uses)
        return encode_invite(made)

    async def address_hints(self, handle: str) -> list[str]:
        """Addresses learnt for a feed outside its log (from invites)."""
        return _hint_list(await self.store.get_meta(HINTS_PREFIX + handle))

    async def all_address_hints(self) -> dict[str, list[str]]:
        """`address_hints` of every feed that has some, by handle."""
        found = await self.store.meta_with_prefix(HINTS_PREFIX)
        return {handle: _hint_list(raw) for handle, raw in found.items()}

    async def _follow_invite(self, token: str) -> EntryView:
        invite = decode_invite(token)
        check_usable(invite, int(time.time() * 1000))
        if invite.inviter == self.public_key:
            raise UsageError("this is your own invite: give it to someone else")
        hints = list(dict.fromkeys([*await self.address_hints(invite.handle), *invite.addrs]))
        await self.store.set_meta(HINTS_PREFIX + invite.handle, json.dumps(hints).encode())
        relays = [a for a in invite.addrs if "/p2p/" in a and "/p2p-circuit" not in a]
        if relays and not await self.relays():
            for addr in relays:
                await self.store.set_meta(relay_token_key(addr), token.strip().encode())
            await self.append(Relays(addrs=tuple(relays[:limits.MAX_RELAY_ADDRS])))
        if invite.inviter in await self.store.following(self.public_key):
            raise UsageError(f"you already follow {invite.handle} (their addresses are noted)")
        return await self.append(Follow(feed=invite.inviter))

    async def verify(self, handle: str | None = None) -> VerifyReport:
        """Re-verify every stored entry (signatures, payload hashes, chain links)."""
        only = None if handle is None else await self.key_of(handle)
        states = await self.store.feed_states(None if only is None else [only])
        checks: dict[bytes, _FeedChecker] = {}
        async for chunk in self.store.iter_raw(only):
            raw = [(h, p) for h, p, _ in chunk]
            offset = 0
            while offset < len(raw):
                decoded = await self.store.verify_pool.decode(raw[offset:])
                for entry in decoded.entries:
                    checks.setdefault(entry.author, _FeedChecker(entry.author)).add(entry)
                if decoded.error is None:
                    break
                assert decoded.error_index is not None
                bad = offset + decoded.error_index
                author = _author_of(raw[bad][0])
                checks.setdefault(author, _FeedChecker(author)).problems.append(
                    f"entry {bad + 1} of this chunk: {decoded.error}")
                offset = bad + 1
            await asyncio.sleep(0)
        results = []
        for key, state in states.items():
            checker = checks.pop(key, _FeedChecker(key))
            proofs = await self.store.forks(key)
            results.append(checker.finish(state, len(proofs)))
        for key, checker in checks.items():
            results.append(checker.finish(FeedState(key), 0))
        return VerifyReport(feeds=results)

    # --- archives -------------------------------------------------------------------------

    async def export_entries(self) -> list[tuple[bytes, bytes | None]]:
        """My own log, oldest first, as (header, payload)."""
        out: list[tuple[bytes, bytes | None]] = []
        async for chunk in self.store.iter_raw(self.public_key):
            out.extend((h, p) for h, p, _ in chunk)
        return out

    async def export_entries_hex(self) -> list[list[str | None]]:
        """My own log as hex pairs (for an export made through a running node)."""
        return [[h.hex(), None if p is None else p.hex()] for h, p in await self.export_entries()]

    async def import_archive(self, archive: Archive) -> ImportResult:
        """Store the entries of an archive of my own log (verified like any received entry).

        Raises:
            UsageError: the archive holds entries of another feed, or invalid entries.
        """
        entries = sorted(archive.entries, key=lambda hp: _seq_of(hp[0]), reverse=True)
        for header, _ in entries:
            peeked = _peek(header)
            if peeked is not None and peeked.author != self.public_key:
                raise UsageError("the archive holds entries of another feed")
        stored = duplicates = 0
        for i in range(0, len(entries), 1000):
            report = await self.store.ingest(entries[i:i + 1000])
            stored += len(report.accepted)
            duplicates += report.duplicates
            if report.error is not None or report.forks:
                problem = report.error or "it conflicts with entries already here (a fork)"
                raise UsageError(f"the archive holds an invalid entry: {problem}; "
                                 f"{stored} entries were stored before it")
        await self.store.set_meta(RESTORED_KEY, b"1")
        return ImportResult(handle=self.handle, stored=stored, duplicates=duplicates)

    # --- helpers --------------------------------------------------------------------------

    async def key_of(self, who: str) -> bytes:
        """The feed `who` names: a handle, or the name of exactly one feed I know (see
        runtime.names); every verb taking a handle resolves it here."""
        return await names.resolve(self.store, who)

    async def _other(self, handle: str, verb: str) -> bytes:
        key = await self.key_of(handle)
        if key == self.public_key:
            raise UsageError(f"you cannot {verb} yourself")
        return key

    async def _view(self, entry: Entry) -> EntryView:
        return (await self._views([entry]))[0]

    async def _views(self, entries: Sequence[Entry],
                     cursors: Sequence[list[Any] | None] | None = None) -> list[EntryView]:
        profiles = await self.store.profiles(e.author for e in entries)
        counts = await self.store.counts([e.hash for e in entries])
        mine = await toggles.given(self.store, self.public_key, [e.hash for e in entries])
        out = []
        for i, e in enumerate(entries):
            p = profiles.get(e.author)
            out.append(entry_view(e, name=p.name if p else None, counts=counts.get(e.hash),
                                  cursor=cursors[i] if cursors else None,
                                  mine=mine.get(e.hash)))
        return out

    async def _timeline_views(self, items: Sequence[TimelineItem]) -> list[EntryView]:
        cursors = [[i.sort_ts, handle_of(i.entry.author), i.entry.seq] for i in items]
        return await self._views([i.entry for i in items], cursors)


class _FeedChecker:
    """Walks one feed's entries in seq order and records every chain problem."""

    def __init__(self, author: bytes) -> None:
        self.author = author
        self.state = FeedState(author)
        self.checked = 0
        self.problems: list[str] = []

    def add(self, entry: Entry) -> None:
        self.checked += 1
        try:
            self.state, placed = place(self.state, entry, None)
        except ValidationError as exc:
            self.problems.append(f"seq {entry.seq}: {exc}")
            return
        if placed is Placement.GAP:
            self.problems.append(f"seq {entry.seq}: not linked to seq {self.state.hi}")

    def finish(self, stored: FeedState, fork_proofs: int) -> FeedCheck:
        s = self.state
        if (s.lo, s.hi, s.hi_hash) != (stored.lo, stored.hi, stored.hi_hash):
            self.problems.append(f"the feed record says seq {stored.lo}..{stored.hi} but the "
                                 f"entries chain {s.lo}..{s.hi}")
        return FeedCheck(author=handle_of(self.author), checked=self.checked,
                         problems=self.problems, forked=stored.forked,
                         fork_proofs=fork_proofs)


def _cursor(before: Sequence[Any] | None) -> tuple[int, bytes, int] | None:
    """A store cursor from a view's JSON cursor [ts, handle, seq]."""
    if before is None:
        return None
    try:
        ts, author, seq = before
        cursor = (int(ts), parse_handle(str(author)), int(seq))
    except (TypeError, ValueError):
        raise UsageError(f"not a cursor [timestamp, handle, seq]: {before!r:.80}") from None
    if not all(-(2**63) <= n < 2**63 for n in (cursor[0], cursor[2])):
        raise UsageError(f"not a cursor: a number out of range in {before!r:.80}")
    return cursor


def _peek(header: bytes) -> Entry | None:
    """The header's fields without checking its signature, or None if it does not decode
    (the ingest that follows reports why)."""
    try:
        return decode_entry(header, None, verify=False)
    except ValidationError:
        return None


def _author_of(header: bytes) -> bytes:
    peeked = _peek(header)
    return b"" if peeked is None else peeked.author


def _seq_of(header: bytes) -> int:
    peeked = _peek(header)
    return 0 if peeked is None else peeked.seq


__all__ = ["HandleError", "ImportResult", "Service"]
