"""Followers and following by account, mutes and bookmarks: the social verbs over the store.

Rules:
- People are accounts (store/social.py): lists show each once, by its account's handle and
  name, with my relation to it.
- Mutes and bookmarks are local: nothing is appended to my feed, nothing is sent.
- `mute X`: X is a person if it is a handle or starts with `@` (a name I know, resolved as
  every verb resolves names; a handle nothing here has seen is refused as a likely typo);
  anything else is a word (core/mutes.py). `word=True` takes X as a word whatever it is.
  Muting myself, muting twice and unmuting what is not muted are refused in one line.
- A bookmark names a held entry by hash or unique prefix (as `--reply`); bookmarking twice or
  dropping a bookmark that is not there is refused in one line.
"""

from __future__ import annotations

from p2psocial.core.errors import UsageError
from p2psocial.core.identity import handle_of
from p2psocial.core.mutes import normalise_word
from p2psocial.runtime.names import HANDLE_START
from p2psocial.runtime.service.base import ServiceCore, page_size
from p2psocial.runtime.social_views import MuteView
from p2psocial.runtime.views import EntryView, FeedView


class Social(ServiceCore):
    """Followers, following, mutes and bookmarks."""

    async def followers(self, handle: str | None = None) -> list[FeedView]:
        """The accounts held here that follow `handle`'s account (default: mine)."""
        key = self.public_key if handle is None else await self.key_of(handle)
        return await self._people(await self.store.social.followers(key))

    async def followed(self, handle: str | None = None) -> list[FeedView]:
        """The accounts that `handle`'s account (default: mine) follows."""
        key = self.public_key if handle is None else await self.key_of(handle)
        return await self._people(await self.store.social.following(key))

    async def _people(self, accounts: list[bytes]) -> list[FeedView]:
        """Each account with its name and my relation to it, named ones first by name."""
        profiles = await self.store.profiles(accounts)
        following = await self.store.accounts.accounts_of(
            await self.store.following(self.public_key))
        mine = (await self.store.accounts.accounts_of([self.public_key]))[self.public_key]
        blocking = await self.store.accounts.accounts_of(
            await self.store.blocking(self.public_key))
        out = []
        for a in accounts:
            p = profiles.get(a)
            out.append(FeedView(author=handle_of(a), name=p.name if p else None,
                                bio=p.bio if p else None, following=a in following.values(),
                                blocked=a in blocking.values(), is_me=a == mine,
                                account=handle_of(a)))
        return sorted(out, key=lambda v: (v.name is None, (v.name or "").casefold(), v.author))

    # --- mutes ----------------------------------------------------------------------------

    async def mute(self, what: str, *, word: bool = False) -> MuteView:
        """Hide a person's posts (`what` a handle or @name) or a word's from my timeline and
        notifications; see the module rules."""
        if word or not _names_a_person(what):
            stored = normalise_word(what)
            if not await self.store.mutes.mute_word(stored):
                raise UsageError(f"the word {stored!r:.80} is muted already")
            return MuteView(kind="word", value=stored)
        account = await self._account_named(what, "mute")
        if not await self.store.mutes.mute_account(account):
            raise UsageError(f"{handle_of(account)} is muted already")
        return await self._mute_view(account)

    async def unmute(self, what: str, *, word: bool = False) -> MuteView:
        """Lift a mute (a person, or a word)."""
        if word or not _names_a_person(what):
            stored = normalise_word(what)
            if not await self.store.mutes.unmute_word(stored):
                raise UsageError(f"the word {stored!r:.80} is not muted")
            return MuteView(kind="word", value=stored)
        account = await self._account_named(what, "unmute")
        if not await self.store.mutes.unmute_account(account):
            raise UsageError(f"{handle_of(account)} is not muted")
        return await self._mute_view(account)

    async def mutes(self) -> list[MuteView]:
        """Every mute, the latest first."""
        listed = await self.store.mutes.list()
        profiles = await self.store.profiles(m.account for m in listed if m.account)
        out = []
        for m in listed:
            if m.account is None:
                out.append(MuteView(kind="word", value=str(m.word), since=m.ts))
            else:
                p = profiles.get(m.account)
                out.append(MuteView(kind="account", value=handle_of(m.account),
                                    name=p.name if p else None, since=m.ts))
        return out

    async def _account_named(self, who: str, verb: str) -> bytes:
        """The account a person argument names; never mine, never a handle unseen here."""
        key = await self.key_of(who)
        account = (await self.store.accounts.accounts_of([key]))[key]
        mine = (await self.store.accounts.accounts_of([self.public_key]))[self.public_key]
        if account == mine or key == self.public_key:
            raise UsageError(f"you cannot {verb} yourself")
        if verb == "mute" and not await self._seen(key):
            raise UsageError(f"nothing here has ever seen {handle_of(key)}: check the handle "
                             "(a typo mutes nobody)")
        return account

    async def _mute_view(self, account: bytes) -> MuteView:
        profile = await self.store.profile(account)
        return MuteView(kind="account", value=handle_of(account), name=profile.name)

    # --- bookmarks ------------------------------------------------------------------------

    async def bookmark(self, ref: str) -> EntryView:
        """Bookmark a held entry (hash or unique prefix)."""
        entry_hash = await self.resolve(ref)
        entry = await self.store.get(entry_hash)
        if entry is None:
            raise UsageError(f"no entry {entry_hash.hex()[:12]}… is held here: nothing to "
                             "bookmark")
        if not await self.store.bookmarks.add(entry_hash):
            raise UsageError(f"{entry_hash.hex()[:12]} is bookmarked already")
        return await self._view(entry)

    async def unbookmark(self, ref: str) -> EntryView:
        """Drop a bookmark (hash or unique prefix)."""
        entry_hash = await self.resolve(ref)
        entry = await self.store.get(entry_hash)
        if not await self.store.bookmarks.remove(entry_hash):
            raise UsageError(f"{entry_hash.hex()[:12]} is not bookmarked")
        if entry is None:
            return EntryView(hash=entry_hash.hex(), author="", seq=0, timestamp=0, type="")
        return await self._view(entry)

    async def bookmarks(self, *, limit: int = 50) -> list[EntryView]:
        """My bookmarked entries, the latest bookmark first (deleted ones shown as such)."""
        listed = await self.store.bookmarks.list(limit=page_size(limit))
        found = await self.store.get_many([h for h, _ in listed])
        return await self._views([found[h] for h, _ in listed if h in found])


def _names_a_person(what: str) -> bool:
    """True if a mute argument names a person: `@…` or a handle (see the module rules)."""
    text = what.strip()
    return text.startswith(("@", HANDLE_START))
