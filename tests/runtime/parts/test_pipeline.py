"""EventPipeline: provider events become the user's events, stored messages and turns."""

from __future__ import annotations

import asyncio
from typing import Any

from realtalk.events import (
    AudioDeltaEvent,
    GoAwayEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    ReconnectedEvent,
    SessionUpdateEvent,
    ToolResultEvent,
    TurnCompleteEvent,
)

from ._build import Parts, RecordingConnection

AUDIO = AudioDeltaEvent(data=bytes(480), sample_rate=24000)


async def test_a_finished_transcript_is_stored_before_the_user_sees_it() -> None:
    parts = Parts()
    seen_when_stored: list[list[str]] = []
    put = parts.store.put

    async def spy(messages: list[Any]) -> None:
        seen_when_stored.append([e.type for e in list(parts.out.items)])
        await put(messages)

    parts.store.put = spy  # type: ignore[method-assign]
    await parts.pipeline.on_event(InputTranscriptEvent(text="what's the", finished=False), 1)
    await parts.pipeline.on_event(InputTranscriptEvent(text=" weather", finished=False), 1)
    await parts.pipeline.on_event(AUDIO, 1)
    events = parts.drain()
    assert [(e.type, getattr(e, "finished", None)) for e in events] == [
        ("input_transcript", False),
        ("input_transcript", False),
        ("input_transcript", True),
        ("audio_delta", None),
    ]
    assert events[2].text == "what's the weather"
    # when the message was stored, the finished event was not yet on the stream
    assert seen_when_stored == [["input_transcript", "input_transcript"]]


async def test_turn_state_follows_the_model_and_the_user() -> None:
    parts = Parts()
    turns = parts.turns
    await parts.pipeline.on_event(InputTranscriptEvent(text="hi", finished=True), 1)
    assert turns.awaiting_reply and not turns.turn_active
    await parts.pipeline.on_event(AUDIO, 1)
    assert turns.turn_active
    await parts.pipeline.on_event(OutputTranscriptEvent(text="hello", finished=True), 1)
    await parts.pipeline.on_event(TurnCompleteEvent(), 1)
    assert not turns.turn_active and not turns.awaiting_reply
    history = await parts.store.history()
    assert [(m.role, m.text_content) for m in history] == [("user", "hi"), ("assistant", "hello")]


async def test_go_away_rotates_at_the_turn_boundary_or_at_the_deadline() -> None:
    parts = Parts()
    gen = parts.link.next_generation()
    await parts.pipeline.on_event(AUDIO, gen)  # a turn in progress
    await parts.pipeline.on_event(GoAwayEvent(time_left=10.0), gen)
    served = asyncio.ensure_future(parts.link.serve(gen))
    await asyncio.sleep(0)
    assert not served.done()  # not mid-turn
    await parts.pipeline.on_event(TurnCompleteEvent(), gen)
    assert await served == "rotate"

    gen = parts.link.next_generation()
    await parts.pipeline.on_event(AUDIO, gen)
    await parts.pipeline.on_event(GoAwayEvent(time_left=10.0), gen)
    served = asyncio.ensure_future(parts.link.serve(gen))
    await parts.clock.wait_for_sleepers(2)  # the first go_away's deadline still waits too
    await parts.clock.advance(8.9)
    assert not served.done()
    await parts.clock.advance(0.2)  # ROTATION_MARGIN before the deadline, even mid-turn
    assert await served == "rotate"


async def test_go_away_while_idle_rotates_at_once() -> None:
    parts = Parts()
    gen = parts.link.next_generation()
    await parts.pipeline.on_event(GoAwayEvent(time_left=30.0), gen)
    assert await parts.link.serve(gen) == "rotate"


async def test_runtime_only_events_from_a_provider_are_ignored() -> None:
    parts = Parts()
    for event in (ReconnectedEvent(attempt=1, resumed=True), ToolResultEvent(id="x", name="y")):
        await parts.pipeline.on_event(event, 1)
    assert parts.drain() == []


async def test_handles_go_to_resumption() -> None:
    parts = Parts()
    await parts.store.ensure_thread(None)
    await parts.pipeline.on_event(SessionUpdateEvent(resumption_handle="h9", resumable=True), 1)
    assert parts.resumption.handle == "h9" and await parts.store.load_handle() == "h9"
    assert [e.type for e in parts.drain()] == ["session_update"]


async def test_a_full_stream_stops_reading_from_the_provider_until_there_is_room() -> None:
    parts = Parts(limit=8)
    burst = [AUDIO] * 100
    conn = RecordingConnection(burst)
    gen = parts.attach(conn)
    parts.turns.turn_active = True
    receiving = asyncio.ensure_future(parts.pipeline.receive(conn, gen))  # type: ignore[arg-type]
    for _ in range(200):
        await asyncio.sleep(0)
    assert conn.pulled == 8 and len(parts.out) == 8  # no more than the limit in memory
    taken = 0
    while taken < 100:
        event = parts.out.next_ready()
        if event is None:
            await asyncio.sleep(0)
            continue
        taken += 1
        assert len(parts.out) <= 8
    assert conn.pulled == 100  # nothing dropped: every event arrived, in order
    await conn.close()
    await receiving
    assert parts.link.disconnected(gen)
