"""Translate sqlite3 errors into p2psocial store errors, at the store boundary."""

from __future__ import annotations

import functools
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from p2psocial.core.errors import NotOurDatabase, StorageFull, StoreError

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SQLITE_FULL = 13
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_READONLY = 8
_SQLITE_BUSY = 5
_SQLITE_IOERR = 10
_NEARLY_FULL_BYTES = 1 << 20


def _nearly_full(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def translate(exc: sqlite3.Error, directory: Path | None = None) -> StoreError:
    """The most specific StoreError for a sqlite3 error.

    SQLite reports a full disk as SQLITE_FULL, but in WAL mode often as a generic I/O error
    (growing the WAL or its shared memory fails); with `directory` given, an I/O error on a
    filesystem with almost no free space is reported as StorageFull too.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == _SQLITE_FULL or "disk is full" in text or (
            primary == _SQLITE_IOERR and directory is not None and _nearly_full(directory)):
        return StorageFull("the disk is full: nothing was written")
    if primary == _SQLITE_NOTADB or "not a database" in text:
        return NotOurDatabase("the database file is not a p2psocial database")
    if primary == _SQLITE_CORRUPT or "malformed" in text:
        return StoreError("the database file is damaged (run `p2psocial verify`, restore a "
                          "backup, or import an export)")
    if primary == _SQLITE_READONLY:
        return StoreError("the database is read-only")
    if primary == _SQLITE_BUSY:
        return StoreError("the database is busy in another process")
    return StoreError(f"database error: {text}")


def translated(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """Decorate an async store method so sqlite3 errors leave it as StoreError.

    The method's object may have a `directory` attribute (where the database lives)."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await fn(*args, **kwargs)
        except sqlite3.Error as exc:
            directory = getattr(args[0], "directory", None) if args else None
            raise translate(exc, directory) from exc

    return wrapper
