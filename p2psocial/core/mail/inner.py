"""The inner message: a signed canonical CBOR map (docs/protocol.md §Private messages, M1-M6).

Rules:
- M1: fields `v` (1), `from`, `dev`, `to` (1-16 account ids, distinct, sorted, not `from`),
  `id` (16 bytes), `ts` (ms), `kind` (text, edit, delete, accept), `text` (text, edit:
  1-3000 code points, not blank), `target` (edit, delete), `reply` (text, optional), `sig`.
  Unknown keys are ignored and null is absent; a field the kind does not use is an error.
- M2: the conversation id is BLAKE2b-256 of the sorted participants, personal
  "p2ps/mail/conv/1".
- M3: `sig` is Ed25519 by `dev` over MAIL_CONTEXT + canonical CBOR of the map without `sig`,
  as written (unknown keys and nulls included).
- M5: `parse_inner` checks M5a (form) then M5b (signature); `admit` checks M5c (the reader is
  a participant), M5d (`dev` is a current device of `from`, or waits for its ops) and M5e
  (an accept comes from the reader's own account), in that order.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from p2psocial.core import limits
from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import EncodingError, MailError, UsageError
from p2psocial.core.identity import Identity, verify_signature

MAIL_CONTEXT = b"p2psocial/mail/v1\n"
MAIL_VERSION = 1
ID_BYTES = 16
CONVERSATION_PERSON = b"p2ps/mail/conv/1"


class Kind(enum.StrEnum):
    """What an inner message does."""

    TEXT = "text"
    EDIT = "edit"
    DELETE = "delete"
    ACCEPT = "accept"


# The optional fields each kind uses (M1): any other present is an error.
_USES: dict[Kind, frozenset[str]] = {
    Kind.TEXT: frozenset({"text", "reply"}),
    Kind.EDIT: frozenset({"text", "target"}),
    Kind.DELETE: frozenset({"target"}),
    Kind.ACCEPT: frozenset(),
}
_NEEDS: dict[Kind, frozenset[str]] = {
    Kind.TEXT: frozenset({"text"}),
    Kind.EDIT: frozenset({"text", "target"}),
    Kind.DELETE: frozenset({"target"}),
    Kind.ACCEPT: frozenset(),
}
_OPTIONAL = ("text", "target", "reply")


@dataclass(frozen=True, slots=True)
class InnerMessage:
    """A parsed, signature-checked inner message; `raw` is its exact bytes."""

    from_account: bytes
    dev: bytes
    to: tuple[bytes, ...]
    id: bytes
    ts: int
    kind: Kind
    text: str | None
    target: bytes | None
    reply: bytes | None
    sig: bytes
    raw: bytes

    @property
    def participants(self) -> tuple[bytes, ...]:
        """`from` and `to`, sorted bytewise (M2)."""
        return tuple(sorted((self.from_account, *self.to)))

    @property
    def conversation(self) -> bytes:
        """The conversation id (M2)."""
        return conversation_id(self.participants)

    def __repr__(self) -> str:
        return f"InnerMessage({self.kind}, id={self.id.hex()}, ts={self.ts})"


def conversation_id(participants: Iterable[bytes]) -> bytes:
    """M2: BLAKE2b-256 of the participants' account ids, sorted and concatenated."""
    joined = b"".join(sorted(set(participants)))
    return hashlib.blake2b(joined, digest_size=32, person=CONVERSATION_PERSON).digest()


def signing_bytes(fields: dict[str, Any]) -> bytes:
    """M3: the exact bytes `dev` signs: MAIL_CONTEXT + canonical CBOR without `sig`."""
    return MAIL_CONTEXT + encode({k: v for k, v in fields.items() if k != "sig"})


def message_fields(*, account: bytes, dev: bytes, to: Iterable[bytes], msg_id: bytes, ts: int,
                   kind: Kind, text: str | None = None, target: bytes | None = None,
                   reply: bytes | None = None) -> dict[str, Any]:
    """The unsigned map of an inner message (`to` is sorted and deduplicated here)."""
    fields: dict[str, Any] = {"v": MAIL_VERSION, "from": account, "dev": dev,
                              "to": sorted(set(to)), "id": msg_id, "ts": ts,
                              "kind": kind.value}
    for name, value in (("text", text), ("target", target), ("reply", reply)):
        if value is not None:
            fields[name] = value
    return fields


def make_inner(device: Identity, **fields: Any) -> InnerMessage:
    """Build and sign an inner message from `message_fields` arguments (`dev` is `device`).

    Raises:
        UsageError: the message breaks M1 (no recipient, too many, blank or too-long text…).
    """
    unsigned = message_fields(dev=device.public_key, **fields)
    raw = encode({**unsigned, "sig": device.sign(signing_bytes(unsigned))})
    try:
        return parse_inner(raw)
    except MailError as exc:
        raise UsageError(f"cannot write this message: {exc}") from exc


