"""The messages of the mail protocol `/p2psocial/mail/1.0.0` (docs/protocol.md §Private
messages, M15).

Rules:
- One stream, one request, one answer. Each is a canonical CBOR map with small int keys:
  request {0: 1, 1: op, 2: wrap or account id, 3: stamp n or cursor or policy, 4: stamp day};
  answer {0: status, 1: pow bits or retry_after, 2: [[cursor, wrap], ...], 3: more}.
- Requests are at most MAX_MAIL_REQUEST_BYTES, answers MAX_MAIL_ANSWER_BYTES, both checked
  before decoding. Unknown keys are ignored (J2); anything else wrong is MailError("M15"),
  and the stream is closed.
- The wrap inside a PUT is not parsed here: the holder checks it (M10, answer `bad`).
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import Any

from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import EncodingError, MailError
from p2psocial.core.limits import (
    KEY_BYTES,
    MAIL_FETCH_PAGE,
    MAX_MAIL_ANSWER_BYTES,
    MAX_MAIL_REQUEST_BYTES,
    MAX_POW_BITS,
    MAX_SEQ,
    MAX_WRAP_BYTES,
)
from p2psocial.core.mail.stamp import STAMP_BYTES

MAIL_PROTOCOL = "/p2psocial/mail/1.0.0"
MAIL_WIRE_VERSION = 1
MAX_CURSOR = MAX_SEQ
MAX_RETRY_AFTER_S = 86_400


class Op(enum.IntEnum):
    """Key 1 of a request."""

    PUT = 0
    FETCH = 1
    ACK = 2
    NOTIFY = 3
    POLICY = 4


class Status(enum.StrEnum):
    """Key 0 of an answer."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    OK = "ok"
    POW = "pow"
    QUOTA = "quota"
    FULL = "full"
    BLOCKED = "blocked"
    REFUSED = "refused"
    NOT_HERE = "not-here"
    FORBIDDEN = "forbidden"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Stamp:
    """A proof-of-work stamp (M25): `n` (8 bytes) for the UTC `day`."""

    n: bytes
    day: int


@dataclass(frozen=True, slots=True)
class Put:
    """Hold this wrap for its mailbox."""

    wrap: bytes
    stamp: Stamp | None = None


@dataclass(frozen=True, slots=True)
class MailboxRequest:
    """FETCH (after `value`), ACK (up to `value`), NOTIFY (newest `value`) or POLICY (`value`
    1: followed only) for `account`'s mailbox."""

    op: Op
    account: bytes
    value: int


Request = Put | MailboxRequest


@dataclass(frozen=True, slots=True)
class Answer:
    """A holder's answer. `extra`: the bits for `pow`, seconds for `quota`; `items` and
    `more` for an `ok` to FETCH."""

    status: Status
    extra: int | None = None
    items: tuple[tuple[int, bytes], ...] = ()
    more: bool = False

    @property
    def held(self) -> bool:
        """The wrap is held: `stored` or `duplicate`."""
        return self.status in (Status.STORED, Status.DUPLICATE)


def encode_request(request: Request) -> bytes:
    """The canonical bytes of a request."""
    if isinstance(request, Put):
        fields: dict[int, Any] = {0: MAIL_WIRE_VERSION, 1: int(Op.PUT), 2: request.wrap}
        if request.stamp is not None:
            fields |= {3: request.stamp.n, 4: request.stamp.day}
        return encode(fields)
    return encode({0: MAIL_WIRE_VERSION, 1: int(request.op), 2: request.account,
                   3: request.value})


def parse_request(raw: bytes) -> Request:
    """Parse a request. Raises MailError("M15")."""
    fields = _map(raw, MAX_MAIL_REQUEST_BYTES, "request")
    if _uint(fields, 0, MAIL_WIRE_VERSION) != MAIL_WIRE_VERSION:
        raise MailError("M15", "request version must be 1", found=fields.get(0))
    op = Op(_uint(fields, 1, max(Op)))
    if op is Op.PUT:
        wrap = _bytes(fields, 2, None)
        if len(wrap) > MAX_WRAP_BYTES:
            raise MailError("M15", "wrap too long", found=len(wrap))
        if 3 not in fields:
            return Put(wrap)
        return Put(wrap, Stamp(_bytes(fields, 3, STAMP_BYTES), _uint(fields, 4, 2**32 - 1)))
    high = 1 if op is Op.POLICY else MAX_CURSOR
    return MailboxRequest(op, _bytes(fields, 2, KEY_BYTES), _uint(fields, 3, high))


def encode_answer(answer: Answer) -> bytes:
    """The canonical bytes of an answer."""
    fields: dict[int, Any] = {0: answer.status.value}
    if answer.extra is not None:
        fields[1] = answer.extra
    if answer.status is Status.OK and (answer.items or answer.more):
        fields[2] = [[cursor, wrap] for cursor, wrap in answer.items]
        fields[3] = int(answer.more)
    return encode(fields)


def parse_answer(raw: bytes) -> Answer:
    """Parse an answer. Raises MailError("M15")."""
    fields = _map(raw, MAX_MAIL_ANSWER_BYTES, "answer")
    value = fields.get(0)
    if type(value) is not str or value not in Status._value2member_map_:
        raise MailError("M15", "unknown answer status", found=value)
    status = Status(value)
    extra: int | None = None
    if status is Status.POW:
        extra = _uint(fields, 1, MAX_POW_BITS)
    elif status is Status.QUOTA:
        extra = _uint(fields, 1, MAX_RETRY_AFTER_S)
    if 2 not in fields:
        return Answer(status, extra)
    return Answer(status, extra, _items(fields[2]), bool(_uint(fields, 3, 1)))


def _map(raw: bytes, limit: int, what: str) -> dict[Any, Any]:
    if len(raw) > limit:
        raise MailError("M15", f"{what} too long", expected=limit, found=len(raw))
    try:
        fields = decode_canonical(raw, rule="M15", what=f"mail {what}")
    except EncodingError as exc:
        raise MailError("M15", str(exc)) from exc
    if type(fields) is not dict:
        raise MailError("M15", f"a mail {what} is a map")
    return fields


def _uint(fields: dict[Any, Any], key: int, high: int) -> int:
    value = fields.get(key)
    if type(value) is not int or not 0 <= value <= high:
        raise MailError("M15", f"key {key} must be a uint of at most {high}", found=value)
    return value


def _bytes(fields: dict[Any, Any], key: int, size: int | None) -> bytes:
    value = fields.get(key)
    if type(value) is not bytes or (size is not None and len(value) != size):
        raise MailError("M15", f"key {key} must be {size or 'a byte string of'} bytes")
    return value


def _items(value: Any) -> tuple[tuple[int, bytes], ...]:
    if type(value) is not list or len(value) > MAIL_FETCH_PAGE:
        raise MailError("M15", f"items must be a list of at most {MAIL_FETCH_PAGE}")
    items: list[tuple[int, bytes]] = []
    for item in value:
        if (type(item) is not list or len(item) != 2 or type(item[0]) is not int
                or not 1 <= item[0] <= MAX_CURSOR or type(item[1]) is not bytes):
            raise MailError("M15", "an item is [cursor, wrap]")
        items.append((item[0], item[1]))
    if any(a[0] >= b[0] for a, b in itertools.pairwise(items)):
        raise MailError("M15", "items must be in cursor order")
    return tuple(items)
