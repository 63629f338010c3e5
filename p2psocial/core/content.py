"""Entry payloads: one schema per known entry type (docs/protocol.md §Entry types).

Rules:
- A known type's payload is a canonical CBOR map with text keys (rule P3). Keys the schema does
  not name are ignored, so a type can grow optional fields without breaking older readers.
- Field checks follow the schema table in docs/protocol.md; a failure raises SchemaError with
  rule P4 and the field's name.
- Unknown entry types are opaque: their payload is kept and passed on, never parsed.
- `to_payload()` produces the canonical bytes that an author signs (by hash).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import cbor2

from p2psocial.core import limits
from p2psocial.core.encoding import DECODE_ERRORS, decode_canonical, encode
from p2psocial.core.errors import SchemaError

_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A picture or file in a post: a blob by id, its size and media type (§Blobs)."""

    blob: bytes
    size: int
    type: str
    alt: str | None = None
    name: str | None = None

    @property
    def is_image(self) -> bool:
        return self.type.startswith("image/")

    def to_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {"blob": self.blob, "size": self.size, "type": self.type}
        _put(out, "alt", self.alt)
        _put(out, "name", self.name)
        return out

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> Attachment:
        blob = _hash(m, "blob", required=True)
        size = m.get("size")
        if size is None:
            raise _missing("size")
        if type(size) is not int or not 0 < size <= limits.MAX_BLOB_BYTES:
            raise SchemaError("P4", "an attachment's size is 1 byte to 5 MiB",
                              expected=f"1..{limits.MAX_BLOB_BYTES}", found=size)
        media = _text(m, "type", limits.MAX_MEDIA_TYPE_CHARS, required=True)
        assert blob is not None and media is not None
        if len(media) < 3 or not _MEDIA_TYPE.fullmatch(media):
            raise SchemaError("P4", "an attachment's type is a lowercase media type",
                              expected="type/subtype", found=media)
        name = _text(m, "name", limits.MAX_FILE_NAME_CHARS)
        if name is not None and (not name or any(c in "/\\" or ord(c) < 0x20 or c == "\x7f"
                                                 for c in name)):
            raise SchemaError("P4", "an attachment's name is a file name without / \\ or "
                              "control characters", expected="file name", found=name)
        return cls(blob, size, media, _text(m, "alt", limits.MAX_ALT_CHARS), name)


@dataclass(frozen=True, slots=True)
class Post:
    """A public post, optionally a reply (root and parent) or a quote, with attachments."""

    TYPE: ClassVar[str] = "post"
    text: str
    root: bytes | None = None
    parent: bytes | None = None
    mentions: tuple[bytes, ...] = ()
    tags: tuple[str, ...] = ()
    cw: str | None = None
    quote: bytes | None = None
    attachments: tuple[Attachment, ...] = ()

    def to_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text}
        _put(out, "root", self.root)
        _put(out, "parent", self.parent)
        _put(out, "mentions", list(self.mentions) or None)
        _put(out, "tags", list(self.tags) or None)
        _put(out, "cw", self.cw)
        _put(out, "quote", self.quote)
        _put(out, "attachments", [a.to_map() for a in self.attachments] or None)
        return out

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> Post:
        if len(m) == 1:  # the common case, a plain post: check it directly
            text = m.get("text")
            if (type(text) is str and 0 < len(text) <= limits.MAX_POST_CHARS
                    and not text.isspace()):
                return cls(text=text)
        text = _text(m, "text", limits.MAX_POST_CHARS, required=True)
        assert text is not None
        if not text.strip():
            raise SchemaError("P4", "post text is blank", expected="text", found="whitespace")
        root, parent = _hash(m, "root"), _hash(m, "parent")
        if (root is None) != (parent is None):
            raise SchemaError("P4", "a reply names both root and parent",
                              expected="both or neither", found="one")
        cw = _text(m, "cw", limits.MAX_CW_CHARS)
        return cls(text=text, root=root, parent=parent,
                   mentions=tuple(_list(m, "mentions", limits.MAX_MENTIONS, _key_item)),
                   tags=tuple(_list(m, "tags", limits.MAX_TAGS, _tag_item)),
                   cw=cw, quote=_hash(m, "quote"),
                   attachments=tuple(_list(m, "attachments", limits.MAX_ATTACHMENTS,
                                           _attachment_item)))


