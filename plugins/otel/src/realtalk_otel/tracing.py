"""Sessions as OpenTelemetry spans and metric instruments, built from realtalk's figures.

Every span but the session's is made from a ``metrics`` / ``session_metrics`` event (see
``realtalk.metrics``) with the times it measured on the session's clock, so a trace shows
exactly the figures the event stream carries: a turn span runs from the end of the user's
input (or the model's first output when nothing marked it) to the end of the turn, its
tool spans from ``tool_call`` to ``tool_result``, a reconnect span over the gap without a
connection. Nothing here runs per audio chunk, and no audio or transcript text is ever
recorded; tool arguments only with ``capture_tool_arguments=True``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from realtalk.events import (
    MetricsEvent,
    ReconnectMetrics,
    SessionMetricsEvent,
    ToolCallMetrics,
)

SCOPE = "realtalk"
"""Instrumentation scope name of the tracer and the meter."""

OPERATION = "gen_ai.operation.name"
SYSTEM = "gen_ai.system"
PROVIDER = "gen_ai.provider.name"
MODEL = "gen_ai.request.model"
CONVERSATION = "gen_ai.conversation.id"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"

_NS = 1_000_000_000


@dataclass
class _Trace:
    """The open session span of one thread and how its clock maps to epoch time."""

    span: Span
    epoch_ns: int
    """Epoch time (ns) of the session's start: offsets in the figures count from it."""
    provider: str = ""
    model: str = ""
    reported_tools: set[str] = field(default_factory=set)
    reported_reconnects: int = 0
    summary: SessionMetricsEvent | None = None
    tool_args: dict[str, str] = field(default_factory=dict)

    def at(self, seconds: float) -> int:
        return self.epoch_ns + int(seconds * _NS)


