"""Helpers to run a whole realtalk session (AudioAgent + arealtime + the Gemini plugin,
found through its entry point) against FakeGeminiServer and summarise what happened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _shared.replay_session import (
    SECOND,
    THREAD,
    Driver,
    compact_stream,
    drive_session,
    persisted,
    until_turns,
)

import realtalk_testing
from realtalk import LiveInputQueue
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import AudioDeltaEvent, RealtimeEvent
from realtalk.messages import Message, ThreadInfo

SHIPPED = Path(realtalk_testing.__file__).parent / "cassettes"
MODEL = "gemini-live-2.5-flash-preview"

__all__ = ["MODEL", "SECOND", "SHIPPED", "THREAD", "Driver", "Run", "run_session", "until_turns"]


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
        return compact_stream(self.events)

    def persisted(self) -> list[tuple[str, str, dict[str, Any]]]:
        return persisted(self.messages)


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
    events, checkpointer, server, sent = await drive_session(
        realtalk_testing.FakeGeminiServer(cassette),
        lambda s: {"api_key": "test-key", "http_options": s.http_options},
        drive,
        model=MODEL,
        tools=tools,
        first_input=first_input,
        prepare=prepare,
        limit=limit,
        after=lambda s: [s.received(n + 1) for n in range(s.connections)],
        **config,
    )
    messages = await checkpointer.alist_messages(THREAD)
    thread = await checkpointer.aget_thread(THREAD)
    return Run(events, list(messages), thread, server, sent)
