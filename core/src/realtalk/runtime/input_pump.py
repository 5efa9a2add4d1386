"""The input side: the user's queue -> validation and resampling -> the provider.

The pump is one task per session. It reads the user's `LiveInputQueue`,
validates each item against what the provider accepts, resamples audio to the provider's
rate (`AudioAdapter`), and sends it on the current
connection. While no connection is up, input waits in a bounded
`InputBuffer` that the supervisor flushes into the next
connection. Every loss (the queue full, the buffer full, a session that ended before a
connection took the buffer) is reported as an ``input_dropped`` event, never hidden.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from ..config import RealtimeConfig
from ..events import InputDroppedEvent
from ..inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    InputItem,
    TextInput,
)
from ..messages import Message
from ..provider import ProviderCapabilities, ProviderSession
from ..queue import LiveInputQueue
from .input import AudioAdapter, InputBuffer
from .link import Link, as_disconnect
from .reporter import Reporter
from .turns import TurnState

EAGER_TASKS = sys.version_info >= (3, 12)
"""Eager tasks (``asyncio.Task(..., eager_start=True)``) exist: the pump can send a
chunk from the producer's task (`InputPump.send_direct`)."""
_EAGER: dict[str, Any] = {"eager_start": True}
DIRECT_TRIAL = 16
"""Direct sends after which, if most of them had to wait, the pump sends again."""


class _Doorbell:
    """Waits in a `LiveInputQueue`'s waiters in place of a parked task's future: the
    queue "resolves" it when an item arrives or the queue closes, which rings."""

    __slots__ = ("_pump",)

    def __init__(self, pump: InputPump) -> None:
        self._pump = pump

    def done(self) -> bool:
        return False

    def set_result(self, result: None, /) -> None:
        self._pump._ring()


