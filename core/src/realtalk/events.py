"""The provider-neutral event stream.

Every provider plugin translates its wire messages into these models and the runtime adds
its own (session_started, reconnected, tool_result, ...). Each event is a pydantic model
with a literal ``type``; ``RealtimeEvent`` is their discriminated union, so a stream
serialises to JSON and parses back (audio bytes travel as base64 in JSON form).

Transcripts: an event with ``finished=False`` carries the *new fragment* of text; the
event with ``finished=True`` carries the *whole* utterance, which is what gets persisted.
"""

from __future__ import annotations

import binascii
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer


class _Event(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )


class SessionStartedEvent(_Event):
    """First event of every session: the thread it belongs to."""

    type: Literal["session_started"] = "session_started"
    thread_id: str


class AudioDeltaEvent(_Event):
    """A chunk of model speech: PCM16 little-endian mono at ``sample_rate`` Hz."""

    type: Literal["audio_delta"] = "audio_delta"
    data: bytes
    sample_rate: int = 24000

    @field_serializer("data", when_used="json")
    def _standard_base64(self, data: bytes) -> str:
        """Standard base64 (RFC 4648 section 4), which browsers' ``atob`` reads; parsing
        accepts either alphabet."""
        return binascii.b2a_base64(data, newline=False).decode("ascii")

    def __repr__(self) -> str:  # audio in reprs floods logs
        return f"AudioDeltaEvent(bytes={len(self.data)}, sample_rate={self.sample_rate})"

    @classmethod
    def of(cls, data: bytes, sample_rate: int = 24000) -> AudioDeltaEvent:
        """The event for ``data`` at ``sample_rate``, built without a validation pass when
        both already have their exact types (a provider's decoder on every audio frame).

        Equal to ``AudioDeltaEvent(data=data, sample_rate=sample_rate)`` in every way
        (fields, fields set, serialisation, equality, pickling), and a third cheaper: no
        validator, and its fields-set record is one set shared by every such event (the
        model is frozen, so nothing adds to it) instead of one more object per chunk
        for the collector to track while the event waits for its consumer. Anything
        else (another type, a subclass) goes through normal validation."""
        if cls is not AudioDeltaEvent or type(data) is not bytes or type(sample_rate) is not int:
            return cls(data=data, sample_rate=sample_rate)
        event = _new_model(cls)
        _set(event, "__dict__", {"type": "audio_delta", "data": data, "sample_rate": sample_rate})
        _set(event, "__pydantic_fields_set__", _AUDIO_FIELDS_SET)
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event


_new_model = BaseModel.__new__
_set = object.__setattr__
_AUDIO_FIELDS_SET = {"data", "sample_rate"}
"""The fields set of every `AudioDeltaEvent.of` event (shared; frozen models never add to it)."""


class TextDeltaEvent(_Event):
    """A fragment of model text (TEXT response modality)."""

    type: Literal["text_delta"] = "text_delta"
    text: str


class InputTranscriptEvent(_Event):
    """What the user said, as recognised by the provider."""

    type: Literal["input_transcript"] = "input_transcript"
    text: str
    finished: bool = False


class OutputTranscriptEvent(_Event):
    """What the model said, as text."""

    type: Literal["output_transcript"] = "output_transcript"
    text: str
    finished: bool = False


class ToolCallEvent(_Event):
    """The model asks for a tool; emitted before the tool runs."""

    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ToolCallCancelledEvent(_Event):
    """The provider withdrew tool calls (e.g. the user barged in); running ones are cancelled."""

    type: Literal["tool_call_cancelled"] = "tool_call_cancelled"
    ids: list[str]


class ToolResultEvent(_Event):
    """A tool finished (``error`` set when it raised, timed out, was refused or cancelled)."""

    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    result: Any = None
    error: str | None = None


class TurnCompleteEvent(_Event):
    """The model finished its turn."""

    type: Literal["turn_complete"] = "turn_complete"


class GenerationCompleteEvent(_Event):
    """The model finished generating (audio may still be streaming out)."""

    type: Literal["generation_complete"] = "generation_complete"


class InterruptedEvent(_Event):
    """The user barged in: stop playback and drop buffered model audio."""

    type: Literal["interrupted"] = "interrupted"


class SessionUpdateEvent(_Event):
    """The provider issued a session resumption handle."""

    type: Literal["session_update"] = "session_update"
    resumption_handle: str | None = None
    resumable: bool = True


class GoAwayEvent(_Event):
    """The provider will close this connection in ``time_left`` seconds (planned rotation)."""

    type: Literal["go_away"] = "go_away"
    time_left: float | None = None


class UsageEvent(_Event):
    """Token accounting reported by the provider."""

    type: Literal["usage"] = "usage"
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    total_tokens: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEvent(_Event):
    """Something went wrong; ``fatal=True`` means the session ends after this event."""

    type: Literal["error"] = "error"
    code: str
    message: str
    fatal: bool = False


class ReconnectedEvent(_Event):
    """A new connection is ready and input flows to it again."""

    type: Literal["reconnected"] = "reconnected"
    attempt: int
    resumed: bool


class InputDroppedEvent(_Event):
    """Input that could not be delivered (queue overflow or too long disconnected)."""

    type: Literal["input_dropped"] = "input_dropped"
    audio_chunks: int = 0
    audio_bytes: int = 0
    reason: str = ""


