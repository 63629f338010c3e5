"""QuietLog: one line per kind of event per interval, with a count of those held back."""

from __future__ import annotations

import logging

import pytest

from p2psocial.runtime.quiet_log import QuietLog


def test_repeats_are_held_back_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    quiet = QuietLog(logging.getLogger("t.quiet"), every=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="t.quiet"):
        assert quiet.log(("r1", "reserved", "unreachable"), logging.WARNING, "r1 gone")
        for _ in range(10):  # a retry every second: held back
            now[0] += 1
            assert not quiet.log(("r1", "reserved", "unreachable"), logging.WARNING, "r1 gone")
        assert quiet.log(("r2", "connecting", "refused"), logging.WARNING, "r2 says no")
        now[0] = 61.0
        assert quiet.log(("r1", "reserved", "unreachable"), logging.WARNING, "r1 gone")
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == ["r1 gone", "r2 says no", "r1 gone [10 more like it in the last 61 s]"]
