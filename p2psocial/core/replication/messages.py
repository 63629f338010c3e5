"""The eleven messages of the sync protocol and their CBOR form (docs/protocol.md §Messages,
§Account ops in sessions, §Account summaries).

Rules:
- A message is a CBOR array whose first item is its type (a uint). It need not be canonical
  (nothing here is hashed or signed) but must be exactly one well-formed data item of the
  shape below, with exactly the items listed: no trailing bytes, no extra items.
- A message of an unknown type (a uint above 10) decodes to None and is ignored. (Nodes from
  before accounts ignore OPS, type 8, the same way: spec O4. ACCOUNTS and MORE, 9 and 10,
  belong to sync 1.1.0: on a 1.0.0 session the session ignores them as unknown.)
- `feed` is a 32-byte key; every uint is at most 2^53 - 1; every text is at most 256
  characters. A range (lo, hi) is (0, 0) for "nothing" or 1 <= lo <= hi.
- WANT and HAVE hold at most 1,024 notes and UNWANT at most 1,024 feeds, each feed at most
  once per message. ENTRIES holds 1 to 256 entries: [header, payload or null], a header of at
  most 512 bytes and a payload of at most 16,384 (anything larger breaks the entry rules).
- OPS holds an `account` (32 bytes) and 1 to MAX_OPS ops, each a byte string of at most
  MAX_OP_BYTES (what an op is, K1-K9, is checked by the receiver: core.account.ops).
- ACCOUNTS holds 1 to 1,024 notes [account, depth, summary] (summary: 32 bytes), MORE 1 to
  1,024 accounts; each account at most once per message (spec A1-A5).
- ERROR has an optional 4th item, `retry_after` (a uint, seconds); nothing else is optional.
- Every malformed input raises ProtocolError (code "malformed"), never anything else: the
  decoder's own exceptions are translated.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeAlias

import cbor2

from p2psocial.core import limits
from p2psocial.core.encoding import DECODE_ERRORS
from p2psocial.core.errors import ProtocolError
from p2psocial.core.replication.codes import Code

PROTOCOL_ID = "/p2psocial/sync/1.0.0"
PROTOCOL_ID_SUMMARIES = "/p2psocial/sync/1.1.0"  # 1.0.0 + ACCOUNTS and MORE (spec A1-A5)
SUMMARY_BYTES = 32
PROTOCOL_VERSION = 1
MAX_NOTES = 1024
MAX_ENTRIES = 256
MAX_TEXT_CHARS = 256
MAX_UINT = 2**53 - 1
MAX_OPS = 64          # ops in one OPS message
MAX_OP_BYTES = 1024   # the largest op (K1; = core.account.ops.MAX_OP_BYTES)

RawEntry: TypeAlias = tuple[bytes, bytes | None]
"""An entry as it travels: the signed header bytes and the payload bytes, or None if absent."""


class MessageType(IntEnum):
    """The first item of every message."""

    HELLO = 0
    WANT = 1
    HAVE = 2
    ENTRIES = 3
    UNWANT = 4
    SYNCED = 5
    BYE = 6
    ERROR = 7
    OPS = 8
    ACCOUNTS = 9
    MORE = 10


@dataclass(frozen=True, slots=True)
class Hello:
    """First message each way: protocol version, free-form agent text, largest frame I accept."""

    version: int
    agent: str
    max_frame: int


@dataclass(frozen=True, slots=True)
class WantNote:
    """I want `feed`; I hold [lo, hi] of it ((0, 0): nothing); send me at least the newest
    `depth` entries (0: all of them)."""

    feed: bytes
    lo: int
    hi: int
    depth: int


@dataclass(frozen=True, slots=True)
class HaveNote:
    """I hold [lo, hi] of `feed` ((0, 0): nothing)."""

    feed: bytes
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class Want:
    """Notes for the feeds I want; a note replaces any earlier note for its feed."""

    notes: tuple[WantNote, ...]


@dataclass(frozen=True, slots=True)
class Have:
    """What I hold of some feeds: an answer to a WANT, or news of my range growing."""

    notes: tuple[HaveNote, ...]


@dataclass(frozen=True, slots=True)
class Entries:
    """Entries of one feed forming a run: seqs step by +1 throughout, or by -1 throughout."""

    feed: bytes
    entries: tuple[RawEntry, ...]


@dataclass(frozen=True, slots=True)
class Unwant:
    """Stop sending these feeds; forget my notes for them."""

    feeds: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Synced:
    """I have sent all I hold for the first `wants` WANT messages you sent."""

    wants: int


@dataclass(frozen=True, slots=True)
class Bye:
    """Orderly close."""

    reason: str


@dataclass(frozen=True, slots=True)
class Error:
    """You broke the protocol, or I refuse you (`code`, see codes.py); I am closing. With
    `retry_after`: open no new session to me for that many seconds (encoded as a 4th item
    only when present)."""

    code: str
    detail: str
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class Ops:
    """Account ops (their bytes, not decoded here) of the account `account` (spec O1)."""

    account: bytes
    ops: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AccountNote:
    """I want `account`'s feeds at `depth`; `summary` sums up what I hold of it (spec A1)."""

    account: bytes
    depth: int
    summary: bytes


