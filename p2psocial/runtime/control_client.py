"""A client of a running node's control socket (p2psocial.runtime.control serves it).

Rules:
- Any number of calls may be in flight on one connection. Each request carries an id unique
  on its connection; one reader task reads every line and hands each reply to the call
  waiting for that id, so a reply can only ever reach its own caller.
- A call cancelled while it waits gives up its id: its late reply is read and dropped.
- When the connection ends (the node stopped, or it sent a line that is not a reply), every
  waiting call raises NodeNotRunning, and so does every later call.
- `events()` subscribes the connection: from then on it carries node events only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from p2psocial.core.errors import UsageError
from p2psocial.runtime.api import METHODS
from p2psocial.runtime.control_wire import (
    MAX_LINE,
    NodeNotRunning,
    encode,
    error_from_reply,
)

EVENT_BACKLOG = 1000


class ControlClient:
    """A connection to a running node. Methods of api.METHODS are available as attributes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(EVENT_BACKLOG)
        self._reading: asyncio.Task[None] | None = None
        self._closed: NodeNotRunning | None = None

    @classmethod
    async def open(cls, path: Path, timeout: float = 2.0) -> ControlClient:
        """Connect to the node's socket.

        Raises:
            NodeNotRunning: nothing listens there.
        """
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(path, limit=MAX_LINE), timeout)
        except (OSError, TimeoutError) as exc:
            raise NodeNotRunning(f"no node is running at {path}") from exc
        return cls(reader, writer)

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a method on the node and return its result as the in-process call would."""
        method = METHODS.get(name)
        if method is None:
            raise UsageError(f"unknown method {name!r}")
        reply = await self._request({"method": name, "args": args, "kwargs": kwargs})
        if "error" in reply:
            raise error_from_reply(reply["error"])
        return method.decode(reply.get("result"))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name not in METHODS:
            raise AttributeError(name)

        async def bound(*args: Any, **kwargs: Any) -> Any:
            return await self.call(name, *args, **kwargs)
        return bound

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        """Subscribe: yields (kind, data) for every node event until the node goes away."""
        reply = await self._request({"method": "subscribe"})
        if "error" in reply:
            raise error_from_reply(reply["error"])
        while (message := await self._events.get()) is not None:
            yield message["event"], message["data"]

    async def close(self) -> None:
        """Close the connection (calls still waiting raise NodeNotRunning)."""
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
        self._end(NodeNotRunning("the connection to the node is closed"))

    # --- one request, one reply ---------------------------------------------------------------

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._closed is not None:
            raise NodeNotRunning(str(self._closed))
        self._next_id += 1
        rid = self._next_id
        line = encode({"id": rid, **message})
        if len(line) > MAX_LINE:
            raise UsageError(f"request too large ({len(line):,} bytes; at most "
                             f"{MAX_LINE:,})")
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = reply
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_replies())
        try:
            self._writer.write(line)
            await self._writer.drain()
            return await reply
        except (ConnectionError, OSError) as exc:
            raise NodeNotRunning("the node closed the connection") from exc
        finally:
            self._waiting.pop(rid, None)  # a late reply to a cancelled call is dropped

    async def _read_replies(self) -> None:
        reason = "the node closed the connection"
        try:
            while line := await self._reader.readline():
                message = _message(line)
                if "event" in message:
                    await self._events.put(message)
                    continue
                rid = message.get("id")
                waiter = self._waiting.get(rid) if isinstance(rid, int) else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                elif rid is None and "error" in message:
                    reason = f"the node refused a request: {error_from_reply(message['error'])}"
                    break  # it could not tell which request; the connection is out of step
        except (ConnectionError, OSError):
            pass
        except (ValueError, RecursionError) as exc:  # a line too long, or not JSON
            reason = f"the node sent a reply this client cannot read ({exc})"
        self._end(NodeNotRunning(reason))

    def _end(self, reason: NodeNotRunning) -> None:
        if self._closed is not None:
            return
        self._closed = reason
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(NodeNotRunning(str(reason)))
        self._waiting.clear()
        if self._events.full():  # the end of the stream matters more than its oldest event
            self._events.get_nowait()
        self._events.put_nowait(None)
        self._writer.close()


def _message(line: bytes) -> dict[str, Any]:
    """A line from the node as a message (ValueError if it is not one)."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a message is a JSON object")  # noqa: TRY004 (caught as bad data)
    return message
