"""Opening a user's home in this process: lock, key file, store, service.

Rules:
- A home is opened only if it holds an identity; nothing is created by reading commands.
- The home lock is held for as long as the service is open (one process per home).
- The database must belong to the key in the key file; a mismatch is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from p2psocial.core.errors import KeyfileError, StoreError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.service import Service
from p2psocial.store import keyfile
from p2psocial.store.home import Home, HomeLock
from p2psocial.store.sqlite import Store

Unlocker = Callable[[dict[str, Any]], Identity]


def require_identity(home: Home) -> dict[str, Any]:
    """The key file document of `home`, or a clear error if it holds no identity."""
    if not home.root.is_dir():
        raise KeyfileError(f"no p2psocial home at {home.root}: run `p2psocial init` "
                           "(or pass --home)")
    if not home.exists():
        raise KeyfileError(f"no identity in {home.root}: run `p2psocial init`")
    return keyfile.read_doc(home.key_file)


@asynccontextmanager
async def open_local(home: Home, unlock: Unlocker) -> AsyncIterator[Service]:
    """Open `home` for this process and yield its Service; closes everything on exit.

    Args:
        home: the data directory.
        unlock: turns the key file document into an Identity (may prompt); called on the
            first write only.

    Raises:
        KeyfileError: no identity in the home.
        HomeLocked: another process holds the home.
        StoreError: the database is not ours or belongs to another identity.
    """
    doc = require_identity(home)
    public_key = keyfile.public_key_of(doc)
    with HomeLock(home):
        store = await Store.open(home.database)
        try:
            await _check_owner(store, public_key)
            yield Service(store, public_key, lambda: unlock(doc))
        finally:
            await store.close()


async def _check_owner(store: Store, public_key: bytes) -> None:
    owner = store.owner
    if owner is None:
        await store.set_owner(public_key)
    elif owner != public_key:
        raise StoreError(f"the database belongs to {handle_of(owner)}, but the key file to "
                         f"{handle_of(public_key)}")
