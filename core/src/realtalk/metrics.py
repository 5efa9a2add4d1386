"""Per-session figures measured from what the runtime already sees, sans I/O.

A `SessionMetrics` follows one session through three entry points the runtime
calls: `on_input()` for each input item it sends, `
on_event()` for each event it emits (returning the ``metrics`` events to emit after it) and
`on_connection_lost()` when it stops serving a connection; at the end
`finish()` gives the ``session_metrics`` summary. Time is whatever the
caller passes as ``now`` (the session's `Clock`), so tests
script a session with a `ManualClock` and exact figures.

What is measured, per turn (a turn starts at the model's first output and ends at
``turn_complete`` or ``interrupted``):

* the end of the user's input: the last ``text``, ``activity_end`` or
  ``audio_stream_end`` sent, or else the provider finishing the user's utterance (a
  finished ``input_transcript`` while the model is not answering); explicit input wins
  over a transcript, because providers also finish the utterance when the model starts;
* time from there to the model's first audio and to the end of the turn;
* the tool calls (``tool_call`` to ``tool_result``), the reconnects (from losing the
  connection, or the ``go_away`` when the loss was not reported, to ``reconnected``) and
  the usage tokens reported for the turn.

Model audio costs one type check per chunk once the turn's first chunk was seen (the
runtime's audio hot path may skip the call altogether; `SessionMetrics.wants_audio`
says when it must not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .events import (
    AudioDeltaEvent,
    GoAwayEvent,
    InputDroppedEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    MetricsEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    ReconnectedEvent,
    ReconnectMetrics,
    SessionMetricsEvent,
    SessionStartedEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    ToolCallMetrics,
    ToolResultEvent,
    TurnCompleteEvent,
    UsageEvent,
)

InputEnd = Literal["text", "activity_end", "audio_stream_end", "transcript"]

_NONE: list[RealtimeEvent] = []
"""The shared answer "nothing to emit" (never mutated): no list per event."""

_EXPLICIT_INPUT_END: dict[str, InputEnd] = {
    "text": "text",
    "activity_end": "activity_end",
    "audio_stream_end": "audio_stream_end",
}
_MODEL_OUTPUT = (AudioDeltaEvent, TextDeltaEvent, OutputTranscriptEvent, ToolCallEvent)


@dataclass
class _Turn:
    number: int
    started_at: float
    input_end: InputEnd | None
    input_ended_at: float | None
    first_audio_at: float | None = None
    ended_at: float = 0.0
    interrupted: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class _Totals:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value if total is None else total + value


@dataclass
class SessionMetrics:
    """The figures of one session; feed it what the runtime sends and emits."""

    provider: str = ""
    model: str = ""
    started_at: float | None = None
    """``now`` of the session start (set by ``session_started`` when not given)."""

    turns: int = 0
    interruptions: int = 0
    go_aways: int = 0
    input_dropped_chunks: int = 0
    input_dropped_bytes: int = 0
    time_to_first_audio: list[float] = field(default_factory=list)
    tool_calls: list[ToolCallMetrics] = field(default_factory=list)
    reconnects: list[ReconnectMetrics] = field(default_factory=list)
    tokens: _Totals = field(default_factory=_Totals)

    wants_audio: bool = field(default=True, init=False)
    """True until the current turn's first audio was seen: model audio matters only then."""

    _turn: _Turn | None = field(default=None, init=False, repr=False)
    _ended: _Turn | None = field(default=None, init=False, repr=False)
    _input_end: tuple[InputEnd, float] | None = field(default=None, init=False, repr=False)
    _tools: dict[str, tuple[str, float]] = field(default_factory=dict, init=False, repr=False)
    _cancelled: set[str] = field(default_factory=set, init=False, repr=False)
    _lost: tuple[Literal["go_away", "disconnect"], float] | None = field(
        default=None, init=False, repr=False
    )
    _go_away_at: float | None = field(default=None, init=False, repr=False)
    _tools_reported: int = field(default=0, init=False, repr=False)
    _reconnects_reported: int = field(default=0, init=False, repr=False)

    # ------------------------------------------------------------------ entry points

    def on_input(self, item: Any, now: float) -> None:
        """An input item was sent (or buffered for the next connection) at ``now``."""
        kind = _EXPLICIT_INPUT_END.get(getattr(item, "kind", ""))
        if kind is not None:
            self._input_end = (kind, now)

    def on_connection_lost(self, now: float) -> None:
        """The session stopped serving its connection (a drop or a planned rotation)."""
        if self._lost is None:
            self._lost = ("go_away" if self._go_away_at is not None else "disconnect", now)

    def on_event(self, event: RealtimeEvent, now: float) -> list[RealtimeEvent]:
        """Account for one emitted event; returns the events to emit right after it."""
        if type(event) is AudioDeltaEvent:
            if not self.wants_audio:
                return _NONE  # the per-chunk cost once the turn's first audio was seen
            out = self._flush_ended()
            self._model_output(now)
            turn = self._turn
            if turn is not None and turn.first_audio_at is None:
                turn.first_audio_at = now
                self.wants_audio = False
            return out
        if isinstance(event, UsageEvent):
            return self._usage(event)
        out = self._flush_ended()
        if isinstance(event, _MODEL_OUTPUT):
            self._model_output(now)
            if isinstance(event, ToolCallEvent):
                self._tools.setdefault(event.id, (event.name, now))
        elif isinstance(event, TurnCompleteEvent | InterruptedEvent):
            interrupted = isinstance(event, InterruptedEvent)
            self.interruptions += interrupted
            self._end_turn(now, interrupted=interrupted)
        elif isinstance(event, InputTranscriptEvent):
            if event.finished and self._turn is None:
                self._mark_transcript_end(now)
        elif isinstance(event, ToolResultEvent):
            self._tool_result(event, now)
        elif isinstance(event, ToolCallCancelledEvent):
            self._cancelled.update(event.ids)
        elif isinstance(event, GoAwayEvent):
            self.go_aways += 1
            if self._go_away_at is None:
                self._go_away_at = now
        elif isinstance(event, ReconnectedEvent):
            self._reconnected(event, now)
        elif isinstance(event, InputDroppedEvent):
            self.input_dropped_chunks += event.audio_chunks
            self.input_dropped_bytes += event.audio_bytes
        elif isinstance(event, SessionStartedEvent) and self.started_at is None:
            self.started_at = now
        return out

    def finish(self, now: float) -> list[RealtimeEvent]:
        """The events that close the session's figures: a last ``metrics`` (a turn still
        waiting for its usage report) and the ``session_metrics`` summary."""
        out: list[RealtimeEvent] = []
        if self._ended is not None:
            out.append(self._turn_event(self._ended))
            self._ended = None
        t0 = self._t0(now)
        tokens = self.tokens
        out.append(
            SessionMetricsEvent(
                provider=self.provider,
                model=self.model,
                duration=max(0.0, now - t0),
                turns=self.turns,
                interruptions=self.interruptions,
                go_aways=self.go_aways,
                time_to_first_audio=list(self.time_to_first_audio),
                tool_calls=list(self.tool_calls),
                reconnects=list(self.reconnects),
                input_dropped_chunks=self.input_dropped_chunks,
                input_dropped_bytes=self.input_dropped_bytes,
                input_tokens=tokens.input_tokens,
                output_tokens=tokens.output_tokens,
                total_tokens=tokens.total_tokens,
            )
        )
        return out

    # ------------------------------------------------------------------ turns

    def _t0(self, now: float) -> float:
        if self.started_at is None:
            self.started_at = now
        return self.started_at

    def _model_output(self, now: float) -> None:
        if self._turn is not None:
            return
        self._t0(now)
        self.turns += 1
        mark = self._input_end
        self._input_end = None
        self._turn = _Turn(
            number=self.turns,
            started_at=now,
            input_end=mark[0] if mark else None,
            input_ended_at=mark[1] if mark else None,
        )
        self.wants_audio = True

    def _mark_transcript_end(self, now: float) -> None:
        mark = self._input_end
        if mark is None or mark[0] == "transcript":
            self._input_end = ("transcript", now)

    def _end_turn(self, now: float, *, interrupted: bool) -> None:
        turn = self._turn
        if turn is None:
            return
        self._turn = None
        self.wants_audio = True
        turn.ended_at = now
        turn.interrupted = interrupted
        if turn.input_ended_at is not None and turn.first_audio_at is not None:
            self.time_to_first_audio.append(max(0.0, turn.first_audio_at - turn.input_ended_at))
        self._ended = turn  # its metrics wait for the usage report that may follow

    def _usage(self, event: UsageEvent) -> list[RealtimeEvent]:
        tokens = self.tokens
        tokens.input_tokens = _add(tokens.input_tokens, event.prompt_tokens)
        tokens.output_tokens = _add(tokens.output_tokens, event.response_tokens)
        tokens.total_tokens = _add(tokens.total_tokens, event.total_tokens)
        turn = self._ended or self._turn
        if turn is not None:
            turn.input_tokens = _add(turn.input_tokens, event.prompt_tokens)
            turn.output_tokens = _add(turn.output_tokens, event.response_tokens)
        if self._ended is not None:
            ended, self._ended = self._ended, None
            return [self._turn_event(ended)]
        return _NONE

    def _flush_ended(self) -> list[RealtimeEvent]:
        """The ended turn's metrics, once an event other than its usage report arrives."""
        ended = self._ended
        if ended is None:
            return _NONE
        self._ended = None
        return [self._turn_event(ended)]

    def _turn_event(self, turn: _Turn) -> MetricsEvent:
        t0 = self.started_at or 0.0
        start = turn.input_ended_at
        tools = self.tool_calls[self._tools_reported :]
        self._tools_reported = len(self.tool_calls)
        reconnects = self.reconnects[self._reconnects_reported :]
        self._reconnects_reported = len(self.reconnects)
        return MetricsEvent(
            turn=turn.number,
            provider=self.provider,
            model=self.model,
            started_at=turn.started_at - t0,
            ended_at=turn.ended_at - t0,
            interrupted=turn.interrupted,
            input_end=turn.input_end,
            time_to_first_audio=(
                None
                if start is None or turn.first_audio_at is None
                else max(0.0, turn.first_audio_at - start)
            ),
            time_to_turn_end=None if start is None else max(0.0, turn.ended_at - start),
            tool_calls=tools,
            reconnects=reconnects,
            input_tokens=turn.input_tokens,
            output_tokens=turn.output_tokens,
        )

    # ------------------------------------------------------------------ tools, reconnects

    def _tool_result(self, event: ToolResultEvent, now: float) -> None:
        started = self._tools.pop(event.id, None)
        if started is None:
            return  # a result without a call we saw (e.g. redelivered from the ledger)
        name, at = started
        if event.id in self._cancelled:
            outcome: Literal["ok", "error", "cancelled"] = "cancelled"
        else:
            outcome = "ok" if event.error is None else "error"
        self._cancelled.discard(event.id)
        self.tool_calls.append(
            ToolCallMetrics(
                id=event.id,
                name=event.name or name,
                started_at=at - (self.started_at or 0.0),
                duration=max(0.0, now - at),
                outcome=outcome,
            )
        )

    def _reconnected(self, event: ReconnectedEvent, now: float) -> None:
        lost = self._lost
        go_away_at = self._go_away_at
        self._lost = None
        self._go_away_at = None
        cause: Literal["go_away", "disconnect"]
        if lost is not None:
            cause, at = lost
        elif go_away_at is not None:
            cause, at = "go_away", go_away_at
        else:
            cause, at = "disconnect", now  # the loss was not reported: no gap known
        self.reconnects.append(
            ReconnectMetrics(
                attempt=event.attempt,
                resumed=event.resumed,
                cause=cause,
                lost_at=at - (self.started_at or 0.0),
                gap=max(0.0, now - at),
            )
        )


__all__ = ["InputEnd", "SessionMetrics"]
