"""Pure helpers for Gemini Live client frames: normalisation, message kinds, matching.

The google-genai SDK sends frames that mix snake_case and camelCase keys and encode
bytes with the URL-safe base64 alphabet; hand-written cassettes usually use camelCase
and standard base64. Both sides are normalised to one form (camelCase keys, standard
padded base64) before they are compared, so a cassette never depends on the spelling
the client happened to use. No I/O here: this module is what makes matching testable.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLIENT_KINDS",
    "MARKER_KINDS",
    "SERVER_KEYS",
    "STREAMING_KINDS",
    "MatchSpec",
    "audio_rate",
    "blob_bytes",
    "decode_b64",
    "frame_kind",
    "match_frame",
    "normalize_frame",
    "parse_match",
    "to_camel",
]

SERVER_KEYS = frozenset(
    {
        "setupComplete",
        "serverContent",
        "toolCall",
        "toolCallCancellation",
        "usageMetadata",
        "goAway",
        "sessionResumptionUpdate",
        "voiceActivityDetectionSignal",
        "voiceActivity",
    }
)
"""Top-level keys the SDK understands in a server frame; any other key crashes it."""

CLIENT_KINDS = frozenset(
    {
        "setup",
        "client_content",
        "tool_response",
        "context_update",
        "realtime_input.audio",
        "realtime_input.video",
        "realtime_input.text",
        "realtime_input.activity_start",
        "realtime_input.activity_end",
        "realtime_input.audio_stream_end",
    }
)
"""Message kinds a client frame can have (see `frame_kind()`)."""

STREAMING_KINDS = frozenset(
    {"realtime_input.audio", "realtime_input.video", "realtime_input.audio_stream_end"}
)
"""Kinds a replaying server accepts and counts even when the cassette does not list them.

``audio_stream_end`` is streaming input too: a client sends it whenever its microphone
pauses (``LiveInputQueue.send_audio_stream_end``), so a cassette need not record where."""
MARKER_KINDS = frozenset({"realtime_input.audio_stream_end"})
"""Streaming kinds that carry no media: tolerated like audio, never counted as audio frames."""

# Keys whose values are user data (tool arguments, tool results, JSON schemas): their
# inner keys are kept verbatim, so a tool argument named "city_name" stays as it is.
_OPAQUE_KEYS = frozenset({"args", "response", "parametersJsonSchema", "responseJsonSchema"})
# Keys whose value maps user-chosen names to schemas: names verbatim, schemas normalised.
_NAMED_MAP_KEYS = frozenset({"properties"})

_REALTIME_SUBKINDS = {
    "audio": "realtime_input.audio",
    "video": "realtime_input.video",
    "text": "realtime_input.text",
    "activityStart": "realtime_input.activity_start",
    "activityEnd": "realtime_input.activity_end",
    "audioStreamEnd": "realtime_input.audio_stream_end",
}
_TOP_KINDS = {
    "setup": "setup",
    "clientContent": "client_content",
    "toolResponse": "tool_response",
    "contextUpdate": "context_update",
}

_SNAKE_RE = re.compile(r"_([a-z0-9])")
_B64_RE = re.compile(r"^[A-Za-z0-9+/\-_]*={0,2}$")


def to_camel(key: str) -> str:
    """``inline_data`` -> ``inlineData``; camelCase keys are returned unchanged."""
    if "_" not in key.strip("_"):
        return key
    return _SNAKE_RE.sub(lambda m: m.group(1).upper(), key)


def decode_b64(text: str) -> bytes:
    """Decode base64 in either alphabet, padded or not; raises ValueError if invalid."""
    if not _B64_RE.match(text):
        raise ValueError("not base64")
    std = text.replace("-", "+").replace("_", "/").rstrip("=")
    std += "=" * (-len(std) % 4)
    try:
        return base64.b64decode(std, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc


def _normalize(value: Any, key: str | None) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            ck = to_camel(str(k))
            if ck in _OPAQUE_KEYS:
                out[ck] = copy.deepcopy(v)
            elif ck in _NAMED_MAP_KEYS and isinstance(v, Mapping):
                out[ck] = {str(name): _normalize(sub, None) for name, sub in v.items()}
            else:
                out[ck] = _normalize(v, ck)
        return out
    if isinstance(value, list | tuple):
        return [_normalize(v, key) for v in value]
    if key == "data" and isinstance(value, str):
        try:
            return base64.b64encode(decode_b64(value)).decode("ascii")
        except ValueError:
            return value
    return value


def normalize_frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``frame`` with camelCase keys and standard padded base64 ``data``."""
    result = _normalize(frame, None)
    assert isinstance(result, dict)
    return result


def frame_kind(frame: Mapping[str, Any]) -> str:
    """The message kind of a client frame, e.g. ``setup`` or ``realtime_input.audio``.

    Accepts raw or normalised frames. The deprecated ``realtimeInput.mediaChunks`` form
    counts as audio or video according to its MIME type. Raises ValueError for a frame
    that is not a Gemini Live client message.
    """
    norm = {to_camel(str(k)): v for k, v in frame.items()}
    keys = list(norm)
    if len(keys) != 1:
        raise ValueError(f"a client frame has exactly one top-level key, got {keys}")
    top = keys[0]
    if top in _TOP_KINDS:
        return _TOP_KINDS[top]
    if top != "realtimeInput":
        raise ValueError(f"unknown client message {top!r}")
    raw_body = norm[top]
    if not isinstance(raw_body, Mapping) or not raw_body:
        raise ValueError("realtimeInput must be a non-empty object")
    body = {to_camel(str(k)): v for k, v in raw_body.items()}
    for sub, kind in _REALTIME_SUBKINDS.items():
        if sub in body:
            return kind
    chunks = body.get("mediaChunks")
    if isinstance(chunks, list) and chunks and isinstance(chunks[0], Mapping):
        first = {to_camel(str(k)): v for k, v in chunks[0].items()}
        mime = str(first.get("mimeType", ""))
        return (
            "realtime_input.video"
            if mime.startswith(("image/", "video/"))
            else ("realtime_input.audio")
        )
    raise ValueError(f"unknown realtimeInput field(s) {sorted(body)}")


