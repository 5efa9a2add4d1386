"""``RealtimeApp.arealtime(event_sink=...)``: events taken from the session's own task."""

from __future__ import annotations

from typing import Any

import pytest

from realtalk import AudioAgent, LiveInputQueue
from realtalk.events import AudioDeltaEvent
from realtalk_testing import FakeProvider, emit, expect

CHUNK = b"\x01\x00" * 1600  # 100 ms of 16 kHz PCM16


def script() -> list[Any]:
    steps: list[Any] = []
    for i in range(5):
        steps += [
            expect.audio(min_bytes=len(CHUNK)),
            emit.audio(data=bytes([i, 0]) * 2400),
            emit.output_transcript(f"part {i}"),
        ]
    return [*steps, emit.turn_complete(), expect.close()]


async def run(event_sink: Any = None) -> tuple[list[str], list[Any]]:
    """One session: a chunk per answer; returns the yielded event types and what the
    sink took."""
    app = AudioAgent("fake-model", provider=FakeProvider(script())).compile()
    queue = LiveInputQueue()
    taken: list[Any] = []
    options: dict[str, Any] = {}
    if event_sink is not None:
        options["event_sink"] = lambda event: event_sink(event) and not taken.append(event)
    yielded: list[str] = []
    sent = 0
    async for event in app.arealtime(queue, {}, **options):
        yielded.append(event.type)
        if event.type in ("session_started", "output_transcript") and sent < 5:
            queue.send_audio(CHUNK, 16000)
            sent += 1
        if event.type == "turn_complete":
            queue.close()
    return yielded, taken


async def test_events_the_sink_takes_are_not_yielded_and_the_rest_keep_their_order() -> None:
    plain, _ = await run()
    yielded, taken = await run(lambda event: isinstance(event, AudioDeltaEvent))
    assert [e.data for e in taken] == [bytes([i, 0]) * 2400 for i in range(5)]
    assert yielded == [kind for kind in plain if kind != "audio_delta"]


async def test_a_sink_that_declines_everything_changes_nothing() -> None:
    plain, _ = await run()
    yielded, taken = await run(lambda event: False)
    assert taken == [] and yielded == plain


async def test_a_sink_that_is_not_callable_is_refused() -> None:
    app = AudioAgent("fake-model", provider=FakeProvider([])).compile()
    with pytest.raises(TypeError, match="event_sink must be callable"):
        await anext(app.arealtime(LiveInputQueue(), {}, event_sink=42))  # type: ignore[arg-type]
