"""Opening a sync stream is retried with backoff while the session is still wanted (the relay
soak bench: one failure on a dead connection ended syncing with the relay for good), and not
for a peer that does not serve the protocol. The errors are the host's own types."""

from __future__ import annotations

import pytest

from p2psocial.net import ProtocolNotSupported, StreamOpenFailed, StreamOpenTimeout
from p2psocial.runtime.session_retry import open_with_retry

FAST = {"first_delay": 0.01, "max_delay": 0.04}


class Opener:
    """Fails with each of `failures` in turn, then opens (returns "channel")."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "channel"


async def always() -> bool:
    return True


@pytest.mark.asyncio
async def test_a_failed_open_is_retried_while_the_peer_stays_connected() -> None:
    opener = Opener(StreamOpenFailed("No valid connections available for peer"),
                    StreamOpenTimeout("no stream within 5 s"),
                    StreamOpenFailed("reset"))
    assert await open_with_retry(opener, always, what="a sync stream", **FAST) == "channel"
    assert opener.calls == 4


@pytest.mark.asyncio
async def test_retries_stop_once_the_session_is_no_longer_wanted() -> None:
    asked = 0

    async def twice() -> bool:
        nonlocal asked
        asked += 1
        return asked < 2

    opener = Opener(*[StreamOpenFailed("dead")] * 10)
    assert await open_with_retry(opener, twice, what="a sync stream", **FAST) is None
    assert opener.calls == 2 and asked == 2


@pytest.mark.asyncio
async def test_a_peer_without_the_protocol_is_not_asked_again() -> None:
    opener = Opener(ProtocolNotSupported("does not serve sync"))
    assert await open_with_retry(opener, always, what="a sync stream", **FAST) is None
    assert opener.calls == 1
