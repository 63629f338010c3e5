"""A mailbox holder's decisions, pure: every input passed in, `now_ms` included (docs/
protocol.md §Private messages, M14, M21-M25).

Rules:
- PUT (M23), first that applies: `bad` (M10), `not-here` (not a mailbox held here, M14),
  `blocked` (the holder's owner or the mailbox's account blocks the sender), `duplicate`
  (the wrap hash is held), `refused` (a stranger, policy "followed only"), `full`
  (MAILBOX_MAX_WRAPS, or MAILBOX_MAX_BYTES passed), `quota` (M24, with the seconds to the next
  UTC day), `pow` (a stranger without a good stamp, M25, with the bits), else `stored`.
- The sender is known (M22) if it is a current device of the account or the caller found it
  among the account's follows; anyone else is a stranger.
- FETCH, ACK and POLICY: `not-here`, or `forbidden` unless the requester is a current device
  of the account (the account id itself for a single-key identity), else `ok` (D6).
- M21: a wrap goes once every current device has ACKed it, or when its retention has passed
  since its stored hour. The holder stores the hour of arrival, nothing finer.
- M24's counters live in memory, keyed by a salted hash of the sender, the salt drawn anew
  each day (`DayCounters`; the salt is passed in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from p2psocial.core import limits
from p2psocial.core.errors import MailError
from p2psocial.core.mail.stamp import DAY_MS, day_of, stamp_is_good
from p2psocial.core.mail.wire import Answer, Put, Status
from p2psocial.core.mail.wrap import Wrap, parse_wrap

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class HolderConfig:
    """A holder's tunables (the defaults are the spec's)."""

    pow_bits: int = limits.MAIL_POW_BITS
    retention_ms: int = limits.MAIL_RETENTION_MS
    max_wraps: int = limits.MAILBOX_MAX_WRAPS
    max_bytes: int = limits.MAILBOX_MAX_BYTES
    known_per_day: int = limits.MAIL_KNOWN_PER_DAY
    stranger_per_day: int = limits.MAIL_STRANGER_PER_DAY
    strangers_per_day: int = limits.MAIL_STRANGERS_PER_DAY


@dataclass(frozen=True, slots=True)
class Mailbox:
    """What the holder knows of one mailbox it holds.

    `devices`: the account's current devices by the ops held ({account} with none);
    `wraps`, `size`: what it holds now; `strangers_today`: wraps stored from strangers today.
    """

    account: bytes
    devices: frozenset[bytes]
    followed_only: bool = False
    wraps: int = 0
    size: int = 0
    strangers_today: int = 0


@dataclass(frozen=True, slots=True)
class Sender:
    """The requester of a PUT as the holder sees it for one mailbox."""

    key: bytes
    follows: bool = False  # the account follows it (by the entries and ops held)
    blocked: bool = False  # the holder's owner or the account blocks it
    sent_today: int = 0  # wraps stored from it for this mailbox today


@dataclass(frozen=True, slots=True)
class PutDecision:
    """The answer, the parsed wrap (if it is one) and whether the sender counted as known."""

    answer: Answer
    wrap: Wrap | None = None
    known: bool = False

    @property
    def store(self) -> bool:
        """Store the wrap."""
        return self.answer.status is Status.STORED


def check_wrap(put: Put) -> Wrap | None:
    """The PUT's wrap if it passes M10, else None (answer `bad`)."""
    try:
        return parse_wrap(put.wrap)
    except MailError:
        return None


def decide_put(put: Put, wrap: Wrap | None, *, mailbox: Mailbox | None, sender: Sender,
               held: bool, now_ms: int, config: HolderConfig = HolderConfig()) -> PutDecision:
    """M23: the answer to a PUT. `mailbox` is None if `wrap.to` is not held here; `held`
    tells whether the wrap hash is held already."""
    if wrap is None:
        return PutDecision(Answer(Status.BAD))
    if mailbox is None or mailbox.account != wrap.to:
        return PutDecision(Answer(Status.NOT_HERE), wrap)
    known = sender.follows or sender.key in mailbox.devices
    status = _refusal(mailbox, sender, known=known, held=held, size=len(wrap.raw),
                      config=config)
    if status is not None:
        return PutDecision(Answer(status), wrap, known)
    if _over_quota(mailbox, sender, known, config):
        return PutDecision(Answer(Status.QUOTA, retry_after_s(now_ms)), wrap, known)
    stamp = put.stamp
    if not known and config.pow_bits and (stamp is None or not stamp_is_good(
            wrap.hash, stamp.day, stamp.n, bits=config.pow_bits, now_ms=now_ms)):
        return PutDecision(Answer(Status.POW, config.pow_bits), wrap, known)
    return PutDecision(Answer(Status.STORED), wrap, known)


