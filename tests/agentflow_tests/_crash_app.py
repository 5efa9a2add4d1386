"""A voice session on Agentflow's PgCheckpointer, run as its own process by test_pg.py.

``python _crash_app.py PHASE DSN REDIS SCHEMA THREAD MARKER``. Phase 1 books a table
(the tool appends a line to MARKER), prints ``delivered`` once the ledger recorded that
the result reached the model, then waits for input that never comes: the test kills it
with SIGKILL. Phase 2 (run by the test itself, another process) restarts on the same thread and must
resume with the stored handle.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from tenxgraph.core.realtime import LiveInputQueue
from tenxgraph.storage.checkpointer import PgCheckpointer

from realtalk_agentflow import AudioAgent
from realtalk_testing import FakeProvider, emit, expect

MODEL = "gemini-live-2.5-flash-preview"


class Reporting(PgCheckpointer):  # type: ignore[misc]
    """Says on stdout when a tool result is recorded as delivered."""

    async def aput_tool_result(self, config: Any, tool_call_id: str, result: Any) -> Any:
        done = await super().aput_tool_result(config, tool_call_id, result)
        if tool_call_id.endswith(":delivered"):
            print("delivered", flush=True)
        return done


def script(phase: str) -> list[Any]:
    if phase == "1":
        return [
            expect.connect(handle=None),
            emit.session_update("h-crash"),
            expect.text("book Paris"),
            emit.input_transcript("book Paris"),
            emit.tool_call("c1", "book_table", {"city": "Paris"}),
            expect.tool_result("c1", result="booked in Paris", error=None),
            emit.output_transcript("Booking", finished=False),
            expect.text("never sent"),  # the process is killed while waiting here
        ]
    return [
        expect.connect(handle="h-crash"),
        expect.text("are you there"),
        emit.speech("Your table is booked."),
        emit.turn_complete(),
    ]


def booking_tool(marker: str) -> Any:
    """``book_table``, appending a line to ``marker`` each time it runs."""

    def book_table(city: str) -> str:
        """Book a table in a city."""
        with open(marker, "a", encoding="utf-8") as out:
            out.write("booked\n")
        return f"booked in {city}"

    return book_table


async def main(phase: str, dsn: str, redis: str, schema: str, thread: str, marker: str) -> None:
    book_table = booking_tool(marker)
    checkpointer = Reporting(postgres_dsn=dsn, redis_url=redis, schema=schema)
    await checkpointer.asetup()
    graph = AudioAgent(MODEL, tools=[book_table], provider=FakeProvider(script(phase))).compile(
        checkpointer=checkpointer
    )
    queue = LiveInputQueue()
    queue.send_text("book Paris" if phase == "1" else "are you there")
    async for event in graph.arealtime(queue, {"thread_id": thread, "user_id": "u1"}):
        print(event.type, flush=True)
        if event.type == "turn_complete":
            queue.close()
    await checkpointer.arelease()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
