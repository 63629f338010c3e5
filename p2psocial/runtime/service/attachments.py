"""Pictures and files: attaching them to posts, getting them, and what they take on disk
(docs/protocol.md §Blobs).

Rules:
- A file is attached by copying it into the home's blob files (store.blobs) before the post
  is signed; the post names it by id, size and media type. The media type comes from the
  file's name; a file named as an image must open as one (Pillow reads it whole), or it is
  refused with one line and nothing is posted. The alt text is the user's; the name is the
  file's base name.
- `blob_get` gives a held blob at once; one not held is fetched by the running node's
  BlobExchange (B8: on demand): from the peers the caller names, the authors of the posts
  naming it and their relays, then any connected peer. Offline, a blob not held is one
  clear line.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from p2psocial.core import limits
from p2psocial.core.content import Attachment, Post
from p2psocial.core.entry import Entry
from p2psocial.core.errors import StoreError, UsageError
from p2psocial.core.identity import handle_of
from p2psocial.runtime.service.base import ServiceCore
from p2psocial.runtime.views import BlobView
from p2psocial.store.blobs import BlobStore, shown

FALLBACK_TYPE = "application/octet-stream"
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"}


def media_type_of(path: Path) -> str:
    """The media type a file's name says, lowercase (application/octet-stream if none)."""
    guessed, _ = mimetypes.guess_type(path.name, strict=False)
    media = (guessed or FALLBACK_TYPE).lower()
    return media if len(media) <= limits.MAX_MEDIA_TYPE_CHARS else FALLBACK_TYPE


def check_image(path: Path) -> None:
    """Raises UsageError unless Pillow can read the image at `path` whole."""
    from PIL import Image, UnidentifiedImageError  # imported when an image is attached

    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        why = shown(str(exc).replace(str(path), path.name))
        raise UsageError(f"{shown(path.name)} is not an image that can be read ({why}): nothing "
                         "was posted") from None
    except Image.DecompressionBombError:
        raise UsageError(f"{shown(path.name)} has too many pixels: nothing was posted"
                         ) from None


def file_name_of(path: Path) -> str | None:
    """The name an attachment carries: the file's base name as UTF-8 text (bytes that are
    not UTF-8 replaced), without control characters or separators."""
    name = os.fsencode(path.name).decode("utf-8", "replace")
    name = "".join(c for c in name if ord(c) >= 0x20 and c not in "/\\\x7f")
    return name[:limits.MAX_FILE_NAME_CHARS] or None


class Attachments(ServiceCore):
    """Pictures and files."""

    def _blob_files(self) -> BlobStore:
        if self.blob_store is None:
            raise UsageError("this home has no place for pictures and files")
        return self.blob_store

    async def attach(self, path: str, alt: str | None = None) -> Attachment:
        """Copy the file at `path` into the blob files; the attachment naming it."""
        source = Path(path).expanduser()
        if alt is not None and len(alt) > limits.MAX_ALT_CHARS:
            raise UsageError(f"the description of {shown(source.name)} is {len(alt)} characters "
                             f"long; the limit is {limits.MAX_ALT_CHARS}")
        if "\0" in path:
            raise UsageError("a file name cannot hold a NUL character")
        if source.is_dir():
            raise UsageError(f"{shown(source)} is a directory, not a file")
        if not source.exists():
            raise UsageError(f"{shown(source)} does not exist: nothing was posted")
        media = media_type_of(source)
        store = self._blob_files()

        def copy() -> Attachment:
            if media in IMAGE_TYPES:
                check_image(source)
            manifest = store.add_file(source)
            return Attachment(manifest.id, manifest.size, media, alt=alt or None,
                              name=file_name_of(source))
        return await asyncio.to_thread(copy)

    async def attachments_of(self, files: Sequence[Sequence[str | None]]) -> tuple[
            Attachment, ...]:
        """The attachments for `files`: each [path, alt or None]."""
        if len(files) > limits.MAX_ATTACHMENTS:
            raise UsageError(f"a post holds at most {limits.MAX_ATTACHMENTS} pictures or "
                             "files")
        out = []
        for item in files:
            path, alt = [*item, None][:2]
            if not path:
                raise UsageError("an attachment needs a file")
            out.append(await self.attach(path, alt))
        return tuple(out)

    async def blob_get(self, ref: str, out: str | None = None, *,
                       sources: Sequence[str] = ()) -> BlobView:
        """The blob `ref` (its id in hex), fetched first if it is not held; written to the
        file `out` if given."""
        blob = self._blob_id(ref)
        store = self._blob_files()
        naming = await self.store.linked(blob, "attach", limit=10)  # the posts naming it
        size, media, alt = _attachment_info(blob, naming)
        if not store.has(blob):
            if self.blobs is None:
                raise UsageError(f"{ref[:16]} is not held here; run the node (`p2psocial "
                                 "run`) to fetch it from peers")
            found = [*sources, *await self._blob_sources(naming)]
            if not await self.blobs.fetch(blob, size=size, sources=found):
                raise UsageError(f"no connected peer has {ref[:16]}; try again when the "
                                 "author or one of their relays is reachable")
        path = store.path(blob)
        if out is not None:
            target = Path(out).expanduser()
            try:
                await asyncio.to_thread(_copy_file, path, target)
            except FileNotFoundError as exc:
                if exc.filename == str(path):
                    raise StoreError(f"{ref[:16]} went away while it was read") from None
                raise UsageError(f"cannot write {shown(target)}: {exc.strerror}") from None
            except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
                raise UsageError(f"cannot write {shown(target)}: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None
            path = target
        return BlobView(id=blob.hex(), size=store.size_of(blob) or size, type=media, alt=alt,
                        path=str(path))

    async def _blob_sources(self, naming: Sequence[Entry]) -> list[str]:
        """Where else to ask for a blob (B8): the authors of the posts `naming` it, then
        their relays (the relay's own address, from each author's relays entry)."""
        authors = list(dict.fromkeys(e.author for e in naming))
        relays = await self.store.relay_lists(authors) if authors else {}
        out = [handle_of(a) for a in authors]
        for author in authors:
            out.extend(addr.removesuffix("/p2p-circuit") for addr in relays.get(author, ()))
        return out

    async def blob_hash(self, path: str) -> str:
        """The id a file would have as a blob (B1), without storing it."""
        from p2psocial.core.blobs import manifest_of
        source = Path(path).expanduser()
        try:
            data = await asyncio.to_thread(source.read_bytes)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise UsageError(f"cannot read {shown(source)}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
        if not 0 < len(data) <= limits.MAX_BLOB_BYTES:
            raise UsageError(f"{shown(source)} is empty or over 5 MiB: it cannot be a blob")
        return manifest_of(data).id.hex()

    def _blob_id(self, ref: str) -> bytes:
        try:
            blob = bytes.fromhex(ref)
        except ValueError:
            blob = b""
        if len(blob) != 32:
            shown = ref if len(ref) <= 70 else ref[:64] + "…"
            raise UsageError(f"{shown!r} is not a blob id (64 hex digits)")
        return blob


def _attachment_info(blob: bytes, naming: Sequence[Entry]) -> tuple[int, str, str | None]:
    """The size, type and alt text the posts `naming` a blob give it (0, octet-stream, None
    if none does)."""
    for entry in naming:
        content = entry.content
        if isinstance(content, Post):
            for attachment in content.attachments:
                if attachment.blob == blob:
                    return attachment.size, attachment.type, attachment.alt
    return 0, FALLBACK_TYPE, None


def _copy_file(source: Path, target: Path) -> None:
    """Copy `source` to `target` whole or not at all (a temporary file renamed)."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
