"""Where sync tools run: a bounded thread pool of their own, and how they are cancelled.

A thread cannot be stopped from outside. When a sync tool times out, or its call is
withdrawn, the runtime stops waiting for it at once, but the function goes on in its
thread until it returns. So sync tools get their own bounded pool (never the event
loop's default executor, which DNS lookups and file I/O need), a call abandoned while
still running is logged with its tool name and call id (and again when it finally
ends), and a tool that wants to stop early can ask for a `CancelToken`: a
parameter annotated with it is left out of the schema and receives a token that is set
the moment the call is timed out or cancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("realtalk.tools")

THREADS_ENV = "REALTALK_TOOL_THREADS"
"""Environment variable: size of the default sync-tool pool (threads per process)."""

DEFAULT_THREADS = 16
"""Default size of the process-wide sync-tool pool when ``REALTALK_TOOL_THREADS`` is unset."""


class CancelToken:
    """Set when the call a sync tool serves is timed out or cancelled.

    Declare a parameter annotated ``CancelToken`` and check it between steps
    (``if token.cancelled: return``), or wait on it instead of ``time.sleep``
    (``token.wait(2.0)`` returns True as soon as the call is cancelled).
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def cancelled(self) -> bool:
        """True once the call was timed out or cancelled."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` seconds pass; True if cancelled."""
        return self._event.wait(timeout)

    def cancel(self) -> None:
        """Mark the call cancelled (the runtime does this; tests may too)."""
        self._event.set()

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


@dataclass
class AbandonedCall:
    """A sync tool call the runtime stopped waiting for while its thread still runs it."""

    tool: str
    call_id: str | None
    since: float = field(default_factory=time.monotonic)


class ToolThreadPool:
    """A bounded pool of threads for sync tools, that keeps track of abandoned calls.

    ``max_workers`` threads at most (default ``REALTALK_TOOL_THREADS``, else
    `DEFAULT_THREADS`). A call that finds every thread busy waits for one (and is
    logged); its timeout still runs, and a call cancelled before it starts never runs.
    """

    def __init__(self, max_workers: int | None = None, *, name: str = "realtalk-tool") -> None:
        size = default_threads() if max_workers is None else max_workers
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"max_workers must be a positive integer, got {size!r}")
        self.max_workers = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._abandoned: dict[Future[Any], AbandonedCall] = {}

    @property
    def busy(self) -> int:
        """Calls submitted and not yet ended (running or waiting for a thread)."""
        with self._lock:
            return self._in_flight

    @property
    def abandoned(self) -> list[AbandonedCall]:
        """Calls timed out or cancelled whose function is still running."""
        with self._lock:
            return list(self._abandoned.values())

    async def run(
        self,
        func: Callable[..., Any],
        kwargs: dict[str, Any],
        *,
        tool: str,
        call_id: str | None = None,
        token: CancelToken | None = None,
    ) -> Any:
        """``func(**kwargs)`` in a pool thread; on cancellation, ``token`` is set and a
        call still running is reported as abandoned (the CancelledError propagates)."""
        with self._lock:
            self._in_flight += 1
            waiting = self._in_flight > self.max_workers
            stuck = len(self._abandoned)
        if waiting:
            log.warning(
                "all %d sync tool threads are busy (%d running abandoned calls); "
                "tool %r (call %s) waits for a free thread (see %s)",
                self.max_workers,
                stuck,
                tool,
                call_id,
                THREADS_ENV,
            )
        context = contextvars.copy_context()
        future = self._executor.submit(context.run, functools.partial(func, **kwargs))
        future.add_done_callback(self._ended)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if token is not None:
                token.cancel()
            if not future.cancel():  # False: it is running (or just ended), not queued
                self._abandon(future, tool, call_id)
            raise

    def _abandon(self, future: Future[Any], tool: str, call_id: str | None) -> None:
        with self._lock:
            if future.done():  # ended meanwhile: nothing is held
                return
            self._abandoned[future] = call = AbandonedCall(tool, call_id)
        log.warning(
            "sync tool %r (call %s) was timed out or cancelled but is still running in its "
            "thread; the thread stays busy until the function returns (%d of %d threads "
            "held by abandoned calls)",
            tool,
            call_id,
            len(self._abandoned),
            self.max_workers,
        )
        future.add_done_callback(lambda f: self._abandoned_ended(f, call))

    def _ended(self, future: Future[Any]) -> None:
        with self._lock:
            self._in_flight -= 1

    def _abandoned_ended(self, future: Future[Any], call: AbandonedCall) -> None:
        with self._lock:
            self._abandoned.pop(future, None)
        outcome = "failed" if not future.cancelled() and future.exception() else "returned"
        log.warning(
            "abandoned sync tool %r (call %s) %s after %.1fs; its outcome was discarded",
            call.tool,
            call.call_id,
            outcome,
            time.monotonic() - call.since,
        )

    async def wait_abandoned(self) -> None:
        """Wait until every abandoned call has ended (for a graceful shutdown, or tests)."""
        with self._lock:
            futures = list(self._abandoned)
        if futures:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True)

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop taking calls; calls already running finish in their threads."""
        self._executor.shutdown(wait=wait, cancel_futures=True)


def default_threads() -> int:
    """The size ``REALTALK_TOOL_THREADS`` asks for, else `DEFAULT_THREADS`."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
    return size


_default: ToolThreadPool | None = None
_default_lock = threading.Lock()


def default_pool() -> ToolThreadPool:
    """The process-wide pool sync tools run in unless an executor names another."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ToolThreadPool()
        return _default


__all__ = [
    "DEFAULT_THREADS",
    "THREADS_ENV",
    "AbandonedCall",
    "CancelToken",
    "ToolThreadPool",
    "default_pool",
    "default_threads",
]
