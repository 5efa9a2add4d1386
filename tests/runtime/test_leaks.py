"""A finished session leaves no task (or open connection) behind."""

from __future__ import annotations

import asyncio

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.events import RealtimeEvent
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_no_tasks_survive_a_busy_session() -> None:
    never = asyncio.Event()

    async def hangs() -> None:
        """Still running when the session ends."""
        await never.wait()

    fake = FakeProvider(
        [
            [emit.session_update("h1"), emit.go_away(time_left=60), end.drop()],
            [
                expect.connect(handle="h1"),
                expect.text("go"),
                emit.tool_call("c1", "hangs"),
                emit.audio(seconds=0.1),
                expect.close(),
            ],
        ]
    )
    clock = ManualClock(auto_advance=True)
    app = app_for(
        fake,
        tools=[hangs],
        config=RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(jitter=0)),
        clock=clock,
        shutdown_timeout=3,
    )
    before = asyncio.all_tasks()
    queue = LiveInputQueue()

    def on_event(event: RealtimeEvent) -> None:
        if event.type == "reconnected":
            queue.send_text("go")
        if event.type == "audio_delta":
            queue.close()  # a tool and a turn are in flight: drained until the timeout

    events = await collect(app, queue, {"thread_id": "t"}, on_event=on_event)
    await app.aclose()
    await _settle()
    assert events[-1].type == "session_ended" and events[-1].reason == "shutdown_timeout"
    assert asyncio.all_tasks() == before
    assert all(record.ended is not None for record in fake.connections)
    fake.assert_done()


async def test_no_tasks_survive_a_consumer_that_stops_early() -> None:
    fake = FakeProvider([emit.audio(seconds=0.1, chunks=5), expect.close()])
    app = app_for(fake)
    before = asyncio.all_tasks()
    agen = app.arealtime(LiveInputQueue(), {"thread_id": "t"})
    async for event in agen:
        if event.type == "audio_delta":
            break
    await agen.aclose()
    await _settle()
    assert asyncio.all_tasks() == before
    assert fake.connections[0].closed_by_client
    assert app.active_sessions == 0
