"""Export archives: a user's key file (still encrypted) and own log, in one CBOR file
(docs/protocol.md §Export archives).

Rules:
- The archive is a canonical CBOR map with exactly five text keys: "format"
  ("p2psocial-archive"), "version" (the unsigned integer 1), "key" (the key file document as
  JSON text, `json.dumps(doc, sort_keys=True)`), "entries" ([[header, payload or null], …],
  oldest first) and "check" (BLAKE2b-256 of the canonical encoding of the other four).
- Reading checks, in this order: size, canonical form (A1), format, version, the set of keys,
  the checksum, then the types of "key" and "entries"; every check is by type as well as by
  value (`True == 1` in Python). Entries are then validated like any received entry by
  whoever imports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from p2psocial.core.encoding import decode_canonical, digest, encode
from p2psocial.core.errors import ArchiveError, ValidationError

FORMAT = "p2psocial-archive"
VERSION = 1
MAX_ARCHIVE_BYTES = 1 << 30


@dataclass(frozen=True, slots=True)
class Archive:
    """The content of an export archive."""

    key_doc: dict[str, Any]
    entries: list[tuple[bytes, bytes | None]]


def pack(archive: Archive) -> bytes:
    """Encode an archive."""
    body: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "key": json.dumps(archive.key_doc, sort_keys=True),
        "entries": [[h, p] for h, p in archive.entries],
    }
    body["check"] = digest(encode(body))
    return encode(body)


def unpack(data: bytes) -> Archive:
    """Decode and check an archive.

    Raises:
        ArchiveError: not an archive, an unknown version, or damaged.
    """
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError("the archive is larger than 1 GiB")
    try:
        body = decode_canonical(data, rule="A1", what="archive")
    except ValidationError as exc:
        raise ArchiveError("not a p2psocial archive, or it is damaged") from exc
    if type(body) is not dict or body.get("format") != FORMAT:
        raise ArchiveError("not a p2psocial archive")
    version = body.get("version")
    if type(version) is not int or version != VERSION:
        raise ArchiveError(f"archive version {version!r} is not supported")
    if body.keys() != _FIELDS:
        raise ArchiveError("the archive is damaged (its fields are not format, version, key, "
                           "entries and check)")
    check = body.pop("check")
    if type(check) is not bytes or check != digest(encode(body)):
        raise ArchiveError("the archive is damaged (checksum mismatch)")
    return Archive(key_doc=_key_doc(body["key"]), entries=_entries(body["entries"]))


_FIELDS = frozenset({"format", "version", "key", "entries", "check"})


def _key_doc(text: Any) -> dict[str, Any]:
    if type(text) is not str:
        raise ArchiveError("the archive is damaged (the key is not text)")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ArchiveError("the archive is damaged (the key is not JSON)") from exc
    if type(doc) is not dict:
        raise ArchiveError("the archive is damaged (the key is not a JSON object)")
    return doc


def _entries(items: Any) -> list[tuple[bytes, bytes | None]]:
    if type(items) is not list:
        raise ArchiveError("the archive is damaged (entries is not an array)")
    out: list[tuple[bytes, bytes | None]] = []
    for index, pair in enumerate(items):
        if (type(pair) is not list or len(pair) != 2 or type(pair[0]) is not bytes
                or not (pair[1] is None or type(pair[1]) is bytes)):
            raise ArchiveError(f"the archive is damaged (entry {index} is not "
                               "[header bytes, payload bytes or null])")
        out.append((pair[0], pair[1]))
    return out
