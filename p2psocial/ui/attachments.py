"""Pictures and files of a post as the UI shows them: pure functions from views to text.

Rules:
- A post's attachments are read from its view's content (dicts: blob in hex, size, type,
  alt?, name?); a malformed one is left out, never raised.
- A row gives each attachment one item: its kind (picture or file), its description (the alt
  text, else the file's name, else "no description"), its type and size. The alt text is
  always shown (it wraps; past ROW_ALT_CHARS it is cut, and the picture screen shows it all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.style import StyleType
from rich.text import Text

from p2psocial.runtime.views import EntryView, size_text

ROW_ALT_CHARS = 300


@dataclass(frozen=True, slots=True)
class AttachmentItem:
    """One attachment of a post, as the UI shows it."""

    blob: str
    size: int
    type: str
    alt: str | None = None
    name: str | None = None

    @property
    def is_picture(self) -> bool:
        return self.type.startswith("image/")

    @property
    def kind(self) -> str:
        return "picture" if self.is_picture else "file"

    @property
    def label(self) -> str:
        """What the attachment is called: its alt text, its name, or "no description"."""
        return self.alt or self.name or "no description"

    @property
    def facts(self) -> str:
        """Its type and size: `image/png, 12.3 kB`."""
        return f"{self.type}, {size_text(self.size)}"


def attachments_of(post: EntryView) -> list[AttachmentItem]:
    """The attachments a post view names (none for a deleted post or another entry)."""
    items = (post.content or {}).get("attachments") if not post.deleted else None
    if not isinstance(items, list):
        return []
    return [one for item in items if (one := _item(item)) is not None]


def _item(item: object) -> AttachmentItem | None:
    if not isinstance(item, Mapping):
        return None
    blob, size, media = item.get("blob"), item.get("size"), item.get("type")
    if not (isinstance(blob, str) and len(blob) == 64 and isinstance(size, int)
            and isinstance(media, str)):
        return None
    return AttachmentItem(blob, size, media, _optional(item, "alt"), _optional(item, "name"))


def _optional(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) and value.strip() else None


def one_line(text: str, limit: int) -> str:
    """`text` with its line breaks and runs of spaces made single spaces, cut at `limit`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def attachment_text(item: AttachmentItem, label_style: StyleType = "",
                    facts_style: StyleType = "") -> Text:
    """A row's item for one attachment: `▣ picture: river at dusk · image/png, 95 B`."""
    out = Text()
    out.append(f"{'▣' if item.is_picture else '▤'} {item.kind}: ", facts_style)
    out.append(one_line(item.label, ROW_ALT_CHARS), label_style)
    out.append(f" · {item.facts}", facts_style)
    return out
