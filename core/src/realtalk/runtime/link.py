"""The session's link to its provider: the current connection and the signals about it.

Three parts use the connection (the input pump sends input, tool dispatch sends results,
the supervisor replaces it) and two kinds of news end serving it (a drop, a planned
rotation) besides the session finishing. `Link` holds that shared state in one
place: the connection and its generation number (so news about an old connection is
ignored), the lock that orders every send, and one signal the supervisor waits on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Literal

from ..provider import DisconnectKind, ProviderDisconnected, ProviderSession
from .clock import Clock

log = logging.getLogger("realtalk.runtime.link")

CLOSE_TIMEOUT = 5.0
"""Seconds a provider connection gets to close before it is abandoned."""

StopReason = Literal["finish", "disconnected", "rotate"]


class SendLock:
    """The lock that orders every send: first come, first served, ``async with``.

    Unlike ``asyncio.Lock`` it can be taken without a coroutine (`try_acquire()`): the
    input pump sends every audio chunk under it, and when nobody holds it (nearly always)
    that costs a flag, not three coroutine objects per chunk. Release hands the lock
    straight to the oldest waiter, so a sender that arrives later cannot overtake it.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] | None = None  # made on first contention

    def locked(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        """Take the lock if it is free and nobody waits for it; never blocks."""
        if self._held or self._waiters:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = deque()
        waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            elif waiter in waiters:
                waiters.remove(waiter)
            raise

    def release(self) -> None:
        if not self._held:
            raise RuntimeError("the send lock is not held")
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the lock stays held, now by that waiter
                return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Link:
    """The current connection (or None while reconnecting) and why to stop serving it."""

    def __init__(self) -> None:
        self.conn: ProviderSession | None = None
        self.gen = 0
        self.send_lock = SendLock()
        self.finish_reason: str | None = None
        self.go_away_gen: int | None = None
        self.failures = 0
        """Connection failures in a row (reset by every event a connection delivers)."""
        self._waiter: asyncio.Future[None] | None = None
        """The supervisor, waiting for any of the facts above to change (one waiter at a
        time: only the supervisor's task waits on the link)."""
        self._disconnect: tuple[int, ProviderDisconnected] | None = None
        self._rotate_gen: int | None = None

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _changed(self) -> asyncio.Future[None]:
        """A future done at the next change (a plain future, not an ``asyncio.Event``:
        no coroutine per wait and no waiter deque kept for the session's life)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    def next_generation(self) -> int:
        """Start a new connection generation (call under ``send_lock``)."""
        self.gen += 1
        self._rotate_gen = None
        self.go_away_gen = None
        return self.gen

    def disconnected(self, gen: int) -> bool:
        """True once connection ``gen`` was reported lost."""
        return self._disconnect is not None and self._disconnect[0] == gen

    def note_disconnect(self, gen: int, exc: ProviderDisconnected) -> None:
        """Connection ``gen`` is lost (the first report wins; old generations are ignored)."""
        if gen == self.gen and self._disconnect is None:
            self._disconnect = (gen, exc)
            self._wake()

    def take_disconnect(self) -> ProviderDisconnected:
        """The reported loss, cleared for the next connection."""
        assert self._disconnect is not None
        _, exc = self._disconnect
        self._disconnect = None
        return exc

    def rotate(self, gen: int) -> None:
        """Ask to replace connection ``gen`` (a planned rotation)."""
        if gen == self.gen and self._rotate_gen is None:
            self._rotate_gen = gen
            self._wake()

    def request_finish(self, reason: str) -> None:
        """End the session (the first reason wins)."""
        if self.finish_reason is None:
            self.finish_reason = reason
            self._wake()

    async def serve(self, gen: int) -> StopReason:
        """Wait until connection ``gen`` must stop being served; returns why."""
        while True:
            if self.finish_reason is not None:
                return "finish"
            if self.disconnected(gen):
                return "disconnected"
            if self._rotate_gen == gen:
                return "rotate"
            await self._changed()

    async def wait_or_finish(self, clock: Clock, seconds: float) -> bool:
        """Sleep ``seconds`` on ``clock``; False if the session finished meanwhile."""
        if self.finish_reason is not None:
            return False
        sleeper = asyncio.ensure_future(clock.sleep(seconds))
        try:
            while not sleeper.done():
                await asyncio.wait({sleeper, self._changed()}, return_when=asyncio.FIRST_COMPLETED)
                if self.finish_reason is not None:
                    return False
            return True
        finally:
            if not sleeper.done():
                sleeper.cancel()
            await asyncio.gather(sleeper, return_exceptions=True)


async def close_connection(conn: ProviderSession) -> None:
    """Close a connection; a dead one may fail or hang on close, and is gone anyway."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await conn.close()
    except Exception as exc:
        log.debug("closing a connection failed: %r", exc)


def as_disconnect(exc: BaseException) -> ProviderDisconnected:
    """A send failure as a disconnect (unclassified failures are transient)."""
    if isinstance(exc, ProviderDisconnected):
        return exc
    return ProviderDisconnected(DisconnectKind.TRANSIENT, reason=f"{type(exc).__name__}: {exc}")


__all__ = [
    "CLOSE_TIMEOUT",
    "Link",
    "SendLock",
    "StopReason",
    "as_disconnect",
    "close_connection",
]
