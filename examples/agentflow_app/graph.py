"""An Agentflow app whose live node is realtalk: Agentflow's own server serves it.

    cd examples/agentflow_app
    uv run 10xgraph dev --config 10xgraph.json --no-open    # ws://127.0.0.1:8000/v1/graph/live

The only realtalk line is the import of ``AudioAgent``; the graph, the checkpointer, the
tool and the server are Agentflow's. Offline by default: without ``GEMINI_API_KEY`` each
session plays a short scripted conversation (realtalk's ``FakeProvider``): the user
speaks, types, the agent calls ``get_weather``, the connection is rotated (``go_away``)
and resumed, and the agent answers with audio and a transcript. With ``GEMINI_API_KEY``
set, the same graph talks to Gemini Live.
"""

from __future__ import annotations

import os
from typing import Any

from tenxgraph.core.state import AgentState
from tenxgraph.storage.checkpointer import InMemoryCheckpointer

from realtalk_agentflow import AudioAgent

MODEL = os.environ.get("GEMINI_LIVE_MODEL", "gemini-live-2.5-flash-preview")


def get_weather(city: str, tool_call_id: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return {"city": city, "temperature_c": 18, "conditions": "partly cloudy"}


class OfflineConversation:
    """A fresh scripted conversation per session (resumed on the same script)."""

    name = "fake"

    def __init__(self) -> None:
        from realtalk_testing import FakeProvider

        self.capabilities = FakeProvider([]).capabilities
        self._sessions: dict[str, Any] = {}

    @staticmethod
    def script() -> list[Any]:
        from realtalk_testing import emit, expect

        first = [
            expect.connect(handle=None),
            emit.session_update("offline-1"),
            expect.audio(),
            emit.input_transcript("What's the weather in Paris?"),
            expect.text(pattern=".+"),
            emit.tool_call("call-1", "get_weather", {"city": "Paris"}),
            expect.tool_result("call-1"),
            emit.go_away(5.0),
            emit.speech("It is 18 degrees and partly cloudy in Paris.", chunks=3),
            emit.turn_complete(),
        ]
        second = [expect.connect(handle="offline-1"), emit.session_update("offline-2")]
        return [first, second]

    async def connect(self, setup: Any) -> Any:
        from realtalk_testing import FakeProvider

        fake = self._sessions.get(setup.thread_id)
        if fake is None or setup.resumption_handle is None:
            fake = self._sessions[setup.thread_id] = FakeProvider(self.script())
        return await fake.connect(setup)


checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()

app = AudioAgent(
    MODEL,
    tools=[get_weather],
    system_prompt=[{"role": "system", "content": "You are a friendly voice assistant."}],
    provider=None if os.environ.get("GEMINI_API_KEY") else OfflineConversation(),
).compile(checkpointer=checkpointer)