@dataclass(frozen=True, slots=True)
class About:
    """Profile fields; each present field replaces the author's earlier value."""

    TYPE: ClassVar[str] = "about"
    name: str | None = None
    bio: str | None = None

    def to_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "name", self.name)
        _put(out, "bio", self.bio)
        return out

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> About:
        name = _text(m, "name", limits.MAX_NAME_CHARS)
        bio = _text(m, "bio", limits.MAX_BIO_CHARS)
        if name is None and bio is None:
            raise SchemaError("P4", "about sets nothing", expected="name or bio", found="neither")
        return cls(name=name, bio=bio)


@dataclass(frozen=True, slots=True)
class FeedRef:
    """Base of the entry types whose payload names one feed."""

    feed: bytes

    def to_map(self) -> dict[str, Any]:
        return {"feed": self.feed}


def _feed_ref_parser(cls: type[_F]) -> Callable[[dict[str, Any]], _F]:
    def parse(m: dict[str, Any]) -> _F:
        feed = _key(m, "feed", required=True)
        assert feed is not None
        return cls(feed=feed)
    return parse


_F = TypeVar("_F", bound=FeedRef)


@dataclass(frozen=True, slots=True)
class Follow(FeedRef):
    """Start following a feed."""

    TYPE: ClassVar[str] = "follow"


@dataclass(frozen=True, slots=True)
class Unfollow(FeedRef):
    """Stop following a feed."""

    TYPE: ClassVar[str] = "unfollow"


@dataclass(frozen=True, slots=True)
class Block(FeedRef):
    """Block a feed: never replicate, serve or show it."""

    TYPE: ClassVar[str] = "block"


@dataclass(frozen=True, slots=True)
class Unblock(FeedRef):
    """Lift a block."""

    TYPE: ClassVar[str] = "unblock"


@dataclass(frozen=True, slots=True)
class React:
    """A reaction (an emoji or short word) to an entry."""

    TYPE: ClassVar[str] = "react"
    target: bytes
    reaction: str

    def to_map(self) -> dict[str, Any]:
        return {"target": self.target, "reaction": self.reaction}

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> React:
        target = _hash(m, "target", required=True)
        reaction = _text(m, "reaction", limits.MAX_REACTION_BYTES, required=True)
        assert target is not None and reaction is not None
        if not reaction.strip() or len(reaction.encode()) > limits.MAX_REACTION_BYTES:
            raise SchemaError("P4", "reaction must be 1 to 32 bytes of visible text",
                              expected=f"<= {limits.MAX_REACTION_BYTES} bytes", found=reaction)
        return cls(target=target, reaction=reaction)


@dataclass(frozen=True, slots=True)
class TargetRef:
    """Base of the entry types whose payload names one entry by hash."""

    target: bytes

    def to_map(self) -> dict[str, Any]:
        return {"target": self.target}


@dataclass(frozen=True, slots=True)
class Repost(TargetRef):
    """Share another entry with one's followers."""

    TYPE: ClassVar[str] = "repost"


@dataclass(frozen=True, slots=True)
class Delete(TargetRef):
    """Ask every peer to drop the payload of one of the author's own earlier entries."""

    TYPE: ClassVar[str] = "delete"


_T = TypeVar("_T", bound=TargetRef)


def _target_ref_parser(cls: type[_T]) -> Callable[[dict[str, Any]], _T]:
    def parse(m: dict[str, Any]) -> _T:
        target = _hash(m, "target", required=True)
        assert target is not None
        return cls(target=target)
    return parse


