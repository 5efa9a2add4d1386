"""Readiness of the bridge's checkpointer, for ``/healthz``.

A bridge whose checkpointer is down refuses every session with 1011, so ``/healthz``
must not say "ok" then. The probe reads one thread that never exists (the cheapest call
every checkpointer has), bounded by a timeout, and keeps its answer for a moment so a
load balancer polling every second costs at most one read per ``ttl``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("realtalk.bridge")

PROBE_THREAD = {"thread_id": "realtalk-healthz-probe"}
"""The thread the probe reads; it is never written."""


class CheckpointerProbe:
    """Is the checkpointer reachable? ``await probe.check()`` -> None, or the reason."""

    def __init__(
        self,
        checkpointer: Any,
        *,
        timeout: float = 5.0,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checkpointer = checkpointer
        self.timeout = timeout
        self.ttl = ttl
        self.clock = clock
        self._checked_at: float | None = None
        self._reason: str | None = None
        self._inflight: asyncio.Task[str | None] | None = None

    async def check(self) -> str | None:
        """None when a read succeeded within ``ttl`` seconds, else why it failed."""
        if self.checkpointer is None or not hasattr(self.checkpointer, "aget_thread"):
            return None
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.ttl:
            return self._reason
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._probe())
        reason = await asyncio.shield(self._inflight)
        self._checked_at, self._reason = self.clock(), reason
        return reason

    async def _probe(self) -> str | None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.checkpointer.aget_thread(dict(PROBE_THREAD))
        except TimeoutError:
            log.warning("healthz: the checkpointer did not answer within %g s", self.timeout)
            return f"checkpointer unreachable (no answer within {self.timeout:g} s)"
        except Exception as exc:  # any failure means sessions would fail the same way
            # The endpoint is public: the reason names the failure, the log has the details
            # (as a session's checkpointer_error does).
            log.warning("healthz: the checkpointer failed: %s: %s", type(exc).__name__, exc)
            return f"checkpointer unreachable ({type(exc).__name__})"
        return None


__all__ = ["PROBE_THREAD", "CheckpointerProbe"]
