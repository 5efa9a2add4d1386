"""Helpers for the Agentflow integration tests: drive a compiled Agentflow graph."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

MODEL = "gemini-live-2.5-flash-preview"
ANON = {"user_id": "anonymous"}


async def run(
    graph: Any,
    queue: Any,
    config: dict[str, Any],
    *,
    close_after_turns: int = 1,
    on_event: Callable[[Any], None] | None = None,
    limit: float = 20.0,
) -> list[Any]:
    """Every event of one ``arealtime`` session; the queue closes after N turns."""
    events: list[Any] = []
    turns = 0

    async def consume() -> None:
        nonlocal turns
        async for event in graph.arealtime(queue, config):
            events.append(event)
            if on_event is not None:
                on_event(event)
            if event.type == "turn_complete":
                turns += 1
                if turns >= close_after_turns:
                    queue.close()

    await asyncio.wait_for(consume(), limit)  # a safety net, not a wait
    return events


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def thread_config(thread_id: str) -> dict[str, Any]:
    """The config Agentflow's checkpointers read a thread with."""
    return {"thread_id": thread_id, **ANON}