@dataclass(frozen=True, slots=True)
class Relays:
    """Where the author can be reached: relay multiaddrs, most preferred first."""

    TYPE: ClassVar[str] = "relays"
    addrs: tuple[str, ...] = ()

    def to_map(self) -> dict[str, Any]:
        return {"addrs": list(self.addrs)}

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> Relays:
        if "addrs" not in m:
            raise SchemaError("P4", "relays needs addrs", expected="addrs", found="missing")
        return cls(addrs=tuple(_list(m, "addrs", limits.MAX_RELAY_ADDRS, _addr_item)))


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """An encrypted message: a SecretBox `box` whose key is sealed once per reader in `keys`."""

    TYPE: ClassVar[str] = "dm"
    keys: tuple[bytes, ...]
    nonce: bytes
    box: bytes

    def to_map(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "nonce": self.nonce, "box": self.box}

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> PrivateMessage:
        keys = _list(m, "keys", limits.MAX_DM_RECIPIENTS + 1, _sealed_key_item)
        if not keys:
            raise SchemaError("P4", "a private message needs a reader", expected=">= 1 key",
                              found=0)
        nonce = _bytes(m, "nonce", 24, required=True)
        box = m.get("box")
        if not isinstance(box, bytes) or len(box) < 16:
            raise SchemaError("P4", "dm box must be ciphertext bytes", expected="bytes >= 16",
                              found=type(box).__name__)
        assert nonce is not None
        return cls(keys=tuple(keys), nonce=nonce, box=box)


Content = (Post | About | Follow | Unfollow | Block | Unblock | React | Repost | Delete
           | Relays | PrivateMessage)

_PARSERS: dict[str, Callable[[dict[str, Any]], Content]] = {
    "post": Post.from_map,
    "about": About.from_map,
    "follow": _feed_ref_parser(Follow),
    "unfollow": _feed_ref_parser(Unfollow),
    "block": _feed_ref_parser(Block),
    "unblock": _feed_ref_parser(Unblock),
    "react": React.from_map,
    "repost": _target_ref_parser(Repost),
    "delete": _target_ref_parser(Delete),
    "relays": Relays.from_map,
    "dm": PrivateMessage.from_map,
}

KNOWN_TYPES: frozenset[str] = frozenset(_PARSERS)


def is_known_type(entry_type: str) -> bool:
    """True for the entry types this version of the protocol defines."""
    return entry_type in _PARSERS


def parse_content(entry_type: str, payload: bytes) -> Content | None:
    """Parse and check the payload of a known type; None for unknown types.

    Raises:
        EncodingError: the payload is not canonical CBOR (rule P3).
        SchemaError: the payload breaks its type's schema (rule P4).
    """
    parser = _PARSERS.get(entry_type)
    if parser is None:
        return None
    value = decode_canonical(payload, rule="P3", what=f"{entry_type} payload")
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SchemaError("P3", "payload must be a map with text keys",
                          expected="map", found=type(value).__name__)
    return parser(value)


_PLAIN_POST_START = b"\xa1\x64text"  # a map of one item, the 4-character text key "text"


def plain_post(payload: bytes) -> Post | None:
    """The Post of a payload that is the canonical map {"text": text} with valid text, the
    common case, decided by a short path; None for any other payload (`parse_content`
    then decides, naming the rule broken if any). Same verdict as `parse_content`."""
    if not payload.startswith(_PLAIN_POST_START):
        return None
    try:
        value = cbor2.loads(payload)
    except DECODE_ERRORS:
        return None
    if type(value) is not dict or len(value) != 1:
        return None
    text = value.get("text")
    # one text key and a text value: cbor2's plain encoding is canonical (see decode_canonical)
    if (type(text) is not str or not 0 < len(text) <= limits.MAX_POST_CHARS
            or text.isspace() or cbor2.dumps(value) != payload):
        return None
    post = _new_object(Post)  # Post(text) at half the cost of the frozen dataclass __init__
    _set_text(post, text)
    for set_default, default in _POST_DEFAULTS:
        set_default(post, default)
    return post


_new_object = object.__new__
_set_text = Post.__dict__["text"].__set__  # slot descriptors: set without frozen's __setattr__
_POST_DEFAULTS = tuple((Post.__dict__[f.name].__set__, f.default)
                       for f in dataclasses.fields(Post) if f.name != "text")


