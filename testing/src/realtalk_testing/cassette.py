"""The cassette format: a JSONL script of one or more Gemini Live connections.

Line 1 is the header ``{"cassette": 1, "provider": "gemini", ...}``. Every other line
belongs to a connection ``conn`` (1, 2, ...) and holds exactly one action:

- ``connect``: expectations about the connection's setup (``{"handle": "h"}`` for the
  resumption handle the client must present, ``{"handle": null}`` for a fresh session,
  ``{"subset": {...}}`` for any fields of the setup message);
- ``send``: a frame the client must send (the server waits for it), compared as
  ``match`` says; audio lines may name ``min_bytes`` / ``min_seconds``;
- ``recv``: a frame the server sends (optional ``delay_ms`` before it);
- ``close``: the server closes with ``{"code": ..., "reason": ...}``;
- ``drop``: the server aborts the TCP connection without a close frame.

Loading validates everything and reports every problem with its line number, so a
typo fails at load time instead of as a puzzling replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from .gemini_wire import (
    CLIENT_KINDS,
    MARKER_KINDS,
    SERVER_KEYS,
    STREAMING_KINDS,
    MatchSpec,
    decode_b64,
    frame_kind,
    normalize_frame,
    parse_match,
)

__all__ = [
    "QUESTION_WAV",
    "SHIPPED_DIR",
    "Cassette",
    "CassetteFormatError",
    "CassetteLine",
    "CloseLine",
    "ConnectLine",
    "DropLine",
    "RecvLine",
    "SendLine",
    "shipped_cassette_names",
    "shipped_cassette_path",
]

SHIPPED_DIR = Path(__file__).parent / "cassettes"
"""Where the cassettes shipped with realtalk-testing live."""
QUESTION_WAV = Path(__file__).parent / "audio" / "question_16k.wav"
"""The user's question ("What's the weather in Paris?") as 16 kHz mono PCM16 WAV."""


def shipped_cassette_names() -> list[str]:
    """Names of the shipped cassettes (file stems), sorted."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.jsonl"))


def shipped_cassette_path(name: str) -> Path:
    """Path of a shipped cassette; raises FileNotFoundError naming the available ones."""
    path = SHIPPED_DIR / f"{name.removesuffix('.jsonl')}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"no shipped cassette {name!r}; available: {', '.join(shipped_cassette_names())}"
        )
    return path


FORMAT_VERSION = 1
_RESERVED_CLOSE_CODES = frozenset({1004, 1005, 1006, 1015})
_COMMON_KEYS = frozenset({"conn", "note"})
_ACTION_KEYS = ("connect", "send", "recv", "close", "drop")
_EXTRA_KEYS: dict[str, frozenset[str]] = {
    "connect": frozenset(),
    "send": frozenset({"match", "min_bytes", "min_seconds", "optional"}),
    "recv": frozenset({"delay_ms"}),
    "close": frozenset(),
    "drop": frozenset(),
}


class CassetteFormatError(ValueError):
    """A cassette could not be loaded; ``errors`` lists ``(line number, message)``."""

    def __init__(self, source: str, errors: Sequence[tuple[int, str]]) -> None:
        self.source = source
        self.errors = list(errors)
        shown = "\n".join(f"  {source}:{n}: {msg}" for n, msg in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"invalid cassette {source}:\n{shown}{more}")


_UNSET: Any = object()


@dataclass(frozen=True)
class ConnectLine:
    """Expectations checked against the client's ``setup`` frame."""

    conn: int
    lineno: int
    handle: str | None = _UNSET
    subset: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def requires_handle(self) -> bool:
        """True when the line says which handle (or ``null`` for none) must be presented."""
        return self.handle is not _UNSET


@dataclass(frozen=True)
class SendLine:
    """A frame the client must send; ``frame`` is normalised (None for a kind-only line)."""

    conn: int
    lineno: int
    kind: str
    frame: Mapping[str, Any] | None
    match: MatchSpec
    min_bytes: int | None = None
    min_seconds: float | None = None
    optional: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def streaming(self) -> bool:
        return self.kind in STREAMING_KINDS

    def describe(self) -> str:
        """Short human description used in mismatch reports."""
        parts = [f"send {self.kind}", f"match {self.match.describe()}"]
        if self.min_bytes is not None:
            parts.append(f"min_bytes {self.min_bytes}")
        if self.min_seconds is not None:
            parts.append(f"min_seconds {self.min_seconds}")
        return ", ".join(parts)