def _refusal(mailbox: Mailbox, sender: Sender, *, known: bool, held: bool, size: int,
             config: HolderConfig) -> Status | None:
    if sender.blocked:
        return Status.BLOCKED
    if held:
        return Status.DUPLICATE
    if not known and mailbox.followed_only:
        return Status.REFUSED
    if mailbox.wraps >= config.max_wraps or mailbox.size + size > config.max_bytes:
        return Status.FULL
    return None


def _over_quota(mailbox: Mailbox, sender: Sender, known: bool, config: HolderConfig) -> bool:
    if known:
        return sender.sent_today >= config.known_per_day
    return (sender.sent_today >= config.stranger_per_day
            or mailbox.strangers_today >= config.strangers_per_day)


def retry_after_s(now_ms: int) -> int:
    """Whole seconds until the next UTC day (at least 1)."""
    left = (day_of(now_ms) + 1) * DAY_MS - now_ms
    return max(1, -(-left // 1000))


def decide_access(requester: bytes, account: bytes, mailbox: Mailbox | None) -> Status:
    """FETCH, ACK or POLICY of `account`'s mailbox by `requester` (D6)."""
    if mailbox is None or mailbox.account != account:
        return Status.NOT_HERE
    return Status.OK if requester in mailbox.devices else Status.FORBIDDEN


def hour_of(now_ms: int) -> int:
    """The arrival time a holder stores: rounded down to the hour (M21)."""
    return now_ms - now_ms % HOUR_MS


def plan_expiry(wraps: Sequence[tuple[int, int]], acks: Mapping[bytes, int],
                devices: Collection[bytes], *, now_ms: int,
                retention_ms: int = limits.MAIL_RETENTION_MS) -> list[int]:
    """M21: the cursors of the wraps to drop, from (cursor, stored hour) pairs.

    A wrap goes once every current device ACKed a cursor at or above it (a device that never
    ACKed holds everything), or once `retention_ms` has passed since its hour.
    """
    acked = min((acks.get(d, 0) for d in devices), default=0)
    return [cursor for cursor, hour in wraps
            if cursor <= acked or hour + retention_ms <= now_ms]


@dataclass
class DayCounters:
    """M24's counters for one UTC day, in memory only, keyed by a salted hash of the sender.

    `salt` must be fresh random bytes each day; `roll` starts a new day.
    """

    day: int
    salt: bytes
    _per_sender: dict[bytes, int] = field(default_factory=dict)
    _strangers: dict[bytes, int] = field(default_factory=dict)

    def _key(self, mailbox: bytes, sender: bytes) -> bytes:
        return hashlib.blake2b(mailbox + sender, key=self.salt, digest_size=16).digest()

    def roll(self, now_ms: int, salt: bytes) -> None:
        """Forget everything if `now_ms` is on a later day than the counters' (new salt)."""
        if day_of(now_ms) != self.day:
            self.day, self.salt = day_of(now_ms), salt
            self._per_sender.clear()
            self._strangers.clear()

    def sent_today(self, mailbox: bytes, sender: bytes) -> int:
        """Wraps stored today for `mailbox` from `sender`."""
        return self._per_sender.get(self._key(mailbox, sender), 0)

    def strangers_today(self, mailbox: bytes) -> int:
        """Wraps stored today for `mailbox` from strangers."""
        return self._strangers.get(mailbox, 0)

    def stored(self, mailbox: bytes, sender: bytes, *, known: bool) -> None:
        """Count a stored wrap."""
        key = self._key(mailbox, sender)
        self._per_sender[key] = self._per_sender.get(key, 0) + 1
        if not known:
            self._strangers[mailbox] = self._strangers.get(mailbox, 0) + 1
