"""When a holder tells a device that its mailbox grew (docs/protocol.md M19), pure: the clock
is passed in.

Rules:
- At most one NOTIFY a second (`gap`) per device and mailbox.
- A wrap stored inside the gap is not dropped: one trailing NOTIFY is scheduled for the gap's
  end and carries the newest cursor offered meanwhile; later offers fold into it.
- Memory is bounded: send times older than the gap are forgotten once more than `remember`
  are held; a pending trailing NOTIFY lives at most one gap (its task takes it).
"""

from __future__ import annotations

Slot = tuple[bytes, bytes]  # (device, account)


class NotifyPacer:
    """Decides, per device and mailbox, whether a NOTIFY goes now, later, or folds in."""

    def __init__(self, *, gap: float, remember: int) -> None:
        self._gap = gap
        self._remember = remember
        self._sent: dict[Slot, float] = {}
        self._pending: dict[Slot, int] = {}

    def offer(self, device: bytes, account: bytes, cursor: int, *, now: float) -> float | None:
        """A wrap at `cursor` was stored: 0.0 means send now; a delay means send the trailing
        NOTIFY after it (call `take` then); None means one is already scheduled."""
        slot = (device, account)
        if slot in self._pending:
            self._pending[slot] = max(self._pending[slot], cursor)
            return None
        last = self._sent.get(slot)
        # one expression decides both: the gap's end, compared with now and subtracted from
        # it (`now - last >= gap` and `last + gap - now` can disagree by rounding, and a
        # pending NOTIFY with a delay of 0.0 was sent now and then never taken)
        end = None if last is None else last + self._gap
        if end is None or end <= now:
            self._forget(now)
            self._sent[slot] = now
            return 0.0
        self._pending[slot] = cursor
        return end - now

    def take(self, device: bytes, account: bytes, *, now: float) -> int | None:
        """The cursor a due trailing NOTIFY carries (None: nothing pending)."""
        cursor = self._pending.pop((device, account), None)
        if cursor is not None:
            self._sent[(device, account)] = now
        return cursor

    def remembered(self) -> int:
        """How many slots are held (send times and pending), for tests and soaks."""
        return len(self._sent) + len(self._pending)

    def _forget(self, now: float) -> None:
        if len(self._sent) >= self._remember:
            self._sent = {s: t for s, t in self._sent.items()
                          if now - t < self._gap or s in self._pending}