@dataclass(frozen=True)
class RecvLine:
    """A frame the server sends verbatim (camelCase keys, as Gemini does)."""

    conn: int
    lineno: int
    frame: Mapping[str, Any]
    delay_ms: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CloseLine:
    """The server closes the connection with a close frame."""

    conn: int
    lineno: int
    code: int
    reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class DropLine:
    """The server aborts the transport: no close frame, the client sees 1006."""

    conn: int
    lineno: int
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


CassetteLine: TypeAlias = ConnectLine | SendLine | RecvLine | CloseLine | DropLine


@dataclass
class Cassette:
    """A parsed, validated cassette. Build one with `load()`, `loads()` or
    `from_dicts()`; write it with `dump()` / `dumps()`."""

    header: dict[str, Any]
    lines: list[CassetteLine]
    source: str = "<memory>"

    # -- properties -------------------------------------------------------------------

    @property
    def strict(self) -> bool:
        """When true, realtime audio/video the cassette does not list is a mismatch."""
        return bool(self.header.get("strict", False))

    @property
    def model(self) -> str | None:
        value = self.header.get("model")
        return str(value) if value is not None else None

    @property
    def name(self) -> str:
        return Path(self.source).stem if self.source != "<memory>" else self.source

    @property
    def conns(self) -> list[int]:
        """Connection numbers in order (1, 2, ...)."""
        return sorted({line.conn for line in self.lines})

    def lines_for(self, conn: int) -> list[CassetteLine]:
        """The lines of one connection, in file order."""
        return [line for line in self.lines if line.conn == conn]

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read and validate a cassette file."""
        p = Path(path)
        return cls.loads(p.read_text(encoding="utf-8"), source=str(p))

    @classmethod
    def shipped(cls, name: str) -> Cassette:
        """Load a cassette shipped with realtalk-testing, e.g. ``Cassette.shipped("tool_call")``."""
        return cls.load(shipped_cassette_path(name))

    @classmethod
    def loads(cls, text: str, source: str = "<string>") -> Cassette:
        """Parse and validate JSONL text; blank lines are skipped (numbers stay real)."""
        return cls._build(read_jsonl_items(text, source), source)

    @classmethod
    def from_dicts(
        cls,
        header: Mapping[str, Any],
        lines: Iterable[Mapping[str, Any]],
        source: str = "<memory>",
    ) -> Cassette:
        """Validate lines given as dicts, numbered as they would be in a file."""
        items: list[tuple[int, Any]] = [(1, dict(header))]
        items.extend((n, dict(line)) for n, line in enumerate(lines, start=2))
        return cls._build(items, source)

    @classmethod
    def _build(cls, items: list[tuple[int, Any]], source: str) -> Cassette:
        return build_cassette(items, source, GEMINI_SYNTAX, cls)

    # -- writing ----------------------------------------------------------------------

    def to_dicts(self) -> list[dict[str, Any]]:
        """Header then every line, as JSON-ready dicts."""
        out: list[dict[str, Any]] = [dict(self.header)]
        out.extend(dict(line.raw) for line in self.lines)
        return out

    def dumps(self) -> str:
        """JSONL text, one compact object per line."""
        return "".join(
            json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
            for obj in self.to_dicts()
        )

    def dump(self, path: str | Path) -> Path:
        """Write the cassette (atomically: a temporary file renamed into place)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        tmp.replace(p)
        return p


def _parse_line(lineno: int, obj: Any, syntax: CassetteSyntax) -> CassetteLine:
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    conn = obj.get("conn")
    if not isinstance(conn, int) or isinstance(conn, bool) or conn < 1:
        raise ValueError('"conn" must be a connection number (1, 2, ...)')
    actions = [k for k in _ACTION_KEYS if k in obj]
    if len(actions) != 1:
        raise ValueError(
            f"a line has exactly one of {', '.join(_ACTION_KEYS)}; found {actions or 'none'}"
        )
    action = actions[0]
    unknown = set(obj) - _COMMON_KEYS - {action} - _EXTRA_KEYS[action]
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} on a {action} line")
    value = obj[action]
    if action == "connect":
        return syntax.parse_connect(conn, lineno, value, obj)
    if action == "send":
        return syntax.parse_send(conn, lineno, value, obj)
    if action == "recv":
        return syntax.parse_recv(conn, lineno, value, obj)
    if action == "close":
        return _parse_close(conn, lineno, value, obj)
    if value is not True:
        raise ValueError('a drop line is {"conn": N, "drop": true}')
    return DropLine(conn=conn, lineno=lineno, raw=obj)


