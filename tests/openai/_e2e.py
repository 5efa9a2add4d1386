"""Run a whole realtalk session (AudioAgent + arealtime + the OpenAI plugin found through
its entry point) against FakeOpenAIServer and summarise what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
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
from realtalk_testing.cassette import Cassette
from realtalk_testing.openai_server import FakeOpenAIServer

MODEL = "gpt-realtime"
THREAD = {"thread_id": "t1"}
SECOND = b"\x01\x00" * 16000  # one second of 16 kHz PCM16

Driver = Callable[[RealtimeEvent, LiveInputQueue], None]


@dataclass
class Run:
    events: list[RealtimeEvent]
    messages: list[Message]
    server: FakeOpenAIServer

    def stream(self) -> list[str]:
        """Compact notation: a run of audio is ``audio``; ``in:``/``out:`` fragments and
        ``IN:``/``OUT:`` finished utterances; other events as type plus fields (no usage)."""
        out: list[str] = []
        for event in self.events:
            if isinstance(event, AudioDeltaEvent):
                assert event.sample_rate == 24000
                if out and out[-1] == "audio":
                    continue
                out.append("audio")
            elif isinstance(event, InputTranscriptEvent | OutputTranscriptEvent):
                tag = "in" if isinstance(event, InputTranscriptEvent) else "out"
                out.append(f"{tag.upper() if event.finished else tag}:{event.text}")
            elif event.type == "usage":
                continue
            else:
                fields = event.model_dump(exclude={"type"})
                out.append(f"{event.type} {fields}" if fields else event.type)
        return out

    def persisted(self) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for m in self.messages:
            parts = []
            for block in m.content:
                data = block.model_dump(exclude={"type"})
                parts.append(data["text"] if block.type == "text" else f"{block.type} {data}")
            out.append((m.role, " | ".join(parts), dict(m.metadata)))
        return out


def until_turns(n: int, *, audio_after: Sequence[str] = ()) -> Driver:
    seen = {"turns": 0}

    def drive(event: RealtimeEvent, queue: LiveInputQueue) -> None:
        if event.type == "turn_complete":
            seen["turns"] += 1
            if seen["turns"] >= n:
                queue.close()
        if event.type in audio_after and not queue.closed:
            queue.send_audio(SECOND, 16000)

    return drive


async def run_session(
    cassette: str | Path | Cassette,
    drive: Driver,
    *,
    tools: Sequence[Callable[..., Any]] = (),
    first_input: Callable[[LiveInputQueue], None] | None = None,
    prepare: Callable[[InMemoryCheckpointer], Awaitable[None]] | None = None,
    limit: float = 20.0,
    **config: Any,
) -> Run:
    checkpointer = InMemoryCheckpointer()
    if prepare is not None:
        await prepare(checkpointer)
    async with FakeOpenAIServer(cassette) as server:
        realtime = RealtimeConfig(
            model=MODEL,
            provider_options=server.provider_options,
            reconnect=ReconnectConfig(base_delay=0.0, max_delay=0.0, jitter=0.0),
            **config,
        )
        app = AudioAgent(MODEL, realtime_config=realtime, tools=list(tools)).compile(
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
    messages = await checkpointer.alist_messages(THREAD)
    return Run(events, list(messages), server)
