"""A process that runs one live session and dies in the middle of it (``SIGKILL``).

Run as ``python _child.py BACKEND LOCATION SCHEMA TOOL_LOG DIE_AT``. The session uses the
checkpointer named by BACKEND (``sqlite`` file LOCATION, or ``postgres`` URL LOCATION in
SCHEMA) and a scripted provider: two full turns (the second with a tool call), then a
third turn that never ends. Every finished transcript the user sees is printed as one
JSON line, flushed, before anything else happens; when the finished transcript DIE_AT is
seen the process kills itself on the spot, the harshest moment: the user has seen that
transcript, the session has not been told anything. With DIE_AT ``-`` it runs until its
parent kills it. Each tool execution is appended to TOOL_LOG.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
from realtalk.checkpoint import PgCheckpointer, SqliteCheckpointer
from realtalk_testing import FakeProvider, emit, expect

THREAD = {"thread_id": "crash-thread"}
MODEL = "fake-live"


def script() -> list[Any]:
    return [
        emit.session_update("h-1"),
        emit.input_transcript("first question"),
        emit.output_transcript("first answer"),
        emit.turn_complete(),
        emit.session_update("h-2"),
        emit.input_transcript("second question"),
        emit.tool_call("c1", "lookup", {"q": "trains"}),
        expect.tool_result("c1"),
        emit.output_transcript("second answer"),
        emit.turn_complete(),
        emit.input_transcript("third question"),
        emit.output_transcript("third answer, cut", finished=False),
        expect.text("never sent"),  # the session waits here until the process dies
    ]


def make_tool(log: str) -> Any:
    def lookup(q: str) -> dict[str, str]:
        """Look up a timetable."""
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {q}\n")
        return {"q": q, "answer": "every hour"}

    return lookup


def checkpointer(backend: str, location: str, schema: str) -> Any:
    if backend == "sqlite":
        return SqliteCheckpointer(location)
    return PgCheckpointer(location, schema=schema)


def say(**item: Any) -> None:
    sys.stdout.write(json.dumps(item) + "\n")
    sys.stdout.flush()


async def main(backend: str, location: str, schema: str, log: str, die_at: str) -> None:
    store = checkpointer(backend, location, schema)
    agent = AudioAgent(
        MODEL,
        realtime_config=RealtimeConfig(model=MODEL),
        tools=[make_tool(log)],
        provider=FakeProvider(script()),
    )
    app = agent.compile(checkpointer=store)
    say(started=os.getpid())
    async for event in app.arealtime(LiveInputQueue(), THREAD):
        if event.type in ("input_transcript", "output_transcript") and event.finished:
            role = "user" if event.type == "input_transcript" else "assistant"
            say(finished=[role, event.text])
            if event.text == die_at:
                os.kill(os.getpid(), signal.SIGKILL)
        elif event.type == "turn_complete":
            say(turn_complete=True)
        elif event.type in ("error", "tool_result", "tool_call"):
            say(event=event.model_dump(mode="json"))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
