"""Translation between realtalk's neutral shapes and OpenAI Realtime (GA) wire events.

Pure: no sockets, no clocks. Client events are plain dicts the transport serialises;
server events are decoded by `Decoder`, which keeps the little state the protocol
needs (the response in flight, audio played per item, pending tool calls) and hands back
both neutral events and the client events the protocol asks for in return (a truncation
after a barge-in, the ``response.create`` once every tool call is answered).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from realtalk.config import RealtimeConfig, VADConfig
from realtalk.events import (
    AudioDeltaEvent,
    ErrorEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    TextDeltaEvent,
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

SAMPLE_RATE = 24000
"""OpenAI Realtime speaks and listens PCM16 mono at 24 kHz."""
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png"})
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"

Frame = dict[str, Any]

# --------------------------------------------------------------------------- session


_THRESHOLD = {"high": 0.3, "low": 0.7}
"""Start sensitivity -> server VAD threshold (a lower threshold hears speech sooner)."""
_SILENCE_MS = {"high": 250, "low": 1000}
"""End sensitivity -> silence before a turn ends, when silence_duration_ms is unset."""


def turn_detection(vad: VADConfig) -> Frame | None:
    """Server VAD settings, or None (manual turns: commit + response.create)."""
    if not vad.enabled:
        return None
    detection: Frame = {"type": "server_vad", "create_response": True, "interrupt_response": True}
    if vad.start_sensitivity in _THRESHOLD:
        detection["threshold"] = _THRESHOLD[vad.start_sensitivity]
    if vad.prefix_padding_ms is not None:
        detection["prefix_padding_ms"] = vad.prefix_padding_ms
    if vad.silence_duration_ms is not None:
        detection["silence_duration_ms"] = vad.silence_duration_ms
    elif vad.end_sensitivity in _SILENCE_MS:
        detection["silence_duration_ms"] = _SILENCE_MS[vad.end_sensitivity]
    return detection


def function_tools(tools: Sequence[ToolSpec]) -> list[Frame]:
    """Tools as OpenAI function tools whose parameters are plain JSON schema."""
    return [
        {
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "parameters": dict(spec.parameters) or {"type": "object", "properties": {}},
        }
        for spec in tools
    ]


def _merge(base: Frame, extra: Mapping[str, Any]) -> Frame:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def session_update(setup: SessionSetup, model: str) -> Frame:
    """The ``session.update`` that configures one connection.

    ``setup.system_instruction`` wins over ``config.system_instruction`` (the runtime merges
    the agent's prompt into it). ``provider_options["session"]`` is merged over the result,
    key by key, for fields realtalk does not model (temperature, noise reduction, ...).
    """
    config: RealtimeConfig = setup.config
    audio_out = config.response_modality == "AUDIO"
    instruction = (
        setup.system_instruction
        if setup.system_instruction is not None
        else config.system_instruction
    )
    pcm = {"type": "audio/pcm", "rate": SAMPLE_RATE}
    audio_input: Frame = {"format": pcm, "turn_detection": turn_detection(config.vad)}
    if config.input_audio_transcription:
        name = config.provider_options.get("transcription_model") or DEFAULT_TRANSCRIPTION_MODEL
        audio_input["transcription"] = {"model": str(name)}
    audio_output: Frame = {"format": pcm}
    if config.voice:
        audio_output["voice"] = config.voice
    session: Frame = {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio" if audio_out else "text"],
        "audio": {"input": audio_input, "output": audio_output},
    }
    if instruction:
        session["instructions"] = instruction
    if setup.tools:
        session["tools"] = function_tools(setup.tools)
        session["tool_choice"] = "auto"
    extra = config.provider_options.get("session")
    if extra:
        if not isinstance(extra, Mapping):
            raise ValueError("provider_options['session'] must be a mapping of session fields")
        session = _merge(session, extra)
    return {"type": "session.update", "session": session}


# --------------------------------------------------------------------------- inputs


def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=repr)


def _user_item(content: list[Frame]) -> Frame:
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


RESPONSE_CREATE: Frame = {"type": "response.create"}


def input_frames(item: InputItem) -> list[Frame]:
    """The client events for one neutral input item (bad items raise ValueError).

    Audio is appended to the input buffer (server VAD decides turns, or ActivityEnd
    commits it); typed text becomes a user message plus ``response.create``; an image
    becomes a user message the next answer can see (no reply of its own). AudioStreamEnd
    has no OpenAI equivalent: server VAD ends turns on silence.
    """
    if isinstance(item, AudioInput):
        if item.sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"OpenAI Realtime takes {SAMPLE_RATE} Hz PCM16 audio, got {item.sample_rate} Hz"
            )
        if len(item.data) % 2:
            raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(item.data)}")
        if not item.data:
            return []
        audio = base64.b64encode(item.data).decode("ascii")
        return [{"type": "input_audio_buffer.append", "audio": audio}]
    if isinstance(item, TextInput):
        if not item.text.strip():
            raise ValueError("text input is empty")
        return [_user_item([{"type": "input_text", "text": item.text}]), dict(RESPONSE_CREATE)]
    if isinstance(item, ImageInput):
        if item.mime_type not in IMAGE_MIME_TYPES:
            raise ValueError(f"images must be image/jpeg or image/png, got {item.mime_type!r}")
        if not item.data:
            raise ValueError("image input is empty")
        url = f"data:{item.mime_type};base64,{base64.b64encode(item.data).decode('ascii')}"
        return [_user_item([{"type": "input_image", "image_url": url}])]
    if isinstance(item, ActivityStart):
        return [{"type": "input_audio_buffer.clear"}]
    if isinstance(item, ActivityEnd):
        return [{"type": "input_audio_buffer.commit"}, dict(RESPONSE_CREATE)]
    if isinstance(item, AudioStreamEnd):
        return []
    raise TypeError(f"not a realtalk input item: {item!r}")


def tool_output(result: Any, error: str | None = None) -> str:
    """A tool result as the JSON string OpenAI expects; ``{"error": ...}`` on failure."""
    value: Any = {"error": error} if error is not None else _jsonable(result)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def tool_output_frame(call_id: str, result: Any, error: str | None = None) -> Frame:
    """The ``function_call_output`` item answering one call by its id."""
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": call_id,
            "output": tool_output(result, error),
        },
    }


def tool_note_frame(name: str, result: Any, error: str | None = None) -> Frame:
    """A result for a call this connection never saw (made before a reconnect): a note."""
    if error is not None:
        text = f"[tool {name} failed: {error}]"
    else:
        text = f"[tool {name} returned {tool_output(result)}]"
    return _user_item([{"type": "input_text", "text": text}])


def truncate_frame(item_id: str, audio_end_ms: int, content_index: int = 0) -> Frame:
    """Cut an assistant audio item to what was delivered before the user barged in."""
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": max(0, int(audio_end_ms)),
    }


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
                pieces.append(f"[tool {block.name} returned {tool_output(block.result)}]")
    return "\n".join(p for p in pieces if p)


def reseed_frames(history: Sequence[Message]) -> list[Frame]:
    """Persisted transcripts as conversation items, WITHOUT ``response.create``.

    User speech and typed text become user messages (``input_text``); the agent's words,
    tool calls and results become assistant messages (``output_text``; calls and results
    as short notes). System messages are skipped: the instructions carry the prompt.
    """
    frames: list[Frame] = []
    for message in history:
        if message.role == "system":
            continue
        text = _history_text(message)
        if not text:
            continue
        if message.role == "user":
            frames.append(_user_item([{"type": "input_text", "text": text}]))
        else:
            frames.append(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text}],
                    },
                }
            )
    return frames


# --------------------------------------------------------------------------- server events

_AUDIO_DELTA = frozenset({"response.output_audio.delta", "response.audio.delta"})
_OUT_TRANSCRIPT_DELTA = frozenset(
    {"response.output_audio_transcript.delta", "response.audio_transcript.delta"}
)
_OUT_TRANSCRIPT_DONE = frozenset(
    {"response.output_audio_transcript.done", "response.audio_transcript.done"}
)
_TEXT_DELTA = frozenset({"response.output_text.delta", "response.text.delta"})
_IGNORED = frozenset(
    {
        "session.created",
        "session.updated",
        "rate_limits.updated",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.done",
        "conversation.item.truncated",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_audio.done",
        "response.audio.done",
        "response.output_text.done",
        "response.text.done",
        "response.function_call_arguments.delta",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
    }
)


def error_event(event: Mapping[str, Any]) -> ErrorEvent:
    """An ``error`` server event as a non-fatal neutral error (the close decides fatality)."""
    body = event.get("error")
    error: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = error.get("code") or error.get("type") or "openai_error"
    message = error.get("message") or "OpenAI Realtime reported an error"
    return ErrorEvent(code=str(code), message=str(message), fatal=False)


def usage_event(usage: Mapping[str, Any]) -> UsageEvent:
    """``response.done.response.usage`` as neutral token counts (details kept)."""

    def count(key: str) -> int | None:
        value = usage.get(key)
        return int(value) if isinstance(value, int | float) else None

    details = {
        k: v for k, v in usage.items() if k not in ("input_tokens", "output_tokens", "total_tokens")
    }
    return UsageEvent(
        prompt_tokens=count("input_tokens"),
        response_tokens=count("output_tokens"),
        total_tokens=count("total_tokens"),
        details=_jsonable(details),
    )


def _parse_args(raw: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(raw, Mapping):
        return dict(raw), None
    if not raw:
        return {}, None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        return {}, f"tool arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, "tool arguments are not a JSON object"
    return value, None


@dataclass
class _Response:
    """What the decoder knows about the response in flight."""

    id: str | None
    calls: list[str] = field(default_factory=list)
    audio_item: str | None = None
    audio_bytes: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


class Decoder:
    """Server events to neutral events for one connection (no I/O).

    Transcript contract: fragments come out with ``finished=False``, the whole utterance
    once with ``finished=True`` (``...transcription.completed`` for the user,
    ``...output_audio_transcript.done`` for the model). A response ends the turn
    (``turn_complete`` then ``usage``) unless it asked for tools (the turn goes on with
    their results) or was interrupted. ``speech_started`` while a response is in flight is
    a barge-in: ``interrupted`` once, the rest of that response is dropped, and (when
    ``truncate``) a ``conversation.item.truncate`` cuts the audio item to what was
    delivered. Client events the protocol asks for are queued in `outgoing`.
    """

    def __init__(self, *, truncate: bool = True, output_transcripts: bool = True) -> None:
        self.truncate = truncate
        self.output_transcripts = output_transcripts
        self.outgoing: list[Frame] = []
        self._response: _Response | None = None
        self._user_parts: list[str] = []
        self._agent_parts: list[str] = []
        self._call_names: dict[str, str] = {}
        self.pending_calls: set[str] = set()
        self.known_calls: set[str] = set()
        self._want_response = False

    # -- state the transport asks about ----------------------------------------------

    @property
    def response_active(self) -> bool:
        """A response is being generated (``response.create`` now would be refused)."""
        return self._response is not None

    def take_outgoing(self) -> list[Frame]:
        """Client events to send now, in order (then forgotten)."""
        out, self.outgoing = self.outgoing, []
        return out

    def answered(self, call_id: str) -> bool:
        """Record a tool result; True when ``response.create`` should be sent now."""
        self.pending_calls.discard(call_id)
        if self.pending_calls:
            return False
        if self._response is not None:
            self._want_response = True  # ask once the function-call response is done
            return False
        return True

    # -- decoding ---------------------------------------------------------------------

    def _barge_in(self) -> list[RealtimeEvent]:
        response = self._response
        if response is None or response.interrupted:
            return []
        response.interrupted = True
        self._agent_parts.clear()
        item = response.audio_item
        if self.truncate and item is not None:
            played_ms = response.audio_bytes.get(item, 0) * 1000 // (SAMPLE_RATE * 2)
            self.outgoing.append(truncate_frame(item, played_ms))
        return [InterruptedEvent()]

    def _finish_user(self) -> list[RealtimeEvent]:
        if not self._user_parts:
            return []
        text = "".join(self._user_parts)
        self._user_parts.clear()
        return [InputTranscriptEvent(text=text, finished=True)]

    def decode(self, event: Mapping[str, Any]) -> list[RealtimeEvent]:
        """One server event (a parsed JSON object) to neutral events."""
        kind = event.get("type")
        if not isinstance(kind, str):
            raise ValueError("server event has no 'type'")
        response = self._response
        if kind == "response.created":
            body = event.get("response")
            rid = body.get("id") if isinstance(body, Mapping) else None
            self._response = _Response(id=str(rid) if rid else None)
            return []
        if kind == "input_audio_buffer.speech_started":
            return self._barge_in()
        if kind == "conversation.item.input_audio_transcription.delta":
            text = str(event.get("delta") or "")
            if not text:
                return []
            self._user_parts.append(text)
            return [InputTranscriptEvent(text=text, finished=False)]
        if kind == "conversation.item.input_audio_transcription.completed":
            text = str(event.get("transcript") or "") or "".join(self._user_parts)
            self._user_parts.clear()
            if not text:
                return []
            return [InputTranscriptEvent(text=text, finished=True)]
        if kind == "error":
            return [error_event(event)]
        if kind == "conversation.item.input_audio_transcription.failed":
            self._user_parts.clear()
            failure = error_event(event)
            message = f"the user's speech could not be transcribed: {failure.message}"
            return [ErrorEvent(code="transcription_failed", message=message, fatal=False)]
        if kind == "response.output_item.added":
            item = event.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                self._call_names[str(item.get("call_id") or "")] = str(item.get("name") or "")
            return []
        if kind == "response.done":
            return self._response_done(event)
        if kind in _IGNORED:
            return []
        if response is not None and response.interrupted:
            return []  # the rest of a response the user talked over
        if kind in _AUDIO_DELTA:
            data = base64.b64decode(str(event.get("delta") or ""))
            if not data:
                return []
            item_id = event.get("item_id")
            if response is not None and isinstance(item_id, str):
                response.audio_item = item_id
                response.audio_bytes[item_id] = response.audio_bytes.get(item_id, 0) + len(data)
            return [*self._finish_user(), AudioDeltaEvent.of(data, SAMPLE_RATE)]
        if kind in _OUT_TRANSCRIPT_DELTA:
            text = str(event.get("delta") or "")
            if not text or not self.output_transcripts:
                return []
            self._agent_parts.append(text)
            return [*self._finish_user(), OutputTranscriptEvent(text=text, finished=False)]
        if kind in _OUT_TRANSCRIPT_DONE:
            text = str(event.get("transcript") or "") or "".join(self._agent_parts)
            self._agent_parts.clear()
            if not text or not self.output_transcripts:
                return []
            return [OutputTranscriptEvent(text=text, finished=True)]
        if kind in _TEXT_DELTA:
            text = str(event.get("delta") or "")
            return [*self._finish_user(), TextDeltaEvent(text=text)] if text else []
        if kind == "response.function_call_arguments.done":
            return self._tool_call(event)
        return []  # unknown server events are new protocol features: ignore them

    def _tool_call(self, event: Mapping[str, Any]) -> list[RealtimeEvent]:
        call_id = str(event.get("call_id") or event.get("item_id") or "")
        name = str(event.get("name") or self._call_names.get(call_id, ""))
        args, problem = _parse_args(event.get("arguments"))
        out: list[RealtimeEvent] = [*self._finish_user()]
        if self._agent_parts:
            out.append(OutputTranscriptEvent(text="".join(self._agent_parts), finished=True))
            self._agent_parts.clear()
        if problem is not None:
            out.append(ErrorEvent(code="invalid_tool_arguments", message=f"{name}: {problem}"))
        if self._response is not None:
            self._response.calls.append(call_id)
        self.pending_calls.add(call_id)
        self.known_calls.add(call_id)
        out.append(ToolCallEvent(id=call_id, name=name, args=args))
        return out

    def _response_done(self, event: Mapping[str, Any]) -> list[RealtimeEvent]:
        response = self._response or _Response(id=None)
        self._response = None
        body = event.get("response")
        body = body if isinstance(body, Mapping) else {}
        status = body.get("status")
        out: list[RealtimeEvent] = []
        if status == "cancelled" and not response.interrupted and response.audio_bytes:
            out.append(InterruptedEvent())  # cancelled by the client over audio
            response.interrupted = True
        elif status == "failed":
            details = body.get("status_details")
            err = details.get("error") if isinstance(details, Mapping) else None
            message = err.get("message") if isinstance(err, Mapping) else None
            out.append(
                ErrorEvent(
                    code="response_failed",
                    message=str(message or "the response failed"),
                    fatal=False,
                )
            )
        if not response.calls and not response.interrupted:
            out.extend(self._finish_user())
            if self._agent_parts:
                out.append(OutputTranscriptEvent(text="".join(self._agent_parts), finished=True))
                self._agent_parts.clear()
            out.append(TurnCompleteEvent())
        self._agent_parts.clear()
        usage = body.get("usage")
        if isinstance(usage, Mapping):
            out.append(usage_event(usage))
        if self._want_response and not self.pending_calls:
            self._want_response = False
            self.outgoing.append(dict(RESPONSE_CREATE))
        return out


__all__ = [
    "DEFAULT_TRANSCRIPTION_MODEL",
    "IMAGE_MIME_TYPES",
    "RESPONSE_CREATE",
    "SAMPLE_RATE",
    "Decoder",
    "error_event",
    "function_tools",
    "input_frames",
    "reseed_frames",
    "session_update",
    "tool_note_frame",
    "tool_output",
    "tool_output_frame",
    "truncate_frame",
    "turn_detection",
    "usage_event",
]