def _blobs(frame: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    body = frame.get("realtimeInput")
    if not isinstance(body, Mapping):
        return []
    found: list[Mapping[str, Any]] = []
    for key in ("audio", "video"):
        if isinstance(body.get(key), Mapping):
            found.append(body[key])
    chunks = body.get("mediaChunks")
    if isinstance(chunks, list):
        found.extend(c for c in chunks if isinstance(c, Mapping))
    return found


def blob_bytes(frame: Mapping[str, Any]) -> int:
    """Number of media bytes carried by a (normalised) realtime audio/video frame."""
    total = 0
    for blob in _blobs(frame):
        data = blob.get("data")
        if isinstance(data, str):
            try:
                total += len(decode_b64(data))
            except ValueError:
                total += 0
    return total


def audio_rate(frame: Mapping[str, Any], default: int = 16000) -> int:
    """Sample rate named by the MIME type of an audio frame (``audio/pcm;rate=16000``)."""
    for blob in _blobs(frame):
        mime = str(blob.get("mimeType", ""))
        m = re.search(r"rate=(\d+)", mime)
        if m:
            return int(m.group(1))
    return default


@dataclass(frozen=True)
class MatchSpec:
    """How a cassette ``send`` line compares the client's frame.

    ``mode`` is ``key`` (same message kind), ``exact`` (same normalised JSON),
    ``ignore`` (same normalised JSON except the dotted ``paths``, ``*`` matching any
    key or list index) or ``subset`` (every field of ``subset`` present and equal in the
    frame; lists compare element by element and must have the same length).
    """

    mode: str = "key"
    paths: tuple[str, ...] = ()
    subset: Mapping[str, Any] | None = None

    def describe(self) -> str:
        if self.mode == "ignore":
            return f"ignore {list(self.paths)}"
        if self.mode == "subset":
            return f"subset {json.dumps(self.subset, sort_keys=True)}"
        return self.mode


def parse_match(raw: Any) -> MatchSpec:
    """Parse the ``match`` field of a cassette line; raises ValueError when malformed."""
    if raw is None or raw == "key":
        return MatchSpec("key")
    if raw == "exact":
        return MatchSpec("exact")
    if isinstance(raw, Mapping) and len(raw) == 1:
        if "ignore" in raw:
            paths = raw["ignore"]
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ValueError('"ignore" takes a list of dotted paths')
            return MatchSpec("ignore", paths=tuple(paths))
        if "subset" in raw:
            sub = raw["subset"]
            if not isinstance(sub, Mapping):
                raise ValueError('"subset" takes an object (a partial frame)')
            return MatchSpec("subset", subset=normalize_frame(sub))
    raise ValueError(
        'match must be "key", "exact", {"ignore": [paths]} or {"subset": {...}}, '
        f"got {json.dumps(raw)}"
    )


def _drop_path(value: Any, parts: Sequence[str]) -> Any:
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if head in ("*", k):
                if rest:
                    out[k] = _drop_path(v, rest)
            else:
                out[k] = v
        return out
    if isinstance(value, list):
        items = []
        for i, v in enumerate(value):
            if head in ("*", str(i)):
                if rest:
                    items.append(_drop_path(v, rest))
                else:
                    items.append(None)
            else:
                items.append(v)
        return items
    return value


def _without(frame: Mapping[str, Any], paths: Sequence[str]) -> Any:
    result: Any = dict(frame)
    for path in paths:
        parts = [to_camel(p) for p in path.split(".") if p]
        result = _drop_path(result, parts)
    return result


def _is_subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _is_subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_is_subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def match_frame(
    expected: Mapping[str, Any] | None,
    expected_kind: str,
    spec: MatchSpec,
    actual: Mapping[str, Any],
) -> str | None:
    """Compare a normalised client frame with a ``send`` line.

    Returns None when it matches, else a one-line reason for the mismatch.
    """
    return _match(expected, expected_kind, spec, actual, frame_kind, _without, "frame")


def _match(
    expected: Mapping[str, Any] | None,
    expected_kind: str,
    spec: MatchSpec,
    actual: Mapping[str, Any],
    kind_of: Callable[[Mapping[str, Any]], str],
    without: Callable[[Mapping[str, Any], Sequence[str]], Any],
    noun: str,
) -> str | None:
    """`match_frame()` for a wire whose client messages ``kind_of`` names and whose
    ``ignore`` paths ``without`` removes; ``noun`` names a message in the reasons."""
    try:
        kind = kind_of(actual)
    except ValueError as exc:
        return str(exc)
    if kind != expected_kind:
        return f"expected {expected_kind}, got {kind}"
    if spec.mode == "key":
        return None
    if spec.mode == "subset":
        if _is_subset(spec.subset, actual):
            return None
        return f"{noun} lacks the required fields " + json.dumps(spec.subset, sort_keys=True)
    if expected is None:
        return None
    if spec.mode == "exact":
        return None if expected == actual else f"{noun} differs from the expected {noun}"
    if without(expected, spec.paths) == without(actual, spec.paths):
        return None
    return f"{noun} differs from the expected {noun} (ignoring {list(spec.paths)})"
