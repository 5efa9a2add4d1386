"""Either framework's input queue, read as realtalk's input items.

Agentflow's ``LiveInputQueue`` yields ``LiveInput`` frames (``kind`` plus data); realtalk's
session reads `realtalk.inputs` items. `AgentflowInput` wraps an Agentflow
queue (or any async iterable of such frames) and translates each frame as the session
pulls it; realtalk's own queue is used as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from realtalk.config import INPUT_SAMPLE_RATE
from realtalk.inputs import ActivityEnd, ActivityStart, AudioInput, ImageInput, InputItem, TextInput
from realtalk.queue import LiveInputQueue as RealtalkQueue


def to_input_item(frame: Any) -> InputItem | Any:
    """The realtalk item for one Agentflow ``LiveInput`` (unknown frames pass through, and
    the session reports them as invalid input instead of crashing)."""
    kind = getattr(frame, "kind", None)
    if kind == "audio" and frame.data is not None:
        return AudioInput(
            data=bytes(frame.data), sample_rate=frame.sample_rate or INPUT_SAMPLE_RATE
        )
    if kind == "text" and frame.text:
        return TextInput(text=frame.text)
    if kind == "image" and frame.data is not None:
        return ImageInput(data=bytes(frame.data), mime_type=frame.mime_type or "image/jpeg")
    if kind == "activity_start":
        return ActivityStart()
    if kind == "activity_end":
        return ActivityEnd()
    return frame


class AgentflowInput:
    """An Agentflow input queue as the async iterable of items a realtalk session reads."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    async def __aiter__(self) -> AsyncIterator[InputItem | Any]:
        async for frame in self.queue:
            if getattr(frame, "kind", None) == "close":
                return
            yield to_input_item(frame)


def session_input(queue: Any) -> Any:
    """What a realtalk session reads for ``queue`` (Agentflow's or realtalk's)."""
    if isinstance(queue, RealtalkQueue):
        return queue
    if not hasattr(queue, "__aiter__"):
        raise TypeError(
            "input_queue must be an Agentflow or realtalk LiveInputQueue (or an async "
            f"iterable of input frames), got {type(queue).__name__}"
        )
    return AgentflowInput(queue)


__all__ = ["AgentflowInput", "session_input", "to_input_item"]
