"""Export archives: a user's key file (still encrypted) and own log, in one CBOR file.

Rules:
- The archive is canonical CBOR: {"format": "p2psocial-archive", "version": 1,
  "key": <key file document as JSON text>, "entries": [[header, payload or null], …],
  "check": BLAKE2b-256 of the canonical encoding of the other four fields}.
- Reading checks format, version and checksum before anything is used; entries are then
  validated like any received entry by whoever imports them.
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
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArchiveError("not a p2psocial archive")
    if body.get("version") != VERSION:
        raise ArchiveError(f"archive version {body.get('version')!r} is not supported")
    check = body.pop("check", None)
    if check != digest(encode(body)):
        raise ArchiveError("the archive is damaged (checksum mismatch)")
    try:
        key_doc = json.loads(body["key"])
        entries = [(bytes(h), None if p is None else bytes(p)) for h, p in body["entries"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError("the archive is damaged (bad key or entries)") from exc
    if not isinstance(key_doc, dict):
        raise ArchiveError("the archive is damaged (bad key)")
    return Archive(key_doc=key_doc, entries=entries)
