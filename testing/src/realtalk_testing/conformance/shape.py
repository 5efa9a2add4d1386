"""A provider-neutral summary of an event stream, for comparing providers.

Two providers answering the same conversation stream different numbers of audio chunks
and transcript fragments; what an application acts on is the same: who said what
(finished transcripts), which tools ran with which arguments and results, where turns
end, interruptions and reconnections. `event_shape()` keeps exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from realtalk.events import (
    AudioDeltaEvent,
    ErrorEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    TextDeltaEvent,
    ToolCallEvent,
    ToolResultEvent,
)

__all__ = ["event_shape"]

_BOUNDARIES = frozenset(
    {"turn_complete", "interrupted", "tool_call", "reconnected", "session_ended"}
)
_KEPT = frozenset(
    {"session_started", "interrupted", "reconnected", "turn_complete", "session_ended"}
)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def event_shape(events: Iterable[RealtimeEvent]) -> list[str]:
    """The milestones of a stream as short strings.

    Kept: ``session_started``; finished transcripts (``user: ...``, ``agent: ...``);
    ``audio`` when model speech was heard, placed just before the boundary that ends it
    (turn end, interruption, tool call, reconnection), since chunk timing differs by
    provider; ``text: ...`` (joined text deltas); tool calls and results by name,
    arguments and result (ids differ between providers); errors by code; ``interrupted``,
    ``reconnected``, ``turn_complete`` and ``session_ended``. Dropped: transcript
    fragments, usage, resumption updates, generation_complete.
    """
    out: list[str] = []
    text: list[str] = []
    spoke = False
    for event in events:
        if isinstance(event, TextDeltaEvent):
            text.append(event.text)
            continue
        if isinstance(event, AudioDeltaEvent):
            spoke = True
            continue
        if text:
            out.append("text: " + "".join(text))
            text.clear()
        if spoke and event.type in _BOUNDARIES:
            out.append("audio")
            spoke = False
        if isinstance(event, InputTranscriptEvent):
            if event.finished:
                out.append("user: " + event.text)
        elif isinstance(event, OutputTranscriptEvent):
            if event.finished:
                out.append("agent: " + event.text)
        elif isinstance(event, ToolCallEvent):
            out.append(f"tool_call {event.name} {_dump(event.args)}")
        elif isinstance(event, ToolResultEvent):
            result = event.result if event.error is None else {"error": event.error}
            out.append(f"tool_result {event.name} {_dump(result)}")
        elif isinstance(event, ErrorEvent):
            out.append(f"error {event.code}")
        elif event.type in _KEPT:
            out.append(event.type)
    if text:
        out.append("text: " + "".join(text))
    return out