class InputPump:
    """Moves one session's input to its provider, buffering while disconnected."""

    def __init__(
        self,
        queue: Any,
        *,
        link: Link,
        turns: TurnState,
        reporter: Reporter,
        capabilities: ProviderCapabilities,
        realtime_config: RealtimeConfig,
        provider_name: str,
        on_closed: Callable[[], None],
    ) -> None:
        self.queue = queue
        self.link = link
        self.turns = turns
        self.reporter = reporter
        self.capabilities = capabilities
        self.realtime_config = realtime_config
        self.provider_name = provider_name
        self.on_closed = on_closed
        self.buffer = InputBuffer(
            realtime_config.reconnect.buffer_seconds, capabilities.input_sample_rate
        )
        # a LiveInputQueue validated every chunk on the way in; another queue's items
        # are checked here
        self.audio = AudioAdapter(
            capabilities.input_sample_rate, validated_input=isinstance(queue, LiveInputQueue)
        )
        self._queue_drops_seen = (0, 0)
        self._in_flight: set[asyncio.Task[None]] | None = None  # made when a send waits
        self._loop: asyncio.AbstractEventLoop | None = None
        self._doorbell: _Doorbell | None = None  # in the queue's waiters while on demand
        self._draining: asyncio.Task[None] | None = None
        self._direct_sent = self._direct_waited = 0

    def start(self) -> bool:
        """Pump a `LiveInputQueue` on demand (Python 3.12+): no task parked on it.

        A doorbell waits in the queue instead of a task: audio the queue can hand over
        goes out from the producer's own task (`send_direct`), and anything else (text,
        audio from another thread, input while reconnecting, the end of the queue) rings
        it, which drains the queue in a task that starts eagerly and ends once the queue
        is empty again. A parked task per session is what a session keeps longest (its
        task, context, coroutines and the future it waits on). False: this queue or
        Python needs `run()` in a task of its own."""
        queue = self.queue
        if not (EAGER_TASKS and isinstance(queue, LiveInputQueue)):
            return False
        self._loop = loop = asyncio.get_running_loop()
        if not queue._attach_sink(loop, self.send_direct):
            return False
        self._doorbell = _Doorbell(self)
        # what was queued before the session started: on the next loop turn, as a task
        # started now would, so the supervisor reads the thread's history for its first
        # connection before any of this session's input is stored
        loop.call_soon(self._ring)
        return True

    def stop(self) -> None:
        """End on-demand pumping (the session's teardown cancels `tasks()` as well)."""
        doorbell, self._doorbell = self._doorbell, None
        if doorbell is not None:
            self.queue._forget_waiter(doorbell)
            self.queue._detach_sink(self.send_direct)
            self.turns.input_closed = True

    def tasks(self) -> list[asyncio.Task[None]]:
        """The pump's tasks still running: a drain in progress, direct sends waiting."""
        draining = self._draining
        running = [draining] if draining is not None and not draining.done() else []
        return running + self.in_flight()

    def _ring(self) -> None:
        """The queue has something (or ended): drain it, starting right here."""
        draining = self._draining
        if self._doorbell is None or (draining is not None and not draining.done()):
            return
        task = asyncio.Task(self._drain(), loop=self._loop, **_EAGER)
        if not task.done():  # it had to wait (a send, a store): it ends on its own
            self._draining = task

    async def _drain(self) -> None:
        """Take what is queued, in order, until the queue is empty (the doorbell waits
        in it again) or has ended (then input is closed, as at the end of `run()`)."""
        queue: LiveInputQueue = self.queue
        doorbell, loop = self._doorbell, self._loop
        assert doorbell is not None and loop is not None  # start() made them
        try:
            while True:
                try:
                    item = queue._take_or_wait(loop, doorbell)
                except StopAsyncIteration:
                    break
                if item is None:
                    return
                self.report_queue_drops()
                await self._handle(item)
            await self._flush_tail()
        except Exception as exc:  # a failing step ends input, not the session
            await self.reporter.report("input_error", f"reading the input queue failed: {exc}")
        finally:
            self._draining = None
        self.stop()
        self.turns.check_drain()
        self.on_closed()

    async def run(self) -> None:
        """Pump until the queue ends, in the caller's task; then input is closed and
        the reply may drain (any queue ``async for`` reads; Python 3.11).

        One coroutine for the whole loop, and nothing of the last item kept while it
        waits: this task is parked on the queue for the session's life, so what its
        frame holds is held by every live session."""
        queue = self.queue
        self._loop = loop = asyncio.get_running_loop()
        direct = (
            EAGER_TASKS
            and isinstance(queue, LiveInputQueue)
            and queue._attach_sink(loop, self.send_direct)
        )
        item: Any = None
        try:
            next_item = aiter(queue).__anext__
            while True:
                item = None  # not kept alive while waiting for the next one
                try:
                    item = await next_item()
                except StopAsyncIteration:
                    break
                self.report_queue_drops()
                await self._handle(item)
            await self._flush_tail()
        except Exception as exc:  # a broken custom queue ends input, not the session
            await self.reporter.report("input_error", f"reading the input queue failed: {exc}")
        finally:
            if direct:
                queue._detach_sink(self.send_direct)
            self.turns.input_closed = True
        self.turns.check_drain()
        self.on_closed()

    async def _handle(self, item: Any) -> None:
        """Validate, adapt and send one queued item (or report why it was dropped)."""
        if type(item) is AudioInput:
            # the path of nearly every item, without a coroutine for preparing it
            # (and no metrics note: only explicit ends of input are timed)
            try:
                audio = self.audio.adapt(item)
            except ValueError as exc:
                await self.reporter.report("invalid_audio", f"audio chunk dropped: {exc}")
                return
            if audio is not None:
                await self.send(audio)
            return
        prepared = await self.prepare(item)
        if prepared is None:
            return
        if isinstance(prepared, TextInput):
            self.turns.awaiting_reply = True
            await self.reporter.persist([Message.text("user", prepared.text, modality="text")])
        elif isinstance(prepared, ActivityEnd | AudioStreamEnd):
            self.turns.awaiting_reply = True  # the user ended a turn: a reply is due
        self.reporter.note_input(prepared)  # metrics: the end of the user's input
        await self.send(prepared)

    async def _flush_tail(self) -> None:
        """At the end of input: what the resampler still holds goes out too."""
        self.report_queue_drops()
        tail = self.audio.flush()
        if tail is not None:
            await self.send(tail)

    async def prepare(self, item: Any) -> InputItem | None:
        """Validate one queued item and adapt it to the provider; None drops it."""
        caps = self.capabilities
        report = self.reporter.report
        if isinstance(item, AudioInput):
            try:
                return self.audio.adapt(item)
            except ValueError as exc:
                await report("invalid_audio", f"audio chunk dropped: {exc}")
                return None
        if isinstance(item, ImageInput) and not caps.images:
            await report(
                "unsupported_input",
                f"image dropped: provider {self.provider_name!r} does not accept images",
            )
            return None
        if isinstance(item, ActivityStart | ActivityEnd):
            if self.realtime_config.vad.enabled or not caps.manual_activity:
                await report(
                    "unsupported_input",
                    f"{item.kind} dropped: manual activity signals need "
                    "RealtimeConfig(vad=VADConfig(enabled=False)) and a provider that "
                    "supports them",
                )
                return None
        if not hasattr(item, "kind"):
            await report("invalid_input", f"not an input item, dropped: {item!r}")
            return None
        return item  # type: ignore[no-any-return]

    def send_direct(self, item: AudioInput) -> bool:
        """Send a chunk from the producer's own task, without waking the pump's.

        The queue offers a chunk here when the pump waits on it with nothing in flight
        (`LiveInputQueue`'s sink, on the pump's loop). With a connection up and the send
        lock free, the send starts at once in an eager task: it runs to its end right
        here unless the socket makes it wait, and then finishes on its own, holding the
        lock so later input still goes out after it. False: queue it for the pump. A
        provider whose sends nearly always wait gains nothing from it: after
        `DIRECT_TRIAL` direct sends, most of which waited, the pump sends everything.
        """
        link = self.link
        sent, waited = self._direct_sent, self._direct_waited
        if (
            (sent >= DIRECT_TRIAL and 2 * waited > sent)  # this provider's sends wait
            or link.conn is None
            or self.buffer
            or not link.send_lock.try_acquire()
        ):
            return False
        try:
            prepared = self.audio.adapt(item)
        except ValueError:
            link.send_lock.release()
            return False  # the pump reports it, in order
        if prepared is None:  # the resampler holds it all back for now
            link.send_lock.release()
            return True
        task = asyncio.Task(self._send_locked(prepared), loop=self._loop, **_EAGER)
        self._direct_sent += 1
        if not task.done():  # the socket made it wait: keep it until it ends
            in_flight = self._in_flight
            if in_flight is None:
                in_flight = self._in_flight = set()
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            # a provider whose sends always wait (a scripted fake that yields per send)
            # costs a task step per eager task anyway: counted, the pump takes over again
            self._direct_waited += 1
        return True

    def in_flight(self) -> list[asyncio.Task[None]]:
        """Direct sends still waiting on the socket (the session cancels them at its end)."""
        return list(self._in_flight or ())

    async def send(self, item: InputItem) -> None:
        """Send on the current connection, or buffer for the next one."""
        lock = self.link.send_lock
        if not lock.try_acquire():  # free nearly always: no coroutine to take it
            await lock.acquire()
        await self._send_locked(item)

    async def _send_locked(self, item: InputItem) -> None:
        """`send` once the send lock is held; releases it."""
        link = self.link
        lock = link.send_lock
        try:
            conn = link.conn
            if conn is None:
                self.buffer.append(item)
                return
            try:
                await conn.send(item)
            except ValueError as exc:  # the provider refuses this item; the rest goes on
                await self.reporter.report("invalid_input", f"{item.kind} rejected: {exc}")
            except Exception as exc:
                self.buffer.append(item)
                link.note_disconnect(link.gen, as_disconnect(exc))
        finally:
            lock.release()

    async def flush_to(self, conn: ProviderSession, gen: int) -> None:
        """Send what was buffered to a new connection (call under the send lock)."""
        buffer = self.buffer
        while buffer and not self.link.disconnected(gen):
            item = buffer.peek()
            try:
                await conn.send(item)
            except Exception as exc:
                self.link.note_disconnect(gen, as_disconnect(exc))
                break
            buffer.popleft()

    def report_buffer_drops(self) -> None:
        chunks, nbytes = self.buffer.take_drops()
        if chunks:
            self.reporter.emit(
                InputDroppedEvent(
                    audio_chunks=chunks,
                    audio_bytes=nbytes,
                    reason="disconnected: more audio arrived than reconnect.buffer_seconds holds",
                )
            )

    def report_queue_drops(self) -> None:
        chunks = getattr(self.queue, "dropped_audio_chunks", 0)
        nbytes = getattr(self.queue, "dropped_audio_bytes", 0)
        seen_chunks, seen_bytes = self._queue_drops_seen
        if chunks > seen_chunks:
            self._queue_drops_seen = (chunks, nbytes)
            self.reporter.emit(
                InputDroppedEvent(
                    audio_chunks=chunks - seen_chunks,
                    audio_bytes=nbytes - seen_bytes,
                    reason="queue full: the oldest audio was dropped",
                )
            )

    def report_unsent(self) -> None:
        """Audio still buffered for a connection that never came is lost: say so."""
        self.report_buffer_drops()
        chunks = sum(1 for item in self.buffer if isinstance(item, AudioInput))
        if chunks:
            self.reporter.emit(
                InputDroppedEvent(
                    audio_chunks=chunks,
                    audio_bytes=self.buffer.audio_bytes,
                    reason="the session ended before a connection could take the buffered audio",
                )
            )


__all__ = ["InputPump"]
