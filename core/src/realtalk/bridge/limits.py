"""Resource limits of the bridge: sessions, frame size, input rate, send backlog, idle time.

A public endpoint meets slow phones, stuck tabs and hostile clients. Each limit here is
small, synchronous and clock-injectable so it is tested without waiting; ``session.py``
applies them to sessions, and under ``realtalk api`` ``handshake.py`` and ``wsprotocol.py``
to connections before and below the ASGI app.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class LimitsConfig(BaseModel):
    """The ``limits`` section of ``realtalk.json``."""

    model_config = ConfigDict(extra="forbid")

    max_sessions: int = Field(default=200, ge=1)
    """Concurrent sessions per process; more are closed with 1013 (try again later)."""
    max_frame_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest upstream frame (an image frame is the biggest); larger closes with 1009."""
    max_input_bytes_per_second: int = Field(default=262_144, ge=1024)
    """Sustained upstream bytes per second (16 kHz PCM16 audio is 32 000)."""
    max_frames_per_second: float = Field(default=100.0, gt=0)
    """Sustained upstream frames per second (a 20 ms audio chunker sends 50)."""
    burst_seconds: float = Field(default=4.0, gt=0)
    """How far ahead of the sustained rates a client may run before it is a flood."""
    send_queue_frames: int = Field(default=256, ge=4)
    """Outgoing frames buffered per client; beyond it the oldest audio is dropped."""
    slow_consumer_timeout: float = Field(default=15.0, gt=0)
    """Seconds events may stay backed up (``send_queue_frames`` of them) before 4410."""
    idle_timeout: float = Field(default=300.0, gt=0)
    """Seconds without any frame from the client before the session is closed."""
    first_frame_timeout: float = Field(default=30.0, gt=0)
    """Seconds a new connection has to send its first (overrides) frame."""
    handshake_timeout: float = Field(default=10.0, gt=0)
    """Seconds a TCP connection has to send a complete request head (the WebSocket
    upgrade, or an HTTP request); then it is closed (``realtalk api``)."""
    max_pending_connections: int = Field(default=128, ge=1)
    """Connections that have not sent a request head yet; one more closes the oldest
    of them (``realtalk api``). Keep ``max_sessions`` + this under the file limit."""
    drain_timeout: float = Field(default=10.0, ge=0)
    """After input ends, how long the reply in flight may keep streaming."""
    shutdown_grace: float = Field(default=15.0, ge=0)
    """On shutdown, how long sessions get to finish before they are closed with 1012."""


class TokenBucket:
    """Classic token bucket: ``rate`` per second, holding at most ``capacity``."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()

    def take(self, amount: float) -> bool:
        """Spend ``amount``; False (spending nothing) when the bucket cannot cover it."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True


class InputRateLimiter:
    """Bytes and frames per second of one client, with a burst allowance."""

    def __init__(self, limits: LimitsConfig, clock: Callable[[], float] = time.monotonic):
        byte_capacity = max(
            limits.max_input_bytes_per_second * limits.burst_seconds, limits.max_frame_bytes
        )
        self._bytes = TokenBucket(limits.max_input_bytes_per_second, byte_capacity, clock)
        self._frames = TokenBucket(
            limits.max_frames_per_second,
            max(limits.max_frames_per_second * limits.burst_seconds, 1.0),
            clock,
        )

    def allow(self, nbytes: int) -> bool:
        """False once the client runs past its allowance (the caller closes the session)."""
        frames_ok = self._frames.take(1)
        return self._bytes.take(nbytes) and frames_ok


class SessionSlots:
    """Counts live sessions against ``max_sessions`` and refuses new ones while draining."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.active = 0
        self.draining = False
        self.total = 0
        self.refused = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def try_acquire(self) -> bool:
        if self.draining or self.active >= self.max_sessions:
            self.refused += 1
            return False
        self.active += 1
        self.total += 1
        self._idle.clear()
        return True

    def release(self) -> None:
        self.active -= 1
        if self.active <= 0:
            self.active = 0
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()


class SlowConsumer(Exception):
    """The client stopped reading: events stayed backed up past ``slow_consumer_timeout``."""


@dataclass(frozen=True, slots=True)
class DropReport:
    chunks: int
    nbytes: int
    total_chunks: int
    total_bytes: int


Frame = str | bytes


class SendQueue:
    """Bounded per-client outbox.

    Binary frames (model audio) are droppable: when the queue holds ``max_frames`` the
    *oldest* audio frame is discarded and counted, because late speech is worth less
    than current speech. Text frames (events) are never dropped; instead the producer
    awaits `wait_for_room()` once ``max_frames`` events are waiting, so a burst
    slows the session down for a reader that keeps up, and a reader that stopped is
    detected by a timeout (`SlowConsumer`).
    """

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self._items: deque[Frame] = deque()
        self._audio = 0
        self._closed = False
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.dropped_chunks = 0
        self.dropped_bytes = 0
        self._reported_chunks = 0
        self._reported_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def events_waiting(self) -> int:
        return len(self._items) - self._audio

    def put(self, frame: Frame) -> None:
        """Queue a frame without waiting (drops the oldest audio when full)."""
        if self._closed:
            return
        if len(self._items) >= self.max_frames:
            if self._audio:
                self._drop_oldest_audio()
            elif isinstance(frame, bytes):
                self._count_drop(frame)
                return
        self._items.append(frame)
        if isinstance(frame, bytes):
            self._audio += 1
        elif self.events_waiting >= self.max_frames:
            self._room.clear()
        self._ready.set()

    async def wait_for_room(self) -> None:
        """Return once fewer than ``max_frames`` events wait (at once if that is so)."""
        while self.events_waiting >= self.max_frames and not self._closed:
            self._room.clear()
            await self._room.wait()

    def _drop_oldest_audio(self) -> None:
        for index, item in enumerate(self._items):
            if isinstance(item, bytes):
                del self._items[index]
                self._audio -= 1
                self._count_drop(item)
                return

    def _count_drop(self, frame: bytes) -> None:
        self.dropped_chunks += 1
        self.dropped_bytes += len(frame)

    def flush_audio(self) -> int:
        """Discard queued audio (barge-in: the model was interrupted); returns frames removed."""
        kept: deque[Frame] = deque(item for item in self._items if not isinstance(item, bytes))
        removed = len(self._items) - len(kept)
        self._items = kept
        self._audio = 0
        return removed

    def take_drop_report(self) -> DropReport | None:
        """Drops since the last report, or None."""
        chunks = self.dropped_chunks - self._reported_chunks
        if not chunks:
            return None
        nbytes = self.dropped_bytes - self._reported_bytes
        self._reported_chunks, self._reported_bytes = self.dropped_chunks, self.dropped_bytes
        return DropReport(chunks, nbytes, self.dropped_chunks, self.dropped_bytes)

    async def get(self) -> Frame | None:
        """Next frame; None once closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        frame = self._items.popleft()
        if isinstance(frame, bytes):
            self._audio -= 1
        elif self.events_waiting < self.max_frames:
            self._room.set()
        return frame

    def close(self) -> None:
        """No more frames; ``get`` returns what is left, then None."""
        self._closed = True
        self._ready.set()
        self._room.set()


__all__ = [
    "DropReport",
    "InputRateLimiter",
    "LimitsConfig",
    "SendQueue",
    "SessionSlots",
    "SlowConsumer",
    "TokenBucket",
]