class SessionTracing:
    """The tracer, meter and open sessions of one ``instrument()`` call."""

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        *,
        capture_tool_arguments: bool = False,
    ) -> None:
        from . import __version__

        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = otel_metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.capture_tool_arguments = capture_tool_arguments
        self._lock = threading.Lock()
        self._traces: dict[str, _Trace] = {}
        self.time_to_first_audio = meter.create_histogram(
            "realtalk.turn.time_to_first_audio",
            unit="s",
            description="From the end of the user's input to the model's first audio",
        )
        self.turn_duration = meter.create_histogram(
            "realtalk.turn.time_to_end",
            unit="s",
            description="From the end of the user's input to the end of the model's turn",
        )
        self.tool_duration = meter.create_histogram(
            "realtalk.tool.duration", unit="s", description="From tool_call to tool_result"
        )
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens the provider reported per turn",
        )
        self.reconnects = meter.create_counter(
            "realtalk.reconnects", unit="{reconnect}", description="Reconnects of sessions"
        )
        self.interruptions = meter.create_counter(
            "realtalk.interruptions",
            unit="{interruption}",
            description="Model turns the user barged in on",
        )
        self.dropped_audio = meter.create_counter(
            "realtalk.input.dropped_audio",
            unit="{chunk}",
            description="Input audio chunks that could not be delivered",
        )

    # ------------------------------------------------------------------ hooks

    def session_start(self, thread_id: str) -> None:
        epoch_ns = time.time_ns()
        span = self.tracer.start_span(
            "realtime",
            kind=SpanKind.CLIENT,
            attributes={OPERATION: "realtime", CONVERSATION: thread_id},
            start_time=epoch_ns,
        )
        with self._lock:
            self._traces[thread_id] = _Trace(span=span, epoch_ns=epoch_ns)

    def tool_call(self, thread_id: str, call_id: str, args: dict[str, Any]) -> None:
        if not self.capture_tool_arguments:
            return
        session = self._traces.get(thread_id)
        if session is not None:
            session.tool_args[call_id] = json.dumps(args, default=str, ensure_ascii=False)

    def error(self, thread_id: str, code: str, fatal: bool) -> None:
        session = self._traces.get(thread_id)
        if session is not None:
            session.span.add_event("realtalk.error", {"realtalk.error.code": code, "fatal": fatal})

    def metrics(self, thread_id: str, event: Any) -> None:
        session = self._traces.get(thread_id)
        if session is None:
            return
        if isinstance(event, MetricsEvent):
            self._turn(session, event)
        elif isinstance(event, SessionMetricsEvent):
            self._summary(session, event)

    def session_end(self, thread_id: str, reason: str) -> None:
        with self._lock:
            session = self._traces.pop(thread_id, None)
        if session is None:
            return
        span = session.span
        span.set_attribute("realtalk.session.end_reason", reason)
        if reason == "error":
            span.set_status(Status(StatusCode.ERROR, "the session ended with an error"))
        summary = session.summary
        end = session.at(summary.duration) if summary is not None else None
        span.end(end_time=end)

    def close(self) -> None:
        """End the spans of sessions still open (``uninstrument`` while they run)."""
        with self._lock:
            sessions, self._traces = list(self._traces.values()), {}
        for session in sessions:
            session.span.end()

    # ------------------------------------------------------------------ spans

    def _common(self, session: _Trace) -> dict[str, str]:
        attrs = {}
        if session.provider:
            attrs[SYSTEM] = session.provider
            attrs[PROVIDER] = session.provider
        if session.model:
            attrs[MODEL] = session.model
        return attrs

    def _identify(self, session: _Trace, provider: str, model: str) -> None:
        if session.provider or session.model:
            return
        session.provider, session.model = provider, model
        common = self._common(session)
        session.span.set_attributes(common)
        if model:
            session.span.update_name(f"realtime {model}")

    def _turn(self, session: _Trace, event: MetricsEvent) -> None:
        self._identify(session, event.provider, event.model)
        common = self._common(session)
        start = event.started_at
        if event.time_to_turn_end is not None:
            start = min(start, event.ended_at - event.time_to_turn_end)
        attrs: dict[str, Any] = {
            **common,
            OPERATION: "chat",
            "realtalk.turn": event.turn,
            "realtalk.turn.interrupted": event.interrupted,
        }
        if event.input_end is not None:
            attrs["realtalk.turn.input_end"] = event.input_end
        if event.time_to_first_audio is not None:
            attrs["realtalk.turn.time_to_first_audio"] = event.time_to_first_audio
        if event.time_to_turn_end is not None:
            attrs["realtalk.turn.time_to_end"] = event.time_to_turn_end
        if event.input_tokens is not None:
            attrs[INPUT_TOKENS] = event.input_tokens
        if event.output_tokens is not None:
            attrs[OUTPUT_TOKENS] = event.output_tokens
        name = f"chat {session.model}" if session.model else "chat"
        parent = trace.set_span_in_context(session.span)
        span = self.tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=session.at(start),
        )
        for tool in event.tool_calls:
            self._tool(session, tool, span, common)
        for reconnect in event.reconnects:
            self._reconnect(session, reconnect, common)
        span.end(end_time=session.at(event.ended_at))

        if event.time_to_first_audio is not None:
            self.time_to_first_audio.record(event.time_to_first_audio, common)
        if event.time_to_turn_end is not None:
            self.turn_duration.record(event.time_to_turn_end, common)
        if event.interrupted:
            self.interruptions.add(1, common)
        usage = {**common, OPERATION: "chat"}
        if event.input_tokens is not None:
            self.token_usage.record(event.input_tokens, {**usage, "gen_ai.token.type": "input"})
        if event.output_tokens is not None:
            self.token_usage.record(event.output_tokens, {**usage, "gen_ai.token.type": "output"})

    def _tool(
        self, session: _Trace, tool: ToolCallMetrics, parent: Span, common: dict[str, str]
    ) -> None:
        if tool.id in session.reported_tools:
            return
        session.reported_tools.add(tool.id)
        attrs: dict[str, Any] = {
            OPERATION: "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": tool.id,
            "realtalk.tool.outcome": tool.outcome,
        }
        arguments = session.tool_args.pop(tool.id, None)
        if arguments is not None:
            attrs["gen_ai.tool.call.arguments"] = arguments
        start = session.at(tool.started_at)
        span = self.tracer.start_span(
            f"execute_tool {tool.name}",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=start,
        )
        if tool.outcome != "ok":
            span.set_attribute("error.type", tool.outcome)
            span.set_status(Status(StatusCode.ERROR, f"the tool call ended: {tool.outcome}"))
        span.end(end_time=start + int(tool.duration * _NS))
        self.tool_duration.record(
            tool.duration,
            {**common, "gen_ai.tool.name": tool.name, "realtalk.tool.outcome": tool.outcome},
        )

    def _reconnect(
        self, session: _Trace, reconnect: ReconnectMetrics, common: dict[str, str]
    ) -> None:
        session.reported_reconnects += 1
        start = session.at(reconnect.lost_at)
        span = self.tracer.start_span(
            "realtalk.reconnect",
            context=trace.set_span_in_context(session.span),
            kind=SpanKind.CLIENT,
            attributes={
                "realtalk.reconnect.attempt": reconnect.attempt,
                "realtalk.reconnect.resumed": reconnect.resumed,
                "realtalk.reconnect.cause": reconnect.cause,
                "realtalk.reconnect.gap": reconnect.gap,
            },
            start_time=start,
        )
        span.end(end_time=start + int(reconnect.gap * _NS))
        self.reconnects.add(
            1,
            {
                **common,
                "realtalk.reconnect.resumed": reconnect.resumed,
                "realtalk.reconnect.cause": reconnect.cause,
            },
        )

    def _summary(self, session: _Trace, event: SessionMetricsEvent) -> None:
        self._identify(session, event.provider, event.model)
        common = self._common(session)
        session.summary = event
        for tool in event.tool_calls:  # finished after the last turn
            self._tool(session, tool, session.span, common)
        for reconnect in event.reconnects[session.reported_reconnects :]:
            self._reconnect(session, reconnect, common)
        attrs: dict[str, Any] = {
            "realtalk.session.turns": event.turns,
            "realtalk.session.interruptions": event.interruptions,
            "realtalk.session.reconnects": len(event.reconnects),
            "realtalk.session.tool_calls": len(event.tool_calls),
            "realtalk.session.input_dropped_chunks": event.input_dropped_chunks,
        }
        if event.input_tokens is not None:
            attrs[INPUT_TOKENS] = event.input_tokens
        if event.output_tokens is not None:
            attrs[OUTPUT_TOKENS] = event.output_tokens
        session.span.set_attributes(attrs)
        if event.input_dropped_chunks:
            self.dropped_audio.add(event.input_dropped_chunks, common)


__all__ = ["SCOPE", "SessionTracing"]
