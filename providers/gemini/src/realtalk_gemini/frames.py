"""The hot path on the wire: model audio in, microphone audio out, as raw JSON frames.

Nine frames in ten of a live session are audio: the server's ``serverContent.modelTurn``
carrying one base64 PCM part, and the client's ``realtime_input.audio``. google-genai
builds and validates a pydantic model for every frame (``LiveServerMessage`` on receive,
``LiveSendRealtimeInputParameters`` on send), which costs more CPU than everything
realtalk does with the chunk. These two pure functions handle exactly those two frame
shapes directly; anything else (or anything unusual about an audio frame) returns
``None`` and goes through the SDK's own parser, so the SDK stays the authority on the
protocol. ``tests/gemini/test_frames.py`` proves both functions give what the SDK gives.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

from realtalk.events import AudioDeltaEvent

from .codec import audio_mime_type, sample_rate_of

_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_VALUE_OF = {
    char: value
    for value, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_MODEL_TURN_KEYS = frozenset({"parts", "role"})
_BLOB_KEYS = frozenset({"data", "mimeType"})
_RATE_CACHE_LIMIT = 64
_rates: dict[str, int] = {}


def _b64decode(text: str) -> bytes | None:
    """Standard or URL-safe base64 with padding; ``None`` for anything else (SDK decides).

    One alphabet per string, as pydantic (the SDK's decoder) requires. Works on the
    ``str`` itself: ``a2b_base64`` reads an ASCII string in place, so the 6 KB of a chunk
    is not copied to bytes first (a non-ASCII string is a ValueError there).
    """
    try:
        if "-" in text or "_" in text:
            if "+" in text or "/" in text:
                return None
            text = text.translate(_URLSAFE_TO_STANDARD)
        if not text or len(text) % 4:
            return None
        if text[-1] == "=":  # pydantic refuses stray bits before the padding
            if text[-2] == "=":
                if _VALUE_OF.get(text[-3], 0) & 0x0F:
                    return None
            elif _VALUE_OF.get(text[-2], 0) & 0x03:
                return None
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def _rate_of(mime: str) -> int:
    """`sample_rate_of`, remembered per mime type (a connection sends one or two)."""
    rate = _rates.get(mime)
    if rate is None:
        rate = sample_rate_of(mime)
        if len(_rates) < _RATE_CACHE_LIMIT:  # bounded: a server cannot grow it
            _rates[mime] = rate
    return rate


def audio_events(frame: Mapping[str, Any]) -> list[AudioDeltaEvent] | None:
    """Events of a frame that holds nothing but model audio, else ``None``.

    Accepted shape, and only it: ``{"serverContent": {"modelTurn": {"parts": [{"inlineData":
    {"mimeType": "audio/...", "data": "<base64>"}}, ...]}}}`` (``role`` allowed). A frame
    with any other key (transcripts, ``turnComplete``, usage, tool calls, a thought part,
    an empty part) is left to the SDK, which knows every field.
    """
    if len(frame) != 1:
        return None
    content = frame.get("serverContent")
    if type(content) is not dict or len(content) != 1:
        return None
    turn = content.get("modelTurn")
    if type(turn) is not dict or not turn.keys() <= _MODEL_TURN_KEYS:
        return None
    parts = turn.get("parts")
    if type(parts) is not list or not parts:
        return None
    events: list[AudioDeltaEvent] = []
    for part in parts:
        if type(part) is not dict or len(part) != 1:
            return None
        blob = part.get("inlineData")
        if type(blob) is not dict or blob.keys() != _BLOB_KEYS:
            return None
        mime, text = blob["mimeType"], blob["data"]
        if type(mime) is not str or not mime.startswith("audio/") or type(text) is not str:
            return None
        data = _b64decode(text)
        if not data:  # empty audio is skipped by the codec; let the SDK path say so
            return None
        events.append(AudioDeltaEvent.of(data, _rate_of(mime)))
    return events


# JSON whitespace, and the fixed frame around one audio part, token by token
_WS = rb"[ \t\n\r]*"
_MIME_VALUE = rb'"(audio/[\x20\x21\x23-\x5b\x5d-\x7e]*)"'  # printable, no quote or backslash


def _tokens(*tokens: bytes) -> bytes:
    return _WS + _WS.join(tokens) + _WS


_HEAD = (rb"\{", rb'"serverContent"', b":", rb"\{", rb'"modelTurn"', b":", rb"\{")
_PARTS = (rb'"parts"', b":", rb"\[", rb"\{", rb'"inlineData"', b":", rb"\{")
_CLOSE = (rb"\}", rb"\}", rb"\]", rb"\}", rb"\}", rb"\}")
_MIME_FIRST = re.compile(
    _tokens(*_HEAD, *_PARTS, rb'"mimeType"', b":", _MIME_VALUE, b",", rb'"data"', b":") + b'"'
)
_DATA_FIRST = re.compile(_tokens(*_HEAD, *_PARTS, rb'"data"', b":") + b'"')
_END = re.compile(b'"' + _tokens(*_CLOSE))
_END_WITH_MIME = re.compile(b'"' + _tokens(b",", rb'"mimeType"', b":", _MIME_VALUE, *_CLOSE))


def audio_frame_events(raw: bytes) -> list[AudioDeltaEvent] | None:
    """`audio_events` of the frame ``raw`` without parsing it as JSON, or ``None``.

    ``json.loads`` reads the 6 KB of base64 character by character; this finds the
    fixed structure around it (any JSON whitespace, either key order) and the string's
    end with ``bytes.find``. Only one shape is taken: one part, ``mimeType`` and
    ``data`` strings with no escape sequences (the mime pattern has no backslash, and
    strict base64 refuses one in the data); anything else (``role``, several parts, an
    escape, other keys) returns ``None`` and is parsed as JSON as before, so both paths
    give the same events (``tests/gemini/test_frames.py``).
    """
    head, ending = _MIME_FIRST.match(raw), _END
    if head is None:
        head, ending = _DATA_FIRST.match(raw), _END_WITH_MIME
        if head is None:
            return None
    start = head.end()
    end = raw.find(b'"', start)  # an escaped quote ends it early: then not base64
    tail = ending.fullmatch(raw, end) if end >= 0 else None
    if tail is None:
        return None
    mime = (head if ending is _END else tail).group(1)
    try:
        text = raw[start:end].decode("ascii")
    except UnicodeDecodeError:
        return None
    data = _b64decode(text)
    if not data:  # empty audio is skipped by the codec; let the SDK path say so
        return None
    return [AudioDeltaEvent.of(data, _rate_of(mime.decode("ascii")))]


def audio_input_text(data: bytes, sample_rate: int) -> str:
    """The ``realtime_input.audio`` frame google-genai sends for this chunk, as text.

    Same keys, same order, same separators, same URL-safe base64 as the SDK (3.x) puts on
    the wire, so a server, a cassette or a recording proxy cannot tell the two apart.
    Joined, not ``json.dumps``: neither value can hold a character JSON escapes (the
    URL-safe base64 alphabet; a mime type of ASCII letters, digits and ``/;=``), and
    scanning 4 KB of base64 for them costs more than the base64 itself.
    """
    encoded = binascii.b2a_base64(data, newline=False).translate(_STANDARD_TO_URLSAFE)
    return (
        '{"realtime_input": {"audio": {"data": "'
        + encoded.decode("ascii")
        + '", "mime_type": "'
        + audio_mime_type(sample_rate)
        + '"}}}'
    )


_STANDARD_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")

__all__ = ["audio_events", "audio_frame_events", "audio_input_text"]
