"""The event pipeline: provider events in, the user's events (and stored messages) out.

One receive loop per connection reads the provider's neutral events and routes each by
what it means, the same on every provider: transcripts are joined and closed
(`TranscriptTracker`), finished ones persisted
before the user sees them, turn state follows the model's output, tool calls go to
dispatch, handles to resumption, ``go_away`` plans a rotation. Model audio inside a turn
takes a short path with nothing to decide. When the user's stream is full the loop stops
reading until there is room (the provider's own buffers hold the rest), so a stalled
consumer cannot grow memory without bound.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence

from ..events import (
    AudioDeltaEvent,
    ErrorEvent,
    GoAwayEvent,
    InputDroppedEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    MetricsEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    ReconnectedEvent,
    SessionEndedEvent,
    SessionMetricsEvent,
    SessionStartedEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnCompleteEvent,
)
from ..messages import Message
from ..provider import DisconnectKind, ProviderDisconnected, ProviderSession
from .clock import Clock
from .link import Link
from .output import OutputStream
from .reporter import Reporter
from .resumption import Resumption
from .tool_dispatch import ToolDispatcher
from .transcripts import TranscriptTracker
from .turns import Timers, TurnState

log = logging.getLogger("realtalk.runtime.session")

ROTATION_MARGIN = 1.0
"""Seconds before a go_away deadline at which the session rotates even mid-turn."""

RUNTIME_EVENTS = (
    SessionStartedEvent,
    SessionEndedEvent,
    ReconnectedEvent,
    ToolResultEvent,
    InputDroppedEvent,
    MetricsEvent,
    SessionMetricsEvent,
)
"""Events only the runtime emits; a provider emitting them is ignored."""

_MODEL_OUTPUT = (AudioDeltaEvent, TextDeltaEvent, OutputTranscriptEvent, ToolCallEvent)


class EventPipeline:
    """Routes one session's provider events to transcripts, turns, tools and the user."""

    def __init__(
        self,
        *,
        out: OutputStream,
        link: Link,
        turns: TurnState,
        reporter: Reporter,
        resumption: Resumption,
        tools: ToolDispatcher,
        timers: Timers,
        clock: Clock,
        thread_id: str,
    ) -> None:
        self.out = out
        self.link = link
        self.turns = turns
        self.reporter = reporter
        self.resumption = resumption
        self.tools = tools
        self.timers = timers
        self.clock = clock
        self.thread_id = thread_id
        self.tracker = TranscriptTracker()

    async def receive(self, conn: ProviderSession, gen: int) -> None:
        """Read ``conn`` until it ends; then report it lost (generation ``gen``)."""
        stream = conn.events()
        next_event = stream.__anext__
        user = self.tracker.user
        out = self.out
        waiting = out.items
        limit = out.limit or sys.maxsize
        turns = self.turns
        link = self.link
        metrics = self.reporter.metrics
        try:
            while True:
                if len(waiting) >= limit:
                    await out.wait_room()
                try:
                    event = await next_event()
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
                link.failures = 0
                if (
                    type(event) is AudioDeltaEvent
                    and turns.turn_active
                    and not user.parts
                    and (metrics is None or not metrics.wants_audio)
                ):
                    # the hot path (model audio inside a turn, no user utterance open to
                    # close, the turn's first audio already measured): the tracker would
                    # pass it through unchanged, nothing to persist, and a turn in
                    # progress cannot drain the session
                    out.push(event)
                    continue
                try:
                    await self.on_event(event, gen)
                except Exception as error:  # a bug handling one event must not kill the loop
                    log.exception("session %s: handling %s failed", self.thread_id, event.type)
                    await self.reporter.report(
                        "internal_error", f"handling a {event.type} event failed: {error}"
                    )
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        # only its kind, code, reason and cause are read later; its traceback holds this
        # frame, which holds it: a reference cycle keeping the whole session for the
        # collector
        link.note_disconnect(gen, exc.with_traceback(None))

    async def on_event(self, event: RealtimeEvent, gen: int) -> None:
        """Handle one provider event of connection ``gen``."""
        turns = self.turns
        if type(event) is AudioDeltaEvent and turns.turn_active:
            # model audio inside a turn: the same steps as below without the checks
            # that cannot apply to it
            await self.apply(self.tracker.on_event(event))
            turns.check_drain()
            return
        emit = self.reporter.emit
        if isinstance(event, RUNTIME_EVENTS):
            log.debug("ignoring runtime-only event %s from the provider", event.type)
            return
        if isinstance(event, SessionUpdateEvent):
            await self.resumption.keep(event)
            emit(event)
            return
        if isinstance(event, GoAwayEvent):
            emit(event)
            self.plan_rotation(event, gen)
            return
        if isinstance(event, ToolCallCancelledEvent):
            emit(event)
            await self.tools.on_cancel(event.ids)
            return
        if isinstance(event, ErrorEvent):
            emit(event)
            await self.reporter.fire(
                "error", code=event.code, message=event.message, fatal=event.fatal
            )
            if event.fatal:
                self.link.request_finish("error")
            return
        if isinstance(event, _MODEL_OUTPUT) and not turns.turn_active:
            turns.turn_active = True
            await self.reporter.fire("turn_start")
        if isinstance(event, InputTranscriptEvent):
            turns.awaiting_reply = True
        await self.apply(self.tracker.on_event(event))
        if isinstance(event, TurnCompleteEvent | InterruptedEvent):
            was_active = turns.turn_active
            turns.turn_active = False
            turns.awaiting_reply = False
            if was_active:
                await self.reporter.fire(
                    "turn_end", interrupted=isinstance(event, InterruptedEvent)
                )
            if self.link.go_away_gen == gen:
                self.link.rotate(gen)
        turns.check_drain()

    async def apply(self, outputs: Sequence[RealtimeEvent | Message]) -> None:
        """Persist messages and emit events in the order the tracker produced them.

        Events wait until the messages of the same step are stored: a finished transcript
        the user has seen is already persisted, even if the process dies right after."""
        batch: list[Message] = []
        held: list[RealtimeEvent] = []
        for item in outputs:
            if isinstance(item, Message):
                batch.append(item)
            elif isinstance(item, ToolCallEvent):
                await self._store_then_emit(batch, held)
                batch, held = [], []
                await self.tools.on_call(item)
            else:
                held.append(item)
        await self._store_then_emit(batch, held)

    async def close_transcripts(self) -> None:
        """Keep what was heard so far as it was heard (a lost connection, the end)."""
        await self.apply(self.tracker.finish_all(interrupted=True))

    async def _store_then_emit(self, batch: list[Message], held: list[RealtimeEvent]) -> None:
        if batch:
            await self.reporter.persist(batch)
        emit = self.reporter.emit
        for event in held:
            emit(event)

    def plan_rotation(self, event: GoAwayEvent, gen: int) -> None:
        """Rotate at the next turn boundary, or at the go_away deadline at the latest."""
        self.link.go_away_gen = gen
        turns = self.turns
        if not turns.turn_active and not turns.awaiting_reply:
            self.link.rotate(gen)
            return
        if event.time_left is not None:
            delay = max(0.0, event.time_left - ROTATION_MARGIN)
            self.timers.start(self._rotation_deadline(delay, gen))

    async def _rotation_deadline(self, delay: float, gen: int) -> None:
        await self.clock.sleep(delay)
        self.link.rotate(gen)


__all__ = ["ROTATION_MARGIN", "RUNTIME_EVENTS", "EventPipeline"]
