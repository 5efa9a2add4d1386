"""Section 3.7: closing the queue ends input, not output."""

from __future__ import annotations

import asyncio

from realtalk import LiveInputQueue
from realtalk.events import RealtimeEvent
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, expect

from ._support import app_for, collect, of_type, types

CONFIG = {"thread_id": "t"}


async def test_a_reply_in_flight_when_the_queue_closes_is_delivered_whole() -> None:
    fake = FakeProvider(
        [
            expect.text("tell a story"),
            emit.audio(seconds=0.3, chunks=6),
            emit.output_transcript("Once upon a time there was a fox", finished=True),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("tell a story")
    events = await collect(app_for(fake), queue, CONFIG, close_on="audio_delta")  # close at once
    assert len(of_type(events, "audio_delta")) == 6
    assert types(events)[-3:] == ["output_transcript", "turn_complete", "session_ended"]
    record = fake.connections[0]
    assert record.closed_by_client
    fake.assert_done()


async def test_a_question_sent_just_before_closing_still_gets_its_answer() -> None:
    fake = FakeProvider(
        [
            expect.text("last question"),
            *emit.speech("last answer").steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("last question")
    queue.close()
    events = await collect(app_for(fake), queue, CONFIG)
    assert [e.text for e in of_type(events, "output_transcript") if e.finished] == ["last answer"]
    fake.assert_done()


async def test_the_drain_is_bounded_by_shutdown_timeout() -> None:
    clock = ManualClock()
    fake = FakeProvider(
        [
            expect.text("go"),
            emit.audio(seconds=0.1),
            emit.output_transcript("never end", finished=False),
            expect.close(),
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("go")

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "output_transcript" and not event.finished:
            queue.close()
            await clock.wait_for_sleepers(1)
            assert clock.sleeps == [12.5]
            await clock.advance(12.5)

    events = await collect(
        app_for(fake, clock=clock, shutdown_timeout=12.5), queue, CONFIG, on_event=on_event
    )
    assert of_type(events, "session_ended")[0].reason == "shutdown_timeout"
    # the cut-off reply is still closed as a (finished) transcript before the end
    assert [e.text for e in of_type(events, "output_transcript") if e.finished] == ["never end"]
    assert fake.connections[0].closed_by_client
    fake.assert_done()


async def test_closing_an_idle_session_ends_it_at_once() -> None:
    clock = ManualClock()
    fake = FakeProvider([emit.turn_complete(), expect.close()])
    events = await collect(
        app_for(fake, clock=clock), LiveInputQueue(), CONFIG, close_on="turn_complete"
    )
    assert types(events) == ["session_started", "turn_complete", "session_ended"]
    assert clock.sleeps == []
    fake.assert_done()


async def test_the_connection_closes_before_session_ended_is_emitted() -> None:
    fake = FakeProvider([emit.turn_complete(), expect.close()])
    queue = LiveInputQueue()
    seen_closed: list[bool] = []

    def on_event(event: RealtimeEvent) -> None:
        if event.type == "session_ended":
            seen_closed.append(fake.connections[0].closed_by_client)

    await collect(app_for(fake), queue, CONFIG, close_on="turn_complete", on_event=on_event)
    assert seen_closed == [True]


async def test_app_aclose_ends_running_sessions() -> None:
    fake = FakeProvider([emit.audio(seconds=0.1), expect.close()])
    app = app_for(fake)
    queue = LiveInputQueue()
    agen = app.arealtime(queue, CONFIG)
    first = await anext(agen)
    assert first.type == "session_started"
    assert (await anext(agen)).type == "audio_delta"
    assert app.active_sessions == 1
    await app.aclose()
    rest = [e async for e in agen]
    assert rest == [] or rest[-1].type == "session_ended"
    assert fake.connections[0].closed_by_client
    await asyncio.sleep(0)
    assert app.active_sessions == 0