def parse_inner(raw: bytes) -> InnerMessage:
    """Parse and verify inner message bytes: M5a, then M5b.

    Raises:
        MailError: rule "M5a" (form) or "M5b" (signature).
    """
    if len(raw) > limits.MAX_INNER_BYTES:
        raise MailError("M5a", "inner message too long", expected=limits.MAX_INNER_BYTES,
                        found=len(raw))
    try:
        fields = decode_canonical(raw, rule="M5a", what="inner message")
    except EncodingError as exc:
        raise MailError("M5a", str(exc)) from exc
    if type(fields) is not dict or any(type(k) is not str for k in fields):
        raise MailError("M5a", "an inner message is a map with text keys")
    message = _check_fields({k: v for k, v in fields.items() if v is not None}, raw)
    if not verify_signature(message.dev, signing_bytes(fields), message.sig):
        raise MailError("M5b", "the signature does not verify under dev")
    return message


def admit(message: InnerMessage, *, reader_account: bytes,
          devices: Collection[bytes] | None, waiting_since_ms: int, now_ms: int) -> bool:
    """M5c-M5e for the reader: True to take the message, False to wait for `from`'s ops.

    Args:
        reader_account: the account of the mailbox the wrap came to (the wrap's `to`).
        devices: the current devices of `from` by the ops the reader holds (S7), or None if
            it holds none (then only dev = from is valid, S1).
        waiting_since_ms: when the message first arrived (a wait lasts MAIL_WAIT_OPS_MS).
    Raises:
        MailError: rule "M5c", "M5d" or "M5e".
    """
    if reader_account != message.from_account and reader_account not in message.to:
        raise MailError("M5c", "the reader's account is not a participant")
    if devices is None and message.dev != message.from_account:
        if now_ms - waiting_since_ms <= limits.MAIL_WAIT_OPS_MS:
            return False
        raise MailError("M5d", "no ops of the writer's account came within 7 days")
    if devices is not None and message.dev not in devices:
        raise MailError("M5d", "dev is not a current device of from")
    if message.kind is Kind.ACCEPT and message.from_account != reader_account:
        raise MailError("M5e", "an accept from another account")
    return True


def _check_fields(fields: dict[str, Any], raw: bytes) -> InnerMessage:
    if fields.get("v") != MAIL_VERSION or type(fields.get("v")) is not int:
        raise MailError("M5a", "v must be 1", found=fields.get("v"))
    account = _bytes(fields, "from", limits.KEY_BYTES)
    kind = _kind(fields)
    for name in _OPTIONAL:
        if name in fields and name not in _USES[kind]:
            raise MailError("M5a", f"{name} is not used by a {kind} message")
        if name not in fields and name in _NEEDS[kind]:
            raise MailError("M5a", f"a {kind} message needs {name}")
    return InnerMessage(
        from_account=account, dev=_bytes(fields, "dev", limits.KEY_BYTES),
        to=_to(fields, account), id=_bytes(fields, "id", ID_BYTES), ts=_ts(fields), kind=kind,
        text=_text(fields) if "text" in fields else None,
        target=_bytes(fields, "target", ID_BYTES) if "target" in fields else None,
        reply=_bytes(fields, "reply", ID_BYTES) if "reply" in fields else None,
        sig=_bytes(fields, "sig", limits.SIGNATURE_BYTES), raw=raw)


def _bytes(fields: dict[str, Any], name: str, size: int) -> bytes:
    value = fields.get(name)
    if type(value) is not bytes or len(value) != size:
        raise MailError("M5a", f"{name} must be {size} bytes", found=value)
    return value


def _kind(fields: dict[str, Any]) -> Kind:
    value = fields.get("kind")
    if type(value) is not str or value not in Kind._value2member_map_:
        raise MailError("M5a", "kind must be text, edit, delete or accept", found=value)
    return Kind(value)


def _to(fields: dict[str, Any], account: bytes) -> tuple[bytes, ...]:
    value = fields.get("to")
    if type(value) is not list or not 1 <= len(value) <= limits.MAX_DM_RECIPIENTS:
        raise MailError("M5a", f"to must list 1-{limits.MAX_DM_RECIPIENTS} accounts",
                        found=value if type(value) is not list else len(value))
    if any(type(k) is not bytes or len(k) != limits.KEY_BYTES for k in value):
        raise MailError("M5a", "to holds something that is not a 32-byte key")
    if any(a >= b for a, b in itertools.pairwise(value)):
        raise MailError("M5a", "to must be sorted bytewise, without repeats")
    if account in value:
        raise MailError("M5a", "to must not hold from")
    return tuple(value)


def _ts(fields: dict[str, Any]) -> int:
    value = fields.get("ts")
    if type(value) is not int or not 0 <= value <= limits.MAX_TIMESTAMP_MS:
        raise MailError("M5a", "ts must be a uint of at most 2^53 - 1", found=value)
    return value


def _text(fields: dict[str, Any]) -> str:
    value = fields["text"]
    if type(value) is not str or not value.strip():
        raise MailError("M5a", "text must be text, not blank")
    if len(value) > limits.MAX_POST_CHARS:
        raise MailError("M5a", "text too long", expected=limits.MAX_POST_CHARS,
                        found=len(value))
    return value
