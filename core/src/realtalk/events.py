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
    "OutputTranscriptEvent",
    "RealtimeEvent",
    "ReconnectedEvent",
    "SessionEndedEvent",
    "SessionStartedEvent",
    "SessionUpdateEvent",
    "TextDeltaEvent",
    "ToolCallCancelledEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "TurnCompleteEvent",
    "UsageEvent",
    "event_from_dict",
    "event_from_json",
    "event_to_json",
]
