"""ERROR codes of the sync protocol (docs/protocol.md §Replication protocol, "Errors").

Rules:
- A code is short ASCII text naming what the peer did wrong; `detail` says more for humans.
- Every code is fatal: the side that detects the fault sends ERROR (best effort) and closes.
- A receiver treats a code it does not know like any other: the peer is closing.
- An ERROR may carry `retry_after` (seconds): the receiver opens no new session to that peer
  before it has passed. A refusal (`refused`, `busy`) always carries one.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """The codes this implementation sends; `ProtocolError.code` is one of them."""

    BAD_FRAME = "bad-frame"              # a malformed length prefix
    FRAME_TOO_LARGE = "frame-too-large"  # a length above the max_frame we announced
    MALFORMED = "malformed"              # a message that is not CBOR of the shape the spec gives
    UNEXPECTED = "unexpected"            # a valid message at the wrong time (before HELLO, ...)
    VERSION = "version"                  # a HELLO with a version other than 1
    WRONG_AUTHOR = "wrong-author"        # an ENTRIES item whose author is not the frame's feed
    BAD_RUN = "bad-run"                  # ENTRIES items whose seqs do not step by +1 or by -1
    INVALID_ENTRY = "invalid-entry"      # an entry that breaks a rule of the entry format
    FORK = "fork"                        # entries that prove a fork against what we hold
    INVALID_OP = "invalid-op"            # an account op that breaks a K rule (spec O2)
    WRONG_ACCOUNT = "wrong-account"      # an op of another account than its OPS message's
    TOO_MANY_WANTS = "too-many-wants"    # WANT notes for more than 100,000 feeds at once
    TIMEOUT = "timeout"                  # no HELLO, or a frame left unfinished, in time
    REFUSED = "refused"                  # I do not serve you now (you misbehaved earlier)
    BUSY = "busy"                        # I serve too many peers that have not said HELLO
