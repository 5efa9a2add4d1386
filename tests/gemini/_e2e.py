"""Helpers to run a whole realtalk session (AudioAgent + arealtime + the Gemini plugin,
found through its entry point) against FakeGeminiServer and summarise what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import realtalk_testing
from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import (
    AudioDeltaEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
)
from realtalk.messages import Message, ThreadInfo

SHIPPED = Path(realtalk_testing.__file__).parent / "cassettes"
MODEL = "gemini-live-2.5-flash-preview"
THREAD = {"thread_id": "t1"}
SECOND = b"\x01\x00" * 16000  # one second of 16 kHz PCM16

Driver = Callable[[RealtimeEvent, LiveInputQueue], None]


@dataclass
class Run:
    events: list[RealtimeEvent]
    messages: list[Message]
    thread: ThreadInfo | None
    server: Any
    sent: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def audio_bytes(self) -> int:
        return sum(len(e.data) for e in self.events if isinstance(e, AudioDeltaEvent))

    def stream(self) -> list[str]:
        """The event stream in a compact notation: each run of audio chunks is ``"audio"``;
        transcripts are ``in:``/``out:`` fragments and ``IN:``/``OUT:`` finished utterances;
        every other event is its type followed by its fields."""
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
            else:
                fields = event.model_dump(exclude={"type"})
                out.append(f"{event.type} {fields}" if fields else event.type)
        return out

    def persisted(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(m.role, _describe(m), dict(m.metadata)) for m in self.messages]


def _describe(message: Message) -> str:
    parts = []
    for block in message.content:
        data = block.model_dump(exclude={"type"})
        parts.append(data["text"] if block.type == "text" else f"{block.type} {data}")
    return " | ".join(parts)


def until_turns(n: int, *, audio_after: Sequence[str] = ()) -> Driver:
    """Close the queue after ``n`` turn_complete events; send another second of audio after
    every event whose type is in ``audio_after``."""
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
    cassette: Path,
    drive: Driver,
    *,
    tools: Sequence[Callable[..., Any]] = (),
    first_input: Callable[[LiveInputQueue], None] | None = None,
    prepare: Callable[[InMemoryCheckpointer], Awaitable[None]] | None = None,
    limit: float = 20.0,
    **config: Any,
) -> Run:
    """Replay ``cassette`` through a full session; the server checks every client frame."""
    checkpointer = InMemoryCheckpointer()
    if prepare is not None:
        await prepare(checkpointer)
    server_cls = realtalk_testing.FakeGeminiServer
    async with server_cls(cassette) as server:
        realtime = RealtimeConfig(
            model=MODEL,
            provider_options={"api_key": "test-key", "http_options": server.http_options},
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
        sent = [server.received(n + 1) for n in range(server.connections)]
    messages = await checkpointer.alist_messages(THREAD)
    thread = await checkpointer.aget_thread(THREAD)
    return Run(events, list(messages), thread, server, sent)
