"""Translate sqlite3 errors into p2psocial store errors, at the store boundary."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from p2psocial.core.errors import NotOurDatabase, StorageFull, StoreError

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SQLITE_FULL = 13
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_READONLY = 8
_SQLITE_BUSY = 5


def translate(exc: sqlite3.Error) -> StoreError:
    """The most specific StoreError for a sqlite3 error."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == _SQLITE_FULL or "disk is full" in text:
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
    """Decorate an async store method so sqlite3 errors leave it as StoreError."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await fn(*args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    return wrapper