@dataclass(frozen=True, slots=True)
class Accounts:
    """Summaries of accounts I want, instead of WANT notes for their feeds (spec A2)."""

    notes: tuple[AccountNote, ...]


@dataclass(frozen=True, slots=True)
class More:
    """What I hold of these accounts differs from your summaries: state their feeds (A4)."""

    accounts: tuple[bytes, ...]


Message: TypeAlias = (Hello | Want | Have | Entries | Unwant | Synced | Bye | Error | Ops
                      | Accounts | More)


def encode_message(msg: Message) -> bytes:
    """The CBOR bytes of `msg` (not framed; see framing.encode_frame)."""
    return bytes(cbor2.dumps(_to_list(msg)))


def _to_list(msg: Message) -> list[Any]:
    match msg:
        case Hello(version, agent, max_frame):
            return [int(MessageType.HELLO), version, agent, max_frame]
        case Want(notes):
            return [int(MessageType.WANT), [[n.feed, n.lo, n.hi, n.depth] for n in notes]]
        case Have(notes):
            return [int(MessageType.HAVE), [[n.feed, n.lo, n.hi] for n in notes]]
        case Entries(feed, entries):
            return [int(MessageType.ENTRIES), feed, [[h, p] for h, p in entries]]
        case Unwant(feeds):
            return [int(MessageType.UNWANT), list(feeds)]
        case Synced(wants):
            return [int(MessageType.SYNCED), wants]
        case Bye(reason):
            return [int(MessageType.BYE), reason]
        case Error(code, detail, None):
            return [int(MessageType.ERROR), code, detail]
        case Error(code, detail, retry_after):
            return [int(MessageType.ERROR), code, detail, retry_after]
        case Ops(account, ops):
            return [int(MessageType.OPS), account, list(ops)]
        case Accounts(notes):
            return [int(MessageType.ACCOUNTS), [[n.account, n.depth, n.summary] for n in notes]]
        case More(accounts):
            return [int(MessageType.MORE), list(accounts)]
    raise TypeError(f"not a message: {msg!r}")  # pragma: no cover - the match is exhaustive


SYNC_1_0_TYPES = int(MessageType.OPS)  # the last type a /p2psocial/sync/1.0.0 session knows


def decode_message(data: bytes, known: int = max(MessageType)) -> Message | None:
    """Decode one message; None if its type is unknown (above `known`: the caller ignores it;
    a 1.0.0 session passes SYNC_1_0_TYPES).

    Raises:
        ProtocolError: MALFORMED, for anything that is not exactly one well-formed message.
    """
    items = _load(data)
    if type(items) is not list or not items or type(items[0]) is not int or items[0] < 0:
        raise _malformed("a message is an array starting with its type")
    kind = items[0]
    if kind > known:
        return None
    reader, arity = _READERS[MessageType(kind)]
    if len(items) not in (arity, _OPTIONAL_ITEM.get(MessageType(kind), arity)):
        raise _malformed(f"{MessageType(kind).name} has {arity} items, not {len(items)}")
    return reader(items)


def check_message(msg: Message) -> None:
    """Check the limits of a message we are about to send (decode checks received ones).

    Raises:
        ProtocolError: MALFORMED, naming the first limit broken.
    """
    decoded = decode_message(encode_message(msg))
    if decoded != msg:
        raise _malformed(f"{type(msg).__name__} holds values of the wrong type")


def _load(data: bytes) -> Any:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except DECODE_ERRORS as exc:
        raise _malformed(f"not CBOR: {exc}") from exc
    if stream.tell() != len(data):
        raise _malformed(f"{len(data) - stream.tell()} bytes after the message")
    return value


def _malformed(detail: str) -> ProtocolError:
    return ProtocolError(Code.MALFORMED, detail)


