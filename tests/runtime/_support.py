"""Helpers for the runtime tests: an app over a FakeProvider, event collection, audio."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
from realtalk.events import RealtimeEvent
from realtalk.provider import ProviderCapabilities, SessionSetup
from realtalk_testing import FakeProvider, tone

MODEL = "fake-live"
GUARD_SECONDS = 5.0
"""Upper bound for one session in a test: a hang fails fast instead of at pytest-timeout."""

OnEvent = Callable[[RealtimeEvent], Awaitable[Any] | Any]


def pcm(seconds: float, rate: int = 16000) -> bytes:
    """A PCM16 tone of ``seconds`` at ``rate``."""
    return tone(seconds, rate)


def app_for(
    provider: Any, *, tools: Any = (), config: RealtimeConfig | None = None, **compile_kw: Any
) -> Any:
    """A compiled AudioAgent over ``provider`` (a FakeProvider or any Provider)."""
    agent_kw: dict[str, Any] = {}
    for key in ("system_prompt", "skills", "memory", "tool_timeout"):
        if key in compile_kw:
            agent_kw[key] = compile_kw.pop(key)
    agent = AudioAgent(
        MODEL, realtime_config=config, tools=list(tools), provider=provider, **agent_kw
    )
    return agent.compile(**compile_kw)


async def collect(
    app: Any,
    queue: LiveInputQueue,
    config: dict[str, Any] | None = None,
    *,
    state: Any = None,
    on_event: OnEvent | None = None,
    close_on: str | None = None,
) -> list[RealtimeEvent]:
    """Run one session to its end and return every event.

    ``close_on``: close the queue at the first event of this type.
    """
    events: list[RealtimeEvent] = []

    async def run() -> None:
        async for event in app.arealtime(queue, config, state):
            events.append(event)
            if close_on is not None and event.type == close_on:
                queue.close()
            if on_event is not None:
                result = on_event(event)
                if inspect.isawaitable(result):
                    await result

    try:
        async with asyncio.timeout(GUARD_SECONDS):
            await run()
    except TimeoutError:
        raise AssertionError(f"session did not end; events so far: {types(events)}") from None
    return events


METRICS = frozenset({"metrics", "session_metrics"})
"""The measured figures' events (tests/runtime/test_metrics.py checks them); ``types``
leaves them out so stream assertions read as the conversation."""


def types(events: list[RealtimeEvent]) -> list[str]:
    return [e.type for e in events if e.type not in METRICS]


def of_type(events: list[RealtimeEvent], kind: str) -> list[Any]:
    return [e for e in events if e.type == kind]


class RoutingProvider:
    """One provider per thread: lets concurrent sessions each play their own script."""

    name = "routing"

    def __init__(self, by_thread: dict[str, FakeProvider]) -> None:
        self.by_thread = by_thread
        self.capabilities: ProviderCapabilities = next(iter(by_thread.values())).capabilities

    async def connect(self, setup: SessionSetup) -> Any:
        assert setup.thread_id is not None
        return await self.by_thread[setup.thread_id].connect(setup)
