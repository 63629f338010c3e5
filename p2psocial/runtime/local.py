"""Opening a user's home in this process: lock, key file, store, service.

Rules:
- A home is opened only if it holds an identity; nothing is created by reading commands.
- The home lock is held for as long as the service is open (one process per home).
- The database must belong to the key in the key file; a mismatch is refused.
- A home must be private: an unencrypted key file others may read is refused (with the chmod
  to run); other files others may read are narrowed to 0600, with a warning.
- A key with a history (key file `used`) whose database holds none of its feed (lost,
  deleted, emptied) is put in the restored state: nothing is written until the node has
  learnt the feed from the network, or the user says --force. A key file from before `used`
  counts as having a history when its database is new (`init` always made both together).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from p2psocial.core.entry import Entry
from p2psocial.core.errors import KeyfileError, StoreError
from p2psocial.core.identity import Identity, handle_of
from p2psocial.runtime.service import LOST_DATABASE, RESTORED_KEY, Service
from p2psocial.store import keyfile
from p2psocial.store.blobs import BlobStore
from p2psocial.store.home import Home, HomeLock, mode_text, open_to_others
from p2psocial.store.sqlite import Store

log = logging.getLogger(__name__)
Unlocker = Callable[[dict[str, Any]], Identity]


def require_identity(home: Home) -> dict[str, Any]:
    """The key file document of `home`, or a clear error if it holds no identity."""
    if not home.root.is_dir():
        raise KeyfileError(f"no p2psocial home at {home.root}: run `p2psocial init` "
                           "(or pass --home)")
    if not home.exists():
        raise KeyfileError(f"no identity in {home.root}: run `p2psocial init`")
    doc = keyfile.read_doc(home.key_file)
    path = home.key_file
    if not keyfile.is_encrypted(doc) and open_to_others(path):
        raise KeyfileError(f"your unencrypted secret key {path} is open to other users "
                           f"(mode {mode_text(path)}): run `chmod 600 {path}` (and treat "
                           "the key as seen by them)")
    for note in home.make_private():
        log.warning("%s", note)
    return doc


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
            await guard_history(home, store, public_key)
            await _check_owner(store, public_key)
            service = Service(store, public_key, lambda: unlock(doc))
            service.blob_store = BlobStore(home.blobs)
            service.on_appended.append(history_marker(home))
            yield service
        finally:
            await store.close()


async def _check_owner(store: Store, public_key: bytes) -> None:
    owner = store.owner
    if owner is None:
        await store.set_owner(public_key)
    elif owner != public_key:
        raise StoreError(f"the database belongs to {handle_of(owner)}, but the key file to "
                         f"{handle_of(public_key)}")


async def guard_history(home: Home, store: Store, public_key: bytes) -> None:
    """Put a just-opened store in the restored state if my key has a history and the
    store holds none of my feed; record the history in the key file if it does. Call it
    before the owner is set (an owner-less database is a new one)."""
    if store.owner not in (None, public_key):
        return  # another identity's database: the owner check refuses it
    doc = keyfile.read_doc(home.key_file)
    mine = (await store.feed_states([public_key])).get(public_key)
    if mine is not None and not mine.empty:
        _record_history(home)
        return
    history = keyfile.has_history(doc)
    if (history or (history is None and store.owner is None)) \
            and not await store.get_meta(RESTORED_KEY):
        log.info("the key has a history this database does not hold: learning it first")
        await store.set_meta(RESTORED_KEY, LOST_DATABASE)


def history_marker(home: Home) -> Callable[[Entry], None]:
    """An on_appended callback recording, once, that the key has signed entries."""
    done = False

    def mark(entry: Entry) -> None:
        nonlocal done
        done = done or _record_history(home)
    return mark


def _record_history(home: Home) -> bool:
    """Mark the key file used; False (with a warning) if it cannot be written: the entries
    are stored either way."""
    try:
        keyfile.mark_used(home.key_file, keyfile.read_doc(home.key_file))
    except (KeyfileError, StoreError) as exc:
        log.warning("could not record in %s that the key is in use: %s", home.key_file, exc)
        return False
    return True
