"""realtalk's events as Agentflow's, so consumer code of Agentflow's event union runs as is.

The ten types Agentflow defines (``tenxgraph.core.realtime.base``) are mapped onto its own
classes field by field. realtalk's richer events have no Agentflow class; by default they
are dropped (the stream is exactly Agentflow's union), and with ``extra_events="pass"`` they
are yielded as realtalk's own pydantic events (they carry a ``type`` and serialise with
``model_dump(mode="json")`` like Agentflow's, so Agentflow's API server forwards them).
``text_delta`` (TEXT responses) becomes a partial ``output_transcript``: that is what
Agentflow consumers display.
"""

from __future__ import annotations

from typing import Any, Literal

from tenxgraph.core.realtime import base as af

ExtraEvents = Literal["drop", "pass"]

RICHER = frozenset(
    {
        "session_started",
        "session_ended",
        "reconnected",
        "usage",
        "generation_complete",
        "tool_call_cancelled",
        "input_dropped",
    }
)
"""realtalk event types Agentflow's union has no class for."""


def _go_away_time(time_left: float | None) -> str | None:
    return None if time_left is None else f"{time_left:g}s"


def tool_result_payload(result: Any, error: str | None) -> dict[str, Any]:
    """A tool outcome in the shape Agentflow's live node reports (``{"result": ...}``)."""
    return {"error": error} if error is not None else {"result": result}


def to_agentflow(event: Any, extra_events: ExtraEvents = "drop") -> Any | None:
    """The Agentflow event for a realtalk event (None when it is dropped)."""
    kind = event.type
    if kind == "audio_delta":
        return af.AudioDeltaEvent(data=event.data, sample_rate=event.sample_rate)
    if kind == "input_transcript":
        return af.InputTranscriptEvent(text=event.text, finished=event.finished)
    if kind == "output_transcript":
        return af.OutputTranscriptEvent(text=event.text, finished=event.finished)
    if kind == "text_delta":
        return af.OutputTranscriptEvent(text=event.text, finished=False)
    if kind == "tool_call":
        return af.ToolCallEvent(id=event.id, name=event.name, args=dict(event.args))
    if kind == "tool_result":
        return af.ToolResultEvent(
            id=event.id, result=tool_result_payload(event.result, event.error)
        )
    if kind == "turn_complete":
        return af.TurnCompleteEvent()
    if kind == "interrupted":
        return af.InterruptedEvent()
    if kind == "session_update":
        return af.SessionUpdateEvent(resumption_handle=event.resumption_handle)
    if kind == "go_away":
        return af.GoAwayEvent(time_left=_go_away_time(event.time_left))
    if kind == "error":
        return af.ErrorEvent(code=event.code, message=event.message, fatal=event.fatal)
    return event if extra_events == "pass" else None


__all__ = ["RICHER", "ExtraEvents", "to_agentflow", "tool_result_payload"]
