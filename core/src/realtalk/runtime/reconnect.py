"""Reconnect policy: when to retry a dropped connection and how long to wait first.

Kept apart from the session so the arithmetic (exponential backoff with jitter, attempt
limits) is testable on its own with an injected random source and clock.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

from ..config import ReconnectConfig
from .clock import Clock, SystemClock


class ReconnectPolicy:
    """Backoff for transient drops: ``min(base * 2**(n-1), max_delay)`` plus jitter.

    The jitter adds up to ``config.jitter`` times the delay, drawn from ``rng`` (a
    callable returning a float in ``[0, 1)``), so many clients dropped together do not
    reconnect in lockstep.
    """

    def __init__(
        self,
        config: ReconnectConfig,
        *,
        clock: Clock | None = None,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or _random.random

    @property
    def max_attempts(self) -> int:
        """Attempts allowed after a transient drop (0 when reconnecting is disabled)."""
        return self.config.max_attempts if self.config.enabled else 0

    def allows(self, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based) may be made."""
        return 1 <= attempt <= self.max_attempts

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt``, jitter included."""
        base = self.config.delay(attempt)
        return base + base * self.config.jitter * self._rng()

    async def wait(self, attempt: int) -> float:
        """Sleep the backoff before ``attempt`` on the policy's clock; returns the delay."""
        seconds = self.delay(attempt)
        await self.clock.sleep(seconds)
        return seconds


__all__ = ["ReconnectPolicy"]
