"""Run a whole realtalk session (AudioAgent + arealtime + the OpenAI plugin found through
its entry point) against FakeOpenAIServer and summarise what happened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
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

from realtalk import LiveInputQueue
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import RealtimeEvent
from realtalk.messages import Message
from realtalk_testing.cassette import Cassette
from realtalk_testing.openai_server import FakeOpenAIServer

MODEL = "gpt-realtime"

__all__ = ["MODEL", "SECOND", "THREAD", "Driver", "Run", "run_session", "until_turns"]


@dataclass
class Run:
    events: list[RealtimeEvent]
    messages: list[Message]
    server: FakeOpenAIServer

    def stream(self) -> list[str]:
        """The compact notation (see ``_shared.replay_session``), without usage events."""
        return compact_stream(self.events, skip={"usage"})

    def persisted(self) -> list[tuple[str, str, dict[str, Any]]]:
        return persisted(self.messages)


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
    events, checkpointer, server, _ = await drive_session(
        FakeOpenAIServer(cassette),
        lambda s: s.provider_options,
        drive,
        model=MODEL,
        tools=tools,
        first_input=first_input,
        prepare=prepare,
        limit=limit,
        **config,
    )
    messages = await checkpointer.alist_messages(THREAD)
    return Run(events, list(messages), server)
