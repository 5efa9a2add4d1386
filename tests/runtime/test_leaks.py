"""A finished session leaves no task (or open connection) behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from _shared.collector import library_garbage

import realtalk_testing
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


HAVE_PROC = os.path.isdir("/proc/self/fd")
SPOKEN_QUESTION = Path(realtalk_testing.__file__).parent / "cassettes" / "spoken_question.jsonl"
GEMINI_MODEL = "gemini-live-2.5-flash-preview"


async def _spoken_question(server: Any) -> list[RealtimeEvent]:
    """One session of the real Gemini plugin against ``server`` (a FakeGeminiServer
    replaying ``spoken_question``): a second of audio, closed at the turn's end."""
    from realtalk import AudioAgent

    config = RealtimeConfig(
        model=GEMINI_MODEL,
        provider_options={"api_key": "test-key", "http_options": server.http_options},
    )
    app = AudioAgent(GEMINI_MODEL, realtime_config=config).compile()
    queue = LiveInputQueue()
    queue.send_audio(b"\x01\x00" * 16000)
    events = await collect(app, queue, {"thread_id": "t"}, close_on="turn_complete")
    await app.aclose()
    await server.wait_done()
    return events


def _open_sockets() -> int:
    fds = os.listdir("/proc/self/fd")
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


async def test_no_sockets_or_tasks_survive_a_real_provider_session() -> None:
    """The real Gemini plugin and SDK over TLS against FakeGeminiServer: after the
    session and the server end, every socket and task the session opened is gone."""
    import pytest

    if not HAVE_PROC:
        pytest.skip("counting sockets needs /proc")
    await _settle()
    sockets_before, tasks_before = _open_sockets(), asyncio.all_tasks()
    async with realtalk_testing.FakeGeminiServer(SPOKEN_QUESTION) as server:
        await _settle()
        sockets_serving = _open_sockets()  # the listening socket(s)
        events = await _spoken_question(server)
        await _settle()
        # the client closed its end (and the server then its own) before the server ends
        assert _open_sockets() == sockets_serving
    await _settle()
    assert events[-1].type == "session_ended" and events[-1].reason == "closed"
    assert [e.text for e in events if e.type == "output_transcript" and e.finished] == [
        "It is sunny and twenty degrees in Paris."
    ]
    assert _open_sockets() == sockets_before
    assert asyncio.all_tasks() == tasks_before


def _weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _busy_script() -> list[Any]:
    return [
        [
            expect.text("hi"),
            emit.session_update("h1"),
            emit.tool_call("c1", "_weather", {"city": "Paris"}),
            expect.tool_result("c1"),
            emit.go_away(time_left=60),
            end.drop(),
        ],
        [
            expect.connect(handle="h1"),
            emit.audio(seconds=0.1),
            emit.output_transcript("sunny"),
            emit.turn_complete(),
            expect.close(),
        ],
    ]


async def test_an_ended_session_leaves_nothing_for_the_collector() -> None:
    """A tool call, a planned reconnect, metrics, the input closing: once the session has
    ended, reference counting frees every part of it (the app, which builds classes for
    its tools, stays alive, as a server's does)."""

    fakes: list[FakeProvider] = []

    def app() -> Any:
        fakes.append(FakeProvider(_busy_script()))
        return app_for(
            fakes[-1],
            tools=[_weather],
            config=RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(jitter=0)),
            clock=ManualClock(auto_advance=True),
        )

    async def one_session(app: Any) -> None:
        queue = LiveInputQueue()
        queue.send_text("hi")
        events = await collect(app, queue, {"thread_id": "t"}, close_on="turn_complete")
        assert [e.type for e in events].count("tool_call") == 1
        assert [e.type for e in events].count("reconnected") == 1
        assert events[-1].type == "session_ended" and events[-1].reason == "closed"

    await one_session(app())  # first use: imports, caches
    measured = app()
    assert await library_garbage(lambda: one_session(measured)) == []
    for fake in fakes:
        fake.assert_done()


async def test_an_ended_real_provider_session_leaves_nothing_for_the_collector() -> None:
    """The same through the real Gemini plugin and SDK over TLS (FakeGeminiServer)."""

    async def one_session() -> None:
        async with realtalk_testing.FakeGeminiServer(SPOKEN_QUESTION) as server:
            events = await _spoken_question(server)
        assert events[-1].type == "session_ended" and events[-1].reason == "closed"

    await one_session()  # first use: imports, the SDK's caches
    assert await library_garbage(one_session) == []


async def test_a_session_its_consumer_abandons_leaves_nothing_for_the_collector() -> None:
    """Stopped mid-turn (its tasks cancelled, their CancelledErrors kept by the tasks)."""
    fakes: list[FakeProvider] = []

    def app() -> Any:
        fakes.append(FakeProvider([emit.audio(seconds=0.1, chunks=5), expect.close()]))
        return app_for(fakes[-1])

    async def abandoned(app: Any) -> None:
        agen = app.arealtime(LiveInputQueue(), {"thread_id": "t"})
        async for event in agen:
            if event.type == "audio_delta":
                break
        await agen.aclose()
        assert app.active_sessions == 0

    await abandoned(app())
    measured = app()
    assert await library_garbage(lambda: abandoned(measured)) == []
    assert all(fake.connections[0].closed_by_client for fake in fakes)
