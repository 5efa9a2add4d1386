"""``LiveInputQueue``: what the user sends into a live session.

Producers are often not async code: a sound card calls back on its own thread every 20 ms,
a GUI sends text from its event thread. So every ``send_*`` method is synchronous, never
blocks, and works from any thread, even before the session's event loop exists. The
session consumes the queue asynchronously (``async for item in queue``).

The queue is bounded. Realtime audio that cannot be delivered in time is worth less than
the audio behind it, so when the queue is full the *oldest audio* chunk is dropped and
counted; text, images, activity markers and the end of the stream are never dropped (they
may take the queue past ``maxsize``). After `LiveInputQueue.close()` sends are
dropped silently (and counted) so that a microphone thread racing the shutdown is harmless.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .audio import downmix_pcm16, validate_pcm16
from .config import INPUT_SAMPLE_RATE
from .inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    InputItem,
    TextInput,
)

IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png"})
"""Image types a live session accepts (stills and video frames)."""


class _Wakeable(Protocol):
    """What waits in the queue: a future, or anything resolved the same way."""

    def done(self) -> bool: ...

    def set_result(self, result: None, /) -> None: ...


_Waiter = tuple[asyncio.AbstractEventLoop, _Wakeable]
_Sink = tuple[asyncio.AbstractEventLoop, Callable[[AudioInput], bool]]


def _resolve(future: _Wakeable) -> None:
    if not future.done():
        future.set_result(None)


class LiveInputQueue:
    """Bounded, thread-safe input queue of one live session.

    Args:
        maxsize: Items held before the oldest audio is dropped (control items are never
            dropped and may exceed it).

    Consumer side (one event loop at a time): ``async for item in queue`` yields
    `realtalk.inputs` items and ends once the queue is closed and drained;
    ``await queue.get()`` returns the next item or ``None`` at that end;
    ``queue.get_nowait()`` never waits.
    """

    def __init__(self, maxsize: int = 500) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._items: deque[InputItem] = deque()
        self._audio_items = 0
        self._closed = False
        self._waiters: list[_Waiter] = []
        self._dropped_audio_chunks = 0
        self._dropped_audio_bytes = 0
        self._dropped_after_close = 0
        self._sink: _Sink | None = None

    # ------------------------------------------------------------------ producers

    def send_audio(
        self, data: bytes, sample_rate: int = INPUT_SAMPLE_RATE, *, channels: int = 1
    ) -> None:
        """Queue a chunk of PCM16 little-endian audio (mono unless ``channels`` says so).

        Interleaved multi-channel audio (``channels=2`` for stereo, up to 8) is averaged
        to mono here: the providers take mono only, and stereo sent as mono would play at
        half speed. The bytes are copied, so a caller may reuse its buffer. Malformed
        audio (not bytes, not whole samples or frames, unsupported rate or channel count)
        raises ValueError and queues nothing. Audio at another rate than the provider's
        is resampled by the session.
        """
        validate_pcm16(data, sample_rate)
        mono = downmix_pcm16(data, channels)
        self._put(AudioInput(data=mono, sample_rate=sample_rate))

    def send_text(self, text: str) -> None:
        """Queue typed text, sent to the model as a user turn."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must not be empty")
        self._put(TextInput(text=text))

    def send_image(self, data: bytes, mime_type: str = "image/jpeg") -> None:
        """Queue an image or a video frame (``image/jpeg`` or ``image/png``)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"image data must be bytes, got {type(data).__name__}")
        if not data:
            raise ValueError("image data must not be empty")
        mime = mime_type.lower().strip() if isinstance(mime_type, str) else mime_type
        if mime not in IMAGE_MIME_TYPES:
            raise ValueError(
                f"unsupported image mime_type {mime_type!r}: use 'image/jpeg' or 'image/png'"
            )
        self._put(ImageInput(data=bytes(data), mime_type=mime))

    def send_activity_start(self) -> None:
        """Mark the start of user speech (push to talk; only with server VAD disabled)."""
        self._put(ActivityStart())

    def send_activity_end(self) -> None:
        """Mark the end of user speech (push to talk; only with server VAD disabled)."""
        self._put(ActivityEnd())

    def send_audio_stream_end(self) -> None:
        """Tell the provider the microphone paused, so server VAD flushes the utterance."""
        self._put(AudioStreamEnd())

    def send(self, item: InputItem) -> None:
        """Queue a ready-made `realtalk.inputs` item, validated like the ``send_*`` methods."""
        if isinstance(item, AudioInput):
            self.send_audio(item.data, item.sample_rate)
        elif isinstance(item, TextInput):
            self.send_text(item.text)
        elif isinstance(item, ImageInput):
            self.send_image(item.data, item.mime_type)
        elif isinstance(item, ActivityStart | ActivityEnd | AudioStreamEnd):
            self._put(item)
        else:
            raise ValueError(f"not an input item: {item!r}")

    def close(self) -> None:
        """End the input (idempotent). Queued items are still delivered; later sends are dropped."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        self._wake(waiters)

    # ------------------------------------------------------------------ consumer

    async def get(self) -> InputItem | None:
        """The next item, waiting for one; ``None`` once the queue is closed and drained."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            return None

    def get_nowait(self) -> InputItem | None:
        """The next item without waiting; ``None`` once closed and drained.

        Raises:
            asyncio.QueueEmpty: nothing is queued right now but more may come.
        """
        with self._lock:
            if self._items:
                return self._pop()
            if self._closed:
                return None
        raise asyncio.QueueEmpty

    def __aiter__(self) -> LiveInputQueue:
        return self

    async def __anext__(self) -> InputItem:
        # the session's pump reads every chunk here: one coroutine per item, not two
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._items:
                    return self._pop()
                if self._closed:
                    raise StopAsyncIteration
                future = loop.create_future()
                waiter: _Waiter = (loop, future)
                self._waiters.append(waiter)
            try:
                await future
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    # ------------------------------------------------------------------ state

    @property
    def maxsize(self) -> int:
        """Capacity before audio is dropped."""
        return self._maxsize

    @property
    def closed(self) -> bool:
        """True once `close()` was called (items may still be queued)."""
        return self._closed

    @property
    def exhausted(self) -> bool:
        """True once closed and every item was consumed: nothing more will come."""
        with self._lock:
            return self._closed and not self._items

    def qsize(self) -> int:
        """Items currently queued."""
        return len(self._items)

    @property
    def dropped_audio_chunks(self) -> int:
        """Audio chunks dropped because the queue was full."""
        return self._dropped_audio_chunks

    @property
    def dropped_audio_bytes(self) -> int:
        """Audio bytes dropped because the queue was full."""
        return self._dropped_audio_bytes

    @property
    def dropped_after_close(self) -> int:
        """Items of any kind sent after `close()` (and therefore dropped)."""
        return self._dropped_after_close

    def __repr__(self) -> str:
        return (
            f"LiveInputQueue(qsize={len(self._items)}, maxsize={self._maxsize}, "
            f"closed={self._closed}, dropped_audio_chunks={self._dropped_audio_chunks})"
        )

    # ------------------------------------------------------------------ internals

    def _attach_sink(
        self, loop: asyncio.AbstractEventLoop, sink: Callable[[AudioInput], bool]
    ) -> bool:
        """Let the consumer take audio straight from ``send_audio`` (for the session's pump).

        While the consumer waits on an empty queue, an audio chunk sent from a task on
        ``loop`` is offered to ``sink`` first, which returns True when it took it (sent
        it, in order); otherwise it is queued as usual. Saves waking the consumer's task
        for every chunk. False if another consumer's sink is attached.
        """
        with self._lock:
            if self._sink is not None:
                return False
            self._sink = (loop, sink)
            return True

    def _detach_sink(self, sink: Callable[[AudioInput], bool]) -> None:
        """Stop offering audio to ``sink`` (the consumer is done with this queue)."""
        with self._lock:
            if self._sink is not None and self._sink[1] == sink:
                self._sink = None

    def _take_or_wait(self, loop: asyncio.AbstractEventLoop, waiter: _Wakeable) -> InputItem | None:
        """The next item; or None, with ``waiter`` resolved once more may be taken.

        Raises StopAsyncIteration once closed and drained. For a consumer that waits
        without a task parked on `__anext__` (the session's on-demand pump); atomic, so
        an item put from another thread between the check and the wait still wakes it."""
        with self._lock:
            if self._items:
                return self._pop()
            if self._closed:
                raise StopAsyncIteration
            self._waiters.append((loop, waiter))
            return None

    def _forget_waiter(self, waiter: _Wakeable) -> None:
        """Stop waking ``waiter`` (its consumer is gone)."""
        with self._lock:
            self._waiters = [w for w in self._waiters if w[1] is not waiter]

    def _put(self, item: InputItem) -> None:
        sink = self._sink
        if (
            sink is not None
            and type(item) is AudioInput
            and not self._items
            and self._waiters  # the consumer is parked: nothing of its own in flight
            and not self._closed
            and asyncio._get_running_loop() is sink[0]
            and sink[1](item)
        ):
            return
        with self._lock:
            if self._closed:
                self._dropped_after_close += 1
                return
            if len(self._items) >= self._maxsize and not self._make_room(item):
                return
            self._items.append(item)
            if isinstance(item, AudioInput):
                self._audio_items += 1
            waiters, self._waiters = self._waiters, []
        self._wake(waiters)

    def _make_room(self, incoming: InputItem) -> bool:
        """Drop the oldest audio to fit ``incoming``; False if ``incoming`` itself is dropped.

        Called with the lock held and the queue full. Control items are never dropped:
        with no audio queued, an incoming control item goes in over capacity and incoming
        audio (the newest audio, but the only one) is dropped.
        """
        if self._audio_items:
            for index, queued in enumerate(self._items):
                if isinstance(queued, AudioInput):
                    del self._items[index]
                    self._audio_items -= 1
                    self._count_drop(queued)
                    return True
        if isinstance(incoming, AudioInput):
            self._count_drop(incoming)
            return False
        return True

    def _count_drop(self, item: AudioInput) -> None:
        self._dropped_audio_chunks += 1
        self._dropped_audio_bytes += len(item.data)

    def _pop(self) -> InputItem:
        item = self._items.popleft()
        if isinstance(item, AudioInput):
            self._audio_items -= 1
        return item

    @staticmethod
    def _wake(waiters: list[_Waiter]) -> None:
        running = asyncio._get_running_loop()
        for loop, future in waiters:
            if loop is running:
                # a producer on the consumer's own loop (an asyncio task): wake it directly;
                # call_soon_threadsafe would cost a self-pipe write and an extra loop turn
                _resolve(future)
                continue
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # the consumer's loop is closed: nobody to wake
                pass


__all__ = ["IMAGE_MIME_TYPES", "LiveInputQueue"]