def _uint(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_UINT:
        raise _malformed(f"{what} must be a uint up to 2^53-1")
    return value


def _text(value: Any, what: str) -> str:
    if type(value) is not str or len(value) > MAX_TEXT_CHARS:
        raise _malformed(f"{what} must be text of at most {MAX_TEXT_CHARS} characters")
    return value


def _feed(value: Any) -> bytes:
    if type(value) is not bytes or len(value) != limits.KEY_BYTES:
        raise _malformed(f"a feed is {limits.KEY_BYTES} bytes")
    return value


def _range(lo: Any, hi: Any) -> tuple[int, int]:
    lo, hi = _uint(lo, "lo"), _uint(hi, "hi")
    if (lo == 0) != (hi == 0) or lo > hi:
        raise _malformed(f"range [{lo}, {hi}] is neither (0, 0) nor 1 <= lo <= hi")
    return lo, hi


def _array(value: Any, limit: int, what: str) -> list[Any]:
    if type(value) is not list or len(value) > limit:
        raise _malformed(f"{what} must be an array of at most {limit} items")
    return value


def _distinct(feeds: Sequence[bytes], what: str) -> None:
    if len(set(feeds)) != len(feeds):
        raise _malformed(f"a feed appears twice in one {what}")


def _note_items(value: Any, arity: int) -> list[Any]:
    if type(value) is not list or len(value) != arity:
        raise _malformed(f"a note is an array of {arity} items")
    return value


def _read_hello(items: list[Any]) -> Hello:
    return Hello(_uint(items[1], "version"), _text(items[2], "agent"),
                 _uint(items[3], "max_frame"))


def _read_want(items: list[Any]) -> Want:
    notes = []
    for raw in _array(items[1], MAX_NOTES, "WANT notes"):
        feed, lo, hi, depth = _note_items(raw, 4)
        notes.append(WantNote(_feed(feed), *_range(lo, hi), _uint(depth, "depth")))
    _distinct([n.feed for n in notes], "WANT")
    return Want(tuple(notes))


def _read_have(items: list[Any]) -> Have:
    notes = []
    for raw in _array(items[1], MAX_NOTES, "HAVE notes"):
        feed, lo, hi = _note_items(raw, 3)
        notes.append(HaveNote(_feed(feed), *_range(lo, hi)))
    _distinct([n.feed for n in notes], "HAVE")
    return Have(tuple(notes))


def _read_entries(items: list[Any]) -> Entries:
    feed = _feed(items[1])
    raw = _array(items[2], MAX_ENTRIES, "ENTRIES")
    if not raw:
        raise _malformed("ENTRIES holds at least one entry")
    entries: list[RawEntry] = []
    for pair in raw:
        if type(pair) is not list or len(pair) != 2:
            raise _malformed("an entry is [header, payload or null]")
        header, payload = pair
        if type(header) is not bytes or len(header) > limits.MAX_HEADER_BYTES:
            raise _malformed(f"a header is bytes, at most {limits.MAX_HEADER_BYTES}")
        if payload is not None and (type(payload) is not bytes
                                    or len(payload) > limits.MAX_PAYLOAD_BYTES):
            raise _malformed(f"a payload is null or bytes, at most {limits.MAX_PAYLOAD_BYTES}")
        entries.append((header, payload))
    return Entries(feed, tuple(entries))


def _read_unwant(items: list[Any]) -> Unwant:
    feeds = tuple(_feed(f) for f in _array(items[1], MAX_NOTES, "UNWANT feeds"))
    _distinct(feeds, "UNWANT")
    return Unwant(feeds)


def _read_synced(items: list[Any]) -> Synced:
    return Synced(_uint(items[1], "wants"))


def _read_bye(items: list[Any]) -> Bye:
    return Bye(_text(items[1], "reason"))


def _read_error(items: list[Any]) -> Error:
    retry_after = _uint(items[3], "retry_after") if len(items) > 3 else None
    return Error(_text(items[1], "code"), _text(items[2], "detail"), retry_after)


def _read_ops(items: list[Any]) -> Ops:
    account = _feed(items[1])
    raw = _array(items[2], MAX_OPS, "OPS")
    if not raw:
        raise _malformed("OPS holds at least one op")
    for op in raw:
        if type(op) is not bytes or len(op) > MAX_OP_BYTES:
            raise _malformed(f"an op is bytes, at most {MAX_OP_BYTES}")
    return Ops(account, tuple(raw))


def _read_accounts(items: list[Any]) -> Accounts:
    raw = _array(items[1], MAX_NOTES, "ACCOUNTS notes")
    if not raw:
        raise _malformed("ACCOUNTS holds at least one note")
    notes = []
    for item in raw:
        account, depth, summary = _note_items(item, 3)
        if type(summary) is not bytes or len(summary) != SUMMARY_BYTES:
            raise _malformed(f"a summary is {SUMMARY_BYTES} bytes")
        notes.append(AccountNote(_feed(account), _uint(depth, "depth"), summary))
    _distinct([n.account for n in notes], "ACCOUNTS")
    return Accounts(tuple(notes))


def _read_more(items: list[Any]) -> More:
    accounts = tuple(_feed(f) for f in _array(items[1], MAX_NOTES, "MORE accounts"))
    if not accounts:
        raise _malformed("MORE holds at least one account")
    _distinct(accounts, "MORE")
    return More(accounts)


_READERS: dict[MessageType, tuple[Callable[[list[Any]], Message], int]] = {
    MessageType.HELLO: (_read_hello, 4),
    MessageType.WANT: (_read_want, 2),
    MessageType.HAVE: (_read_have, 2),
    MessageType.ENTRIES: (_read_entries, 3),
    MessageType.UNWANT: (_read_unwant, 2),
    MessageType.SYNCED: (_read_synced, 2),
    MessageType.BYE: (_read_bye, 2),
    MessageType.ERROR: (_read_error, 3),
    MessageType.OPS: (_read_ops, 3),
    MessageType.ACCOUNTS: (_read_accounts, 2),
    MessageType.MORE: (_read_more, 2),
}
_OPTIONAL_ITEM: dict[MessageType, int] = {MessageType.ERROR: 4}  # ERROR's retry_after
