"""What one device seals to send a message and opens on receipt: the wrap steps of the
writer and the reader put together (docs/protocol.md §Private messages M8, M9, M12, M17).

Rules:
- M17: one wrap per other participant account, sealed to its current devices; one more for
  the writer's own account if it has a current device other than the writer's. M12: an
  `accept` goes only to the writer's own account (so nowhere if it has no other device).
- A device reads only wraps of its own account's mailbox; one for another mailbox is an
  error of the holder (M14) and is refused (M10). Opening goes M10, M9, M7, then M5a-M5b;
  M5c-M5e need the reader's ops and are `inner.admit`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from p2psocial.core.errors import MailError, UsageError
from p2psocial.core.identity import Identity
from p2psocial.core.mail.inner import InnerMessage, Kind, parse_inner
from p2psocial.core.mail.wrap import Draw, Wrap, open_wrap, parse_wrap, seal, system_draw


@dataclass(frozen=True, slots=True)
class Opened:
    """A wrap this device opened: the message and the wrap hash (to drop copies, M10)."""

    message: InnerMessage
    wrap_hash: bytes


def seal_all(message: InnerMessage, devices: Mapping[bytes, Sequence[bytes]], *,
             draw: Draw = system_draw) -> list[Wrap]:
    """The wraps to send for `message` (M17, M12), one per account.

    Args:
        devices: each participant account's current devices, in the order they were added
            (by the writer's ops; a single-key identity: [its key]). The writer's own account
            must be there too.
    Raises:
        UsageError: an account without devices listed, or none of its keys can be sealed to.
    """
    me = message.from_account
    accounts = [me] if message.kind is Kind.ACCEPT else [*message.to, me]
    wraps: list[Wrap] = []
    for account in accounts:
        keys = list(devices.get(account, ()))
        if account == me:
            keys = [k for k in keys if k != message.dev]
            if not keys:
                continue  # no other device of mine: no sent copy (M17)
        if not keys:
            raise UsageError("no device is known for an account in the conversation")
        wraps.append(seal(message.raw, mailbox=account, devices=keys, draw=draw))
    return wraps


def open_for(raw: bytes, *, device: Identity, account: bytes) -> Opened | None:
    """Open a wrap fetched from `account`'s mailbox with `device`; None if it has no slot
    for the device (M9: not an error).

    Raises:
        MailError: M10 (not a wrap, or one for another mailbox), M9, M7, M5a or M5b.
    """
    wrap = parse_wrap(raw)
    if wrap.to != account:
        raise MailError("M10", "a wrap for another mailbox")
    inner = open_wrap(wrap, device)
    if inner is None:
        return None
    return Opened(parse_inner(inner), wrap.hash)