class ToolCallMetrics(_Event):
    """One tool call as measured by the runtime (part of ``metrics`` and ``session_metrics``).

    ``started_at`` is seconds since the session started (when the ``tool_call`` event was
    emitted); ``duration`` runs to its ``tool_result``. ``outcome`` is ``"ok"``,
    ``"error"`` (it raised, timed out, was refused or unknown) or ``"cancelled"``."""

    id: str
    name: str
    started_at: float
    duration: float
    outcome: Literal["ok", "error", "cancelled"]


class ReconnectMetrics(_Event):
    """One reconnect as measured by the runtime (part of ``metrics`` and ``session_metrics``).

    ``cause`` is ``"go_away"`` (a planned rotation) or ``"disconnect"`` (the connection
    dropped); ``lost_at`` is when the session stopped serving the old connection, in
    seconds since the session started, and ``gap`` the seconds from then until the new
    connection carried input again (``reconnected``)."""

    attempt: int
    resumed: bool
    cause: Literal["go_away", "disconnect"]
    lost_at: float
    gap: float


class MetricsEvent(_Event):
    """Figures of one model turn, emitted once it has ended (see ``realtalk.metrics``).

    Times are seconds; ``started_at``/``ended_at`` count from the session's start (the
    turn starts at the model's first output and ends at ``turn_complete`` or
    ``interrupted``). ``input_end`` says what marked the end of the user's input
    (``"text"``, ``"activity_end"``, ``"audio_stream_end"`` sent, or ``"transcript"``: the
    provider finished the user's utterance); the latencies run from it and are None when
    nothing marked it. ``tool_calls`` and ``reconnects`` are those that finished since the
    previous ``metrics`` event; the token counts come from the ``usage`` reports of the
    turn (a report right after ``turn_complete`` still counts for the turn, which is why
    this event follows it)."""

    type: Literal["metrics"] = "metrics"
    turn: int
    provider: str = ""
    model: str = ""
    started_at: float
    ended_at: float
    interrupted: bool = False
    input_end: Literal["text", "activity_end", "audio_stream_end", "transcript"] | None = None
    time_to_first_audio: float | None = None
    time_to_turn_end: float | None = None
    tool_calls: list[ToolCallMetrics] = Field(default_factory=list)
    reconnects: list[ReconnectMetrics] = Field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None


class SessionMetricsEvent(_Event):
    """Figures of the whole session, emitted just before ``session_ended``.

    ``duration`` is seconds from ``session_started``; ``time_to_first_audio`` lists each
    turn's latency that could be measured, in turn order. Token counts are the sums of
    every ``usage`` report (None when the provider sent none)."""

    type: Literal["session_metrics"] = "session_metrics"
    provider: str = ""
    model: str = ""
    duration: float
    turns: int = 0
    interruptions: int = 0
    go_aways: int = 0
    time_to_first_audio: list[float] = Field(default_factory=list)
    tool_calls: list[ToolCallMetrics] = Field(default_factory=list)
    reconnects: list[ReconnectMetrics] = Field(default_factory=list)
    input_dropped_chunks: int = 0
    input_dropped_bytes: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class SessionEndedEvent(_Event):
    """Last event of a session."""

    type: Literal["session_ended"] = "session_ended"
    reason: str = "closed"


RealtimeEvent = Annotated[
    SessionStartedEvent
    | AudioDeltaEvent
    | TextDeltaEvent
    | InputTranscriptEvent
    | OutputTranscriptEvent
    | ToolCallEvent
    | ToolCallCancelledEvent
    | ToolResultEvent
    | TurnCompleteEvent
    | GenerationCompleteEvent
    | InterruptedEvent
    | SessionUpdateEvent
    | GoAwayEvent
    | UsageEvent
    | ErrorEvent
    | ReconnectedEvent
    | InputDroppedEvent
    | MetricsEvent
    | SessionMetricsEvent
    | SessionEndedEvent,
    Field(discriminator="type"),
]
"""Union of every event; discriminated by ``type``."""

EVENT_ADAPTER: TypeAdapter[RealtimeEvent] = TypeAdapter(RealtimeEvent)


def event_to_json(event: _Event) -> str:
    """Serialise any event to a JSON string (bytes as base64)."""
    return event.model_dump_json()


def event_from_json(data: str | bytes) -> RealtimeEvent:
    """Parse a JSON string produced by `event_to_json()` back into its event class."""
    return EVENT_ADAPTER.validate_json(data)


def event_from_dict(data: dict[str, Any]) -> RealtimeEvent:
    """Parse a JSON-mode dict (bytes as base64) back into its event class."""
    return EVENT_ADAPTER.validate_python(data, strict=False)


__all__ = [
    "EVENT_ADAPTER",
    "AudioDeltaEvent",
    "ErrorEvent",
    "GenerationCompleteEvent",
    "GoAwayEvent",
    "InputDroppedEvent",
    "InputTranscriptEvent",
    "InterruptedEvent",
    "MetricsEvent",
    "OutputTranscriptEvent",
    "RealtimeEvent",
    "ReconnectMetrics",
    "ReconnectedEvent",
    "SessionEndedEvent",
    "SessionMetricsEvent",
    "SessionStartedEvent",
    "SessionUpdateEvent",
    "TextDeltaEvent",
    "ToolCallCancelledEvent",
    "ToolCallEvent",
    "ToolCallMetrics",
    "ToolResultEvent",
    "TurnCompleteEvent",
    "UsageEvent",
    "event_from_dict",
    "event_from_json",
    "event_to_json",
]
