"""The demo's terminal view of a live session, and the numbers of its summary.

Transcripts grow in place as fragments arrive (one line per utterance), everything else
gets a line of its own: tool calls and results, the ``go_away`` and the reconnect,
errors. `SessionStats` keeps what the summary reports, independent of printing: the
session's own measured figures (its ``session_metrics`` event, see ``realtalk.metrics``)
plus the audio and transcripts the demo saw.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..audio import pcm16_seconds
from ..events import (
    AudioDeltaEvent,
    ErrorEvent,
    GoAwayEvent,
    InputDroppedEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    ReconnectedEvent,
    SessionEndedEvent,
    SessionMetricsEvent,
    SessionStartedEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnCompleteEvent,
    UsageEvent,
)


@dataclass
class SessionStats:
    """What happened in one session, for the summary.

    Turns, tool calls, reconnects and latency are the session's own figures (its
    ``session_metrics`` event); the demo adds the audio and the words it saw."""

    metrics: SessionMetricsEvent | None = None
    errors: list[str] = field(default_factory=list)
    audio_in_seconds: float = 0.0
    audio_out_bytes: int = 0
    audio_out_rate: int = 24000
    user_text: list[str] = field(default_factory=list)
    agent_text: list[str] = field(default_factory=list)
    ended: str = ""

    @property
    def audio_out_seconds(self) -> float:
        return pcm16_seconds(self.audio_out_bytes, self.audio_out_rate)

    @property
    def turns(self) -> int:
        return self.metrics.turns if self.metrics else 0

    @property
    def interruptions(self) -> int:
        return self.metrics.interruptions if self.metrics else 0

    @property
    def tool_calls(self) -> int:
        return len(self.metrics.tool_calls) if self.metrics else 0

    @property
    def reconnects(self) -> int:
        return len(self.metrics.reconnects) if self.metrics else 0

    @property
    def resumed(self) -> int:
        return sum(r.resumed for r in self.metrics.reconnects) if self.metrics else 0

    @property
    def go_aways(self) -> int:
        return self.metrics.go_aways if self.metrics else 0

    @property
    def latency_to_first_audio(self) -> float | None:
        """The first turn's time from the end of the input to the model's first audio."""
        latencies = self.metrics.time_to_first_audio if self.metrics else []
        return latencies[0] if latencies else None

    def observe(self, event: RealtimeEvent) -> None:
        match event:
            case AudioDeltaEvent():
                self.audio_out_bytes += len(event.data)
                self.audio_out_rate = event.sample_rate
            case SessionMetricsEvent():
                self.metrics = event
            case ErrorEvent():
                self.errors.append(f"{event.code}: {event.message}")
            case InputTranscriptEvent(finished=True):
                self.user_text.append(event.text)
            case OutputTranscriptEvent(finished=True):
                self.agent_text.append(event.text)
            case SessionEndedEvent():
                self.ended = event.reason
            case _:
                pass


def _color_enabled(out: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(out, "isatty", lambda: False)())


class EventPrinter:
    """Prints a session's events as a readable, live transcript."""

    def __init__(self, out: TextIO, *, color: bool | None = None) -> None:
        self.out = out
        self.color = _color_enabled(out) if color is None else color
        self._open: str | None = None  # which growing line is open: "user" / "agent"
        self._audio_chunks = 0

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _end_line(self) -> None:
        if self._open is not None:
            self.out.write("\n")
            self._open = None

    def line(self, text: str, code: str = "") -> None:
        """Print a line of its own (closing any growing transcript line first)."""
        self._end_line()
        self.out.write((self._style(text, code) if code else text) + "\n")
        self.out.flush()

    def _grow(self, who: str, fragment: str) -> None:
        if self._open != who:
            self._end_line()
            label = "you:   " if who == "user" else "agent: "
            self.out.write(self._style(label, "1;36" if who == "user" else "1;32"))
            self._open = who
            fragment = fragment.lstrip()
        self.out.write(fragment)
        self.out.flush()

    def _transcript(self, who: str, text: str, finished: bool) -> None:
        if not finished:
            self._grow(who, text)
        elif self._open == who:
            self._end_line()
        else:  # a provider that only sends whole utterances
            self._grow(who, text)
            self._end_line()

    def show(self, event: RealtimeEvent) -> None:
        match event:
            case InputTranscriptEvent():
                self._transcript("user", event.text, event.finished)
            case OutputTranscriptEvent():
                self._transcript("agent", event.text, event.finished)
            case TextDeltaEvent():
                self._grow("agent", event.text)
            case AudioDeltaEvent():
                self._audio_chunks += 1
                if self._audio_chunks == 1:
                    self.line(f"  ~  model audio streaming ({event.sample_rate} Hz)", "2")
            case SessionStartedEvent():
                self.line(f"*  session started (thread {event.thread_id})", "2")
            case ToolCallEvent():
                args = json.dumps(event.args, ensure_ascii=False)
                self.line(f"  -> tool call   {event.name}({args})  id={event.id}", "33")
            case ToolResultEvent(error=None):
                shown = json.dumps(event.result, ensure_ascii=False, default=str)
                self.line(f"  <- tool result {event.name}: {shown}", "33")
            case ToolResultEvent():
                self.line(f"  <- tool error  {event.name}: {event.error}", "31")
            case ToolCallCancelledEvent():
                self.line(f"  x  tool calls cancelled: {', '.join(event.ids)}", "33")
            case GoAwayEvent():
                left = "" if event.time_left is None else f" (time left {event.time_left:g} s)"
                self.line(f"  !  go_away: the server is rotating this connection{left}", "35")
            case ReconnectedEvent():
                how = "resumed with its handle" if event.resumed else "fresh, reseeded"
                self.line(f"  @  reconnected (attempt {event.attempt}, {how})", "35")
            case SessionUpdateEvent(resumable=True) if event.resumption_handle:
                self.line("  .  resumption handle updated", "2")
            case InterruptedEvent():
                self.line("  !  interrupted (barge-in)", "35")
            case TurnCompleteEvent():
                self.line("  .  turn complete", "2")
            case UsageEvent():
                tokens = f"{event.prompt_tokens} prompt + {event.response_tokens} response"
                self.line(f"  .  usage: {tokens} tokens", "2")
            case InputDroppedEvent():
                self.line(f"  !  input dropped: {event.audio_chunks} audio chunks ({event.reason})")
            case ErrorEvent():
                level = "fatal error" if event.fatal else "error"
                self.line(f"  x  {level} {event.code}: {event.message}", "31")
            case SessionEndedEvent():
                self.line(f"*  session ended ({event.reason})", "2")
            case _:
                pass

    def close(self) -> None:
        self._end_line()
        self.out.flush()


