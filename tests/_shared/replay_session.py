"""Run a whole realtalk session (AudioAgent + arealtime + a provider plugin found through
its entry point) against a replay server and summarise what happened.

Used by the Gemini and OpenAI end-to-end tests: each passes its server and provider
options; the driving, the compact stream notation and the persisted summary are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import (
    AudioDeltaEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
)
from realtalk.messages import Message
from realtalk_testing.conformance.scenarios import SECOND_16K as SECOND
from realtalk_testing.conformance.scenarios import Driver, until_turns

THREAD = {"thread_id": "t1"}

__all__ = [
    "SECOND",
    "THREAD",
    "Driver",
    "compact_stream",
    "drive_session",
    "persisted",
    "until_turns",
]


METRICS = frozenset({"metrics", "session_metrics"})
"""The measured figures' events: timing-dependent, left out of the compact stream."""


def compact_stream(events: Sequence[RealtimeEvent], *, skip: Collection[str] = ()) -> list[str]:
    """The event stream in a compact notation: each run of audio chunks is ``"audio"``;
    transcripts are ``in:``/``out:`` fragments and ``IN:``/``OUT:`` finished utterances;
    every other event is its type followed by its fields (types in ``skip`` and the
    ``metrics``/``session_metrics`` events left out)."""
    out: list[str] = []
    for event in events:
        if event.type in METRICS:
            continue
        if isinstance(event, AudioDeltaEvent):
            assert event.sample_rate == 24000
            if out and out[-1] == "audio":
                continue
            out.append("audio")
        elif isinstance(event, InputTranscriptEvent | OutputTranscriptEvent):
            tag = "in" if isinstance(event, InputTranscriptEvent) else "out"
            out.append(f"{tag.upper() if event.finished else tag}:{event.text}")
        elif event.type in skip:
            continue
        else:
            fields = event.model_dump(exclude={"type"})
            out.append(f"{event.type} {fields}" if fields else event.type)
    return out


def persisted(messages: Sequence[Message]) -> list[tuple[str, str, dict[str, Any]]]:
    """Each persisted message as (role, its blocks in words, its metadata)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for message in messages:
        parts = []
        for block in message.content:
            data = block.model_dump(exclude={"type"})
            parts.append(data["text"] if block.type == "text" else f"{block.type} {data}")
        out.append((message.role, " | ".join(parts), dict(message.metadata)))
    return out


async def drive_session(
    server: contextlib.AbstractAsyncContextManager[Any],
    provider_options: Callable[[Any], dict[str, Any]],
    drive: Driver,
    *,
    model: str,
    tools: Sequence[Callable[..., Any]] = (),
    first_input: Callable[[LiveInputQueue], None] | None = None,
    prepare: Callable[[InMemoryCheckpointer], Awaitable[None]] | None = None,
    limit: float = 20.0,
    after: Callable[[Any], Any] | None = None,
    **config: Any,
) -> tuple[list[RealtimeEvent], InMemoryCheckpointer, Any, Any]:
    """Replay through a full session; returns (events, checkpointer, server, ``after(server)``
    taken while the server still runs)."""
    checkpointer = InMemoryCheckpointer()
    if prepare is not None:
        await prepare(checkpointer)
    async with server as running:
        realtime = RealtimeConfig(
            model=model,
            provider_options=provider_options(running),
            reconnect=ReconnectConfig(base_delay=0.0, max_delay=0.0, jitter=0.0),
            **config,
        )
        app = AudioAgent(model, realtime_config=realtime, tools=list(tools)).compile(
            checkpointer=checkpointer, shutdown_timeout=5.0
        )
        queue = LiveInputQueue()
        (first_input or (lambda q: q.send_audio(SECOND, 16000)))(queue)
        events: list[RealtimeEvent] = []

        async def consume() -> None:
            async for event in app.arealtime(queue, THREAD):
                events.append(event)
                drive(event, queue)

        try:
            await asyncio.wait_for(consume(), limit)  # a safety net, not a wait
        finally:
            await app.aclose()
        extra = after(running) if after is not None else None
    return events, checkpointer, running, extra
