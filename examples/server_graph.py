"""The agent that ``realtalk api`` serves to browsers: ``realtalk.json`` points here.

    cd examples
    export GEMINI_API_KEY=...
    realtalk api                      # ws://127.0.0.1:8000/v1/graph/live, test page at /

The bridge imports this module and uses ``app``, a compiled AudioAgent; ``checkpointer``
is the same object the app persists to, so the bridge can check who owns a thread before
resuming it. ``REALTALK_CHECKPOINTER`` picks where threads live (a SQLite file next to
where the server runs by default; ``postgresql://...`` in production).
"""

from __future__ import annotations

import os
from typing import Any

from realtalk import AudioAgent, RealtimeConfig
from realtalk.plugins import open_checkpointer

MODEL = os.environ.get("GEMINI_LIVE_MODEL", "gemini")


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return {"city": city, "temperature_c": 18, "conditions": "partly cloudy"}


checkpointer = open_checkpointer(
    os.environ.get("REALTALK_CHECKPOINTER", "sqlite:///realtalk-threads.db")
)

app = AudioAgent(
    MODEL,
    realtime_config=RealtimeConfig(model=MODEL, provider="gemini", voice="Puck"),
    tools=[get_weather],
    system_prompt="You are a friendly voice assistant on a web page. Keep answers short.",
).compile(checkpointer=checkpointer)
