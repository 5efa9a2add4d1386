"""Time as the runtime sees it: injectable, so tests drive backoff and timeouts explicitly.

Every wait in a session (reconnect backoff, go_away deadlines, tool timeouts, the
shutdown drain) goes through a `Clock`. Production uses `SystemClock`;
tests pass a `ManualClock` to ``compile(clock=...)`` and advance time by hand, so
no test ever sleeps on the wall clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source with an async sleep."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock's time scale."""


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to.

    With ``auto_advance=True`` every sleep completes at once and moves time forward by its
    duration (handy for backoff tests); otherwise sleepers wait until `advance()`
    moves time past their deadline. Every requested sleep is recorded in ``sleeps``.
    """

    def __init__(self, start: float = 0.0, *, auto_advance: bool = False) -> None:
        self._now = start
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    @property
    def pending(self) -> int:
        """How many sleeps are waiting for time to advance."""
        return sum(1 for _, _, fut in self._waiters if not fut.done())

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        if self.auto_advance:
            self._now += seconds
            self._wake()
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now + seconds, next(self._seq), fut))
        if seconds == 0:
            self._wake()
        await fut

    def _wake(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    async def advance(self, seconds: float) -> None:
        """Move time forward and let the woken sleepers run."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        self._wake()
        for _ in range(5):
            await asyncio.sleep(0)

    async def wait_for_sleepers(self, count: int = 1, *, max_spins: int = 10_000) -> None:
        """Yield to the loop until at least ``count`` sleeps are pending."""
        for _ in range(max_spins):
            if self.pending >= count:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"expected {count} pending sleep(s), found {self.pending}")


__all__ = ["Clock", "ManualClock", "SystemClock"]
