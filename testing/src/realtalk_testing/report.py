"""What a replay did: played and unplayed lines, mismatches, per-connection traffic."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CassetteMismatchError",
    "CassetteReport",
    "ConnectionRecord",
    "Mismatch",
    "line_ranges",
]


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def line_ranges(numbers: list[int]) -> str:
    """``[5, 6, 7, 9]`` -> ``"5-7, 9"`` (reports stay readable for long cassettes)."""
    out: list[str] = []
    start = prev = None
    for n in sorted(numbers):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
        start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(out)


@dataclass(frozen=True)
class Mismatch:
    """A client frame (or connection) the cassette did not expect."""

    conn: int
    line: int | None
    reason: str
    expected: str
    actual: Any

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "no line"
        return (
            f"conn {self.conn}, {where}: {self.reason}\n"
            f"    expected: {self.expected}\n"
            f"    actual:   {_short(self.actual)}"
        )


@dataclass
class ConnectionRecord:
    """Everything one client connection sent, normalised, plus counters."""

    conn: int
    path: str
    headers: dict[str, str]
    frames: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    audio_frames: int = 0
    audio_bytes: int = 0
    video_frames: int = 0
    video_bytes: int = 0
    unlisted_frames: int = 0
    """Streaming frames accepted without a cassette line naming them."""
    unlisted_bytes: int = 0
    ended: str = "open"
    """How it ended: ``close <code>``, ``drop``, ``client left``, ``mismatch``, ``server exit``."""


@dataclass
class CassetteReport:
    """The outcome of one replay (``FakeGeminiServer.report``)."""

    cassette: str
    played: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    """Optional send lines the client did not send."""
    unplayed: list[int] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    connections: list[ConnectionRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every line played and nothing unexpected arrived."""
        return not self.unplayed and not self.mismatches

    def summary(self) -> str:
        """A readable multi-line account, used in assertion messages."""
        out = [f"cassette {self.cassette}:"]
        for m in self.mismatches:
            out.append(f"  mismatch: {m}")
        if self.unplayed:
            out.append(f"  unplayed lines: {line_ranges(self.unplayed)}")
        if self.skipped:
            out.append(f"  skipped optional lines: {line_ranges(self.skipped)}")
        out.append(f"  played lines: {line_ranges(self.played) or 'none'}")
        for c in self.connections:
            out.append(
                f"  conn {c.conn}: {len(c.frames)} frames received "
                f"({c.audio_frames} audio / {c.audio_bytes} bytes, "
                f"{c.unlisted_frames} unlisted streaming), ended: {c.ended}"
            )
        return "\n".join(out)


class CassetteMismatchError(AssertionError):
    """A replay left lines unplayed or saw frames the cassette did not expect."""

    def __init__(self, report: CassetteReport) -> None:
        self.report = report
        super().__init__(report.summary())
