"""Pure helpers for OpenAI Realtime client events and cassettes: kinds, matching, loading.

OpenAI Realtime events are flat JSON objects named by ``type`` with snake_case fields,
so normalising only drops the client's optional ``event_id`` (random per run) and
re-encodes base64 audio in the standard padded alphabet. Cassettes use the same JSONL
format as the Gemini ones (see `realtalk_testing.cassette`) with the header
``"provider": "openai"``; `load_openai_cassette()` validates them into the same
`Cassette` lines. No I/O besides reading a file.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .cassette import (
    Cassette,
    CassetteSyntax,
    ConnectLine,
    RecvLine,
    SendLine,
    build_cassette,
    finish_send_line,
    read_jsonl_items,
)
from .gemini_wire import MatchSpec, _drop_path, _match

__all__ = [
    "AUDIO_RATE",
    "CLIENT_KINDS",
    "OPENAI_SHIPPED_DIR",
    "STREAMING_KINDS",
    "audio_bytes",
    "frame_kind",
    "load_openai_cassette",
    "loads_openai_cassette",
    "match_frame",
    "normalize_frame",
    "openai_cassette_from_dicts",
    "openai_cassette_names",
    "openai_cassette_path",
    "parse_match",
]

OPENAI_SHIPPED_DIR = Path(__file__).parent / "cassettes" / "openai"
"""Where the OpenAI cassettes shipped with realtalk-testing live."""

AUDIO_RATE = 24000
"""OpenAI Realtime input audio is PCM16 mono at 24 kHz (what ``min_seconds`` counts)."""

CLIENT_KINDS = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.truncate",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
    }
)
"""Client event types of the GA Realtime protocol."""

STREAMING_KINDS = frozenset({"input_audio_buffer.append"})
"""Kinds a replaying server accepts and counts even when the cassette does not list them."""


def openai_cassette_names() -> list[str]:
    """Names of the shipped OpenAI cassettes (file stems), sorted."""
    return sorted(p.stem for p in OPENAI_SHIPPED_DIR.glob("*.jsonl"))


def openai_cassette_path(name: str) -> Path:
    """Path of a shipped OpenAI cassette; FileNotFoundError names the available ones."""
    path = OPENAI_SHIPPED_DIR / f"{name.removesuffix('.jsonl')}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"no shipped OpenAI cassette {name!r}; available: {', '.join(openai_cassette_names())}"
        )
    return path


def _decode_b64(text: str) -> bytes:
    std = text.replace("-", "+").replace("_", "/").rstrip("=")
    std += "=" * (-len(std) % 4)
    try:
        return base64.b64decode(std, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from exc


def normalize_frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy without ``event_id`` and with standard padded base64 ``audio``."""
    out = copy.deepcopy(dict(frame))
    out.pop("event_id", None)
    audio = out.get("audio")
    if isinstance(audio, str):
        try:
            out["audio"] = base64.b64encode(_decode_b64(audio)).decode("ascii")
        except ValueError:
            pass
    return out


def frame_kind(frame: Mapping[str, Any]) -> str:
    """The client event type; ValueError for anything that is not a client event."""
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise ValueError("a client event needs a string 'type'")
    if kind not in CLIENT_KINDS:
        raise ValueError(f"unknown client event type {kind!r}")
    return kind


def audio_bytes(frame: Mapping[str, Any]) -> int:
    """Number of PCM bytes an ``input_audio_buffer.append`` carries (0 if unreadable)."""
    audio = frame.get("audio")
    if not isinstance(audio, str):
        return 0
    try:
        return len(_decode_b64(audio))
    except ValueError:
        return 0


def parse_match(raw: Any) -> MatchSpec:
    """Parse a ``match`` field (``key``, ``exact``, ``{"ignore": [...]}``, ``{"subset": {}}``)."""
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
        if "subset" in raw and isinstance(raw["subset"], Mapping):
            return MatchSpec("subset", subset=normalize_frame(raw["subset"]))
    raise ValueError(
        'match must be "key", "exact", {"ignore": [paths]} or {"subset": {...}}, '
        f"got {json.dumps(raw)}"
    )


