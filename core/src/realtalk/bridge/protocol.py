"""The bridge's wire protocol, without I/O.

Parsing and validation of client frames and encoding of events live here as pure
functions, so every malformed-frame case is testable without a socket and the server
code only moves bytes. See ``docs/bridge.md`` for the reference.

Upstream (client to server): the first frame is a JSON object of per-session overrides;
then binary frames are PCM16 audio at the session's input rate and text frames are JSON
objects with a ``type``. Downstream: binary frames are model audio, text frames are JSON
events (`realtalk.events`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from ..audio import SUPPORTED_SAMPLE_RATES
from ..config import INPUT_SAMPLE_RATE, VADConfig
from ..events import AudioDeltaEvent, ErrorEvent, event_to_json
from ..thread_ids import thread_id_problem

SUBPROTOCOL: Final = "realtalk.v1"
"""The WebSocket subprotocol the bridge speaks (echoed when a client offers it)."""

# Close codes. 1000-1015 are RFC 6455's; 4xxx are application codes mirroring HTTP.
CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008
"""Authentication failed or the thread belongs to another user."""
CLOSE_TOO_BIG: Final = 1009
"""A frame exceeded ``limits.max_frame_bytes``."""
CLOSE_INTERNAL: Final = 1011
CLOSE_RESTART: Final = 1012
"""The server is shutting down; reconnect (to another instance) with the same thread_id."""
CLOSE_TRY_AGAIN: Final = 1013
"""The server is at ``limits.max_sessions``; retry later."""
CLOSE_IDLE: Final = 4408
"""No frame from the client for ``limits.idle_timeout`` seconds."""
CLOSE_RATE: Final = 4429
"""The client sent faster than ``limits`` allow (a flood)."""
CLOSE_SLOW_CONSUMER: Final = 4410
"""The client stopped reading and undroppable events piled up."""

URGENT_SEND: Final = "realtalk.urgent_send"
"""ASGI extension of ``realtalk api``'s server, and the message key using it: a
``websocket.send``/``websocket.close`` marked with it is written without waiting for
the client to read (the bridge's final error event and close frame)."""

DIRECT_IO: Final = "realtalk.direct_io"
"""ASGI extension of ``realtalk api``'s server: its value (`realtalk.bridge.wsprotocol.
DirectIO`) lets the session take binary frames in the protocol's own callback and write
frames at once, skipping the ASGI queue and two task hops per chunk; a session
without it (any other server) uses the ASGI messages only."""

OVERRIDE_FIELDS: Final = frozenset(
    {
        "thread_id",
        "input_sample_rate",
        "model",
        "voice",
        "vad",
        "response_modalities",
        "input_audio_transcription",
        "output_audio_transcription",
        "system_instruction",
        "session_resumption",
        "context_window_compression",
    }
)
"""Every field a first frame can name; a server enables a subset via ``overrides``."""

DEFAULT_OVERRIDES: Final = (
    "thread_id",
    "input_sample_rate",
    "model",
    "voice",
    "vad",
    "response_modalities",
    "input_audio_transcription",
    "output_audio_transcription",
)
"""Enabled unless ``realtalk.json`` lists its own (system_instruction is opt-in)."""

BRIDGE_FIELDS: Final = frozenset({"thread_id", "input_sample_rate"})
"""Overrides the bridge consumes itself; the rest go to the runtime's session config."""

UPSTREAM_TYPES: Final = (
    "text",
    "image",
    "activity_start",
    "activity_end",
    "audio_stream_end",
    "close",
)

IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png"})


class ProtocolError(Exception):
    """A frame the bridge refuses; becomes a non-fatal ``error`` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_event(self) -> ErrorEvent:
        return ErrorEvent(code=self.code, message=self.message, fatal=False)


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """A validated first frame."""

    thread_id: str | None
    input_sample_rate: int
    overrides: dict[str, Any]
    """RealtimeConfig fields for the runtime's session config."""


@dataclass(frozen=True, slots=True)
class TextFrame:
    text: str


@dataclass(frozen=True, slots=True)
class ImageFrame:
    data: bytes
    mime_type: str


@dataclass(frozen=True, slots=True)
class ControlFrame:
    """``activity_start``, ``activity_end``, ``audio_stream_end`` or ``close``."""

    kind: str


ClientFrame = TextFrame | ImageFrame | ControlFrame


MAX_NUMBER_CHARS: Final = 100
"""Longest JSON number a client frame may hold (no field needs more; Python refuses to
convert integers of over 4,300 digits, and converting long ones costs quadratic time)."""


class _Refused(ValueError):
    """A JSON value the bridge refuses while parsing (the reason is client-safe)."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number out of range")
    return value


def _parse_constant(name: str) -> Any:
    raise _Refused(f"{name}, which is not JSON")


def _check_strings(value: object) -> None:
    """Refuse strings that are not Unicode text: a lone surrogate (``"\\ud800"``) decodes
    from JSON but cannot be encoded, stored or sent on."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _Refused("a string with a lone surrogate (not Unicode text)") from None


def _load_object(text: str, what: str) -> dict[str, Any]:
    """Parse a client's JSON object; anything else is a ``bad_frame`` ProtocolError.

    Refused at this boundary, so no later layer (validation, persistence, the provider's
    serialiser) meets them: malformed or too deeply nested JSON, numbers over
    ``MAX_NUMBER_CHARS`` characters, NaN/Infinity, and lone surrogates in strings.
    """
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
        _check_strings(value)
    except _Refused as exc:
        raise ProtocolError("bad_frame", f"{what} holds {exc}") from None
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise ProtocolError("bad_frame", f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(
            "bad_frame", f"{what} must be a JSON object, got a JSON {_json_kind(value)}"
        )
    return value


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def _short(value: object, limit: int = 40) -> str:
    """A client's value quoted in an error, cut short (errors must not amplify input)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_override(name: str, why: str) -> ProtocolError:
    return ProtocolError("bad_override", f"override {_short(name)} {why}")


def _check_str(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad_override(name, "must be a non-empty string")
    if len(value) > limit:
        raise _bad_override(name, f"must be at most {limit} characters")
    return value.strip()


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _bad_override(name, "must be true or false")
    return value


def _check_override(name: str, value: object) -> Any:
    if name == "thread_id":
        problem = thread_id_problem(value)
        if problem is not None:
            raise _bad_override(name, problem)
        return value
    if name == "input_sample_rate":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_override(name, "must be an integer")
        if value not in SUPPORTED_SAMPLE_RATES:
            raise _bad_override(name, f"must be one of {sorted(SUPPORTED_SAMPLE_RATES)}")
        return value
    if name in ("model", "voice"):
        return _check_str(name, value, 200)
    if name == "system_instruction":
        return _check_str(name, value, 20_000)
    if name == "vad":
        if not isinstance(value, dict):
            raise _bad_override(name, "must be an object of VADConfig fields")
        try:
            VADConfig.model_validate(value, strict=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise _bad_override(name, f"is invalid at {_short(where)}: {err['msg']}") from None
        return dict(value)
    if name == "response_modalities":
        if not isinstance(value, list) or len(value) != 1 or value[0] not in ("AUDIO", "TEXT"):
            raise _bad_override(name, 'must be ["AUDIO"] or ["TEXT"]')
        return list(value)
    return _check_bool(name, value)


def parse_session_request(text: str, allowed: frozenset[str] | set[str]) -> SessionRequest:
    """Validate the first frame against the server's allowlist of overrides."""
    data = _load_object(text, "the first frame (session overrides)")
    if "type" in data:
        raise ProtocolError(
            "bad_override",
            "the first frame must be the session overrides object (e.g. "
            '{"thread_id": "abc"}), not a typed frame; send {} for the defaults',
        )
    overrides: dict[str, Any] = {}
    thread_id: str | None = None
    rate = INPUT_SAMPLE_RATE
    for name, value in data.items():
        if name not in OVERRIDE_FIELDS:
            raise ProtocolError(
                "bad_override",
                f"unknown override {_short(name)}; this server accepts {sorted(allowed)}",
            )
        if name not in allowed:
            raise ProtocolError("bad_override", f"override {name!r} is not allowed by this server")
        checked = _check_override(name, value)
        if name == "thread_id":
            thread_id = checked
        elif name == "input_sample_rate":
            rate = checked
        else:
            overrides[name] = checked
    return SessionRequest(thread_id=thread_id, input_sample_rate=rate, overrides=overrides)


def _only_fields(data: dict[str, Any], kind: str, fields: tuple[str, ...]) -> None:
    for key in data:
        if key != "type" and key not in fields:
            expected = f"only {list(fields)}" if fields else "no fields"
            raise ProtocolError(
                "bad_field",
                f"unexpected field {_short(key)} in a {kind!r} frame ({kind} takes {expected})",
            )


def parse_client_frame(text: str) -> ClientFrame:
    """Parse one upstream text frame (after the first)."""
    data = _load_object(text, "a text frame")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            "bad_field", f"a text frame needs a string 'type', one of {list(UPSTREAM_TYPES)}"
        )
    if kind not in UPSTREAM_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown frame type {_short(kind)}; expected one of {list(UPSTREAM_TYPES)}",
        )
    if kind == "text":
        _only_fields(data, kind, ("text",))
        text_value = data.get("text")
        if not isinstance(text_value, str) or not text_value:
            raise ProtocolError("bad_field", "'text' must be a non-empty string")
        return TextFrame(text=text_value)
    if kind == "image":
        _only_fields(data, kind, ("data", "mime_type"))
        mime = data.get("mime_type", "image/jpeg")
        if not isinstance(mime, str) or mime not in IMAGE_TYPES:
            raise ProtocolError(
                "bad_field", f"'mime_type' must be one of {sorted(IMAGE_TYPES)}, got {_short(mime)}"
            )
        raw = data.get("data")
        if not isinstance(raw, str) or not raw:
            raise ProtocolError("bad_field", "'data' must be a non-empty base64 string")
        try:
            image = base64.b64decode(raw.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("bad_field", "'data' is not valid base64") from None
        if not image:
            raise ProtocolError("bad_field", "'data' decodes to no bytes")
        return ImageFrame(data=image, mime_type=mime)
    _only_fields(data, kind, ())
    return ControlFrame(kind=kind)


def check_audio_frame(data: bytes) -> None:
    """PCM16 frames carry whole samples."""
    if not data:
        raise ProtocolError("bad_audio", "empty binary frame (expected PCM16 audio)")
    if len(data) % 2:
        raise ProtocolError(
            "bad_audio", f"binary frame of {len(data)} bytes is not whole PCM16 samples"
        )


def audio_format_frame(sample_rate: int) -> str:
    """Announces the rate of the binary frames that follow (sent when it changes)."""
    return json.dumps({"type": "audio_format", "sample_rate": sample_rate, "encoding": "pcm16"})


def encode_event(event: Any) -> str | bytes:
    """Downstream form of an event: model audio as raw bytes, everything else as JSON."""
    if isinstance(event, AudioDeltaEvent):
        return event.data
    return event_to_json(event)


def frame_too_big_message(size: int | None, limit: int) -> str:
    """The ``frame_too_big`` event's text (``size`` None: not known, e.g. compressed)."""
    if size is None:
        return f"a frame exceeds the limit of {limit} bytes"
    return f"a frame of {size} bytes exceeds the limit of {limit}"


def error_frame(code: str, message: str, *, fatal: bool = False) -> str:
    return event_to_json(ErrorEvent(code=code, message=message, fatal=fatal))


__all__ = [
    "BRIDGE_FIELDS",
    "CLOSE_IDLE",
    "CLOSE_INTERNAL",
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "CLOSE_RATE",
    "CLOSE_RESTART",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_TOO_BIG",
    "CLOSE_TRY_AGAIN",
    "DEFAULT_OVERRIDES",
    "DIRECT_IO",
    "OVERRIDE_FIELDS",
    "SUBPROTOCOL",
    "UPSTREAM_TYPES",
    "URGENT_SEND",
    "ClientFrame",
    "ControlFrame",
    "ImageFrame",
    "ProtocolError",
    "SessionRequest",
    "TextFrame",
    "audio_format_frame",
    "check_audio_frame",
    "encode_event",
    "error_frame",
    "frame_too_big_message",
    "parse_client_frame",
    "parse_session_request",
]
