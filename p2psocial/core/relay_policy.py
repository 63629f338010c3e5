"""Who may join a relay, and the join messages (pure: no I/O).

Rules:
- A relay runs one policy: OPEN (anyone), INVITE (a valid invite issued by the relay itself or
  by one of its members, within its expiry and its uses), ALLOWLIST (listed handles only).
- Whatever the policy, a feed the relay's owner blocks is refused (and so is each member feed
  of an account it blocks: `blocked_feeds`), and an existing member is admitted again
  without spending an invite.
- Joining makes the peer a member: the relay keeps (up to its quota) and serves the member's
  feed, and grants it a circuit reservation.
- Join messages are canonical CBOR maps with small int keys: the request {0: version,
  1: invite token text (optional), 2: the joining device's account id (optional)}; the answer
  {0: admitted, 1: reason, 2: quota in entries}. Unknown keys are ignored (J2).
- A member that names an account (or is an account id with ops held) is kept as its account
  (J3-J5, `member_wants`): the account id and its member feeds share the member's quota; a
  named account counts only once the ops held list the member among its member feeds.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass
from typing import Any

from p2psocial.core.encoding import decode_canonical, encode
from p2psocial.core.errors import EncodingError, ProtocolError, UsageError
from p2psocial.core.invite import Invite
from p2psocial.core.limits import KEY_BYTES
from p2psocial.core.wants import Want

JOIN_PROTOCOL = "/p2psocial/join/1.0.0"
JOIN_VERSION = 1
MAX_JOIN_MESSAGE = 4096


class Policy(enum.Enum):
    """A relay's admission policy."""

    OPEN = "open"
    INVITE = "invite"
    ALLOWLIST = "allowlist"

    @classmethod
    def parse(cls, text: str) -> Policy:
        """The policy named `text`. Raises UsageError."""
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise UsageError(f"unknown relay policy {text!r} (choose {names})") from None


@dataclass(frozen=True, slots=True)
class JoinDecision:
    """The relay's answer; `spend` is the nonce of the invite whose use to count."""

    admitted: bool
    reason: str
    spend: bytes | None = None


def decide_join(policy: Policy, peer: bytes, *, relay: bytes, members: Container[bytes],
                blocked: Container[bytes], allowed: Container[bytes], invite: Invite | None,
                uses_so_far: int, now_ms: int) -> JoinDecision:
    """Decide whether `peer` may join the relay whose key is `relay`."""
    if peer in blocked:
        return JoinDecision(False, "this relay no longer serves you")
    if peer in members:
        return JoinDecision(True, "welcome back")
    if policy is Policy.OPEN:
        return JoinDecision(True, "welcome")
    if policy is Policy.ALLOWLIST:
        if peer in allowed:
            return JoinDecision(True, "welcome")
        return JoinDecision(False, "this relay admits listed users only")
    if invite is None:
        return JoinDecision(False, "this relay admits users with an invite only")
    if invite.inviter != relay and invite.inviter not in members:
        return JoinDecision(False, "the invite is not from this relay or one of its members")
    if invite.expires_ms is not None and invite.expires_ms <= now_ms:
        return JoinDecision(False, "the invite has expired")
    if invite.uses is not None and uses_so_far >= invite.uses:
        return JoinDecision(False, "the invite has been used up")
    return JoinDecision(True, "welcome", spend=invite.nonce)


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """What a join request carries: an invite token's text and the device's account id."""

    token: str | None = None
    account: bytes | None = None


def join_request(token: str | None, account: bytes | None = None) -> bytes:
    """The bytes of a join request, optionally carrying an invite token's text and the
    account id the joining device belongs to (key 2; a relay made before accounts ignores it)."""
    fields: dict[int, Any] = {0: JOIN_VERSION}
    if token is not None:
        fields[1] = token
    if account is not None:
        fields[2] = account
    return encode(fields)


