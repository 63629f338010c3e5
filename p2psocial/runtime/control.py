"""The control socket: how `p2psocial` commands and UIs talk to a running node.

Rules:
- A Unix socket at HOME/node.sock, mode 0600 (created under umask 077), removed on close.
- Newline-delimited JSON. A request is {"id", "method", "args", "kwargs"}; the reply is
  {"id", "result"} or {"id", "error": {"kind", "message"}}, where kind names a class of
  p2psocial.core.errors so the client raises the same error an in-process call would.
- Only methods in p2psocial.runtime.api.METHODS are served. "subscribe" turns the connection
  into a stream of {"event", "data"} lines.
- The calls of one connection run concurrently (at most MAX_IN_FLIGHT at once), so a slow
  call (a dial, a verify) holds up no other; each reply carries its request's id and may
  overtake earlier ones (the client matches them by id). A call runs to its end even if its
  client leaves (a store read cut half-way would leave its cursor open).
- A bad request gets a one-line UsageError reply and never reaches a method: a line that is not
  UTF-8 JSON of the right shape (p2psocial.runtime.control_wire), or arguments that do not fit
  the method's signature (p2psocial.runtime.params). A request longer than the line limit is
  answered (id null) and its connection closed, as it is out of step. A client that sends
  garbage or disconnects costs the node nothing. Unexpected failures are logged with their
  traceback and reported as internal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from p2psocial.core.errors import P2PSocialError, UsageError
from p2psocial.runtime.api import METHODS, encode_result
from p2psocial.runtime.control_client import ControlClient
from p2psocial.runtime.control_wire import (
    MAX_LINE,
    NodeNotRunning,
    Request,
    encode,
    error_reply,
    parse_request,
    request_id,
)
from p2psocial.runtime.params import check_arguments

__all__ = ["MAX_LINE", "ControlClient", "ControlServer", "EventHub", "NodeNotRunning"]

log = logging.getLogger(__name__)
EVENT_QUEUE = 1000
MAX_IN_FLIGHT = 32  # calls served at once per connection; beyond that, reading waits


class EventHub:
    """Fan-out of node events (new entries, peer changes) to any number of subscribers.

    A subscriber that falls more than EVENT_QUEUE events behind loses the oldest ones.
    """

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[str, Any]]] = set()

    @property
    def has_subscribers(self) -> bool:
        """True if anyone listens (so events are worth building)."""
        return bool(self._queues)

    def publish(self, kind: str, data: Any) -> None:
        """Send an event to every subscriber (never blocks)."""
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait((kind, data))

    @contextlib.contextmanager
    def subscription(self) -> Any:
        """A queue receiving every event until the block exits."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(EVENT_QUEUE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


Handler = Callable[..., Awaitable[Any]]


class ControlServer:
    """Serves METHODS of a service and a node on a Unix socket."""

    def __init__(self, path: Path, targets: dict[str, object], hub: EventHub, *,
                 max_line: int = MAX_LINE) -> None:
        self._path = path
        self._max_line = max_line
        self._targets = targets
        self._hub = hub
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on the socket (replacing a stale one left by a crashed node)."""
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        old = os.umask(0o077)
        try:
            self._server = await asyncio.start_unix_server(self._serve, self._path,
                                                           limit=self._max_line)
        finally:
            os.umask(old)
        os.chmod(self._path, 0o600)

    async def close(self) -> None:
        """Stop listening, drop clients, remove the socket."""
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        calls: set[asyncio.Task[None]] = set()
        try:
            await self._serve_requests(reader, writer, calls)
            if calls:  # the client left: its calls still run to their end
                await asyncio.wait(calls)
        except asyncio.CancelledError:
            # only close() cancels these tasks; ending quietly spares asyncio's stream server
            # (Python 3.11) from logging the cancellation as an error
            for call in calls:
                call.cancel()
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _serve_requests(self, reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter, calls: set[asyncio.Task[None]]
                              ) -> None:
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        try:
            while line := await _read_request(reader):
                try:
                    request = parse_request(line)
                except UsageError as exc:
                    await _send(writer, error_reply(request_id(line), exc))
                    continue
                if request.method == "subscribe":
                    if calls:  # their replies go out before the first event
                        await asyncio.wait(calls)
                    await self._stream_events(request.id, writer)
                    return
                await slots.acquire()
                call = asyncio.create_task(self._call(request, writer, slots))
                calls.add(call)
                call.add_done_callback(calls.discard)
        except _Oversized:
            with contextlib.suppress(ConnectionError):
                await _send(writer, error_reply(None, UsageError(
                    f"bad request: a request is at most {self._max_line:,} bytes")))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    async def _call(self, request: Request, writer: asyncio.StreamWriter,
                    slots: asyncio.Semaphore) -> None:
        try:
            reply = await self._answer(request)
            with contextlib.suppress(ConnectionError):
                await _send(writer, reply)
        finally:
            slots.release()

    async def _answer(self, request: Request) -> dict[str, Any]:
        rid, name = request.id, request.method
        method = METHODS.get(name)
        if method is None:
            return error_reply(rid, UsageError(f"unknown method {name!r}"))
        target = self._targets.get(method.target)
        if target is None:
            return error_reply(rid, UsageError(f"{name} is not available here"))
        function = getattr(target, name)
        try:
            check_arguments(name, function, request.args, request.kwargs)
            result = await function(*request.args, **request.kwargs)
        except P2PSocialError as exc:
            return error_reply(rid, exc)
        except Exception:  # the node must keep serving; the bug is logged with its traceback
            log.exception("control request %s failed", name)
            return error_reply(rid, P2PSocialError("internal error in the node (see its log)"))
        return {"id": rid, "result": encode_result(result)}

    async def _stream_events(self, rid: Any, writer: asyncio.StreamWriter) -> None:
        with self._hub.subscription() as queue:
            await _send(writer, {"id": rid, "result": "subscribed"})
            while True:
                kind, data = await queue.get()
                await _send(writer, {"event": kind, "data": encode_result(data)})


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode(message))  # one whole line per write: lines never interleave
    await writer.drain()


class _Oversized(Exception):
    """A request line longer than the server's limit."""


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """The next request line, b"" at the end of the stream.

    Raises:
        _Oversized: the line is longer than the limit (the connection is out of step).
    """
    try:
        return await reader.readline()
    except ValueError as exc:  # StreamReader's way of saying the limit was overrun
        raise _Oversized from exc