def _without(frame: Mapping[str, Any], paths: Iterable[str]) -> Any:
    result: Any = dict(frame)
    for path in paths:
        result = _drop_path(result, [p for p in path.split(".") if p])
    return result


def match_frame(
    expected: Mapping[str, Any] | None,
    expected_kind: str,
    spec: MatchSpec,
    actual: Mapping[str, Any],
) -> str | None:
    """Compare a normalised client event with a ``send`` line: None, or why it differs."""
    return _match(expected, expected_kind, spec, actual, frame_kind, _without, "event")


# --------------------------------------------------------------------------- cassettes

_AUDIO_SERVER_EVENTS = frozenset({"response.output_audio.delta", "response.audio.delta"})


def _parse_connect(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> ConnectLine:
    if not isinstance(value, dict) or set(value) - {"subset"}:
        raise ValueError('"connect" takes {"subset": {...session fields...}} (no handles)')
    subset = value.get("subset")
    if subset is not None and not isinstance(subset, dict):
        raise ValueError('"subset" must be an object (fields of session.update.session)')
    return ConnectLine(conn=conn, lineno=lineno, subset=subset, raw=obj)


def _parse_send(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> SendLine:
    if isinstance(value, str):
        if value not in CLIENT_KINDS:
            raise ValueError(f"unknown client event type {value!r}; known: {sorted(CLIENT_KINDS)}")
        kind, frame = value, None
    elif isinstance(value, dict):
        frame = normalize_frame(value)
        kind = frame_kind(frame)
    else:
        raise ValueError('"send" must be a client event object or an event type string')
    return finish_send_line(
        conn, lineno, kind, frame, parse_match(obj.get("match")), obj,
        streaming_kinds=STREAMING_KINDS, audio_kind="input_audio_buffer.append",
        streaming_what="input_audio_buffer.append", noun="event",
    )  # fmt: skip


def _parse_recv(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> RecvLine:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ValueError('"recv" must be a server event object with a string "type"')
    if value["type"] in _AUDIO_SERVER_EVENTS:
        delta = value.get("delta")
        if not isinstance(delta, str):
            raise ValueError("an audio delta needs a base64 string 'delta'")
        _decode_b64(delta)
    delay = obj.get("delay_ms")
    if delay is not None and (not isinstance(delay, int | float) or delay < 0):
        raise ValueError('"delay_ms" must be a non-negative number')
    return RecvLine(
        conn=conn,
        lineno=lineno,
        frame=value,
        delay_ms=int(delay) if delay is not None else None,
        raw=obj,
    )


OPENAI_SYNTAX = CassetteSyntax(
    provider="openai",
    parse_connect=_parse_connect,
    parse_send=_parse_send,
    parse_recv=_parse_recv,
)
"""OpenAI Realtime cassettes: the shared format with OpenAI client/server events."""


def loads_openai_cassette(text: str, source: str = "<string>") -> Cassette:
    """Parse and validate OpenAI cassette JSONL text (blank lines skipped)."""
    return build_cassette(read_jsonl_items(text, source), source, OPENAI_SYNTAX)


def load_openai_cassette(cassette: str | Path | Cassette) -> Cassette:
    """Load an OpenAI cassette from a path, a shipped name (``"tool_call"``) or pass one
    through. Lines are the shared `realtalk_testing.cassette` line classes."""
    if isinstance(cassette, Cassette):
        return cassette
    path = Path(cassette)
    if not path.is_file() and not path.suffix and "/" not in str(cassette):
        path = openai_cassette_path(str(cassette))
    return loads_openai_cassette(path.read_text(encoding="utf-8"), source=str(path))


def openai_cassette_from_dicts(
    header: Mapping[str, Any], lines: Iterable[Mapping[str, Any]], source: str = "<memory>"
) -> Cassette:
    """Validate lines given as dicts, numbered as they would be in a file."""
    items: list[tuple[int, Any]] = [(1, {"cassette": 1, "provider": "openai", **header})]
    items.extend((n, dict(line)) for n, line in enumerate(lines, start=2))
    return build_cassette(items, source, OPENAI_SYNTAX)