def parse_join_request(data: bytes) -> JoinRequest:
    """The invite token text and account id in a join request (None where absent).

    Raises:
        ProtocolError: not a join request.
    """
    fields = _map(data, "join request")
    version = fields.get(0)
    if type(version) is not int or version != JOIN_VERSION:
        raise ProtocolError("join", f"unsupported join request version {version!r}")
    token = fields.get(1)
    if token is not None and not isinstance(token, str):
        raise ProtocolError("join", "the invite in a join request must be text")
    account = fields.get(2)
    if account is not None and (type(account) is not bytes or len(account) != KEY_BYTES):
        raise ProtocolError("join", "the account in a join request must be 32 bytes")
    return JoinRequest(token, account)


def member_account(member: bytes, named: bytes | None,
                   account_members: Mapping[bytes, Collection[bytes]]) -> bytes | None:
    """The account a relay keeps `member` as (J3, J4), or None (its feed alone).

    Args:
        member: the member's key.
        named: the account its join named, if any.
        account_members: the member feeds of every account whose init the relay holds.
    """
    if named is None or named == member:
        return member if member in account_members else None
    feeds = account_members.get(named)
    if feeds is not None and member not in feeds:
        return None  # the ops held do not list it: a claim nobody granted
    return named


def member_wants(members: Mapping[bytes, bytes | None], quota: int, *,
                 account_members: Mapping[bytes, Collection[bytes]],
                 blocked: Collection[bytes]) -> dict[bytes, Want]:
    """The feeds a relay keeps for its members (J3-J5), each at hop 1.

    Args:
        members: each member's key and the account its join named (None: none).
        quota: newest entries kept per member (0: all).
        account_members: the member feeds of every account whose init the relay holds.
        blocked: feeds and accounts the relay's owner blocks.
    """
    out: dict[bytes, Want] = {}
    for member, named in members.items():
        if member in blocked:
            continue
        account = member_account(member, named, account_members)
        feeds = {member}
        if account is not None and account not in blocked:
            feeds |= {account, *account_members.get(account, ())}
        feeds -= set(blocked)
        depth = max(1, quota // len(feeds)) if quota else 0
        for feed in feeds:
            have = out.get(feed)
            if have is None or (have.depth != 0 and (depth == 0 or depth > have.depth)):
                out[feed] = Want(hop=1, depth=depth)
    return out


def blocked_feeds(blocked: Collection[bytes],
                  account_members: Mapping[bytes, Collection[bytes]]) -> set[bytes]:
    """The feeds a relay refuses: those its owner blocks and the member feeds of each account
    it blocks (rule 1: blocking an account blocks its devices)."""
    out = set(blocked)
    for account in blocked:
        out.update(account_members.get(account, ()))
    return out


def accounts_members(members: Mapping[bytes, bytes | None],
                     account_members: Mapping[bytes, Collection[bytes]]) -> set[bytes]:
    """The keys a relay admits as existing members (rule 2, J5): its members and the
    member feeds of each member's account (J4)."""
    out = set(members)
    for member, named in members.items():
        account = member_account(member, named, account_members)
        if account is not None and account in account_members:  # confirmed by ops held
            out |= {account, *account_members[account]}
    return out


def join_answer(decision: JoinDecision, quota: int) -> bytes:
    """The bytes of the relay's answer."""
    return encode({0: decision.admitted, 1: decision.reason, 2: quota})


def parse_join_answer(data: bytes) -> tuple[bool, str, int]:
    """(admitted, reason, quota) from a relay's answer.

    Raises:
        ProtocolError: not a join answer.
    """
    fields = _map(data, "join answer")
    admitted, reason, quota = fields.get(0), fields.get(1), fields.get(2)
    if type(admitted) is not bool or not isinstance(reason, str) or type(quota) is not int:
        raise ProtocolError("join", "malformed join answer")
    return admitted, reason[:200], quota


def _map(data: bytes, what: str) -> dict[Any, Any]:
    if len(data) > MAX_JOIN_MESSAGE:
        raise ProtocolError("join", f"{what} too large ({len(data)} bytes)")
    try:
        value = decode_canonical(data, rule="J1", what=what)
    except EncodingError as exc:
        raise ProtocolError("join", str(exc)) from exc
    if not isinstance(value, dict):
        raise ProtocolError("join", f"{what} must be a map")
    if any(type(key) is not int for key in value):  # not by value: False == 0, True == 1
        raise ProtocolError("join", f"{what} keys must be integers")
    return value
