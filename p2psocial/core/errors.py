"""The one error hierarchy of p2psocial.

    P2PSocialError                 every error we raise on purpose
    ├── ValidationError            remote data broke a protocol rule (carries rule, expected, found)
    │   ├── EncodingError          not the canonical CBOR a rule demands (rules H1–H3, P3)
    │   ├── FieldError             a header field is missing, of the wrong type or out of range
    │   ├── SignatureError         the signature does not verify
    │   ├── PayloadError           payload size or hash does not match the header
    │   ├── SchemaError            the payload of a known type breaks its schema
    │   ├── ChainError             the entry does not link to the entries we hold
    │   │   └── ForkError          two valid entries claim the same place in one feed
    │   ├── ProtocolError          a peer broke the sync protocol (carries the ERROR code)
    │   ├── InviteError            an invite token that is not one, corrupt, forged or expired
    │   ├── MailError              a private message, wrap or mail request breaks an M rule
│   └── BlobError              a blob, a blob request or a blob answer breaks a B rule
    ├── UsageError                 the local user asked for something impossible
    │   ├── HandleError            a handle or key that is not one
    │   ├── AlreadyDone            a reaction or repost given twice (nothing stacks)
    │   ├── NothingToUndo          taking back what was never given
    │   └── LocalProtocolError     our own code misused a sync session (a bug, not the peer's)
    ├── KeyfileError               the secret key file is missing, corrupt or locked
    │   └── WrongPassphrase
    ├── StoreError                 the local database could not do what was asked
    │   ├── NotOurDatabase
    │   ├── HomeLocked             another process owns the data directory
    │   └── StorageFull
    ├── ArchiveError               an export archive is corrupt or does not fit this home
    ├── AccountError               accounts and devices (docs/protocol.md §Accounts and devices)
    │   ├── AccountOpError         an account op breaks a K rule (also a ValidationError)
    │   ├── RecoveryPhraseError    a recovery phrase that is not one (a word, the checksum)
    │   └── PairingError           a pairing token that is corrupt, forged, expired or misplaced
    └── NetError                   the network failed (see p2psocial.net)

Library errors (cbor2, nacl, sqlite3, libp2p) are translated into these at the boundary
that calls the library, with `raise ... from exc`.
"""

from __future__ import annotations

from typing import Any


class P2PSocialError(Exception):
    """Root of every error p2psocial raises on purpose."""


class ValidationError(P2PSocialError):
    """Data from outside broke a numbered protocol rule.

    Attributes:
        rule: the rule's id in docs/protocol.md, e.g. "H6".
        expected: what the rule wanted (may be None).
        found: what the data held (may be None).
    """

    def __init__(
        self, rule: str, message: str, *, expected: Any = None, found: Any = None
    ) -> None:
        self.rule = rule
        self.expected = expected
        self.found = found
        detail = message
        if expected is not None or found is not None:
            detail = f"{message} (expected {_short(expected)}, found {_short(found)})"
        super().__init__(f"[{rule}] {detail}")


def _short(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        text = bytes(value).hex()
        return text if len(text) <= 20 else text[:16] + "…"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


class EncodingError(ValidationError):
    """Bytes that are not the canonical CBOR encoding the rule demands."""


class FieldError(ValidationError):
    """A header field is missing, unexpected, of the wrong type or out of range."""


class SignatureError(ValidationError):
    """The entry's signature does not verify under its author key."""


class PayloadError(ValidationError):
    """The payload does not match the size or hash its header commits to."""


class SchemaError(ValidationError):
    """The payload of a known entry type does not follow that type's schema."""


class ChainError(ValidationError):
    """The entry does not fit the chain of entries held for its feed."""


class ForkError(ChainError):
    """Two validly signed entries claim the same position in one feed.

    Attributes:
        author: the feed's author key.
        seq: the contested sequence number.
    """

    def __init__(self, rule: str, message: str, *, author: bytes, seq: int,
                 expected: Any = None, found: Any = None) -> None:
        self.author = author
        self.seq = seq
        super().__init__(rule, message, expected=expected, found=found)


class ProtocolError(ValidationError):
    """A remote peer broke the replication protocol (docs/protocol.md §Replication protocol).

    Attributes:
        code: the ERROR code to send the peer, e.g. "frame-too-large"; also `rule`.
        detail: what was wrong, for the peer and the logs.
    """

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(code, detail)


class UsageError(P2PSocialError):
    """The local user asked for something that cannot be done (bad argument, too-long post)."""


class AlreadyDone(UsageError):
    """I already gave that reaction or repost: doing it again would stack."""


class NothingToUndo(UsageError):
    """There is no reaction or repost of mine to take back."""


class HandleError(UsageError):
    """A string that is not a handle, public key or entry reference we understand."""


class LocalProtocolError(UsageError):
    """Our side misused a sync session: a call in the wrong state or with impossible arguments.

    This is a bug in the caller, never the peer's fault (that is ProtocolError).
    """


class KeyfileError(P2PSocialError):
    """The secret key file is missing, corrupt, or cannot be unlocked."""


class WrongPassphrase(KeyfileError):
    """The passphrase does not unlock the secret key."""


class StoreError(P2PSocialError):
    """The local store could not do what was asked."""


class NotOurDatabase(StoreError):
    """The database file exists but is not a p2psocial database."""


class HomeLocked(StoreError):
    """Another process holds the data directory."""


class StorageFull(StoreError):
    """The disk is full; nothing was written."""


class ArchiveError(P2PSocialError):
    """An export archive is corrupt, of an unknown version, or does not fit this home."""


class NetError(P2PSocialError):
    """A network operation failed."""


class InviteError(ValidationError):
    """An invite token is not one, is corrupt, too big, forged, expired or used up.

    `rule` is the I-rule of docs/protocol.md §Invite tokens that the token breaks.
    """


class AccountError(P2PSocialError):
    """Something about an account or its devices (docs/protocol.md §Accounts and devices)."""


class AccountOpError(AccountError, ValidationError):
    """An account op breaks a stateless rule K1-K9; `rule` names it (also a ValidationError).

    Attributes:
        rule: "K1" … "K9".
        detail: what was wrong, one line.
    """

    def __init__(self, rule: str, detail: str, *, expected: Any = None,
                 found: Any = None) -> None:
        self.detail = detail
        ValidationError.__init__(self, rule, detail, expected=expected, found=found)


class RecoveryPhraseError(AccountError):
    """A recovery phrase that is not one: a word not in the list, a wrong count, the checksum."""


class PairingError(AccountError):
    """A pairing token that is not one, corrupt, forged, expired, for another account, or whose
    key is already a device (or barred)."""


class MailError(ValidationError):
    """A private message, wrap or mail request breaks an M rule (docs/protocol.md §Private
    messages); `rule` names it ("M5a" … "M15")."""


class BlobError(ValidationError):
    """A blob, a blob request or a blob answer breaks a B rule (docs/protocol.md §Blobs);
    `rule` names it ("B1" … "B5")."""
