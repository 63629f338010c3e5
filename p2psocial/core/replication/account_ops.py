"""Account ops in sync sessions: what a session sends and remembers of them (spec O1, O3).

Rules:
- An OPS message carries 1 to MAX_OPS ops of one account; ops are cut into OPS frames that
  fit the peer's max_frame (one op, at most MAX_OP_BYTES, always fits), in the order given.
- A session sends a peer an op at most once: an op it sent, or received from that peer, in
  this session is one the peer holds (PeerOps, by op hash). Nothing is forgotten on UNWANT:
  O1 sends the ops of an account "unless it sent the peer those ops already".
- O3: following an account is wanting its id's feed and every member feed of its resolved
  state, at the account's hop and depth (`expand_wants`); a feed wanted at a lower hop, or
  blocked, is left as it is. `fold_follows` gives an account the follows of its member
  feeds, so the next hop through an account goes through its devices.
Nothing here decodes an op: the driver checks received ops (core.replication.op_check).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from p2psocial.core.encoding import digest
from p2psocial.core.replication.framing import encode_frame
from p2psocial.core.replication.messages import MAX_OPS, Ops, encode_message
from p2psocial.core.wants import Want

_OPS_OVERHEAD = 1 + 1 + 2 + 32 + 2   # array(3), type, account (head + 32), array head


class PeerOps:
    """The ops a peer holds, as far as this session knows: sent to it, or received from it."""

    def __init__(self) -> None:
        self._held: dict[bytes, set[bytes]] = {}   # account -> op hashes

    def received(self, account: bytes, ops: Iterable[bytes]) -> None:
        """The peer sent these ops of `account`: it holds them."""
        self._held.setdefault(account, set()).update(digest(op) for op in ops)

    def holds(self, account: bytes, hashes: Iterable[bytes]) -> None:
        """The peer holds the ops of `account` with these hashes (its summary equals mine)."""
        self._held.setdefault(account, set()).update(hashes)

    def unsent(self, account: bytes, ops: Iterable[bytes]) -> list[bytes]:
        """The ops of `ops` (in order, each once) the peer is not known to hold; they count
        as held from now on (the caller sends them)."""
        held = self._held.setdefault(account, set())
        out: list[bytes] = []
        for op in ops:
            key = digest(op)
            if key not in held:
                held.add(key)
                out.append(op)
        return out


def ops_frames(account: bytes, ops: Sequence[bytes], max_frame: int) -> list[bytes]:
    """Frames of OPS for `account`, in order, each within MAX_OPS ops and `max_frame` bytes."""
    frames: list[bytes] = []
    chunk: list[bytes] = []
    size = _OPS_OVERHEAD
    for op in ops:
        op_size = _bytes_size(len(op))
        if chunk and (len(chunk) == MAX_OPS or size + op_size > max_frame):
            frames.append(encode_frame(encode_message(Ops(account, tuple(chunk)))))
            chunk, size = [], _OPS_OVERHEAD
        chunk.append(op)
        size += op_size
    if chunk:
        frames.append(encode_frame(encode_message(Ops(account, tuple(chunk)))))
    return frames


def _bytes_size(length: int) -> int:
    """Encoded size of a CBOR byte string of `length` bytes (ops are at most 1,024)."""
    return length + (1 if length < 24 else 2 if length < 256 else 3)


def expand_wants(wants: Mapping[bytes, Want], members: Mapping[bytes, Collection[bytes]],
                 blocked: Collection[bytes] = ()) -> dict[bytes, Want]:
    """O3: `wants` plus, for each wanted account, its member feeds at the account's hop and
    depth. A member feed already wanted keeps the lower hop (and, at the same hop, the
    deeper depth: 0 means all); blocked feeds are not added.

    Args:
        wants: the wanted feeds (core.wants.compute_wants).
        members: the member feeds of every account with a resolved state (others absent).
        blocked: feeds the local user blocks.
    """
    out = dict(wants)
    for account, want in sorted(wants.items(), key=lambda kv: kv[1].hop):
        for feed in members.get(account, ()):
            if feed in blocked:
                continue
            have = out.get(feed)
            if have is None or want.hop < have.hop or (
                    want.hop == have.hop and _deeper(want.depth, have.depth)):
                out[feed] = want
    return out


def _deeper(depth: int, than: int) -> bool:
    return than != 0 and (depth == 0 or depth > than)


def fold_follows(graph: Mapping[bytes, Collection[bytes]],
                 members: Mapping[bytes, Collection[bytes]]) -> dict[bytes, set[bytes]]:
    """The follow graph with each account's follows joined by those of its member feeds."""
    out = {feed: set(follows) for feed, follows in graph.items()}
    for account, feeds in members.items():
        joined = set(graph.get(account, ()))
        for feed in feeds:
            joined.update(graph.get(feed, ()))
        if joined:
            out[account] = joined - {account}
    return out