def content_payload(content: Content) -> bytes:
    """The canonical payload bytes for `content`, checked against its own schema.

    Raises:
        SchemaError: a field breaks P4, or holds text that is not Unicode (a lone surrogate,
            as Python keeps bytes that were not UTF-8): it has no UTF-8 form.
    """
    try:
        payload = encode(content.to_map())
    except UnicodeEncodeError as exc:
        raise SchemaError("P4", "text must be valid Unicode (it holds bytes that were not "
                          "UTF-8)", expected="UTF-8 text", found=exc.object[exc.start:exc.end]
                          ) from None
    parse_content(content.TYPE, payload)
    return payload


# --- field helpers -------------------------------------------------------------------------


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _missing(name: str) -> SchemaError:
    return SchemaError("P4", f"field {name!r} is required", expected=name, found="missing")


def _text(m: dict[str, Any], name: str, max_chars: int, *, required: bool = False) -> str | None:
    value = m.get(name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, str):
        raise SchemaError("P4", f"{name} must be text", expected="text",
                          found=type(value).__name__)
    if len(value) > max_chars:
        raise SchemaError("P4", f"{name} is too long", expected=f"<= {max_chars} characters",
                          found=len(value))
    return value


def _bytes(m: dict[str, Any], name: str, size: int, *, required: bool = False) -> bytes | None:
    value = m.get(name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, bytes) or len(value) != size:
        raise SchemaError("P4", f"{name} must be {size} bytes", expected=f"{size} bytes",
                          found=len(value) if isinstance(value, bytes) else type(value).__name__)
    return value


def _hash(m: dict[str, Any], name: str, *, required: bool = False) -> bytes | None:
    return _bytes(m, name, limits.HASH_BYTES, required=required)


def _key(m: dict[str, Any], name: str, *, required: bool = False) -> bytes | None:
    return _bytes(m, name, limits.KEY_BYTES, required=required)


_I = TypeVar("_I")


def _list(m: dict[str, Any], name: str, max_items: int,
          item: Callable[[str, Any], _I]) -> list[_I]:
    value = m.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SchemaError("P4", f"{name} must be a list", expected="list",
                          found=type(value).__name__)
    if len(value) > max_items:
        raise SchemaError("P4", f"{name} has too many items", expected=f"<= {max_items}",
                          found=len(value))
    return [item(name, v) for v in value]


def _key_item(name: str, value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) != limits.KEY_BYTES:
        raise SchemaError("P4", f"each of {name} must be a 32-byte key", expected="32 bytes",
                          found=value if isinstance(value, bytes) else type(value).__name__)
    return value


def _sealed_key_item(name: str, value: Any) -> bytes:
    # a SealedBox of a 32-byte key: 32 ephemeral public key + 16 MAC + 32 key
    if not isinstance(value, bytes) or len(value) != 80:
        raise SchemaError("P4", f"each of {name} must be an 80-byte sealed key",
                          expected="80 bytes", found=type(value).__name__)
    return value


def _tag_item(name: str, value: Any) -> str:
    if (not isinstance(value, str) or not 0 < len(value) <= limits.MAX_TAG_CHARS
            or value.startswith("#") or any(c.isspace() for c in value)):
        raise SchemaError("P4", f"each of {name} must be 1 to {limits.MAX_TAG_CHARS} characters "
                          "with no '#' prefix and no spaces", expected="tag", found=value)
    return value


def _attachment_item(name: str, value: Any) -> Attachment:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SchemaError("P4", f"each of {name} must be a map with text keys", expected="map",
                          found=type(value).__name__)
    return Attachment.from_map(value)


def _addr_item(name: str, value: Any) -> str:
    if (not isinstance(value, str) or not value.startswith("/")
            or not 1 < len(value) <= limits.MAX_RELAY_ADDR_CHARS):
        raise SchemaError("P4", f"each of {name} must be a multiaddr", expected="/…",
                          found=value)
    return value


