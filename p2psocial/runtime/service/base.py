"""What every part of the service stands on: the store, my key, appending, resolving
references and names, and building views.

Rules:
- Reads need only the public key; the secret key is unlocked on the first write, through the
  `unlock` callable the caller supplies (which may prompt for a passphrase).
- An identity restored from an archive, or a used key whose database was lost, writes nothing
  until its latest entries were learnt from the network or the user confirms the backup is
  current (`confirm_restored`), because writing from a stale backup would fork the feed.
- Every page read is 1 to MAX_PAGE items; cursors are checked before they reach the store.
- A device that its account's state lists as revoked writes nothing (one line says so).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from p2psocial.core import limits
from p2psocial.core.account.ops import Op
from p2psocial.core.content import Content
from p2psocial.core.entry import Entry
from p2psocial.core.errors import UsageError, ValidationError
from p2psocial.core.identity import Identity, handle_of, parse_handle
from p2psocial.runtime import names, toggles
from p2psocial.runtime.views import EntryView, PeerView, entry_view
from p2psocial.store.blobs import BlobStore
from p2psocial.store.sqlite import Store, TimelineItem

RESTORED_KEY = "restored"  # meta: b"1" after an import, LOST_DATABASE for a lost database
LOST_DATABASE = b"lost"
HINTS_PREFIX = "hints:"
MIN_REF_HEX = 6


MAX_PAGE = 10_000


def page_size(limit: int) -> int:
    """A page size asked for: 1 to MAX_PAGE (SQLite would read a negative one as no limit)."""
    if not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"a page holds 1 to {MAX_PAGE:,} items, not {limit}")
    return limit


def hint_list(raw: bytes | None) -> list[str]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class ServiceCore:
    """The store, my key and the helpers every part of the service uses."""

    def __init__(self, store: Store, public_key: bytes,
                 unlock: Callable[[], Identity]) -> None:
        self.store = store
        self.public_key = public_key
        self._unlock = unlock
        self._identity: Identity | None = None
        self.on_appended: list[Callable[[Entry], Any]] = []
        # account ops stored by this service (a running node sends them to its peers)
        self.on_ops_stored: list[Callable[[list[Op]], Any]] = []
        # the node's connected peers, when a node runs (for `follow`'s check of unknown feeds)
        self.peers: Callable[[], Awaitable[list[PeerView]]] | None = None
        # pictures and files: the home's blob files, and the network's fetcher when a node
        # runs (runtime.blobs.BlobExchange); set by whoever opens the home
        self.blob_store: BlobStore | None = None
        self.blobs: Any = None
        self.keeper: Any = None  # runtime.storage_keeper.StorageKeeper, when a node runs

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
        await self._refuse_if_revoked()
        try:
            entry = await self.store.append(self.identity(), content)
        except ValidationError as exc:
            # e.g. a post within every field limit whose encoding exceeds the payload limit
            raise UsageError(f"this cannot be posted: {exc}") from exc
        for callback in self.on_appended:
            callback(entry)
        return await self._view(entry)

    async def _refuse_if_revoked(self) -> None:
        """A device revoked from its account writes nothing (its entries would not count)."""
        account = await self.store.accounts.account_of(self.public_key)
        if account is None:
            return
        device = (await self.store.accounts.state_of(account)).devices.get(self.public_key)
        if device is not None and not device.current:
            raise UsageError(f"this device was revoked from the account {handle_of(account)}: "
                             "nothing was posted (its entries no longer count)")

    async def confirm_restored(self) -> None:
        """Declare that the restored backup is current: writing is allowed again."""
        await self.store.set_meta(RESTORED_KEY, None)

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

    async def key_of(self, who: str) -> bytes:
        """The feed `who` names: a handle, or the name of exactly one feed I know (see
        runtime.names); every verb taking a handle resolves it here."""
        return await names.resolve(self.store, who)

    async def _other(self, handle: str, verb: str) -> bytes:
        key = await self.key_of(handle)
        if key == self.public_key:
            raise UsageError(f"you cannot {verb} yourself")
        return key

    async def _seen(self, key: bytes) -> bool:
        if await names.seen(self.store, key, await self.address_hints(handle_of(key))):
            return True
        peers = [] if self.peers is None else await self.peers()  # the slowest check: last
        return handle_of(key) in {p.handle for p in peers}

    async def relays(self, handle: str | None = None) -> list[str]:
        """The relay addresses a feed last published (default: mine)."""
        key = self.public_key if handle is None else await self.key_of(handle)
        return await self.store.relay_list(key)

    async def address_hints(self, handle: str) -> list[str]:
        """Addresses learnt for a feed outside its log (from invites)."""
        return hint_list(await self.store.get_meta(HINTS_PREFIX + handle))

    async def _view(self, entry: Entry) -> EntryView:
        return (await self._views([entry]))[0]

    async def _views(self, entries: Sequence[Entry],
                     cursors: Sequence[list[Any] | None] | None = None) -> list[EntryView]:
        profiles = await self.store.profiles(e.author for e in entries)
        counts = await self.store.counts([e.hash for e in entries])
        mine = await toggles.given(self.store, self.public_key, [e.hash for e in entries])
        accounts = await self.store.accounts.accounts_of(e.author for e in entries)
        out = []
        for i, e in enumerate(entries):
            p = profiles.get(e.author)
            out.append(entry_view(e, name=p.name if p else None, counts=counts.get(e.hash),
                                  cursor=cursors[i] if cursors else None,
                                  mine=mine.get(e.hash), account=accounts[e.author]))
        return out

    async def _timeline_views(self, items: Sequence[TimelineItem]) -> list[EntryView]:
        cursors = [[i.sort_ts, handle_of(i.entry.author), i.entry.seq] for i in items]
        return await self._views([i.entry for i in items], cursors)


def parse_cursor(before: Sequence[Any] | None) -> tuple[int, bytes, int] | None:
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
