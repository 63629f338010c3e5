"""Logging what keeps happening without a line per attempt.

Rules:
- A line is written for the first event of its kind (its key) and then at most once every
  `every` seconds per key; the events held back in between are counted, and the next line
  written for that key says how many there were.
- The caller chooses the key: e.g. (relay, old state, new state), so a change of state is
  always news the first time, while a relay that flaps, refuses or times out again and again
  costs one line per `every` seconds, not one per retry.
- The clock is passed in (monotonic seconds) so the rule is tested without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable

EVERY_SECONDS = 300.0


class QuietLog:
    """A logger wrapper that rate-limits repeated lines per key (see the module rules)."""

    def __init__(self, logger: logging.Logger, *, every: float = EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._every = every
        self._clock = clock
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def log(self, key: Hashable, level: int, message: str) -> bool:
        """Log `message` at `level` unless a line of `key` was written less than `every`
        seconds ago (then count it, and log it at DEBUG only). True if it was written."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            self._held[key] = self._held.get(key, 0) + 1
            self._logger.debug("%s", message)
            return False
        held = self._held.pop(key, 0)
        suffix = f" [{held} more like it in the last {now - last:.0f} s]" \
            if held and last is not None else ""
        self._last[key] = now
        if len(self._last) > 4096:  # keys of relays long gone: forget the oldest
            oldest = min(self._last, key=self._last.__getitem__)
            self._last.pop(oldest)
            self._held.pop(oldest, None)
        self._logger.log(level, "%s%s", message, suffix)
        return True