def format_summary(
    stats: SessionStats, rows: list[tuple[str, str]], *, replayed: bool = False
) -> str:
    """The summary block printed at the end of the demo.

    ``replayed``: the session was a cassette replay, whose pacing is scripted, so the
    latency says nothing about a model and is labelled as such.
    """
    latency = stats.latency_to_first_audio
    origin = "replay pacing, not a model's" if replayed else "from the end of the input"
    resumed = f" ({stats.resumed} resumed)" if stats.reconnects else ""
    lines: list[tuple[str, str]] = [
        ("turns", str(stats.turns)),
        ("audio in", f"{stats.audio_in_seconds:.2f} s"),
        ("audio out", f"{stats.audio_out_seconds:.2f} s"),
        ("tool calls", str(stats.tool_calls)),
        ("reconnects", f"{stats.reconnects}{resumed}"),
        (
            "latency to first audio",
            "n/a" if latency is None else f"{latency:.2f} s ({origin})",
        ),
        ("tokens", _tokens(stats.metrics)),
        *rows,
    ]
    if stats.errors:
        lines.append(("errors", "; ".join(stats.errors)))
    width = max(len(name) for name, _ in lines)
    body = "\n".join(f"  {name.ljust(width)}  {value}" for name, value in lines)
    return f"Summary\n{body}"


def _tokens(metrics: SessionMetricsEvent | None) -> str:
    if metrics is None or metrics.total_tokens is None:
        return "n/a"
    return f"{metrics.input_tokens} in + {metrics.output_tokens} out"


def format_json_summary(stats: SessionStats, extra: dict[str, Any]) -> dict[str, Any]:
    """The same numbers as a dict (``--json``), for scripts and tests."""
    return {
        "turns": stats.turns,
        "audio_in_seconds": round(stats.audio_in_seconds, 3),
        "audio_out_seconds": round(stats.audio_out_seconds, 3),
        "tool_calls": stats.tool_calls,
        "reconnects": stats.reconnects,
        "resumed": stats.resumed,
        "go_aways": stats.go_aways,
        "latency_to_first_audio": stats.latency_to_first_audio,
        "metrics": stats.metrics.model_dump(mode="json") if stats.metrics else None,
        "errors": stats.errors,
        "user": stats.user_text,
        "agent": stats.agent_text,
        **extra,
    }


__all__ = ["EventPrinter", "SessionStats", "format_json_summary", "format_summary"]
