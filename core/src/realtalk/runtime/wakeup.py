"""A reusable wake-up for one waiting task: what a future is, without one per wait.

A session's consumer waits on its event stream once per event that finds the stream
empty. An ``asyncio.Future`` per wait costs two tracked objects (the future and the
iterator ``await`` makes of it), and with hundreds of sessions streaming those objects,
alive across the collector's passes, are what makes its passes due. `Wakeup` is one
object per stream, re-armed for every wait: asyncio's tasks accept any object that
speaks the future protocol (``_asyncio_future_blocking``, ``get_loop``,
``add_done_callback``, ``result``, ``cancel``), and ``await`` takes it as its own
iterator, so a wait allocates nothing of ours.

One task waits at a time (the stream has one consumer). Cancelling the waiting task
works as with a future: the wait ends with ``CancelledError``, and the next `arm()`
starts clean.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Generator
from contextvars import Context
from typing import Any

REUSABLE = sys.version_info >= (3, 12)
"""Used on 3.12+ only. Its Python-level protocol costs CPU a future's C code does not:
about 0.9 us per wait (``benchmarks/runtime_path.py``, A/B), 2% of a real chunk's path;
traded for fewer objects in flight, and so fewer collector passes, with many sessions
(docs/benchmarks.md). Python 3.11 keeps the plain future."""

_IDLE, _WAITING, _WOKEN, _CANCELLED = range(4)


class Wakeup:
    """A one-waiter, re-armable future: `arm()`, ``await`` it, `wake()` from elsewhere."""

    __slots__ = ("_asyncio_future_blocking", "_callback", "_context", "_loop", "_state")

    def __init__(self) -> None:
        self._asyncio_future_blocking = False
        self._state = _IDLE
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback: Callable[[Any], object] | None = None
        self._context: Context | None = None

    def arm(self, *, ready: bool = False) -> Wakeup:
        """Ready it for one wait (already woken when ``ready``); returns itself to await."""
        if self._state == _WAITING and self._callback is not None:
            raise RuntimeError("this wake-up already has a task waiting on it")
        self._loop = asyncio.get_running_loop()
        self._state = _WOKEN if ready else _WAITING
        self._callback = self._context = None
        return self

    @property
    def waiting(self) -> bool:
        """True from `arm()` until `wake()` or a cancel."""
        return self._state == _WAITING

    def wake(self) -> None:
        """End the wait (no effect unless waiting); the task resumes on the next loop turn."""
        if self._state != _WAITING:
            return
        self._state = _WOKEN
        self._schedule()

    # -- what ``await`` and asyncio's Task call -------------------------------------------

    def __await__(self) -> Generator[Any, None, None]:
        return self  # type: ignore[return-value]  # its own iterator, as a future's is

    def __iter__(self) -> Wakeup:
        return self

    def __next__(self) -> Wakeup:
        state = self._state
        if state == _WAITING:
            if self._callback is None and not self._asyncio_future_blocking:
                self._asyncio_future_blocking = True  # the task parks on this object
                return self
            raise RuntimeError("a Wakeup was resumed before it was woken")
        self._reset()
        if state == _CANCELLED:
            raise asyncio.CancelledError
        raise StopIteration

    def send(self, value: object) -> Wakeup:
        return self.__next__()

    def throw(self, exc: Any, *args: Any) -> Wakeup:
        self._reset()
        if isinstance(exc, type):
            exc = exc(*args) if args else exc()
        raise exc

    def close(self) -> None:
        self._reset()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("a Wakeup is bound to a loop by arm()")
        return self._loop

    def add_done_callback(
        self, callback: Callable[[Any], object], *, context: Context | None = None
    ) -> None:
        if self._callback is not None:
            raise RuntimeError("a Wakeup takes one waiting task")
        self._callback, self._context = callback, context
        if self._state != _WAITING:
            self._schedule()

    def remove_done_callback(self, callback: Callable[[Any], object]) -> int:
        if self._callback is not None and self._callback == callback:
            self._callback = self._context = None
            return 1
        return 0

    def done(self) -> bool:
        return self._state in (_WOKEN, _CANCELLED)

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self) -> None:
        if self._state == _CANCELLED:
            raise asyncio.CancelledError
        if self._state != _WOKEN:
            raise asyncio.InvalidStateError("the wake-up has not happened yet")

    def exception(self) -> BaseException | None:
        self.result()
        return None

    def cancel(self, msg: Any = None) -> bool:
        if self._state != _WAITING:
            return False
        self._state = _CANCELLED
        self._schedule()
        return True

    # -- internals ---------------------------------------------------------------------

    def _schedule(self) -> None:
        callback, context = self._callback, self._context
        if callback is not None and self._loop is not None:
            self._callback = self._context = None
            self._loop.call_soon(callback, self, context=context)

    def _reset(self) -> None:
        self._state = _IDLE
        self._asyncio_future_blocking = False
        self._callback = self._context = None


__all__ = ["REUSABLE", "Wakeup"]
