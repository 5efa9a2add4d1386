"""One live session: the per-call object that drives a provider end to end.

Everything that belongs to one conversation lives here (connection, resumption handle,
transcripts, running tools, buffered input), never on the compiled app, so one app
serves any number of concurrent sessions. Three kinds of task cooperate:

* the **input pump** moves items from the user's queue to the provider, resampling audio
  to the provider's rate and buffering (bounded) while no connection is up;
* the **receive loop** (one per connection) turns provider events into the user's event
  stream, closing transcripts, persisting messages and starting tools;
* **tool tasks** run calls concurrently and report results when they finish.

The supervisor (:meth:`Session._supervise`) owns the connection: it connects, waits for
a reason to stop serving it (a drop, a planned rotation, the end of the session) and
reconnects following ``RealtimeConfig.reconnect``. Section 3 of ARCHITECTURE.md is the
contract; the docs (``docs/sessions.md``) explain it for users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from ..config import RealtimeConfig
from ..events import (
    AudioDeltaEvent,
    ErrorEvent,
    GoAwayEvent,
    InputDroppedEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    ReconnectedEvent,
    SessionEndedEvent,
    SessionStartedEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnCompleteEvent,
)
from ..inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    InputItem,
    TextInput,
)
from ..messages import Message, ToolCallBlock, ToolResultBlock
from ..provider import (
    DisconnectKind,
    Provider,
    ProviderDisconnected,
    ProviderError,
    ProviderSession,
    SessionSetup,
)
from ..tools import ToolSpec
from .callbacks import CallbackManager, fire
from .clock import Clock
from .executor import ToolExecutor
from .input import AudioAdapter, InputBuffer
from .reconnect import ReconnectPolicy
from .store import ThreadStore
from .tool_runner import ToolOutcome, ToolRunner, describe
from .transcripts import TranscriptTracker

log = logging.getLogger("realtalk.runtime.session")

ROTATION_MARGIN = 1.0
"""Seconds before a go_away deadline at which the session rotates even mid-turn."""

_RUNTIME_EVENTS = (
    SessionStartedEvent,
    SessionEndedEvent,
    ReconnectedEvent,
    ToolResultEvent,
    InputDroppedEvent,
)
"""Events only the runtime emits; a provider emitting them is ignored."""

_MODEL_OUTPUT = (AudioDeltaEvent, TextDeltaEvent, OutputTranscriptEvent, ToolCallEvent)

_END = object()


class _Fatal(Exception):
    """Ends the session with a fatal error event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Session:
    """The state and tasks of one ``arealtime`` call."""

    def __init__(
        self,
        *,
        queue: Any,
        thread_id: str,
        config: dict[str, Any],
        realtime_config: RealtimeConfig,
        provider: Provider,
        tools: Sequence[ToolSpec],
        system_instruction: str | None,
        instruction_factory: Callable[[], str | None] | None = None,
        store: ThreadStore,
        callbacks: CallbackManager,
        clock: Clock,
        rng: Callable[[], float] | None,
        shutdown_timeout: float,
        tool_timeout: float | None,
        user_id: str | None = None,
        tool_executor: ToolExecutor | None = None,
        state: Any = None,
    ) -> None:
        self.queue = queue
        self.thread_id = thread_id
        self.config = config
        self.realtime_config = realtime_config
        self.provider = provider
        self.tools = list(tools)
        self.system_instruction = system_instruction
        self._instruction_factory = instruction_factory
        self._connects = 0
        self.store = store
        self.callbacks = callbacks
        self.clock = clock
        self.shutdown_timeout = shutdown_timeout
        self.user_id = user_id
        self.capabilities = provider.capabilities
        self.policy = ReconnectPolicy(realtime_config.reconnect, clock=clock, rng=rng)
        self.runner = ToolRunner(
            tools,
            clock=clock,
            default_timeout=tool_timeout,
            on_settled=self._check_drain,
            executor=tool_executor,
            thread_id=thread_id,
            config=public_config(config),
            state=state,
        )
        self.tracker = TranscriptTracker()
        self.resumption_handle: str | None = None

        # the user's event stream: a plain deque the consumer drains, woken (one future)
        # only when it found the deque empty; cheaper per event than an asyncio.Queue
        self._out: deque[Any] = deque()
        self._out_waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._recv_task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._cancel_requested = False

        self._conn: ProviderSession | None = None
        self._gen = 0
        self._send_lock = asyncio.Lock()
        self._signal = asyncio.Event()
        self._finish_reason: str | None = None
        self._disconnect: tuple[int, ProviderDisconnected] | None = None
        self._rotate_gen: int | None = None
        self._go_away_gen: int | None = None
        self._fresh_failures = 0

        self._buffer = InputBuffer(
            realtime_config.reconnect.buffer_seconds, self.capabilities.input_sample_rate
        )
        self._audio = AudioAdapter(self.capabilities.input_sample_rate)
        self._queue_drops_seen = (0, 0)

        self._input_closed = False
        self._turn_active = False
        self._awaiting_reply = False
        self._delivered: set[str] = set()
        self._consecutive_failures = 0
        self._call_names: dict[str, str] = {}

    # ------------------------------------------------------------------ public surface

    async def events(self) -> AsyncGenerator[RealtimeEvent, None]:
        """Run the session and yield its events; closing the iterator ends the session."""
        self.start()
        try:
            out = self._out
            while True:
                if not out:
                    await self.wait_output()
                    continue
                item = out.popleft()
                if item is _END:
                    break
                yield item
        finally:
            await self.aclose()

    def start(self) -> None:
        """Start the session's task (once); its events then collect for :meth:`next_ready`."""
        if self._task is not None:
            raise RuntimeError("a session's events can be iterated only once")
        self._task = asyncio.create_task(self._run(), name=f"realtalk-session-{self.thread_id}")

    def next_ready(self) -> RealtimeEvent | None:
        """The next event already emitted, or None when none is waiting.

        Raises StopAsyncIteration once the session has ended and every event was taken."""
        out = self._out
        if not out:
            return None
        item = out[0]
        if item is _END:
            raise StopAsyncIteration
        out.popleft()
        return item  # type: ignore[no-any-return]

    async def wait_output(self) -> None:
        """Wait until an event (or the end of the session) is ready to be taken."""
        if self._out:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._out_waiter = waiter
        try:
            await waiter
        finally:
            if self._out_waiter is waiter:
                self._out_waiter = None

    async def aclose(self) -> None:
        """Stop the session now (closing the connection) and wait until it has ended."""
        task = self._task
        if task is None:
            return
        if not task.done() and not self._cancel_requested:
            # cancel once: a second cancel would interrupt the teardown itself
            self._cancel_requested = True
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    # ------------------------------------------------------------------ main flow

    async def _run(self) -> None:
        reason = "closed"
        try:
            self._emit(SessionStartedEvent(thread_id=self.thread_id))
            await self._fire("session_start", config=public_config(self.config))
            await self._prepare()
            self._pump_task = asyncio.create_task(self._pump(), name="realtalk-input-pump")
            reason = await self._supervise()
        except _Fatal as fatal:
            reason = "error"
            await self._report(fatal.code, fatal.message, fatal=True)
        except asyncio.CancelledError:
            reason = "cancelled"
        except Exception as exc:  # a bug of ours must still end the session cleanly
            log.exception("session %s failed", self.thread_id)
            reason = "error"
            await self._report("internal_error", f"{type(exc).__name__}: {exc}", fatal=True)
        finally:
            try:
                await self._teardown()
            finally:
                self._emit(SessionEndedEvent(reason=reason))
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self._fire("session_end", reason=reason)
                self._push(_END)

    async def _prepare(self) -> None:
        """Create the thread record and load the handle kept from an earlier session."""
        try:
            await self.store.ensure_thread(self.user_id)
            if self._resumption_enabled:
                self.resumption_handle = await self.store.load_handle()
        except Exception as exc:
            raise _Fatal(
                "checkpointer_error", f"could not load thread {self.thread_id!r}: {exc}"
            ) from exc

    @property
    def _resumption_enabled(self) -> bool:
        return self.realtime_config.session_resumption and self.capabilities.resumption

    async def _supervise(self) -> str:
        conn = await self._establish(initial=True, kind=None)
        if conn is None:
            return self._finish_reason or "closed"
        while True:
            gen = self._gen
            outcome = await self._serve(gen)
            await self._detach(conn)
            if outcome == "finish":
                return self._finish_reason or "closed"
            # What was heard on the lost connection is kept as it was heard, before any
            # reconnect (so a fresh connection is reseeded with it): the next connection's
            # transcripts cannot be joined to it (its provider may continue the utterance
            # or start it over, and only knows its own fragments).
            await self._apply(self.tracker.finish_all(interrupted=True))
            if outcome == "rotate":
                conn = await self._establish(initial=False, kind=DisconnectKind.ROTATION)
            else:
                assert self._disconnect is not None
                _, exc = self._disconnect
                self._disconnect = None
                conn = await self._after_disconnect(exc)
            if conn is None:
                return self._finish_reason or "closed"

    async def _serve(self, gen: int) -> str:
        """Wait until this connection must stop being served; returns why."""
        while True:
            if self._finish_reason is not None:
                return "finish"
            if self._disconnect is not None and self._disconnect[0] == gen:
                return "disconnected"
            if self._rotate_gen == gen:
                return "rotate"
            self._signal.clear()
            await self._signal.wait()

    async def _after_disconnect(self, exc: ProviderDisconnected) -> ProviderSession | None:
        kind = exc.kind
        log.info("session %s: connection ended: %s", self.thread_id, exc)
        if kind is DisconnectKind.CLOSED:
            if self._input_closed and self._idle():
                return None
            # the server ended a live conversation "normally": treat it as a hiccup
            kind = DisconnectKind.TRANSIENT
        if kind is DisconnectKind.FATAL:
            raise _Fatal(
                "connection_closed",
                f"the provider closed the connection and reconnecting cannot help "
                f"(code={exc.code}): {exc.reason or 'no reason given'}",
            )
        if kind is DisconnectKind.REJECTED_HANDLE:
            await self._forget_handle()
            kind = DisconnectKind.ROTATION  # reconnect at once, fresh
        return await self._establish(initial=False, kind=kind)

    async def _establish(
        self, *, initial: bool, kind: DisconnectKind | None
    ) -> ProviderSession | None:
        """Connect (retrying per policy); None when the session finished meanwhile."""
        immediate = kind is not DisconnectKind.TRANSIENT
        if kind is DisconnectKind.TRANSIENT:
            self._consecutive_failures += 1
        attempt = 0
        while True:
            attempt += 1
            if not immediate:
                failures = max(1, self._consecutive_failures)
                if not self.policy.allows(failures):
                    raise _Fatal(
                        "reconnect_failed",
                        f"could not reconnect after {failures - 1} attempt(s)"
                        if self.policy.max_attempts
                        else "the connection dropped and reconnecting is disabled "
                        "(reconnect.enabled=False or max_attempts=0)",
                    )
                if not await self._wait_or_finish(self.policy.delay(failures)):
                    return None
            elif self._finish_reason is not None and not initial:
                return None
            immediate = False
            try:
                conn, resumed = await self._connect_once()
            except ProviderDisconnected as exc:
                if exc.kind is DisconnectKind.FATAL:
                    raise _Fatal(
                        "connect_failed",
                        f"the provider refused the connection (code={exc.code}): "
                        f"{exc.reason or 'no reason given'}",
                    ) from None
                if exc.kind is DisconnectKind.REJECTED_HANDLE and attempt == 1:
                    immediate = True  # the handle was forgotten: retry fresh at once
                    continue
                self._consecutive_failures += 1
                log.info("session %s: connect attempt failed: %s", self.thread_id, exc)
                continue
            except ProviderError as exc:
                raise _Fatal("provider_error", str(exc)) from None
            except Exception as exc:  # e.g. a network error the provider did not classify
                self._consecutive_failures += 1
                log.info("session %s: connect attempt failed: %r", self.thread_id, exc)
                continue
            await self._attach(conn, resumed=resumed, initial=initial)
            if not initial:
                self._emit(ReconnectedEvent(attempt=attempt, resumed=resumed))
                await self._fire("reconnect", attempt=attempt, resumed=resumed)
            self._check_drain()
            return conn

    async def _connect_once(self) -> tuple[ProviderSession, bool]:
        """One connect: resume with the handle if there is one, else fresh and reseeded."""
        handle = self.resumption_handle if self._resumption_enabled else None
        history: list[Message] = []
        if handle is None:
            try:
                history = await self.store.history()
            except Exception as exc:
                await self._report("checkpointer_error", f"could not load history: {exc}")
        self._connects += 1
        if self._connects > 1 and self._instruction_factory is not None:
            # memory callables run at each connect: later connections see fresh facts
            try:
                self.system_instruction = self._instruction_factory()
            except Exception as exc:
                await self._report("prompt_error", f"kept the previous system instruction: {exc}")
        setup = SessionSetup(
            config=self.realtime_config,
            system_instruction=self.system_instruction,
            tools=tuple(self.tools),
            resumption_handle=handle,
            history=tuple(history),
            thread_id=self.thread_id,
        )
        try:
            conn = await self.provider.connect(setup)
        except ProviderDisconnected as exc:
            if exc.kind is DisconnectKind.REJECTED_HANDLE and handle is not None:
                log.info("session %s: resumption handle rejected", self.thread_id)
                await self._forget_handle()
            raise
        return conn, handle is not None

    async def _forget_handle(self) -> None:
        self.resumption_handle = None
        try:
            await self.store.save_handle(None)
        except Exception as exc:
            await self._report("checkpointer_error", f"could not clear the stale handle: {exc}")

    async def _attach(self, conn: ProviderSession, *, resumed: bool, initial: bool) -> None:
        """Make ``conn`` current: redeliver pending tool results, flush buffered input."""
        if not resumed and not initial:
            # a fresh connection does not continue the turn that was in flight
            self._turn_active = False
            self._awaiting_reply = self._buffer.ends_a_turn()
        async with self._send_lock:
            self._gen += 1
            gen = self._gen
            self._rotate_gen = None
            self._go_away_gen = None
            try:
                pending = await self.store.ledger_undelivered()
            except Exception as exc:
                pending = []
                await self._report("checkpointer_error", f"could not read the tool ledger: {exc}")
            for entry in pending:
                if entry.call_id in self._delivered:
                    continue
                if resumed:
                    self._awaiting_reply = True
                    try:
                        await conn.send_tool_result(
                            entry.call_id, entry.name, entry.result, entry.error
                        )
                    except Exception as exc:
                        self._note_disconnect(gen, _as_disconnect(exc))
                        break
                # a fresh connection was reseeded with the result as history instead
                self._delivered.add(entry.call_id)
                await self._ledger_delivered(entry.call_id)
            while self._buffer and not self._disconnected(gen):
                item = self._buffer.peek()
                try:
                    await conn.send(item)
                except Exception as exc:
                    self._note_disconnect(gen, _as_disconnect(exc))
                    break
                self._buffer.popleft()
            self._conn = conn
        self._report_buffer_drops()
        self._recv_task = asyncio.create_task(
            self._receive(conn, gen), name=f"realtalk-receive-{gen}"
        )

    async def _detach(self, conn: ProviderSession) -> None:
        """Stop using ``conn``: input buffers from now on; the connection is closed."""
        async with self._send_lock:
            if self._conn is conn:
                self._conn = None
        recv, self._recv_task = self._recv_task, None
        if recv is not None and recv is not asyncio.current_task():
            recv.cancel()
            await asyncio.gather(recv, return_exceptions=True)
        await _close(conn)

    def _disconnected(self, gen: int) -> bool:
        return self._disconnect is not None and self._disconnect[0] == gen

    def _note_disconnect(self, gen: int, exc: ProviderDisconnected) -> None:
        if gen == self._gen and self._disconnect is None:
            self._disconnect = (gen, exc)
            self._signal.set()

    def _request_finish(self, reason: str) -> None:
        if self._finish_reason is None:
            self._finish_reason = reason
            self._signal.set()

    async def _wait_or_finish(self, seconds: float) -> bool:
        """Sleep ``seconds`` on the clock; False if the session finished meanwhile."""
        if self._finish_reason is not None:
            return False
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            while not sleeper.done():
                self._signal.clear()
                waiter = asyncio.ensure_future(self._signal.wait())
                try:
                    await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    await asyncio.gather(waiter, return_exceptions=True)
                if self._finish_reason is not None:
                    return False
            return True
        finally:
            if not sleeper.done():
                sleeper.cancel()
            await asyncio.gather(sleeper, return_exceptions=True)

    async def _teardown(self) -> None:
        conn, self._conn = self._conn, None
        tasks = [t for t in (self._pump_task, self._recv_task) if t is not None]
        tasks += list(self._timers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.runner.aclose()
        if conn is not None:
            await _close(conn)
        await self._apply(self.tracker.finish_all(interrupted=True))
        self._report_unsent_input()

    def _report_unsent_input(self) -> None:
        """Audio still buffered for a connection that never came is lost: say so."""
        self._report_buffer_drops()
        chunks = sum(1 for item in self._buffer if isinstance(item, AudioInput))
        if chunks:
            self._emit(
                InputDroppedEvent(
                    audio_chunks=chunks,
                    audio_bytes=self._buffer.audio_bytes,
                    reason="the session ended before a connection could take the buffered audio",
                )
            )

    # ------------------------------------------------------------------ input pump

    async def _pump(self) -> None:
        try:
            await self._pump_items()
        except Exception as exc:  # a broken custom queue ends input, not the session
            await self._report("input_error", f"reading the input queue failed: {exc}")
        finally:
            self._input_closed = True
        self._check_drain()
        if self._finish_reason is None:  # a reply is in flight: drain it, within bounds
            self._start_timer(self._shutdown_timer())

    async def _pump_items(self) -> None:
        async for item in self.queue:
            self._report_queue_drops()
            prepared = await self._prepare_input(item)
            if prepared is None:
                continue
            if isinstance(prepared, TextInput):
                self._awaiting_reply = True
                await self._persist([Message.text("user", prepared.text, modality="text")])
            elif isinstance(prepared, ActivityEnd | AudioStreamEnd):
                self._awaiting_reply = True  # the user ended a turn: a reply is due
            await self._send_input(prepared)
        self._report_queue_drops()
        tail = self._audio.flush()
        if tail is not None:
            await self._send_input(tail)

    async def _prepare_input(self, item: Any) -> InputItem | None:
        """Validate one queued item and adapt it to the provider; None drops it."""
        caps = self.capabilities
        if isinstance(item, AudioInput):
            try:
                return self._audio.adapt(item)
            except ValueError as exc:
                await self._report("invalid_audio", f"audio chunk dropped: {exc}")
                return None
        if isinstance(item, ImageInput) and not caps.images:
            await self._report(
                "unsupported_input",
                f"image dropped: provider {self.provider.name!r} does not accept images",
            )
            return None
        if isinstance(item, ActivityStart | ActivityEnd):
            if self.realtime_config.vad.enabled or not caps.manual_activity:
                await self._report(
                    "unsupported_input",
                    f"{item.kind} dropped: manual activity signals need "
                    "RealtimeConfig(vad=VADConfig(enabled=False)) and a provider that "
                    "supports them",
                )
                return None
        if not hasattr(item, "kind"):
            await self._report("invalid_input", f"not an input item, dropped: {item!r}")
            return None
        return item  # type: ignore[no-any-return]

    async def _send_input(self, item: InputItem) -> None:
        async with self._send_lock:
            conn = self._conn
            if conn is None:
                self._buffer.append(item)
                return
            try:
                await conn.send(item)
            except ValueError as exc:  # the provider refuses this item; the rest goes on
                await self._report("invalid_input", f"{item.kind} rejected: {exc}")
            except Exception as exc:
                self._buffer.append(item)
                self._note_disconnect(self._gen, _as_disconnect(exc))

    def _report_buffer_drops(self) -> None:
        chunks, nbytes = self._buffer.take_drops()
        if chunks:
            self._emit(
                InputDroppedEvent(
                    audio_chunks=chunks,
                    audio_bytes=nbytes,
                    reason="disconnected: more audio arrived than reconnect.buffer_seconds holds",
                )
            )

    def _report_queue_drops(self) -> None:
        chunks = getattr(self.queue, "dropped_audio_chunks", 0)
        nbytes = getattr(self.queue, "dropped_audio_bytes", 0)
        seen_chunks, seen_bytes = self._queue_drops_seen
        if chunks > seen_chunks:
            self._queue_drops_seen = (chunks, nbytes)
            self._emit(
                InputDroppedEvent(
                    audio_chunks=chunks - seen_chunks,
                    audio_bytes=nbytes - seen_bytes,
                    reason="queue full: the oldest audio was dropped",
                )
            )

    # ------------------------------------------------------------------ receive loop

    async def _receive(self, conn: ProviderSession, gen: int) -> None:
        stream = conn.events()
        user = self.tracker.user
        try:
            while True:
                try:
                    event = await anext(stream)
                except StopAsyncIteration:
                    exc = ProviderDisconnected(
                        DisconnectKind.CLOSED, reason="the provider ended its event stream"
                    )
                    break
                except ProviderDisconnected as disconnected:
                    exc = disconnected
                    break
                except Exception as error:  # unknown failure: retrying is the safe default
                    exc = ProviderDisconnected(
                        DisconnectKind.TRANSIENT, reason=f"{type(error).__name__}: {error}"
                    )
                    break
                self._consecutive_failures = 0
                if type(event) is AudioDeltaEvent and self._turn_active and not user.parts:
                    # the hot path (model audio inside a turn, no user utterance open to
                    # close): the tracker would pass it through unchanged, nothing to
                    # persist, and a turn in progress cannot drain the session
                    self._push(event)
                    continue
                try:
                    await self._on_event(event, gen)
                except Exception as error:  # a bug handling one event must not kill the loop
                    log.exception("session %s: handling %s failed", self.thread_id, event.type)
                    await self._report(
                        "internal_error", f"handling a {event.type} event failed: {error}"
                    )
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        self._note_disconnect(gen, exc)

    async def _on_event(self, event: RealtimeEvent, gen: int) -> None:
        if type(event) is AudioDeltaEvent and self._turn_active:
            # the hot path (model audio inside a turn): the same steps as below without
            # the checks that cannot apply to it
            await self._apply(self.tracker.on_event(event))
            self._check_drain()
            return
        if isinstance(event, _RUNTIME_EVENTS):
            log.debug("ignoring runtime-only event %s from the provider", event.type)
            return
        if isinstance(event, SessionUpdateEvent):
            await self._on_session_update(event)
            self._emit(event)
            return
        if isinstance(event, GoAwayEvent):
            self._emit(event)
            self._on_go_away(event, gen)
            return
        if isinstance(event, ToolCallCancelledEvent):
            self._emit(event)
            await self._on_cancel(event.ids)
            return
        if isinstance(event, ErrorEvent):
            self._emit(event)
            await self._fire("error", code=event.code, message=event.message, fatal=event.fatal)
            if event.fatal:
                self._request_finish("error")
            return
        if isinstance(event, _MODEL_OUTPUT) and not self._turn_active:
            self._turn_active = True
            await self._fire("turn_start")
        if isinstance(event, InputTranscriptEvent):
            self._awaiting_reply = True
        await self._apply(self.tracker.on_event(event))
        if isinstance(event, TurnCompleteEvent | InterruptedEvent):
            was_active = self._turn_active
            self._turn_active = False
            self._awaiting_reply = False
            if was_active:
                await self._fire("turn_end", interrupted=isinstance(event, InterruptedEvent))
            if self._go_away_gen == gen:
                self._rotate(gen)
        self._check_drain()

    async def _apply(self, outputs: Sequence[RealtimeEvent | Message]) -> None:
        """Persist messages and emit events in the order the tracker produced them.

        Events wait until the messages of the same step are stored: a finished transcript
        the user has seen is already persisted, even if the process dies right after."""
        batch: list[Message] = []
        held: list[RealtimeEvent] = []
        for out in outputs:
            if isinstance(out, Message):
                batch.append(out)
            elif isinstance(out, ToolCallEvent):
                await self._store_then_emit(batch, held)
                batch, held = [], []
                await self._on_tool_call(out)
            else:
                held.append(out)
        await self._store_then_emit(batch, held)

    async def _store_then_emit(self, batch: list[Message], held: list[RealtimeEvent]) -> None:
        if batch:
            await self._persist(batch)
        for event in held:
            self._emit(event)

    async def _on_session_update(self, event: SessionUpdateEvent) -> None:
        handle = event.resumption_handle
        if not (event.resumable and handle):
            return  # never erase the newest resumable handle
        self.resumption_handle = handle
        if self.realtime_config.session_resumption:
            try:
                await self.store.save_handle(handle)
            except Exception as exc:
                await self._report("checkpointer_error", f"could not store the handle: {exc}")

    def _on_go_away(self, event: GoAwayEvent, gen: int) -> None:
        """Plan a rotation: at the next turn boundary, or at the deadline at the latest."""
        self._go_away_gen = gen
        if not self._turn_active and not self._awaiting_reply:
            self._rotate(gen)
            return
        if event.time_left is not None:
            delay = max(0.0, event.time_left - ROTATION_MARGIN)
            self._start_timer(self._rotation_deadline(delay, gen))

    def _rotate(self, gen: int) -> None:
        if gen == self._gen and self._rotate_gen is None:
            self._rotate_gen = gen
            self._signal.set()

    async def _rotation_deadline(self, delay: float, gen: int) -> None:
        await self.clock.sleep(delay)
        self._rotate(gen)

    async def _shutdown_timer(self) -> None:
        await self.clock.sleep(self.shutdown_timeout)
        self._request_finish("shutdown_timeout")

    def _start_timer(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _idle(self) -> bool:
        return not (self._turn_active or self._awaiting_reply or self.runner.busy)

    def _check_drain(self) -> None:
        if self._input_closed and self._idle():
            self._request_finish("closed")

    # ------------------------------------------------------------------ tools

    def _message_id(self, kind: str, call_id: str) -> str:
        return f"{self.thread_id}:{kind}:{call_id}"

    async def _on_tool_call(self, event: ToolCallEvent) -> None:
        call_id, name, args = event.id, event.name, dict(event.args)
        spec = self.runner.spec(name)
        self._call_names.setdefault(call_id, name)
        if call_id in self.runner.running:
            return  # the same call again while it runs: nothing new to do
        try:
            fresh = await self.store.ledger_start(call_id, name, args)
        except Exception as exc:
            await self._report("checkpointer_error", f"tool ledger unavailable: {exc}")
            self._emit(event)
            await self._finish_tool(
                ToolOutcome(call_id, name, error="the tool ledger is unavailable; not run"),
                record=False,
            )
            return
        if not fresh:
            await self._on_repeated_call(call_id, name)
            return
        self._emit(event)
        await self._persist(
            [
                Message(
                    role="assistant",
                    content=[ToolCallBlock(id=call_id, name=name, args=args)],
                    id=self._message_id("tool_call", call_id),
                )
            ]
        )
        await self._fire("tool_call", call_id=call_id, name=name, args=args)
        if spec is None:
            available = ", ".join(sorted(self.runner.specs)) or "none"
            await self._finish_tool(
                ToolOutcome(
                    call_id,
                    name,
                    error=f"unknown tool {name!r}: this session offers {available}",
                )
            )
            return
        self.runner.start(call_id, spec, args, self._finish_tool)

    async def _on_repeated_call(self, call_id: str, name: str) -> None:
        """A call id already in the ledger: never run it again."""
        try:
            entry = await self.store.ledger_get(call_id)
        except Exception as exc:
            await self._report("checkpointer_error", f"tool ledger unavailable: {exc}")
            return
        if entry is None or entry.delivered or call_id in self._delivered:
            log.info("tool call %s already answered; not run again", call_id)
            return
        if entry.status == "finished":
            await self._deliver(call_id, entry.name, entry.result, entry.error)
            return
        outcome = ToolOutcome(
            call_id,
            name,
            error="this call was interrupted before it finished and is not run twice",
        )
        await self._finish_tool(outcome)

    async def _finish_tool(self, outcome: ToolOutcome, *, record: bool = True) -> None:
        """Record, persist, announce and deliver one tool outcome."""
        if record:
            try:
                await self.store.ledger_finish(
                    outcome.call_id, result=outcome.result, error=outcome.error
                )
            except Exception as exc:
                await self._report("checkpointer_error", f"could not record a tool result: {exc}")
        await self._persist(
            [
                Message(
                    role="tool",
                    content=[
                        ToolResultBlock(
                            id=outcome.call_id,
                            name=outcome.name,
                            result=outcome.result,
                            error=outcome.error,
                        )
                    ],
                    id=self._message_id("tool_result", outcome.call_id),
                )
            ]
        )
        self._emit(
            ToolResultEvent(
                id=outcome.call_id, name=outcome.name, result=outcome.result, error=outcome.error
            )
        )
        await self._fire(
            "tool_result",
            call_id=outcome.call_id,
            name=outcome.name,
            result=outcome.result,
            error=outcome.error,
        )
        await self._deliver(outcome.call_id, outcome.name, outcome.result, outcome.error)
        self._check_drain()

    async def _deliver(self, call_id: str, name: str, result: Any, error: str | None) -> None:
        """Send a result now, or leave it in the ledger for the next connection."""
        async with self._send_lock:
            conn = self._conn
            if conn is None or call_id in self._delivered:
                return
            # set before sending: the reply may arrive (and complete) while we send
            self._awaiting_reply = True
            try:
                await conn.send_tool_result(call_id, name, result, error)
            except Exception as exc:  # stays in the ledger for the next connection
                self._note_disconnect(self._gen, _as_disconnect(exc))
                return
            self._delivered.add(call_id)
        await self._ledger_delivered(call_id)

    async def _ledger_delivered(self, call_id: str) -> None:
        try:
            await self.store.ledger_mark_delivered(call_id)
        except Exception as exc:
            await self._report("checkpointer_error", f"could not mark a result delivered: {exc}")

    async def _on_cancel(self, ids: Sequence[str]) -> None:
        for call_id in self.runner.cancel(ids):
            name = self._call_names.get(call_id, "")
            error = "cancelled by the provider"
            try:
                await self.store.ledger_finish(call_id, result=None, error=error)
                await self.store.ledger_mark_delivered(call_id)
            except Exception as exc:
                await self._report("checkpointer_error", f"could not record a cancel: {exc}")
            self._delivered.add(call_id)  # nothing may be sent for a withdrawn call
            await self._persist(
                [
                    Message(
                        role="tool",
                        content=[ToolResultBlock(id=call_id, name=name, error=error)],
                        id=self._message_id("tool_result", call_id),
                    )
                ]
            )
            self._emit(ToolResultEvent(id=call_id, name=name, error=error))
            await self._fire("tool_result", call_id=call_id, name=name, result=None, error=error)

    # ------------------------------------------------------------------ reporting

    def _emit(self, event: RealtimeEvent) -> None:
        self._push(event)

    def _push(self, item: Any) -> None:
        self._out.append(item)
        waiter = self._out_waiter
        if waiter is not None:
            # one wakeup per batch: events emitted before the consumer runs share it
            self._out_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _persist(self, messages: list[Message]) -> None:
        try:
            await self.store.put(messages)
        except Exception as exc:
            await self._report("checkpointer_error", f"could not persist messages: {exc}")

    async def _report(self, code: str, message: str, *, fatal: bool = False) -> None:
        """Emit an error event and fire the error callbacks."""
        log.log(logging.ERROR if fatal else logging.WARNING, "%s: %s", code, message)
        self._emit(ErrorEvent(code=code, message=message, fatal=fatal))
        await self._fire("error", code=code, message=message, fatal=fatal)

    async def _fire(self, hook: str, /, **kwargs: Any) -> None:
        await fire(
            self.callbacks,
            hook,
            report=self._callback_failed,
            thread_id=self.thread_id,
            **kwargs,
        )

    def _callback_failed(self, where: str, exc: BaseException) -> None:
        self._emit(ErrorEvent(code="callback_error", message=f"{where} raised {describe(exc)}"))


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The session config without secrets, for callbacks and plugins (which may log it):
    ``provider_options`` values (API keys, credentials) are redacted."""

    def redact(options: Any) -> Any:
        if isinstance(options, dict):
            return {key: "<redacted>" for key in options}
        return "<redacted>"

    out = dict(config)
    if "provider_options" in out:
        out["provider_options"] = redact(out["provider_options"])
    nested = out.get("realtime_config")
    if isinstance(nested, dict) and "provider_options" in nested:
        out["realtime_config"] = {
            **nested,
            "provider_options": redact(nested["provider_options"]),
        }
    return out


CLOSE_TIMEOUT = 5.0
"""Seconds a provider connection gets to close before it is abandoned."""


async def _close(conn: ProviderSession) -> None:
    """Close a connection; a dead one may fail or hang on close, and is gone anyway."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await conn.close()
    except Exception as exc:
        log.debug("closing a connection failed: %r", exc)


def _as_disconnect(exc: BaseException) -> ProviderDisconnected:
    """A send failure as a disconnect (unclassified failures are transient)."""
    if isinstance(exc, ProviderDisconnected):
        return exc
    return ProviderDisconnected(DisconnectKind.TRANSIENT, reason=f"{type(exc).__name__}: {exc}")


__all__ = ["CLOSE_TIMEOUT", "ROTATION_MARGIN", "Session", "public_config"]