def _parse_connect(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> ConnectLine:
    if not isinstance(value, dict):
        raise ValueError('"connect" must be an object')
    unknown = set(value) - {"handle", "subset"}
    if unknown:
        raise ValueError(f"unknown connect expectation(s) {sorted(unknown)}")
    handle = value.get("handle", _UNSET)
    if handle is not _UNSET and handle is not None and not isinstance(handle, str):
        raise ValueError('"handle" must be a string or null')
    subset = value.get("subset")
    if subset is not None and not isinstance(subset, dict):
        raise ValueError('"subset" must be an object (fields of the setup message)')
    return ConnectLine(
        conn=conn,
        lineno=lineno,
        handle=handle,
        subset=normalize_frame(subset) if subset else None,
        raw=obj,
    )


def _parse_send(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> SendLine:
    frame: dict[str, Any] | None
    if isinstance(value, str):
        if value not in CLIENT_KINDS:
            raise ValueError(f"unknown message kind {value!r}; known: {sorted(CLIENT_KINDS)}")
        kind, frame = value, None
    elif isinstance(value, dict):
        frame = normalize_frame(value)
        kind = frame_kind(frame)
    else:
        raise ValueError('"send" must be a client frame object or a message kind string')
    return finish_send_line(
        conn, lineno, kind, frame, parse_match(obj.get("match")), obj,
        streaming_kinds=STREAMING_KINDS - MARKER_KINDS, audio_kind="realtime_input.audio",
        streaming_what="realtime audio or video", noun="frame",
    )  # fmt: skip


def finish_send_line(
    conn: int,
    lineno: int,
    kind: str,
    frame: dict[str, Any] | None,
    match: MatchSpec,
    obj: dict[str, Any],
    *,
    streaming_kinds: frozenset[str],
    audio_kind: str,
    streaming_what: str,
    noun: str,
) -> SendLine:
    """The provider-neutral half of a ``send`` line: match mode, byte/second thresholds
    for streaming input, ``optional``. ``noun`` names a wire message in errors."""
    if frame is None and match.mode in ("exact", "ignore"):
        kind_word = "kind" if noun == "frame" else "type"
        raise ValueError(f'match "{match.mode}" needs a full {noun}, not just a {kind_word}')
    min_bytes = obj.get("min_bytes")
    min_seconds = obj.get("min_seconds")
    if min_bytes is not None or min_seconds is not None:
        if kind not in streaming_kinds:
            raise ValueError(f"min_bytes/min_seconds only apply to {streaming_what}")
        if min_bytes is not None and (
            not isinstance(min_bytes, int) or isinstance(min_bytes, bool) or min_bytes < 1
        ):
            raise ValueError('"min_bytes" must be a positive integer')
        if min_seconds is not None:
            if kind != audio_kind:
                raise ValueError('"min_seconds" only applies to audio')
            if not isinstance(min_seconds, int | float) or min_seconds <= 0:
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


def _check_b64(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "data" and isinstance(v, str):
                try:
                    decode_b64(v)
                except ValueError as exc:
                    raise ValueError(f"{path}.data is not valid base64") from exc
            else:
                _check_b64(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_b64(v, f"{path}[{i}]")


def _parse_recv(conn: int, lineno: int, value: Any, obj: dict[str, Any]) -> RecvLine:
    if not isinstance(value, dict) or not value:
        raise ValueError('"recv" must be a non-empty server frame object')
    unknown = set(value) - SERVER_KEYS
    if unknown:
        raise ValueError(
            f"unknown server message key(s) {sorted(unknown)} (the SDK would crash on them); "
            f"recv frames are sent verbatim in camelCase: {sorted(SERVER_KEYS)}"
        )
    _check_b64(value, "recv")
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
    if not isinstance(value, dict):
        raise ValueError('"close" must be {"code": N, "reason": "..."}')
    unknown = set(value) - {"code", "reason"}
    if unknown:
        raise ValueError(f"unknown close field(s) {sorted(unknown)}")
    code = value.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        raise ValueError('"close.code" must be a WebSocket close code (1000-4999)')
    if code in _RESERVED_CLOSE_CODES:
        raise ValueError(f"close code {code} cannot be sent on the wire (use drop for 1006)")
    reason = value.get("reason", "")
    if not isinstance(reason, str):
        raise ValueError('"close.reason" must be a string')
    if len(reason.encode("utf-8")) > 123:
        raise ValueError("close reason is longer than 123 bytes (WebSocket limit)")
    return CloseLine(conn=conn, lineno=lineno, code=code, reason=reason, raw=obj)


def _check_order(
    lines: Sequence[CassetteLine], first_send_kind: str | None
) -> list[tuple[int, str]]:
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
                errors.append(
                    (
                        nxt.lineno,
                        f"conn {conn} already ended (line {line.lineno}); "
                        "start a new conn number for the next connection",
                    )
                )
            if isinstance(line, SendLine) and line.optional and not isinstance(nxt, SendLine):
                errors.append(
                    (line.lineno, "an optional send line must be followed by a send line")
                )
        if first_send_kind is None:
            continue
        first = 1 if conn_lines and isinstance(conn_lines[0], ConnectLine) else 0
        for i, line in enumerate(conn_lines):
            if isinstance(line, SendLine) and line.kind == first_send_kind and i != first:
                errors.append(
                    (
                        line.lineno,
                        f"{first_send_kind} must be the first send of conn {conn}, before any recv",
                    )
                )
    return errors


LineParser = Callable[[int, int, Any, dict[str, Any]], CassetteLine]


@dataclass(frozen=True)
class CassetteSyntax:
    """What differs between providers' cassettes; everything else (header, connection
    numbering, close/drop lines, ordering rules, error reporting) is shared."""

    provider: str
    parse_connect: LineParser
    parse_send: LineParser
    parse_recv: LineParser
    provider_may_be_omitted: bool = False
    first_send_kind: str | None = None


def read_jsonl_items(text: str, source: str) -> list[tuple[int, Any]]:
    """Decode JSONL into ``(line number, object)`` pairs (blank lines skipped), reporting
    every undecodable line at once."""
    errors: list[tuple[int, str]] = []
    items: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append((lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
        except RecursionError:
            errors.append((lineno, "not valid JSON: nested too deeply"))
    if errors:
        raise CassetteFormatError(source, errors)
    if not items:
        raise CassetteFormatError(source, [(1, "empty cassette: line 1 must be the header")])
    return items


def build_cassette(
    items: list[tuple[int, Any]],
    source: str,
    syntax: CassetteSyntax,
    factory: type[Cassette] = Cassette,
) -> Cassette:
    """Validate a header and lines with ``syntax``; every problem is reported with its line."""
    errors: list[tuple[int, str]] = []
    header_no, header = items[0]
    if not isinstance(header, dict):
        errors.append((header_no, "line 1 must be the header object"))
        header = {}
    else:
        if header.get("cassette") != FORMAT_VERSION:
            errors.append(
                (header_no, f'header must contain "cassette": {FORMAT_VERSION} (format version)')
            )
        default = syntax.provider if syntax.provider_may_be_omitted else None
        provider = header.get("provider", default)
        if provider != syntax.provider:
            errors.append(
                (
                    header_no,
                    f"unsupported provider {provider!r} (this loader reads "
                    f'"provider": "{syntax.provider}" cassettes)',
                )
            )
        if "strict" in header and not isinstance(header["strict"], bool):
            errors.append((header_no, '"strict" must be true or false'))
    lines: list[CassetteLine] = []
    seen_conns: set[int] = set()
    for lineno, obj in items[1:]:
        try:
            line = _parse_line(lineno, obj, syntax)
        except ValueError as exc:
            errors.append((lineno, str(exc)))
            continue
        if line.conn not in seen_conns and line.conn != len(seen_conns) + 1:
            errors.append((lineno, f"conn {line.conn} appears before conn {len(seen_conns) + 1}"))
        seen_conns.add(line.conn)
        lines.append(line)
    errors.extend(_check_order(lines, syntax.first_send_kind))
    if errors:
        raise CassetteFormatError(source, sorted(errors, key=lambda e: e[0]))
    return factory(header=dict(header), lines=lines, source=source)


GEMINI_SYNTAX = CassetteSyntax(
    provider="gemini",
    parse_connect=_parse_connect,
    parse_send=_parse_send,
    parse_recv=_parse_recv,
    provider_may_be_omitted=True,
    first_send_kind="setup",
)
"""Gemini Live cassettes (``"provider"`` may be left out of the header)."""
