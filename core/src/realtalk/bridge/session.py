"""One WebSocket connection running one live session.

Three tasks per connection: the *reader* moves client frames into the session's
``LiveInputQueue`` (checking size, rate and protocol), the *pump* moves the runtime's
events into a bounded `SendQueue`, and the *writer* moves
that queue onto the socket. The pump never waits for the client, so a slow reader costs
it old audio (counted and reported), never memory or the provider connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from starlette.websockets import WebSocket

from ..config import INPUT_SAMPLE_RATE
from ..events import AudioDeltaEvent, ErrorEvent, InterruptedEvent, event_to_json
from ..messages import ThreadInfo
from . import protocol as p
from .auth import Principal
from .limits import Frame, InputRateLimiter, LimitsConfig, SendQueue, SlowConsumer

log = logging.getLogger("realtalk.bridge")
_T = TypeVar("_T")

CLOSE_SEND_TIMEOUT = 5.0
"""Seconds to deliver the final error event and close frame to a client."""


class LiveApp(Protocol):
    """What the bridge needs from a compiled agent."""

    def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]: ...


class InputQueue(Protocol):
    def send_audio(self, data: bytes, sample_rate: int) -> None: ...
    def send_text(self, text: str) -> None: ...
    def send_image(self, data: bytes, mime_type: str = ...) -> None: ...
    def send_activity_start(self) -> None: ...
    def send_activity_end(self) -> None: ...
    def send_audio_stream_end(self) -> None: ...
    def close(self) -> None: ...


class ThreadForbidden(Exception):
    """The thread exists and belongs to someone else."""


async def claim_thread(checkpointer: Any, thread_id: str, user_id: str | None) -> None:
    """Record ``user_id`` as the owner of a new thread; refuse another user's thread.

    A thread's owner is fixed when the bridge first sees it. An existing thread is
    usable only by its owner (an unowned thread only without authentication).
    """
    config = {"thread_id": thread_id}
    claim = ThreadInfo(thread_id=thread_id, user_id=user_id)
    ensure = getattr(checkpointer, "aensure_thread", None)
    if ensure is not None:
        # Atomic create-if-absent: two users racing for one new thread id get one owner.
        thread = await ensure(config, claim)
    else:
        thread = await checkpointer.aget_thread(config)
        if thread is None:
            await checkpointer.aput_thread(config, claim)
            return
    if thread.user_id != user_id:
        raise ThreadForbidden(f"thread {thread_id!r} belongs to another user")


class _Closed(Exception):
    """The session must end with this close code and reason."""

    def __init__(self, code: int, reason: str, error: tuple[str, str] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.error = error


def _idle(wait: float) -> _Closed:
    return _Closed(p.CLOSE_IDLE, "idle timeout", ("idle_timeout", f"no frame for {wait:g} seconds"))


class LiveSession:
    """Drives one accepted WebSocket; ``run`` returns when the connection is finished."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        app: LiveApp,
        principal: Principal,
        limits: LimitsConfig,
        allowed_overrides: frozenset[str],
        queue_factory: Callable[[], InputQueue],
        checkpointer: Any = None,
        clock: Callable[[], float] | None = None,
        check_overrides: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.ws = websocket
        self.check_overrides = check_overrides
        """Raises ProtocolError for overrides the app cannot serve (e.g. another
        provider's model); a refused first frame may be sent again."""
        self.app = app
        self.principal = principal
        self.limits = limits
        self.allowed = allowed_overrides
        self.queue_factory = queue_factory
        self.checkpointer = checkpointer
        self.rate = InputRateLimiter(limits, clock) if clock else InputRateLimiter(limits)
        self.sendq = SendQueue(limits.send_queue_frames)
        self.thread_id: str | None = None
        self.queue: InputQueue | None = None
        self.end_code = p.CLOSE_NORMAL
        self.end_reason = "session ended"
        self._client_gone = False
        self._closed = False
        self._abort: asyncio.Future[_Closed] | None = None
        self._finished: asyncio.Future[None] | None = None
        self._input_rate = INPUT_SAMPLE_RATE
        self._loop_time: Callable[[], float] = time.monotonic  # the loop's, once running
        self._last_frame = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        extensions = (getattr(websocket, "scope", None) or {}).get("extensions") or {}
        self._direct: Any = extensions.get(p.DIRECT_IO)  # realtalk api's shortcut, or None
        self._writer_busy = False  # the writer holds a frame it has not written yet
        self._out_rate: int | None = None  # of the audio frames, as last announced

    # ----------------------------------------------------------------- public

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_time = loop.time
        self._abort = loop.create_future()
        self._finished = loop.create_future()
        try:
            request = await self._race(self._first_frame())
            assert request is not None  # the event stream has not started yet
            self._input_rate = request.input_sample_rate
            self.thread_id = request.thread_id or uuid.uuid4().hex
            if self.checkpointer is not None:
                try:
                    await claim_thread(self.checkpointer, self.thread_id, self.principal.user_id)
                except ThreadForbidden as exc:
                    raise _Closed(
                        p.CLOSE_POLICY,
                        "thread belongs to another user",
                        ("thread_forbidden", str(exc)),
                    ) from None
                except Exception as exc:
                    log.exception("thread %s: checkpointer failed", self.thread_id)
                    raise _Closed(
                        p.CLOSE_INTERNAL,
                        "checkpointer unavailable",
                        ("checkpointer_error", f"threads are unavailable ({type(exc).__name__})"),
                    ) from None
            await self._serve(request)
        except _Closed as closed:
            await self._close_with(closed)
        finally:
            if self.queue is not None:
                self.queue.close()
            self.sendq.close()

    def shutdown(self) -> None:
        """Server shutdown: end input now (the reply in flight finishes), then close 1012."""
        self.end_code, self.end_reason = p.CLOSE_RESTART, "server shutting down"
        if self.queue is not None:
            self.queue.close()
        else:
            self.abort(p.CLOSE_RESTART, "server shutting down")

    def abort(self, code: int, reason: str, error: tuple[str, str] | None = None) -> None:
        """End the session at once with ``code`` (e.g. after the shutdown grace)."""
        if self._abort is not None and not self._abort.done():
            self._abort.set_result(_Closed(code, reason, error))

    @property
    def dropped_audio_chunks(self) -> int:
        return self.sendq.dropped_chunks

    # ----------------------------------------------------------------- phases

    async def _race(self, work: Coroutine[Any, Any, _T]) -> _T | None:
        """Run ``work`` until it ends; raise the abort, or return None once the event
        stream finished, whichever comes first (one task per phase, not per frame)."""
        assert self._abort is not None and self._finished is not None
        task = asyncio.ensure_future(work)
        waiters: set[asyncio.Future[Any]] = {task, self._abort, self._finished}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        finished = task if task.done() and not task.cancelled() else None
        del task, waiters  # (see below)
        if finished is not None:
            try:
                return finished.result()
            finally:
                # what it raised keeps this frame in its traceback, and the task keeps
                # what it raised: without this, a reference cycle that holds the whole
                # ended session until the collector runs
                finished = None
        if self._abort.done():
            raise self._abort.result()
        return None

    async def _receive(self, wait: float) -> dict[str, Any]:
        """Next ASGI message; _Closed when the client left or sent nothing for ``wait`` s."""
        try:
            async with asyncio.timeout(wait):
                return await self._next_message()
        except TimeoutError:
            raise _idle(wait) from None

    async def _next_message(self) -> dict[str, Any]:
        """Next ASGI message, checked; _Closed when the client left (no timeout here)."""
        message: dict[str, Any] = dict(await self.ws.receive())
        self._last_frame = self._loop_time()
        if message["type"] == "websocket.disconnect":
            self._client_gone = True
            raise _Closed(int(message.get("code") or 1000), "client disconnected")
        self._check_size_and_rate(message)
        return message

    def _check_size_and_rate(self, message: dict[str, Any]) -> None:
        data = message.get("bytes")
        text = message.get("text")
        size = len(data) if data is not None else len(text.encode()) if text else 0
        if size > self.limits.max_frame_bytes:
            why = p.frame_too_big_message(size, self.limits.max_frame_bytes)
            raise _Closed(p.CLOSE_TOO_BIG, "frame too big", ("frame_too_big", why))
        if not self.rate.allow(size):
            raise _Closed(
                p.CLOSE_RATE,
                "input rate exceeded",
                (
                    "rate_limited",
                    "input rate exceeded (limits.max_input_bytes_per_second / "
                    "max_frames_per_second)",
                ),
            )

    async def _first_frame(self) -> p.SessionRequest:
        while True:
            message = await self._receive(self.limits.first_frame_timeout)
            text = message.get("text")
            if text is None:
                await self._send_now(
                    p.error_frame(
                        "bad_frame",
                        "the first frame must be a JSON object of session overrides "
                        "(send {} for the defaults), not audio",
                    )
                )
                continue
            try:
                request = p.parse_session_request(text, self.allowed)
                if self.check_overrides is not None:
                    self.check_overrides(request.overrides)
                return request
            except p.ProtocolError as exc:
                await self._send_now(event_to_json(exc.to_event()))

    async def _serve(self, request: p.SessionRequest) -> None:
        queue = self.queue = self.queue_factory()
        config: dict[str, Any] = {"thread_id": self.thread_id, **request.overrides}
        if self.principal.user_id is not None:
            config["user_id"] = self.principal.user_id
        arealtime: Any = self.app.arealtime
        if _takes_event_sink(self.app):  # audio written from the session's own task
            events = arealtime(queue, config, event_sink=self._take_event)
        else:
            events = arealtime(queue, config)
        pump = asyncio.create_task(self._pump(events), name="realtalk-bridge-pump")
        writer = asyncio.create_task(self._writer(), name="realtalk-bridge-writer")
        try:
            await self._race(self._read_loop(queue))
        except _Closed:
            queue.close()
            if not self._client_gone:  # protocol abuse or a forced end: stop at once
                await _cancel(pump, writer)
                await _aclose(events)
                raise
            # The client left: let the reply in flight finish so its transcript persists
            # (nothing is sent any more, so nothing may wait for room in the send queue).
            await _cancel(writer)
            self.sendq.close()
            await self._drain(pump)
            await _aclose(events)
            return
        queue.close()  # close frame, or the event stream ended
        await self._drain(pump)
        await _aclose(events)
        self.sendq.close()
        try:
            await asyncio.wait_for(writer, self.limits.drain_timeout)
        except TimeoutError:
            pass
        if self._abort is not None and self._abort.done():
            raise self._abort.result()
        raise _Closed(self.end_code, self.end_reason)

    async def _drain(self, pump: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(pump), self.limits.drain_timeout)
        except TimeoutError:
            await _cancel(pump)

    # ----------------------------------------------------------------- tasks

    def _watch_idle(self) -> None:
        """The idle timeout of the read loop: one timer per session, re-armed when it
        fires early, instead of a timeout scheduled and cancelled around every frame."""
        loop = asyncio.get_running_loop()
        self._last_frame = loop.time()
        self._idle_timer = loop.call_at(
            self._last_frame + self.limits.idle_timeout, self._check_idle
        )

    def _check_idle(self) -> None:
        # a method, not a closure that re-arms itself: that closure would hold itself
        # (a reference cycle keeping the ended session for the collector)
        wait = self.limits.idle_timeout
        deadline = self._last_frame + wait
        loop = asyncio.get_running_loop()
        if loop.time() >= deadline:
            closed = _idle(wait)
            self.abort(closed.code, closed.reason, closed.error)
        else:
            self._idle_timer = loop.call_at(deadline, self._check_idle)

    async def _read_loop(self, queue: InputQueue) -> None:
        self._watch_idle()
        try:
            await self._read_frames(queue)
        finally:
            if self._idle_timer is not None:
                self._idle_timer.cancel()  # (drops its callback, this session's method)
                self._idle_timer = None

    async def _read_frames(self, queue: InputQueue) -> None:
        direct = self._direct
        if direct is not None:
            direct.take_binary(self._take_audio)
        try:
            await self._read_messages(queue)
        finally:
            if direct is not None:
                direct.take_binary(None)

    def _take_audio(self, data: Any) -> bool:
        """An audio frame straight from the protocol's callback (`DIRECT_IO`), checked
        as `_next_message` and `_read_messages` check it; False sends anything they would
        refuse or report the ASGI way, where the same checks refuse or report it."""
        size = len(data)
        if (
            not size
            or size % 2
            or size > self.limits.max_frame_bytes
            or self._client_gone
            or not self.rate.allow(size)
        ):
            return False
        assert self.queue is not None
        try:
            self.queue.send_audio(data, self._input_rate)
        except ValueError:
            return False
        self._last_frame = self._loop_time()
        return True

    async def _read_messages(self, queue: InputQueue) -> None:
        while True:
            message = await self._next_message()
            data = message.get("bytes")
            try:
                if data is not None:
                    p.check_audio_frame(data)
                    try:
                        queue.send_audio(data, self._input_rate)
                    except ValueError as exc:
                        raise p.ProtocolError("bad_audio", str(exc)) from None
                    continue
                frame = p.parse_client_frame(message.get("text") or "")
                if isinstance(frame, p.TextFrame):
                    queue.send_text(frame.text)
                elif isinstance(frame, p.ImageFrame):
                    try:
                        queue.send_image(frame.data, frame.mime_type)
                    except ValueError as exc:
                        raise p.ProtocolError("bad_field", str(exc)) from None
                elif frame.kind == "close":
                    return
                elif frame.kind == "activity_start":
                    queue.send_activity_start()
                elif frame.kind == "activity_end":
                    queue.send_activity_end()
                else:
                    queue.send_audio_stream_end()
            except p.ProtocolError as exc:
                self.sendq.put(event_to_json(exc.to_event()))
                if self.sendq.events_waiting >= self.sendq.max_frames:
                    # Bad frames sent faster than their errors are read: stop here.
                    raise _Closed(
                        p.CLOSE_SLOW_CONSUMER,
                        "client not reading",
                        ("slow_consumer", "error events piled up unread"),
                    ) from None

    def _take_event(self, event: Any) -> bool:
        """The runtime's event sink: audio at the announced rate, written at once when
        `_write_now` can; anything else comes through the pump."""
        return (
            type(event) is AudioDeltaEvent
            and event.sample_rate == self._out_rate
            and self._write_now(event.data)
        )

    async def _pump(self, events: AsyncIterator[Any]) -> None:
        try:
            async for event in events:
                if isinstance(event, AudioDeltaEvent):
                    if len(self.sendq) >= self.sendq.max_frames:
                        await asyncio.sleep(0)  # a burst, not a slow reader: let the writer run
                    if event.sample_rate != self._out_rate:
                        self._out_rate = event.sample_rate
                        self.sendq.put(p.audio_format_frame(event.sample_rate))
                    if not self._write_now(event.data):
                        self.sendq.put(event.data)
                    continue
                if isinstance(event, InterruptedEvent):
                    self.sendq.flush_audio()
                elif isinstance(event, ErrorEvent) and event.fatal:
                    self._failed(event.code)
                frame = event_to_json(event)
                if not self._write_now(frame):
                    self.sendq.put(frame)
                    await self._backpressure()
        except SlowConsumer as exc:
            self.abort(p.CLOSE_SLOW_CONSUMER, "client not reading", ("slow_consumer", str(exc)))
        except (ValueError, TypeError) as exc:  # refused arguments (e.g. an unknown model)
            log.warning("session %s: refused: %s", self.thread_id, exc)
            self.end_code, self.end_reason = p.CLOSE_INTERNAL, "session refused"
            self.sendq.put(p.error_frame("session_refused", str(exc), fatal=True))
        except Exception as exc:  # the runtime failed: tell the client, end the session
            log.exception("session %s: event stream failed", self.thread_id)
            self.end_code, self.end_reason = p.CLOSE_INTERNAL, "internal error"
            self.sendq.put(
                p.error_frame(
                    "internal_error", f"the session failed: {type(exc).__name__}", fatal=True
                )
            )
        finally:
            self.sendq.close()
            if self._finished is not None and not self._finished.done():
                self._finished.set_result(None)

    def _failed(self, code: str) -> None:
        """A fatal error event ends the session: close 1011 (documented), not 1000, unless
        a server shutdown already chose 1012 (the client should reconnect then)."""
        if self.end_code == p.CLOSE_NORMAL:
            self.end_code, self.end_reason = p.CLOSE_INTERNAL, f"session failed: {code}"[:120]

    async def _backpressure(self) -> None:
        """Events are never dropped: wait for a reader that is behind, up to a limit."""
        if self.sendq.events_waiting < self.sendq.max_frames:
            return
        try:
            async with asyncio.timeout(self.limits.slow_consumer_timeout):
                await self.sendq.wait_for_room()
        except TimeoutError:
            raise SlowConsumer(
                f"client stopped reading: {self.sendq.events_waiting} events waited more than "
                f"{self.limits.slow_consumer_timeout:g} s"
            ) from None

    def _write_now(self, frame: Frame) -> bool:
        """Write a frame at once (`DIRECT_IO`), from the pump or the runtime's receive
        task (`_take_event`), when nothing is queued or held before it (a drop report
        included: the writer takes it with the frame after the drop) and the socket has
        room: no wake-up of the writer task."""
        direct = self._direct
        return (
            direct is not None
            and not self._writer_busy
            and not self.sendq
            and not self._closed
            and not self._client_gone
            and direct.write(frame)
        )

    async def _writer(self) -> None:
        while True:
            frame = await self.sendq.get()
            self._writer_busy = True
            try:
                if not await self._write(frame):
                    return
            finally:
                self._writer_busy = False

    async def _write(self, frame: Frame | None) -> bool:
        """One frame from the queue, after the report of audio dropped before it."""
        report = self.sendq.take_drop_report()
        if report is not None:
            log.info(
                "session %s: slow reader, dropped %d audio frames (%d bytes)",
                self.thread_id,
                report.chunks,
                report.nbytes,
            )
            await self._send_now(
                p.error_frame(
                    "output_audio_dropped",
                    f"slow reader: dropped {report.chunks} audio frames ({report.nbytes} "
                    f"bytes); {report.total_chunks} frames ({report.total_bytes} bytes) "
                    "in this session",
                )
            )
        return frame is not None and await self._send_now(frame)

    # ----------------------------------------------------------------- socket

    async def _send_now(self, frame: str | bytes, *, urgent: bool = False) -> bool:
        if self._client_gone or self._closed:
            return False
        try:
            if urgent:
                await self.ws.send({"type": "websocket.send", "text": frame, p.URGENT_SEND: True})
            elif isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_text(frame)
        except Exception:
            self._client_gone = True
            return False
        return True

    def _urgent_sends(self) -> bool:
        """True when the server writes final frames to a client that stopped reading."""
        scope = getattr(self.ws, "scope", None) or {}
        return p.URGENT_SEND in (scope.get("extensions") or {})

    async def _close_with(self, closed: _Closed) -> None:
        """Send the reason and the close frame. Under ``realtalk api`` both are written at
        once, even to a client that stopped reading (its unsent backlog is dropped; it gets
        them when it reads again); elsewhere the wait is bounded so such a client cannot
        hold the handler."""
        urgent = self._urgent_sends()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_SEND_TIMEOUT):
                if closed.error is not None:
                    await self._send_now(p.error_frame(*closed.error, fatal=True), urgent=urgent)
                if self._client_gone or self._closed:
                    return
                self._closed = True
                with contextlib.suppress(Exception):
                    if urgent:
                        close = {"code": closed.code, "reason": closed.reason, p.URGENT_SEND: True}
                        await self.ws.send({"type": "websocket.close", **close})
                    else:
                        await self.ws.close(closed.code, closed.reason)


def _takes_event_sink(app: Any) -> bool:
    """Whether ``app.arealtime`` takes ``event_sink`` (`RealtimeApp` does; a custom app
    need not)."""
    try:
        return "event_sink" in inspect.signature(app.arealtime).parameters
    except (TypeError, ValueError):  # no signature to read
        return False


async def _cancel(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _aclose(events: AsyncIterator[Any]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


__all__ = ["InputQueue", "LiveApp", "LiveSession", "ThreadForbidden", "claim_thread"]
