"""ReadDeadline: how long a driver waits for a peer's bytes before it gives up on the session.

Rules (docs/protocol.md, "Errors"; the clock is passed in, so this stays pure):
- The peer's HELLO must arrive within `hello_seconds` (default HELLO_SECONDS) of the start.
- A frame, once its first byte has arrived, must be complete within `frame_seconds` (default
  FRAME_SECONDS) of when the driver first saw it pending. Dribbling bytes does not reset it.
- Between frames an OPEN session has no deadline here: a live session may idle for hours
  (a dead connection is the connection's business: ping/keepalive).
- When `due` is past, the driver sends `fail(Code.TIMEOUT, …)` and closes the stream; a
  timeout is not misbehaviour (a slow link looks the same), so the peer is not scored down.
- `honoured_retry` clamps a peer's retry-after to what we agree to wait (0..MAX_RETRY_AFTER).
"""

from __future__ import annotations

from p2psocial.core.replication.events import State
from p2psocial.core.replication.session import MAX_RETRY_AFTER, SyncSession

HELLO_SECONDS = 10.0
FRAME_SECONDS = 30.0


class ReadDeadline:
    """The time by which the next bytes of one session must have arrived, if any."""

    def __init__(self, started: float, *, hello_seconds: float = HELLO_SECONDS,
                 frame_seconds: float = FRAME_SECONDS) -> None:
        if hello_seconds <= 0 or frame_seconds <= 0:
            raise ValueError("deadlines must be positive")
        self._hello_due = started + hello_seconds
        self._frame_seconds = frame_seconds
        self._frames_seen = -1
        self._frame_due: float | None = None

    def due(self, session: SyncSession, now: float) -> float | None:
        """When to give up waiting (same clock as `now`), or None to wait without limit.

        Call it each time before waiting for bytes, after handling every event.
        """
        frames = session.stats.frames_in
        if not session.pending_frame:
            self._frame_due = None
        elif self._frame_due is None or frames != self._frames_seen:
            self._frame_due = now + self._frame_seconds  # a new frame has begun
        self._frames_seen = frames
        hello_due = self._hello_due if session.state is State.AWAIT_HELLO else None
        dues = [d for d in (hello_due, self._frame_due) if d is not None]
        return min(dues) if dues else None


def honoured_retry(retry_after: int | None) -> float:
    """Seconds we wait before a new session with a peer that sent `retry_after`."""
    if retry_after is None:
        return 0.0
    return float(min(max(0, retry_after), MAX_RETRY_AFTER))
