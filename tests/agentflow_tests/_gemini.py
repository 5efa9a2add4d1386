"""Both AudioAgents against FakeGeminiServer through the real google-genai SDK.

``realtalk_agentflow.AudioAgent`` reaches the server through realtalk's Gemini plugin
(``provider_options={"http_options": ...}``); Agentflow's own ``AudioAgent`` through its
``GeminiLiveClient`` handed a google-genai client for the same server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tenxgraph.core.realtime import LiveInputQueue
from tenxgraph.core.realtime import RealtimeConfig as AgentflowConfig
from tenxgraph.core.realtime import ReconnectConfig as AgentflowReconnect
from tenxgraph.core.realtime.providers.gemini_live import GeminiLiveClient
from tenxgraph.prebuilt.agent import AudioAgent as AgentflowAudioAgent

from realtalk_agentflow import AudioAgent
from realtalk_testing import FakeGeminiServer

from ._support import MODEL

CONFIG = AgentflowConfig(
    model=MODEL, reconnect=AgentflowReconnect(base_delay=0.0, max_delay=0.0, max_attempts=2)
)


def realtalk_graph(server: FakeGeminiServer, **kwargs: Any) -> Any:
    agent = AudioAgent(
        MODEL,
        realtime_config=CONFIG,
        provider_options={"api_key": "test-key", "http_options": server.http_options},
        **kwargs,
    )
    return agent.compile(checkpointer=kwargs.pop("checkpointer", None))


def agentflow_graph(server: FakeGeminiServer, **kwargs: Any) -> Any:
    from google import genai

    def client() -> GeminiLiveClient:
        sdk = genai.Client(api_key="test-key", http_options=server.http_options)
        return GeminiLiveClient(client=sdk)

    agent = AgentflowAudioAgent(
        MODEL, realtime_config=CONFIG, realtime_client_factory=client, **kwargs
    )
    return agent.compile()


@dataclass
class Outcome:
    events: list[Any]
    timed_out: bool

    def texts(self, kind: str = "output_transcript") -> list[str]:
        return [e.text for e in self.events if e.type == kind]

    def finished(self, kind: str = "output_transcript") -> list[str]:
        return [e.text for e in self.events if e.type == kind and e.finished]

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]


async def drive(
    graph: Any,
    queue: LiveInputQueue,
    config: dict[str, Any],
    *,
    close_on: Sequence[str] = ("turn_complete",),
    on_event: Callable[[Any], None] | None = None,
    limit: float = 10.0,
) -> Outcome:
    """One session; the queue closes at the first event whose type is in ``close_on``.
    ``limit`` bounds a session that never ends (recorded, not raised)."""
    events: list[Any] = []

    async def consume() -> None:
        async for event in graph.arealtime(queue, config):
            events.append(event)
            if on_event is not None:
                on_event(event)
            if event.type in close_on:
                queue.close()

    try:
        await asyncio.wait_for(consume(), limit)
    except TimeoutError:
        return Outcome(events, True)
    return Outcome(events, False)
