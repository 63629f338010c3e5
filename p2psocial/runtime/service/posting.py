"""Writing to my log: posts, my profile, reactions and reposts (given once, undone by a
delete: see runtime.toggles), deletes and private messages.

Rules:
- @names in a post become mentions of the one feed they name, or the post is refused
  (runtime.names); `plain` keeps @words as typed.
- Limits of the spec are checked here with a one-line UsageError before anything is signed.
"""

from __future__ import annotations

from collections.abc import Sequence

from p2psocial.core import limits
from p2psocial.core.content import (
    About,
    Delete,
    Post,
    PrivateMessage,
    React,
    Repost,
)
from p2psocial.core.dm import OpenedMessage, open_message
from p2psocial.core.entry import Entry
from p2psocial.core.errors import UsageError
from p2psocial.core.text import mentions_in, tags_in
from p2psocial.runtime import names, toggles
from p2psocial.runtime.service.attachments import Attachments
from p2psocial.runtime.views import EntryView


class Posting(Attachments):
    """Writing to my log."""

    async def post(self, text: str, *, reply_to: str | None = None, quote: str | None = None,
                   cw: str | None = None, tags: Sequence[str] = (), plain: bool = False,
                   attach: Sequence[Sequence[str | None]] = ()) -> EntryView:
        """Post `text`; @handles and @names of people I know become mentions (an @name
        that names nobody known, or several, is refused unless `plain`), #words tags;
        `attach`: pictures and files, each [path, alt text or None]."""
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
        quoted = await self.resolve(quote) if quote else None
        attachments = await self.attachments_of(attach) if attach else ()
        content = Post(text=text, root=root, parent=parent, mentions=tuple(mentions_in(text)),
                       tags=tuple(all_tags[:limits.MAX_TAGS]), cw=cw or None,
                       quote=quoted, attachments=attachments)
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

    def open_dm(self, entry: Entry) -> OpenedMessage | None:
        """A private message opened with my key, or None if it is not for me."""
        if not isinstance(entry.content, PrivateMessage):
            return None
        return open_message(self.identity(), entry.content)
