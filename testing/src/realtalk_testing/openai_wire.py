"""Pure helpers for OpenAI Realtime client events and cassettes: kinds, matching, loading.

OpenAI Realtime events are flat JSON objects named by ``type`` with snake_case fields,
so normalising only drops the client's optional ``event_id`` (random per run) and
re-encodes base64 audio in the standard padded alphabet. Cassettes use the same JSONL
format as the Gemini ones (see :mod:`realtalk_testing.cassette`) with the header
``"provider": "openai"``; :func:`load_openai_cassette` validates them into the same
:class:`~realtalk_testing.cassette.Cassette` lines. No I/O besides reading a file.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .cassette import (
    Cassette,
    CassetteFormatError,
    CassetteLine,
    CloseLine,
    ConnectLine,
    DropLine,
    RecvLine,
    SendLine,
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

_COMMON_KEYS = frozenset({"conn", "note"})
_ACTIONS = ("connect", "send", "recv", "close", "drop")
_EXTRA = {
    "connect": frozenset(),
    "send": frozenset({"match", "min_bytes", "min_seconds", "optional"}),
    "recv": frozenset({"delay_ms"}),
    "close": frozenset(),
    "drop": frozenset(),
}
_RESERVED_CLOSE_CODES = frozenset({1004, 1005, 1006, 1015})
_AUDIO_SERVER_EVENTS = frozenset({"response.output_audio.delta", "response.audio.delta"})


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
    match = parse_match(obj.get("match"))
    if frame is None and match.mode in ("exact", "ignore"):
        raise ValueError(f'match "{match.mode}" needs a full event, not just a type')
    min_bytes, min_seconds = obj.get("min_bytes"), obj.get("min_seconds")
    if min_bytes is not None or min_seconds is not None:
        if kind not in STREAMING_KINDS:
            raise ValueError("min_bytes/min_seconds only apply to input_audio_buffer.append")
        if min_bytes is not None and not _positive_int(min_bytes):
            raise ValueError('"min_bytes" must be a positive integer')
        if min_seconds is not None and (
            not isinstance(min_seconds, int | float) or min_seconds <= 0
        ):
            raise ValueError('"min_seconds" must be a positive number')
    optional = obj.get("optional", False)
    if not isinstance(optional, bool):
        raise ValueError('"optional" must be true or false')
    return SendLine(
        conn=conn,
        lineno=lineno,
        kind=kind,
        frame=frame,
        match=match,
        min_bytes=min_bytes,
        min_seconds=float(min_seconds) if min_seconds is not None else None,
        optional=optional,
        raw=obj,
    )


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


def _parse_close(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> CloseLine:
    if not isinstance(value, dict) or set(value) - {"code", "reason"}:
        raise ValueError('"close" must be {"code": N, "reason": "..."}')
    code = value.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        raise ValueError('"close.code" must be a WebSocket close code (1000-4999)')
    if code in _RESERVED_CLOSE_CODES:
        raise ValueError(f"close code {code} cannot be sent on the wire (use drop for 1006)")
    reason = value.get("reason", "")
    if not isinstance(reason, str) or len(reason.encode("utf-8")) > 123:
        raise ValueError('"close.reason" must be a string of at most 123 bytes')
    return CloseLine(conn=conn, lineno=lineno, code=code, reason=reason, raw=obj)


def _parse_line(lineno: int, obj: Any) -> CassetteLine:
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    conn = obj.get("conn")
    if not isinstance(conn, int) or isinstance(conn, bool) or conn < 1:
        raise ValueError('"conn" must be a connection number (1, 2, ...)')
    actions = [k for k in _ACTIONS if k in obj]
    if len(actions) != 1:
        raise ValueError(f"a line has exactly one of {', '.join(_ACTIONS)}; found {actions}")
    action = actions[0]
    unknown = set(obj) - _COMMON_KEYS - {action} - _EXTRA[action]
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} on a {action} line")
    value = obj[action]
    if action == "connect":
        if not isinstance(value, dict) or set(value) - {"subset"}:
            raise ValueError('"connect" takes {"subset": {...session fields...}} (no handles)')
        subset = value.get("subset")
        if subset is not None and not isinstance(subset, dict):
            raise ValueError('"subset" must be an object (fields of session.update.session)')
        return ConnectLine(conn=conn, lineno=lineno, subset=subset, raw=obj)
    if action == "send":
        return _parse_send(conn, lineno, value, obj)
    if action == "recv":
        return _parse_recv(conn, lineno, value, obj)
    if action == "close":
        return _parse_close(conn, lineno, value, obj)
    if value is not True:
        raise ValueError('a drop line is {"conn": N, "drop": true}')
    return DropLine(conn=conn, lineno=lineno, raw=obj)


def _check_order(lines: Sequence[CassetteLine]) -> list[tuple[int, str]]:
    errors: list[tuple[int, str]] = []
    by_conn: dict[int, list[CassetteLine]] = {}
    for line in lines:
        by_conn.setdefault(line.conn, []).append(line)
    for conn, conn_lines in by_conn.items():
        for i, line in enumerate(conn_lines):
            nxt = conn_lines[i + 1] if i + 1 < len(conn_lines) else None
            if isinstance(line, ConnectLine) and i != 0:
                errors.append((line.lineno, f"connect must be the first line of conn {conn}"))
            if isinstance(line, CloseLine | DropLine) and nxt is not None:
                errors.append((nxt.lineno, f"conn {conn} already ended (line {line.lineno})"))
            if isinstance(line, SendLine) and line.optional and not isinstance(nxt, SendLine):
                errors.append((line.lineno, "an optional send line must be followed by a send"))
    return errors


def _build(items: list[tuple[int, Any]], source: str) -> Cassette:
    errors: list[tuple[int, str]] = []
    header_no, header = items[0]
    if not isinstance(header, dict):
        errors.append((header_no, "line 1 must be the header object"))
        header = {}
    else:
        if header.get("cassette") != 1:
            errors.append((header_no, 'header must contain "cassette": 1 (format version)'))
        if header.get("provider") != "openai":
            errors.append((header_no, f'header must say "provider": "openai", got '
                           f"{header.get('provider')!r}"))  # fmt: skip
        if "strict" in header and not isinstance(header["strict"], bool):
            errors.append((header_no, '"strict" must be true or false'))
    lines: list[CassetteLine] = []
    seen: set[int] = set()
    for lineno, obj in items[1:]:
        try:
            line = _parse_line(lineno, obj)
        except ValueError as exc:
            errors.append((lineno, str(exc)))
            continue
        if line.conn not in seen and line.conn != len(seen) + 1:
            errors.append((lineno, f"conn {line.conn} appears before conn {len(seen) + 1}"))
        seen.add(line.conn)
        lines.append(line)
    errors.extend(_check_order(lines))
    if errors:
        raise CassetteFormatError(source, sorted(errors, key=lambda e: e[0]))
    return Cassette(header=dict(header), lines=lines, source=source)


def loads_openai_cassette(text: str, source: str = "<string>") -> Cassette:
    """Parse and validate OpenAI cassette JSONL text (blank lines skipped)."""
    errors: list[tuple[int, str]] = []
    items: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append((lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
    if errors:
        raise CassetteFormatError(source, errors)
    if not items:
        raise CassetteFormatError(source, [(1, "empty cassette: line 1 must be the header")])
    return _build(items, source)


def load_openai_cassette(cassette: str | Path | Cassette) -> Cassette:
    """Load an OpenAI cassette from a path, a shipped name (``"tool_call"``) or pass one
    through. Lines are the shared :mod:`realtalk_testing.cassette` line classes."""
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
    return _build(items, source)
