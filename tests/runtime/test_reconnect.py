"""Section 3.4: rotation on go_away, backoff on transient drops, buffering while down."""

from __future__ import annotations

import asyncio

import pytest

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.events import RealtimeEvent
from realtalk.provider import DisconnectKind
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type, pcm, types


def config(**reconnect: object) -> RealtimeConfig:
    return RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(**reconnect))  # type: ignore[arg-type]


async def test_go_away_when_idle_reconnects_at_once_with_the_handle() -> None:
    clock = ManualClock()
    fake = FakeProvider(
        [
            [emit.session_update("h1"), emit.go_away(time_left=30), expect.close()],
            [
                expect.connect(handle="h1"),
                expect.text("still there?"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    queue = LiveInputQueue()

    def on_event(event: RealtimeEvent) -> None:
        if event.type == "reconnected":
            queue.send_text("still there?")

    events = await collect(
        app_for(fake, clock=clock),
        queue,
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    reconnected = of_type(events, "reconnected")
    assert [(r.attempt, r.resumed) for r in reconnected] == [(1, True)]
    assert clock.sleeps == []  # no backoff for a planned rotation
    assert fake.connections[0].closed_by_client
    fake.assert_done()


async def test_go_away_mid_turn_switches_at_the_turn_boundary_without_losing_the_turn() -> None:
    clock = ManualClock()
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                expect.text("tell me a story"),
                emit.audio(seconds=0.1),
                emit.go_away(time_left=20),
                emit.audio(seconds=0.1, chunks=2),
                emit.output_transcript("Once upon a time", finished=True),
                emit.turn_complete(),
                expect.close(),
            ],
            [
                expect.connect(handle="h1"),
                expect.text("and then?"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("tell me a story")
    turns = 0

    def on_event(event: RealtimeEvent) -> None:
        nonlocal turns
        if event.type == "turn_complete":
            turns += 1
            if turns == 2:
                queue.close()
        if event.type == "reconnected":
            queue.send_text("and then?")

    events = await collect(app_for(fake, clock=clock), queue, {"thread_id": "t"}, on_event=on_event)
    order = types(events)
    assert order.count("audio_delta") == 3
    assert order.index("go_away") < order.index("turn_complete") < order.index("reconnected")
    assert clock.sleeps == [19.0]  # only the deadline timer: rotation waited for the boundary
    fake.assert_done()


async def test_go_away_rotates_at_the_deadline_if_the_turn_does_not_end() -> None:
    clock = ManualClock()
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                expect.text("go on"),
                emit.audio(seconds=0.1),
                emit.go_away(time_left=5),
                expect.close(),
            ],
            [expect.connect(handle="h1"), emit.turn_complete(), expect.close()],
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("go on")

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "go_away":
            await clock.wait_for_sleepers(1)
            assert not fake.connections[0].closed_by_client  # still waiting for the boundary
            await clock.advance(4)

    events = await collect(
        app_for(fake, clock=clock),
        queue,
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    assert of_type(events, "reconnected")[0].resumed
    fake.assert_done()


async def test_a_provider_rotation_close_reconnects_without_backoff() -> None:
    clock = ManualClock()
    fake = FakeProvider(
        [
            [emit.session_update("h1"), end.close(1001, "going away")],
            [expect.connect(handle="h1"), emit.turn_complete(), expect.close()],
        ]
    )
    events = await collect(
        app_for(fake, clock=clock), LiveInputQueue(), {"thread_id": "t"}, close_on="turn_complete"
    )
    assert clock.sleeps == [] and of_type(events, "reconnected")[0].attempt == 1
    fake.assert_done()


async def test_transient_drops_back_off_exponentially_with_jitter() -> None:
    clock = ManualClock(auto_advance=True)
    fake = FakeProvider(
        [
            [emit.session_update("h1"), end.drop()],
            [end.refuse(DisconnectKind.TRANSIENT, code=1011, reason="busy")],
            [end.refuse(DisconnectKind.TRANSIENT, code=1011, reason="busy")],
            [end.refuse(DisconnectKind.TRANSIENT, code=1011, reason="busy")],
            [expect.connect(handle="h1"), emit.turn_complete(), expect.close()],
        ]
    )
    app = app_for(
        fake,
        config=config(base_delay=1.0, max_delay=3.0, jitter=0.2, max_attempts=5),
        clock=clock,
        rng=lambda: 0.5,
    )
    events = await collect(app, LiveInputQueue(), {"thread_id": "t"}, close_on="turn_complete")
    # min(1 * 2**(n-1), 3) plus 0.5 * 0.2 of it
    assert clock.sleeps == pytest.approx([1.1, 2.2, 3.3, 3.3])
    assert [(r.attempt, r.resumed) for r in of_type(events, "reconnected")] == [(4, True)]
    fake.assert_done()


async def test_after_max_attempts_the_session_ends_with_reconnect_failed() -> None:
    clock = ManualClock(auto_advance=True)
    fake = FakeProvider(
        [
            [end.drop()],
            [end.refuse(DisconnectKind.TRANSIENT, code=1006)],
            [end.refuse(DisconnectKind.TRANSIENT, code=1006)],
        ]
    )
    app = app_for(fake, config=config(base_delay=1.0, jitter=0.0, max_attempts=2), clock=clock)
    events = await collect(app, LiveInputQueue(), {"thread_id": "t"})
    error = of_type(events, "error")[-1]
    assert error.code == "reconnect_failed" and error.fatal
    assert types(events)[-2:] == ["error", "session_ended"]
    assert of_type(events, "session_ended")[0].reason == "error"
    assert clock.sleeps == [1.0, 2.0]
    fake.assert_done()


async def test_reconnecting_disabled_means_a_drop_is_fatal() -> None:
    fake = FakeProvider([[end.drop()]])
    app = app_for(fake, config=config(max_attempts=0), clock=ManualClock(auto_advance=True))
    events = await collect(app, LiveInputQueue(), {"thread_id": "t"})
    assert of_type(events, "error")[-1].code == "reconnect_failed"
    fake.assert_done()


@pytest.mark.parametrize("code", [1007, 1008, 4003])
async def test_a_fatal_close_ends_the_session_without_reconnecting(code: int) -> None:
    clock = ManualClock(auto_advance=True)
    fake = FakeProvider([[end.close(code, "invalid argument")]])
    events = await collect(app_for(fake, clock=clock), LiveInputQueue(), {"thread_id": "t"})
    error = of_type(events, "error")[-1]
    assert error.fatal and error.code == "connection_closed" and str(code) in error.message
    assert clock.sleeps == [] and len(fake.connections) == 1
    fake.assert_done()


async def test_closes_are_classified_by_code_and_signal_not_exception_class() -> None:
    """1011 is transient (backoff); 1000 flagged as rotation by the provider is immediate."""
    clock = ManualClock(auto_advance=True)
    fake = FakeProvider(
        [
            [end.close(1011, "internal error")],
            [end.close(1000, "rotate", kind=DisconnectKind.ROTATION)],
            [emit.turn_complete(), expect.close()],
        ]
    )
    events = await collect(
        app_for(fake, config=config(base_delay=1.0, jitter=0.0), clock=clock),
        LiveInputQueue(),
        {"thread_id": "t"},
        close_on="turn_complete",
    )
    assert clock.sleeps == [1.0]
    assert [r.attempt for r in of_type(events, "reconnected")] == [1, 1]
    fake.assert_done()


async def test_input_sent_while_disconnected_reaches_the_new_connection() -> None:
    clock = ManualClock()
    spoken = pcm(0.1)
    fake = FakeProvider(
        [
            [emit.session_update("h1"), expect.text("first"), end.drop()],
            [
                expect.connect(handle="h1"),
                expect.audio(exact=spoken),
                expect.text("while down"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("first")

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "session_update":
            await clock.wait_for_sleepers(1)  # dropped: the backoff is running
            queue.send_audio(spoken)
            queue.send_text("while down")
            await asyncio.sleep(0)  # let the pump buffer them
            for _ in range(20):
                await asyncio.sleep(0)
            assert len(fake.connections) == 1  # nothing reconnected yet
            await clock.advance(10)

    events = await collect(
        app_for(fake, clock=clock),
        queue,
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    assert of_type(events, "input_dropped") == []
    assert types(events).index("reconnected") < types(events).index("turn_complete")
    fake.assert_done()


async def test_the_disconnected_buffer_is_bounded_and_drops_are_reported() -> None:
    clock = ManualClock()
    chunks = [pcm(0.05) for _ in range(5)]  # 1600 bytes each at 16 kHz
    chunks = [bytes([i + 1]) * len(c) for i, c in enumerate(chunks)]
    kept = chunks[3] + chunks[4]
    fake = FakeProvider(
        [
            [emit.session_update("h1"), end.drop()],
            [
                expect.connect(handle="h1"),
                expect.audio(exact=kept),
                emit.turn_complete(),
                expect.close(),
            ],
        ],
        strict=True,
    )
    queue = LiveInputQueue()

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "session_update":
            await clock.wait_for_sleepers(1)
            for chunk in chunks:
                queue.send_audio(chunk)
            for _ in range(50):
                await asyncio.sleep(0)
            await clock.advance(10)

    events = await collect(
        app_for(fake, config=config(buffer_seconds=0.1), clock=clock),
        queue,
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    dropped = of_type(events, "input_dropped")
    assert len(dropped) == 1
    assert (dropped[0].audio_chunks, dropped[0].audio_bytes) == (3, 3 * 1600)
    assert "disconnected" in dropped[0].reason
    order = types(events)
    assert order.index("input_dropped") < order.index("reconnected")
    fake.assert_done()


class FlakySend:
    """Wraps a FakeProvider; the first connection's ``send`` fails like a dead socket
    (an exception the provider did not classify)."""

    name = "flaky"

    def __init__(self, fake: FakeProvider) -> None:
        self.fake = fake
        self.capabilities = fake.capabilities

    async def connect(self, setup: object) -> object:
        session = await self.fake.connect(setup)  # type: ignore[arg-type]
        if len(self.fake.connections) == 1:

            async def broken_send(item: object) -> None:
                raise ConnectionResetError("socket reset")

            session.send = broken_send  # type: ignore[method-assign]
        return session


async def test_an_unclassified_send_failure_counts_as_a_transient_drop() -> None:
    fake = FakeProvider(
        [
            [emit.session_update("h1"), expect.close()],
            [
                expect.connect(handle="h1"),
                expect.text("hello?"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    queue = LiveInputQueue()

    def on_event(event: RealtimeEvent) -> None:
        if event.type == "session_update":
            queue.send_text("hello?")  # fails on the dead socket, is kept, goes out again

    clock = ManualClock(auto_advance=True)
    events = await collect(
        app_for(FlakySend(fake), config=config(base_delay=1.0, jitter=0.0), clock=clock),
        queue,
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    assert clock.sleeps == [1.0]
    assert of_type(events, "reconnected")[0].resumed
    fake.assert_done()
