"""`export` and `import`: an archive of my key (still sealed) and my own log
(docs/protocol.md §Export archives).

Rules:
- On a device of an account, `export` adds the member `account` (the account id, hex) to the
  archive's key document: the archive says whose device it was made on.
- Restoring a backup never makes a second live copy of a device key (issue 11: a device
  writes its own chain, and two copies of it fork it). An archive made on a device of an
  account is restored as that device only into the very home of that device (its key.json
  is the archive's key: a lost database, say). A fresh home, a single-key home or a device
  of another account is refused with one line pointing to `p2psocial recover` and `device
  link`, before anything is written. A home that is another device of the same account
  stores the archive's entries as data (that device's feed, verified like any received
  entry); its own key and feed are untouched and it is not marked restored.
- An archive without `account` (a single-key identity's) restores as before: its key, into a
  fresh home or the home of that key, in the restored state (runtime.service.base).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from p2psocial.cli import passphrase
from p2psocial.core import archive as archive_format
from p2psocial.core.errors import ArchiveError, HomeLocked, KeyfileError, UsageError
from p2psocial.core.identity import handle_of
from p2psocial.core.limits import KEY_BYTES
from p2psocial.runtime.account_home import read_account
from p2psocial.runtime.local import open_local, require_identity
from p2psocial.store import keyfile
from p2psocial.store.home import Home, write_private_file

ACCOUNT_MEMBER = "account"


async def export(args: argparse.Namespace, home: Home) -> int:
    """`export FILE`: my key document and my own log, oldest first."""
    from p2psocial.cli.commands import open_api
    doc = require_identity(home)
    local = read_account(home)
    if local is not None:
        doc = {**doc, ACCOUNT_MEMBER: local.account.hex()}
    async with open_api(home) as api:
        pairs = await api.export_entries_hex()
    entries = [(bytes.fromhex(h), None if p is None else bytes.fromhex(p)) for h, p in pairs]
    data = archive_format.pack(archive_format.Archive(key_doc=doc, entries=entries))
    target = Path(args.file)
    if target.exists():
        raise UsageError(f"{target} exists: choose another file name")
    write_private_file(target, data)
    print(f"exported {len(entries)} entries and your key to {target}")
    if local is not None:
        print(f"this device's key is never restored elsewhere: on a new machine make a new "
              f"device of {local.handle} (`p2psocial recover --account {local.handle}` or "
              f"`p2psocial device link`), then `p2psocial import {target}` there adds "
              "these posts")
    if not keyfile.is_encrypted(doc):
        sys.stderr.write("warning: your key is unencrypted, so the archive is too: keep it "
                         "safe\n")
    return 0


async def import_(args: argparse.Namespace, home: Home) -> int:
    """`import FILE`: restore my key and log, or (see the rules) add another device's posts."""
    from p2psocial.cli.commands import create_home
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    archive = archive_format.unpack(data)
    try:
        public_key = keyfile.public_key_of(archive.key_doc)
    except KeyfileError as exc:
        raise ArchiveError(f"the archive's key is damaged: {exc}") from None
    account = _account_of(archive.key_doc)
    mine = keyfile.public_key_of(keyfile.read_doc(home.key_file)) if home.exists() else None
    of_device: bytes | None = None
    if account is not None and mine != public_key:
        _check_other_device(home, public_key, account)
        of_device = public_key
    elif mine is not None and mine != public_key:
        raise ArchiveError(f"the archive belongs to {handle_of(public_key)}, this home to "
                           f"{handle_of(mine)}: use --home for a new directory")
    elif mine is None:
        await create_home(home, archive.key_doc, public_key)
    try:
        async with open_local(home, passphrase.unlock_interactively) as service:
            result = await service.import_archive(archive, of_device=of_device)
    except HomeLocked:
        raise UsageError("a node is running on this home: stop it before importing") from None
    print(f"imported {result.stored} entries of {result.handle}"
          + (f" ({result.duplicates} already here)" if result.duplicates else ""))
    if of_device is None:
        print("before posting, run `p2psocial run` once so your node learns any newer "
              "entries of yours from the network (or use `post --force` if this backup is "
              "current)")
    return 0


def _account_of(doc: dict[str, Any]) -> bytes | None:
    """The account the archive's device belongs to (its key document's `account`), if any."""
    if ACCOUNT_MEMBER not in doc:
        return None
    value = doc[ACCOUNT_MEMBER]
    try:
        account = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        account = b""
    if len(account) != KEY_BYTES:
        raise ArchiveError("the archive's key is damaged (its account is not 64 hex digits)")
    return account


def _check_other_device(home: Home, device: bytes, account: bytes) -> None:
    """Refuse, before anything is written, unless this home is another device of `account`
    (see the module rules)."""
    handle = handle_of(account)
    local = read_account(home) if home.exists() else None
    if local is None or local.account != account:
        where = ("this home is a device of another account" if local is not None else
                 "this home holds another identity" if home.exists() else "")
        raise UsageError(
            f"this archive was made on the device {handle_of(device)} of the account "
            f"{handle}; restoring it would make a second copy of that device's key (a fork)"
            + (f", and {where}" if where else "")
            + f": make a new device of the account instead (`p2psocial recover --account "
            f"{handle}`, or `p2psocial device link --account {handle}`), then import the "
            "archive there to add its posts")
