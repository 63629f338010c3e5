"""The control socket: how `p2psocial` commands and UIs talk to a running node.

Rules:
- A Unix socket at HOME/node.sock, mode 0600 (created under umask 077), removed on close.
- Newline-delimited JSON. A request is {"id", "method", "args", "kwargs"}; the reply is
  {"id", "result"} or {"id", "error": {"kind", "message"}}, where kind names a class of
  p2psocial.core.errors so the client raises the same error an in-process call would.
- Only methods in p2psocial.runtime.api.METHODS are served. "subscribe" turns the connection
  into a stream of {"event", "data"} lines.
- A bad request gets an error reply; a client that sends garbage or disconnects costs the node
  nothing. Unexpected failures are logged with their traceback and reported as internal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from p2psocial.core import errors
from p2psocial.core.errors import NetError, P2PSocialError, UsageError
from p2psocial.runtime.api import METHODS, encode_result

log = logging.getLogger(__name__)
MAX_LINE = 64 * 1024 * 1024
EVENT_QUEUE = 1000


class NodeNotRunning(NetError):
    """No node answers on the control socket."""


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

    def __init__(self, path: Path, targets: dict[str, object], hub: EventHub) -> None:
        self._path = path
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
                                                           limit=MAX_LINE)
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
        try:
            while line := await reader.readline():
                reply = await self._answer(line, writer)
                if reply is None:
                    return  # the connection became a subscription and has ended
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass
        except asyncio.CancelledError:
            # only close() cancels these tasks; ending quietly spares asyncio's stream server
            # (Python 3.11) from logging the cancellation as an error
            return
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> dict[str, Any] | None:
        try:
            request = json.loads(line)
            rid = request.get("id")
            name = str(request["method"])
            args = list(request.get("args", []))
            kwargs = dict(request.get("kwargs", {}))
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"id": None, "error": {"kind": "UsageError", "message": "bad request"}}
        if name == "subscribe":
            await self._stream_events(rid, writer)
            return None
        method = METHODS.get(name)
        if method is None:
            return {"id": rid, "error": {"kind": "UsageError",
                                         "message": f"unknown method {name!r}"}}
        target = self._targets.get(method.target)
        if target is None:
            return {"id": rid, "error": {"kind": "UsageError",
                                         "message": f"{name} is not available here"}}
        try:
            result = await getattr(target, name)(*args, **kwargs)
        except P2PSocialError as exc:
            return {"id": rid, "error": {"kind": type(exc).__name__, "message": str(exc)}}
        except TypeError as exc:
            return {"id": rid, "error": {"kind": "UsageError", "message": f"bad arguments: {exc}"}}
        except Exception:  # the node must keep serving; the bug is logged with its traceback
            log.exception("control request %s failed", name)
            return {"id": rid, "error": {"kind": "P2PSocialError",
                                         "message": "internal error in the node (see its log)"}}
        return {"id": rid, "result": encode_result(result)}

    async def _stream_events(self, rid: Any, writer: asyncio.StreamWriter) -> None:
        with self._hub.subscription() as queue:
            writer.write(json.dumps({"id": rid, "result": "subscribed"}).encode() + b"\n")
            await writer.drain()
            while True:
                kind, data = await queue.get()
                writer.write(json.dumps({"event": kind, "data": encode_result(data)}).encode()
                             + b"\n")
                await writer.drain()


class ControlClient:
    """A connection to a running node. Methods of api.METHODS are available as attributes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._next_id = 0
        self._lock = asyncio.Lock()

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
        async with self._lock:
            self._next_id += 1
            request = {"id": self._next_id, "method": name, "args": args, "kwargs": kwargs}
            try:
                self._writer.write(json.dumps(request).encode() + b"\n")
                await self._writer.drain()
                line = await self._reader.readline()
            except (ConnectionError, OSError) as exc:
                raise NodeNotRunning("the node closed the connection") from exc
        if not line:
            raise NodeNotRunning("the node closed the connection")
        reply = json.loads(line)
        if "error" in reply:
            raise _error(reply["error"])
        return method.decode(reply.get("result"))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name not in METHODS:
            raise AttributeError(name)

        async def bound(*args: Any, **kwargs: Any) -> Any:
            return await self.call(name, *args, **kwargs)
        return bound

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        """Subscribe: yields (kind, data) for every node event until the node goes away."""
        self._writer.write(json.dumps({"id": 0, "method": "subscribe"}).encode() + b"\n")
        await self._writer.drain()
        await self._reader.readline()  # the "subscribed" acknowledgement
        while line := await self._reader.readline():
            message = json.loads(line)
            yield message["event"], message["data"]

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


def _error(data: dict[str, Any]) -> P2PSocialError:
    cls = getattr(errors, str(data.get("kind")), None)
    message = str(data.get("message", "error"))
    if isinstance(cls, type) and issubclass(cls, P2PSocialError):
        try:
            return cls(message)
        except TypeError:  # errors whose constructor needs more than a message
            pass
    return P2PSocialError(message)
