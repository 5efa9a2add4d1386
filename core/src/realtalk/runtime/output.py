"""The user's event stream: what a session emitted and its consumer has not taken yet.

One object so the stream has one policy. Producers (the receive loop, tool tasks, the
input pump) `push()` without ever blocking; the consumer takes events
with `next_ready()` and waits with `wait()`. The
stream is bounded for the one producer that can outrun any consumer, the provider: when
``limit`` events are waiting, the receive loop stops reading from the provider
(`wait_room()`) until the consumer has taken half of them. Nothing is
dropped and memory stays bounded; the provider connection's own buffers take the rest.

A consumer that can handle an event without its own task (a server writing audio to a
socket) may attach a ``sink``: while the consumer waits with nothing queued, `push()`
offers each event to it first, and an event it takes is not queued. Order holds: the
sink is only offered an event when everything before it has already been taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from ..events import RealtimeEvent
from .wakeup import REUSABLE, Wakeup

DEFAULT_OUTPUT_LIMIT = 512
"""Events a session holds for a consumer that fell behind before it stops reading from
the provider (about 25-50 s of model audio at the chunk sizes providers send)."""

_END = object()
log = logging.getLogger("realtalk.runtime")


class OutputStream:
    """A bounded, single-consumer event stream (a deque and two wake-up futures)."""

    def __init__(self, limit: int | None = DEFAULT_OUTPUT_LIMIT) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"the output limit must be at least 1 event, got {limit!r}")
        self.limit = limit
        self._resume_at = (limit // 2) if limit is not None else 0
        self.items: deque[Any] = deque()
        """What waits for the consumer (read-only outside this class; the hot path reads
        its length directly)."""
        self._wakeup = Wakeup() if REUSABLE else None  # the consumer's, re-armed per wait
        self._waiter: Wakeup | asyncio.Future[None] | None = None
        """What the consumer waits on, while it found the stream empty."""
        self._room: asyncio.Future[None] | None = None  # the provider reader, found it full
        self._ended = False
        self.sink: Callable[[RealtimeEvent], bool] | None = None
        """Offered each event while the consumer waits on an empty stream; True: taken."""

    def __len__(self) -> int:
        return len(self.items)

    @property
    def full(self) -> bool:
        """True when the provider's reader should wait before reading more."""
        return self.limit is not None and len(self.items) >= self.limit

    def push(self, item: RealtimeEvent) -> None:
        """Append one event; wakes the consumer if it waits (one wake-up per batch).

        While the consumer waits on an empty stream, the `sink` (if any) may take the
        event instead: nothing is queued and nobody is woken."""
        sink = self.sink
        if sink is not None and not self.items and self._waiter is not None:
            try:
                if sink(item):
                    return
            except Exception:  # a broken sink must not end the session: stop using it
                log.exception("the event sink failed; events go through the stream now")
                self.sink = None
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if isinstance(waiter, Wakeup):
                waiter.wake()
            elif not waiter.done():
                waiter.set_result(None)

    def end(self) -> None:
        """Mark the end of the stream (after every event pushed so far)."""
        if not self._ended:
            self._ended = True
            self.sink = None  # so the end marker is queued, never offered
            self.push(_END)  # type: ignore[arg-type]

    def next_ready(self) -> RealtimeEvent | None:
        """The next event, or None when none is waiting.

        Raises StopAsyncIteration once the stream has ended and every event was taken."""
        items = self.items
        if not items:
            return None
        item = items[0]
        if item is _END:
            raise StopAsyncIteration
        items.popleft()
        room = self._room
        if room is not None and len(items) <= self._resume_at:
            self._room = None
            if not room.done():
                room.set_result(None)
        return item  # type: ignore[no-any-return]

    def wait(self) -> Wakeup | asyncio.Future[None]:
        """Something to await until an event (or the end) is ready to be taken.

        Not a coroutine (the path of every event that finds the stream empty): the
        stream's one `Wakeup`, re-armed, so no new future per wait; on Python 3.11, where
        its Python-level protocol costs more than a future, a plain future. One consumer."""
        ready = bool(self.items)
        wakeup = self._wakeup
        waiter: Wakeup | asyncio.Future[None]
        if wakeup is not None:
            waiter = wakeup.arm(ready=ready)
        else:
            waiter = asyncio.get_running_loop().create_future()
            if ready:
                waiter.set_result(None)
        if not ready:
            self._waiter = waiter  # a wait cancelled with its consumer is skipped by push
        return waiter

    async def wait_room(self) -> None:
        """Wait while the stream is full (the consumer fell behind)."""
        while self.full:
            room = self._room
            if room is None or room.done():
                room = self._room = asyncio.get_running_loop().create_future()
            await room


__all__ = ["DEFAULT_OUTPUT_LIMIT", "OutputStream"]
