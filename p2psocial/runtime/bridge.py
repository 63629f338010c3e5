"""The one crossing between asyncio and trio: trio runs as a guest on the asyncio loop.

Rules:
- This is the only module that imports both asyncio and trio. The process runs one asyncio loop
  (Textual, aiosqlite); py-libp2p is trio only, so trio is started inside that loop with
  `trio.lowlevel.start_guest_run(..., host_uses_signal_set_wakeup_fd=True)`, on the same thread.
- asyncio → trio: `run` (await a result), `spawn` (fire and forget), `start_service` (like
  `nursery.start`: a long-running task that reports `task_status.started(value)`).
  trio → asyncio: `call_asyncio` (await a coroutine on the loop), `call_soon_asyncio` (schedule a
  plain callable, from any thread) and `emit` (put an event on an `asyncio.Queue`, never blocking).
- Every trio task the bridge starts lives in one root nursery behind a guard: an exception in a
  spawned task or in a service that already started is logged (ERROR line, traceback at DEBUG)
  and never ends the trio run. Only a BaseException (KeyboardInterrupt, SystemExit) ends it;
  those two are re-raised on the asyncio loop.
- Exceptions cross with their own type. Cancellation crosses both ways, and the side that
  cancels waits until the other side has finished, so that nothing keeps running behind it.
- `stop()` cancels the root nursery and waits (bounded) for trio to finish; a call that was
  running in trio then fails with BridgeClosed. After stop, `run`, `spawn` and `start_service`
  raise BridgeClosed. Call `stop()` from asyncio, never from inside trio.
- One bridge per thread: trio allows a single run per thread, guest or not.

Cost, measured on the 2-core development machine, 1000 sequential `await bridge.run(trivial)`:
160–250 ms, i.e. ~0.15–0.25 ms per bridged call (up to ~0.5 ms while other processes load both
cores; the spike's bridge measures the same under the same load). Most of it is the wake-up of
an idle trio: its I/O wait runs in a helper thread, which hands control back through
`call_soon_threadsafe`. `call_asyncio` from trio: ~0.13–0.18 ms. `start()` ~1–2 ms, `stop()` <1 ms.
Worst asyncio loop lag while trio sleeps 200 × 1 ms: ~5 ms. tests/runtime/test_bridge.py
checks all of this with loose bounds.

Pitfalls:
- Signals: with `host_uses_signal_set_wakeup_fd=True` trio leaves `signal.set_wakeup_fd` to
  asyncio. trio installs its own SIGINT handler only if SIGINT still has Python's default handler
  when `start()` runs; under `asyncio.run` (and Textual) asyncio's handler is in place, so Ctrl+C
  cancels the asyncio main task, whose cleanup must `await bridge.stop()`.
- A loop that closes while the bridge runs abandons the guest run: trio then warns "Trio guest run
  got abandoned" (an error under pytest's warnings-as-errors). Use `async with TrioBridge()`.
- py-libp2p's shutdown is not cancel-safe: cancelling `host.run(...)` (which `stop()` does)
  sometimes leaks the dialled TCP socket (a ResourceWarning), even with a shielded
  `host.close()` in a `finally`, because the host's connection tasks are cancelled at the same
  moment. Close hosts first, uncancelled: `await bridge.run(host.close)`, then `stop()`.
- Stop the bridge before closing the stores that trio handlers write to: `stop()` returns only
  once every trio task, and every asyncio task they awaited through `call_asyncio`, has ended.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, TypeVarTuple

import outcome
import trio

from p2psocial.core.errors import NetError

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

logger = logging.getLogger(__name__)


class BridgeClosed(NetError):
    """The bridge is not running: not started yet, stopped, or its trio run ended."""


class _State(enum.Enum):
    NEW = "not started"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    CLOSED = "closed"


@dataclass(eq=False, slots=True)
class _Call(Generic[T]):
    """One asyncio → trio call: what to run, where its outcome goes, how to cancel it."""

    fn: Callable[..., Awaitable[T]]
    args: tuple[Any, ...]
    future: asyncio.Future[T]
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class _TaskStatus(Protocol):
    """What trio passes a task started with `nursery.start` (trio.TaskStatus)."""

    def started(self, value: Any = None) -> None:
        """Report the task as started; `nursery.start` returns `value`."""


class _StartedFlag:
    """A task status that remembers whether the service reported `started`."""

    def __init__(self, inner: _TaskStatus) -> None:
        self._inner = inner
        self.called = False

    def started(self, value: Any = None) -> None:
        """Report the service as started with `value` (forwarded to `nursery.start`)."""
        self._inner.started(value)
        self.called = True


class TrioBridge:
    """trio as a guest of the running asyncio loop, with calls across in both directions.

    Use as `async with TrioBridge() as bridge:` or with explicit `start()` / `stop()`.
    Methods are marked by the side they must be called from: (asyncio) or (trio).
    """

    def __init__(self) -> None:
        self._state = _State.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._ready: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._pending: set[asyncio.Future[Any]] = set()

    @property
    def running(self) -> bool:
        """True from the end of `start()` until `stop()` begins or the trio run ends."""
        return self._state is _State.RUNNING

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---- lifecycle (asyncio) -------------------------------------------------------------

    async def start(self) -> None:
        """(asyncio) Start trio as a guest of the running loop; return once its nursery runs.

        Raises:
            RuntimeError: the bridge was started before, or another trio run is active in
                this thread.
            BridgeClosed: the trio run ended before it was ready.
        """
        if self._state is not _State.NEW:
            raise RuntimeError(f"a TrioBridge starts once (this one is {self._state.value})")
        loop = asyncio.get_running_loop()
        self._loop, self._thread = loop, threading.get_ident()
        self._ready, self._done = loop.create_future(), loop.create_future()
        self._state = _State.STARTING
        try:
            trio.lowlevel.start_guest_run(
                self._trio_main,
                run_sync_soon_threadsafe=self._wake_threadsafe,
                run_sync_soon_not_threadsafe=self._wake,
                done_callback=self._on_trio_done,
                host_uses_signal_set_wakeup_fd=True,
            )
        except BaseException:  # e.g. RuntimeError: a trio run is active in this thread
            self._state = _State.CLOSED
            _resolve(self._done, None)
            raise
        try:
            await self._ready
        except asyncio.CancelledError:
            await self.stop()
            raise

    async def stop(self, timeout: float = 2.0) -> None:
        """(asyncio) Cancel every trio task, wait up to `timeout` s for trio to end. Idempotent.

        Calls still running in trio fail with BridgeClosed. If trio does not finish in time it
        is abandoned with a warning in the log, and the bridge counts as closed anyway.
        """
        if self._state is _State.NEW:
            self._state = _State.CLOSED
            return
        if self._state in (_State.STARTING, _State.RUNNING):
            self._state = _State.STOPPING
            self._cancel_root()
        assert self._done is not None
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._done)
        except TimeoutError:
            logger.warning("trio did not finish within %.1f s of stop(); abandoning it", timeout)
            self._state = _State.CLOSED
            self._fail_pending()

    # ---- asyncio → trio ------------------------------------------------------------------

    async def run(self, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """(asyncio) Run `await fn(*args)` in trio and return its result here.

        If the awaiting asyncio task is cancelled, the trio task is cancelled and awaited
        before CancelledError propagates.

        Raises:
            BridgeClosed: the bridge is not running, or stopped while the call ran.
            Exception: whatever `fn` raised, unchanged.
        """
        self._require_asyncio_side("run")
        call: _Call[T] = _Call(fn, args, self._live_loop().create_future())
        self._submit(call)
        try:
            return await asyncio.shield(call.future)
        except asyncio.CancelledError:
            self._to_trio(call.scope.cancel)
            await _settled(call.future)
            raise

    async def run_sync(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """(asyncio) Call the plain function `fn(*args)` on the trio side (e.g. a read of
        libp2p's state) and return its result here. Raises as `run` does."""

        async def call(*inner: *Ts) -> T:
            return fn(*inner)

        return await self.run(call, *args)

    def spawn(self, fn: Callable[[*Ts], Awaitable[object]], *args: *Ts) -> None:
        """(asyncio or trio) Start `fn(*args)` in the bridge's nursery and do not wait for it.

        An exception it raises is logged, not propagated. It is cancelled by `stop()`.

        Raises:
            BridgeClosed: the bridge is not running.
        """
        self._live_loop()
        if not self._to_trio(functools.partial(self._start_soon, self._guard, fn, args, name=fn)):
            raise BridgeClosed("the trio run has ended")

    async def start_service(self, fn: Callable[..., Awaitable[object]], *args: object) -> Any:
        """(asyncio) Start a long-running trio task, as `nursery.start(fn, *args)` does.

        `fn` is called as `fn(*args, task_status=status)` and must call
        `status.started(value)` once it is ready; `value` is returned here. An exception before
        `started` propagates here; one after it is logged. The task runs until it returns or
        the bridge stops (hand a `trio.CancelScope` out through `started` to stop it earlier).
        """
        return await self.run(self._start_service, fn, args)

    # ---- trio → asyncio ------------------------------------------------------------------

    async def call_asyncio(self, coro_fn: Callable[[*Ts], Coroutine[Any, Any, T]], *args: *Ts) -> T:
        """(trio) Run `await coro_fn(*args)` as an asyncio task and return its result in trio.

        If the trio task is cancelled, the asyncio task is cancelled and awaited before
        trio.Cancelled propagates.

        Raises:
            BridgeClosed: the bridge is closed, or the asyncio side cancelled the task.
            Exception: whatever the coroutine raised, unchanged.
        """
        loop = self._trio_side_loop()
        task = loop.create_task(coro_fn(*args))
        finished = trio.Event()
        task.add_done_callback(lambda _: self._to_trio(finished.set))
        try:
            await finished.wait()
        except BaseException:
            task.cancel()
            with trio.CancelScope(shield=True):
                await finished.wait()
            _consume(task)
            raise
        if task.cancelled():
            raise BridgeClosed("the asyncio side cancelled the task")
        return task.result()

    def call_soon_asyncio(self, fn: Callable[[*Ts], object], *args: *Ts) -> None:
        """(trio, or any thread) Schedule the plain callable `fn(*args)` on the asyncio loop.

        Errors it raises go to the loop's exception handler.
        """
        loop = self._loop
        if loop is None:
            raise BridgeClosed("the bridge was never started")
        if threading.get_ident() == self._thread:
            loop.call_soon(fn, *args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def emit(self, queue: asyncio.Queue[T], item: T) -> bool:
        """(trio) Put `item` on an asyncio queue without blocking; False if it was full.

        For back-pressure instead, `await bridge.call_asyncio(queue.put, item)`.
        """
        if threading.get_ident() != self._thread:
            raise RuntimeError("emit() must be called on the loop's thread (use call_soon_asyncio)")
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    # ---- inside trio ---------------------------------------------------------------------

    async def _trio_main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            if self._state is _State.STARTING:
                self._state = _State.RUNNING
            else:  # stop() came while starting
                nursery.cancel_scope.cancel()
            _resolve(self._ready, None)
            await trio.sleep_forever()

    def _start_soon(
        self, fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> None:
        """Start a task in the root nursery (runs in trio, from `run_sync_soon`)."""
        assert self._nursery is not None
        try:
            self._nursery.start_soon(fn, *args, name=name)
        except RuntimeError:  # the nursery is closed: the run is ending
            logger.debug("trio nursery closed; dropped %r", fn)

    async def _serve_call(self, call: _Call[Any]) -> None:
        try:
            with call.scope:
                _resolve(call.future, await call.fn(*call.args))
        except Exception as exc:  # noqa: BLE001 — handed to the asyncio awaiter, not swallowed
            _fail(call.future, exc)
        finally:
            if call.scope.cancelled_caught:
                call.future.cancel()
            else:
                _fail(call.future, BridgeClosed("the bridge stopped while the call was running"))

    async def _guard(self, fn: Callable[..., Awaitable[object]], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        except Exception as exc:  # noqa: BLE001 — logged: one task must not end the trio run
            _log_task_failure(fn, exc)

    async def _start_service(
        self, fn: Callable[..., Awaitable[object]], args: tuple[Any, ...]
    ) -> Any:
        assert self._nursery is not None
        return await self._nursery.start(self._guard_service, fn, args, name=fn)

    async def _guard_service(
        self,
        fn: Callable[..., Awaitable[object]],
        args: tuple[Any, ...],
        *,
        task_status: Any = trio.TASK_STATUS_IGNORED,
    ) -> None:
        status = _StartedFlag(task_status)
        try:
            await fn(*args, task_status=status)
        except Exception as exc:
            if not status.called:
                raise
            _log_task_failure(fn, exc)

    # ---- plumbing ------------------------------------------------------------------------

    def _on_trio_done(self, run_outcome: outcome.Outcome[None]) -> None:
        """Called on the loop when the trio run has ended, cleanly or not."""
        stopping = self._state in (_State.STOPPING, _State.CLOSED)  # CLOSED: stop() gave up
        self._state = _State.CLOSED
        error = run_outcome.error if isinstance(run_outcome, outcome.Error) else None
        interrupt = _interrupt_in(error)
        if interrupt is not None:
            logger.info("trio run interrupted by %s", type(interrupt).__name__)
        elif error is not None:
            logger.error("trio run ended with %s: %s", type(error).__name__, error)
            logger.debug("traceback of the trio run", exc_info=error)
        elif not stopping:
            logger.warning("trio run ended without stop()")
        _fail(self._ready, BridgeClosed("the trio run ended before it was ready"))
        self._fail_pending()
        _resolve(self._done, None)
        if interrupt is not None:
            raise interrupt  # on the loop, as a Ctrl+C outside the guest run would be

    def _wake(self, fn: Callable[[], object]) -> None:
        """Run a guest-run step on the loop (asyncio's Handle is not returned: stubs want None)."""
        assert self._loop is not None
        self._loop.call_soon(fn)

    def _wake_threadsafe(self, fn: Callable[[], object]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn)

    def _submit(self, call: _Call[Any]) -> None:
        self._pending.add(call.future)
        call.future.add_done_callback(self._pending.discard)
        started = self._to_trio(
            functools.partial(self._start_soon, self._serve_call, call, name=call.fn)
        )
        if not started:
            _fail(call.future, BridgeClosed("the trio run has ended"))

    def _to_trio(self, fn: Callable[[], object]) -> bool:
        """Have trio call `fn()` soon, from inside its run; False if the run has ended."""
        if self._token is None:
            return False
        try:
            self._token.run_sync_soon(fn)
        except trio.RunFinishedError:
            return False
        return True

    def _cancel_root(self) -> None:
        if self._nursery is not None:  # else _trio_main cancels itself when it starts
            self._to_trio(self._nursery.cancel_scope.cancel)

    def _fail_pending(self) -> None:
        for future in list(self._pending):
            _fail(future, BridgeClosed("the trio run ended while the call was pending"))
        self._pending.clear()

    def _live_loop(self) -> asyncio.AbstractEventLoop:
        if self._state is not _State.RUNNING or self._loop is None:
            raise BridgeClosed(f"the bridge is {self._state.value}")
        return self._loop

    def _trio_side_loop(self) -> asyncio.AbstractEventLoop:
        if self._state not in (_State.RUNNING, _State.STOPPING) or self._loop is None:
            raise BridgeClosed(f"the bridge is {self._state.value}")
        if asyncio.current_task() is not None:
            raise RuntimeError("call_asyncio() is for trio code; asyncio code awaits directly")
        return self._loop

    @staticmethod
    def _require_asyncio_side(name: str) -> None:
        try:
            in_task = asyncio.current_task() is not None
        except RuntimeError:  # no running loop
            in_task = False
        if not in_task:
            raise RuntimeError(f"{name}() must be awaited from an asyncio task, not from trio")


def _resolve(future: asyncio.Future[T] | None, value: T) -> None:
    if future is not None and not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any] | None, exc: BaseException) -> None:
    if future is not None and not future.done():
        future.set_exception(exc)


async def _settled(future: asyncio.Future[Any]) -> None:
    """Wait until `future` is done, without raising its outcome (but marking it retrieved)."""
    await asyncio.wait([future])
    _consume(future)


def _consume(future: asyncio.Future[Any]) -> None:
    if future.done() and not future.cancelled():
        future.exception()


def _log_task_failure(fn: Callable[..., object], exc: Exception) -> None:
    name = getattr(fn, "__qualname__", repr(fn))
    logger.error("bridge task %s failed: %s: %s", name, type(exc).__name__, exc)
    logger.debug("traceback of bridge task %s", name, exc_info=exc)


def _interrupt_in(error: BaseException | None) -> BaseException | None:
    """The KeyboardInterrupt or SystemExit inside `error` (maybe a group), if any."""
    if isinstance(error, KeyboardInterrupt | SystemExit):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _interrupt_in(inner)
            if found is not None:
                return found
    return None
