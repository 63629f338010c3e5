"""Whom I follow and block: by handle, name or invite token.

Rules:
- Following a feed nothing here has seen (most likely a typo) needs `unknown`.
- A block names one key, but blocks the person (S10): blocking a key whose account is
  blocked already is refused; unblocking it names the key the block named.
- An invite also remembers where the inviter can be reached, and if I have no relays yet,
  the inviter's relays become mine (with the invite to present when joining).
"""

from __future__ import annotations

import json
import time

from p2psocial.core import limits
from p2psocial.core.content import (
    Block,
    Follow,
    Relays,
    Unblock,
    Unfollow,
)
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import handle_of
from p2psocial.core.invite import check_usable, decode_invite, looks_like_invite
from p2psocial.runtime.service.base import HINTS_PREFIX, ServiceCore
from p2psocial.runtime.service.relays import relay_token_key
from p2psocial.runtime.views import EntryView


class Graph(ServiceCore):
    """Following and blocking."""

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

    async def unfollow(self, handle: str) -> EntryView:
        """Stop following a feed."""
        key = await self._other(handle, "unfollow")
        if key not in await self.store.following(self.public_key):
            raise UsageError(f"you do not follow {handle_of(key)}")
        return await self.append(Unfollow(feed=key))

    async def block(self, handle: str) -> EntryView:
        """Block a feed: it is hidden, and never replicated or served."""
        key = await self._other(handle, "block")
        if key in await self.store.blocked_feeds(self.public_key):  # or its person (S10)
            raise UsageError(f"you already block {handle_of(key)}")
        return await self.append(Block(feed=key))

    async def unblock(self, handle: str) -> EntryView:
        """Lift a block."""
        key = await self._other(handle, "unblock")
        blocking = await self.store.blocking(self.public_key)
        if key not in blocking:
            if key in await self.store.blocked_feeds(self.public_key):
                raise UsageError(f"you block {handle_of(key)} as " + ", ".join(
                    sorted(handle_of(k) for k in await self._same_person(key, blocking)))
                    + ": unblock that")
            raise UsageError(f"you do not block {handle_of(key)}")
        return await self.append(Unblock(feed=key))

    async def following(self, handle: str | None = None) -> list[str]:
        """Handles of the feeds a feed follows (default: mine), held or not yet held."""
        key = self.public_key if handle is None else await self.key_of(handle)
        return sorted(handle_of(k) for k in await self.store.following(key))

    async def _same_person(self, key: bytes, among: set[bytes]) -> set[bytes]:
        """The keys of `among` that are `key`'s account or one of its device feeds."""
        accounts = await self.store.accounts.accounts_of([key, *among])
        return {k for k in among if accounts[k] == accounts[key]}

    async def blocking(self) -> list[str]:
        """Handles of the feeds I block."""
        return sorted(handle_of(k) for k in await self.store.blocking(self.public_key))
