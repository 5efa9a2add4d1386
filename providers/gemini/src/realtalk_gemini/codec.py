"""Translation between realtalk's neutral shapes and google-genai's Live types.

Pure: no sockets, no clocks. The transport feeds SDK messages in and sends what comes out,
so every rule here is unit-testable and the same rules run against the real API and the
offline fake server. Importing this module imports google-genai; only the transport and
tests import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from google.genai import types
from pydantic_core import to_jsonable_python

from realtalk.config import OUTPUT_SAMPLE_RATE, RealtimeConfig, Sensitivity
from realtalk.events import (
    AudioDeltaEvent,
    GenerationCompleteEvent,
    GoAwayEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TurnCompleteEvent,
    UsageEvent,
)
from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    InputItem,
    TextInput,
)
from realtalk.messages import Message, TextBlock, ToolCallBlock, ToolResultBlock
from realtalk.provider import SessionSetup

if TYPE_CHECKING:
    from realtalk.tools import ToolSpec

IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png"})

# --------------------------------------------------------------------------- setup


_START_SENSITIVITY: dict[Sensitivity, types.StartSensitivity | None] = {
    "low": types.StartSensitivity.START_SENSITIVITY_LOW,
    "high": types.StartSensitivity.START_SENSITIVITY_HIGH,
    "default": None,
}
_END_SENSITIVITY: dict[Sensitivity, types.EndSensitivity | None] = {
    "low": types.EndSensitivity.END_SENSITIVITY_LOW,
    "high": types.EndSensitivity.END_SENSITIVITY_HIGH,
    "default": None,
}


def realtime_input_config(config: RealtimeConfig) -> types.RealtimeInputConfig:
    """Server VAD settings; with VAD disabled only ``disabled=True`` is sent (the rest is moot)."""
    vad = config.vad
    if not vad.enabled:
        detection = types.AutomaticActivityDetection(disabled=True)
    else:
        detection = types.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity=_START_SENSITIVITY[vad.start_sensitivity],
            end_of_speech_sensitivity=_END_SENSITIVITY[vad.end_sensitivity],
            prefix_padding_ms=vad.prefix_padding_ms,
            silence_duration_ms=vad.silence_duration_ms,
        )
    return types.RealtimeInputConfig(automatic_activity_detection=detection)


def function_declarations(tools: Sequence[ToolSpec]) -> list[types.FunctionDeclaration]:
    """Tools as function declarations whose parameters are plain JSON schema."""
    return [
        types.FunctionDeclaration(
            name=spec.name,
            description=spec.description,
            parameters_json_schema=spec.parameters,
        )
        for spec in tools
    ]


def context_window_compression(
    provider_options: Mapping[str, Any],
) -> types.ContextWindowCompressionConfig:
    """Sliding-window compression; token thresholds are optional provider options."""
    trigger = provider_options.get("compression_trigger_tokens")
    target = provider_options.get("compression_target_tokens")
    return types.ContextWindowCompressionConfig(
        trigger_tokens=int(trigger) if trigger is not None else None,
        sliding_window=types.SlidingWindow(target_tokens=int(target) if target else None),
    )


def live_connect_config(setup: SessionSetup) -> types.LiveConnectConfig:
    """The SDK connect config for one connection of a session.

    ``setup.system_instruction`` wins over ``config.system_instruction`` (the runtime merges
    the agent's system prompt into it). Voice and output transcription only apply to AUDIO.
    """
    config = setup.config
    audio_out = config.response_modality == "AUDIO"
    instruction = (
        setup.system_instruction
        if setup.system_instruction is not None
        else config.system_instruction
    )
    fields: dict[str, Any] = {
        "response_modalities": [
            types.Modality.AUDIO if audio_out else types.Modality.TEXT,
        ],
        "realtime_input_config": realtime_input_config(config),
    }
    if audio_out and config.voice:
        fields["speech_config"] = types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=config.voice)
            )
        )
    if instruction:
        fields["system_instruction"] = types.Content(
            role="user", parts=[types.Part(text=instruction)]
        )
    if setup.tools:
        fields["tools"] = [types.Tool(function_declarations=function_declarations(setup.tools))]
    if config.input_audio_transcription:
        fields["input_audio_transcription"] = types.AudioTranscriptionConfig()
    if audio_out and config.output_audio_transcription:
        fields["output_audio_transcription"] = types.AudioTranscriptionConfig()
    if config.session_resumption:
        fields["session_resumption"] = types.SessionResumptionConfig(
            handle=setup.resumption_handle or None
        )
    if config.context_window_compression:
        fields["context_window_compression"] = context_window_compression(config.provider_options)
    live = types.LiveConnectConfig(**fields)
    extra = config.provider_options.get("live_config")
    if extra:
        # Advanced SDK fields (temperature, thinking_config, ...) override ours, key by key.
        overrides = types.LiveConnectConfig.model_validate(extra).model_dump(exclude_none=True)
        live = types.LiveConnectConfig.model_validate(
            {**live.model_dump(exclude_none=True), **overrides}
        )
    return live


# --------------------------------------------------------------------------- history


def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=repr)


def _history_text(message: Message) -> str:
    pieces: list[str] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            pieces.append(block.text)
        elif isinstance(block, ToolCallBlock):
            args = json.dumps(_jsonable(block.args), ensure_ascii=False, sort_keys=True)
            pieces.append(f"[called tool {block.name} with {args}]")
        elif isinstance(block, ToolResultBlock):
            if block.error is not None:
                pieces.append(f"[tool {block.name} failed: {block.error}]")
            else:
                result = json.dumps(_jsonable(block.result), ensure_ascii=False, sort_keys=True)
                pieces.append(f"[tool {block.name} returned {result}]")
    return "\n".join(p for p in pieces if p)


def history_turns(history: Sequence[Message]) -> list[types.Content]:
    """Persisted transcripts as context turns for a fresh connection.

    User speech and typed text become ``user`` turns; the agent's words, its tool calls and
    their results become ``model`` turns (as short text notes, which every Live model
    accepts). System messages are skipped (the system instruction is part of the setup).
    Consecutive messages of one role share a turn.
    """
    turns: list[types.Content] = []
    for message in history:
        if message.role == "system":
            continue
        role = "user" if message.role == "user" else "model"
        text = _history_text(message)
        if not text:
            continue
        part = types.Part(text=text)
        if turns and turns[-1].role == role and turns[-1].parts is not None:
            turns[-1].parts.append(part)
        else:
            turns.append(types.Content(role=role, parts=[part]))
    return turns


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SendCall:
    """One SDK session call: ``await getattr(session, method)(**kwargs)``."""

    method: Literal["send_realtime_input", "send_tool_response", "send_client_content"]
    kwargs: dict[str, Any] = field(default_factory=dict)


def audio_mime_type(sample_rate: int) -> str:
    return f"audio/pcm;rate={sample_rate}"


def check_audio(item: AudioInput) -> None:
    """Refuse audio the server would misread, before anything reaches the socket."""
    if item.sample_rate <= 0:
        raise ValueError(f"audio sample_rate must be positive, got {item.sample_rate}")
    if len(item.data) % 2:
        raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(item.data)}")


def input_call(item: InputItem) -> SendCall:
    """The exact ``send_realtime_input`` call for one neutral input item (one field each).

    Typed text goes as ``realtime_input.text``: newer Live models reject ``client_content``
    in the middle of a session.
    """
    if isinstance(item, AudioInput):
        check_audio(item)
        blob = types.Blob(data=item.data, mime_type=audio_mime_type(item.sample_rate))
        return SendCall("send_realtime_input", {"audio": blob})
    if isinstance(item, ImageInput):
        if item.mime_type not in IMAGE_MIME_TYPES:
            raise ValueError(f"images must be image/jpeg or image/png, got {item.mime_type!r}")
        return SendCall(
            "send_realtime_input", {"video": types.Blob(data=item.data, mime_type=item.mime_type)}
        )
    if isinstance(item, TextInput):
        return SendCall("send_realtime_input", {"text": item.text})
    if isinstance(item, ActivityStart):
        return SendCall("send_realtime_input", {"activity_start": types.ActivityStart()})
    if isinstance(item, ActivityEnd):
        return SendCall("send_realtime_input", {"activity_end": types.ActivityEnd()})
    if isinstance(item, AudioStreamEnd):
        return SendCall("send_realtime_input", {"audio_stream_end": True})
    raise TypeError(f"not a realtalk input item: {item!r}")


def function_response(
    call_id: str, name: str, result: Any, error: str | None = None
) -> types.FunctionResponse:
    """A tool result as Gemini expects it: a JSON object, ``{"error": ...}`` on failure.

    A dict result is sent as the object itself; anything else is wrapped as
    ``{"result": value}``. Values JSON cannot hold are sent as their ``repr``.
    """
    if error is not None:
        response: dict[str, Any] = {"error": error}
    else:
        value = _jsonable(result)
        response = value if isinstance(value, dict) else {"result": value}
    return types.FunctionResponse(id=call_id, name=name, response=response)


def tool_response_call(call_id: str, name: str, result: Any, error: str | None = None) -> SendCall:
    """The ``send_tool_response`` call answering one tool call by its id."""
    return SendCall(
        "send_tool_response",
        {"function_responses": [function_response(call_id, name, result, error)]},
    )


def reseed_call(history: Sequence[Message]) -> SendCall | None:
    """History as context without a reply: ``turn_complete=False`` keeps the model quiet."""
    turns = history_turns(history)
    if not turns:
        return None
    return SendCall("send_client_content", {"turns": turns, "turn_complete": False})


# --------------------------------------------------------------------------- server messages

_RATE = re.compile(r"(?:^|;)\s*rate\s*=\s*(\d+)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s\s*$")


def sample_rate_of(mime_type: str | None, default: int = OUTPUT_SAMPLE_RATE) -> int:
    """``"audio/pcm;rate=24000"`` -> 24000; no or bad rate -> ``default``."""
    if mime_type:
        match = _RATE.search(mime_type)
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    return default


def parse_duration(value: str | None) -> float | None:
    """A protobuf JSON duration (``"50s"``, ``"1.5s"``) in seconds; unparsable -> None."""
    if not value:
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def usage_event(usage: types.UsageMetadata) -> UsageEvent:
    details = usage.model_dump(
        mode="json",
        exclude_none=True,
        exclude={"prompt_token_count", "response_token_count", "total_token_count"},
    )
    return UsageEvent(
        prompt_tokens=usage.prompt_token_count,
        response_tokens=usage.response_token_count,
        total_tokens=usage.total_token_count,
        details=details,
    )


def session_update_event(update: types.LiveServerSessionResumptionUpdate) -> SessionUpdateEvent:
    """A missing ``resumable`` counts as resumable exactly when a handle came with it."""
    handle = update.new_handle or None
    resumable = bool(update.resumable) if update.resumable is not None else handle is not None
    return SessionUpdateEvent(resumption_handle=handle, resumable=resumable)


def content_events(content: types.Content | None) -> list[RealtimeEvent]:
    """Model turn parts: audio and text; thoughts and unknown parts are skipped."""
    events: list[RealtimeEvent] = []
    for part in (content.parts if content and content.parts else []) or []:
        if part.thought:
            continue
        blob = part.inline_data
        if blob is not None and blob.data and (blob.mime_type or "").startswith("audio/"):
            events.append(AudioDeltaEvent.of(blob.data, sample_rate_of(blob.mime_type)))
        elif part.text:
            events.append(TextDeltaEvent(text=part.text))
    return events


def message_events(message: types.LiveServerMessage) -> list[RealtimeEvent]:
    """One server message to neutral events, statelessly.

    Transcripts come out as raw fragments with the server's ``finished`` flag; the
    `Decoder` turns them into the neutral transcript contract (fragments, then the
    whole utterance once). Order within a message: input transcript, model parts, output
    transcript, interrupted, generation complete, turn complete, then tool calls,
    cancellations, resumption update, go_away, usage.
    """
    events: list[RealtimeEvent] = []
    content = message.server_content
    if content is not None:
        if content.input_transcription is not None:
            events.append(
                InputTranscriptEvent(
                    text=content.input_transcription.text or "",
                    finished=bool(content.input_transcription.finished),
                )
            )
        events.extend(content_events(content.model_turn))
        if content.output_transcription is not None:
            events.append(
                OutputTranscriptEvent(
                    text=content.output_transcription.text or "",
                    finished=bool(content.output_transcription.finished),
                )
            )
        if content.interrupted:
            events.append(InterruptedEvent())
        if content.generation_complete:
            events.append(GenerationCompleteEvent())
        if content.turn_complete:
            events.append(TurnCompleteEvent())
    if message.tool_call is not None:
        for call in message.tool_call.function_calls or []:
            events.append(
                ToolCallEvent(id=call.id or "", name=call.name or "", args=dict(call.args or {}))
            )
    if message.tool_call_cancellation is not None and message.tool_call_cancellation.ids:
        events.append(ToolCallCancelledEvent(ids=list(message.tool_call_cancellation.ids)))
    if message.session_resumption_update is not None:
        events.append(session_update_event(message.session_resumption_update))
    if message.go_away is not None:
        events.append(GoAwayEvent(time_left=parse_duration(message.go_away.time_left)))
    if message.usage_metadata is not None:
        events.append(usage_event(message.usage_metadata))
    return events


class _Utterance:
    """One transcript being streamed; ``parts`` stays the shared empty tuple until the
    first fragment (one object less per open connection for the collector to walk)."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] | tuple[()] = ()

    def add(self, text: str) -> None:
        if text:
            parts = self.parts
            if parts:
                parts.append(text)  # type: ignore[union-attr]
            else:
                self.parts = [text]

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts = ()
        return text

    def __bool__(self) -> bool:
        return bool(self.parts)


class Decoder:
    """Server messages to neutral events for one connection (no I/O; holds transcript state).

    Transcript contract: each fragment is emitted with ``finished=False``; the whole
    utterance is emitted once with ``finished=True``, when the server marks it finished or
    else at the natural boundary: the user's utterance ends when the model starts
    answering (audio, text, its transcript, a tool call) or the turn ends; the model's ends
    at a tool call or the end of the turn. An interruption closes both without a finished
    event of its own: the ``interrupted`` event is the end, and the runtime persists the
    cut-off utterance marked as interrupted. These are the runtime's boundaries too, so
    its transcript tracker never sees an utterance twice. Tool calls without an id (never
    seen on the Gemini API) get ``"<name>#<n>"`` so the runtime can still key on them.
    """

    def __init__(self) -> None:
        self._user = _Utterance()
        self._agent = _Utterance()
        self._calls = 0

    def _finish_user(self) -> list[RealtimeEvent]:
        if not self._user:
            return []
        return [InputTranscriptEvent(text=self._user.take(), finished=True)]

    def _finish_agent(self) -> list[RealtimeEvent]:
        if not self._agent:
            return []
        return [OutputTranscriptEvent(text=self._agent.take(), finished=True)]

    def decode(self, message: types.LiveServerMessage) -> list[RealtimeEvent]:
        return self.decode_events(message_events(message))

    def decode_audio(self, events: Sequence[AudioDeltaEvent]) -> Sequence[RealtimeEvent]:
        """`decode_events` for a frame of model audio only (`frames.audio_events`): the
        audio as it is, after the user's utterance if one is still open."""
        if self._user.parts:
            return [*self._finish_user(), *events]
        return events

    def decode_events(self, events: Sequence[RealtimeEvent]) -> list[RealtimeEvent]:
        """Apply the transcript contract to one message's stateless events."""
        out: list[RealtimeEvent] = []
        for event in events:
            if isinstance(event, InputTranscriptEvent):
                if event.text:
                    out.append(InputTranscriptEvent(text=event.text, finished=False))
                    self._user.add(event.text)
                if event.finished:
                    out.extend(self._finish_user())
            elif isinstance(event, OutputTranscriptEvent):
                out.extend(self._finish_user())
                if event.text:
                    out.append(OutputTranscriptEvent(text=event.text, finished=False))
                    self._agent.add(event.text)
                if event.finished:
                    out.extend(self._finish_agent())
            elif isinstance(event, AudioDeltaEvent | TextDeltaEvent | GenerationCompleteEvent):
                out.extend(self._finish_user())
                out.append(event)
            elif isinstance(event, ToolCallEvent):
                out.extend(self._finish_user())
                out.extend(self._finish_agent())
                self._calls += 1
                if not event.id:
                    event = event.model_copy(update={"id": f"{event.name}#{self._calls}"})
                out.append(event)
            elif isinstance(event, InterruptedEvent):
                # The interruption itself closes what was being said (the runtime persists
                # it marked as interrupted); a later fragment starts a new utterance.
                self._user.take()
                self._agent.take()
                out.append(event)
            elif isinstance(event, TurnCompleteEvent):
                out.extend(self._finish_user())
                out.extend(self._finish_agent())
                out.append(event)
            else:
                out.append(event)
        return out


__all__ = [
    "IMAGE_MIME_TYPES",
    "Decoder",
    "SendCall",
    "audio_mime_type",
    "check_audio",
    "content_events",
    "context_window_compression",
    "function_declarations",
    "function_response",
    "history_turns",
    "input_call",
    "live_connect_config",
    "message_events",
    "parse_duration",
    "realtime_input_config",
    "reseed_call",
    "sample_rate_of",
    "session_update_event",
    "tool_response_call",
    "usage_event",
]
