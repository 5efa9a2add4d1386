"""The runtime's seams through the public API: compile(thread_store=, tool_executor=,
output_limit=), and what a session says when it cannot connect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import AudioDeltaEvent, TurnCompleteEvent
from realtalk.provider import ProviderCapabilities, SessionSetup
from realtalk.runtime import CheckpointerStore, ManualClock, ThreadStore, ToolInvocation
from realtalk_testing import FakeProvider, emit, expect

from ._support import MODEL, app_for, collect, of_type
from .parts._build import RecordingConnection


def get_weather(city: str) -> str:
    """Weather."""
    return f"sunny in {city}"


async def test_a_thread_store_factory_replaces_the_default_store() -> None:
    built: list[dict[str, Any]] = []
    backing = InMemoryCheckpointer()

    def factory(config: dict[str, Any]) -> ThreadStore:
        built.append(config)
        return CheckpointerStore(backing, config)

    fake = FakeProvider(
        [
            emit.input_transcript("hi", finished=True),
            emit.output_transcript("hello", finished=True),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(fake, thread_store=factory)
    await collect(app, LiveInputQueue(), {"thread_id": "seam"}, close_on="turn_complete")
    assert [c["thread_id"] for c in built] == ["seam"]
    messages = await backing.alist_messages({"thread_id": "seam"})
    assert [m.text_content for m in messages] == ["hi", "hello"]
    assert isinstance(factory(dict(thread_id="x")), ThreadStore)


async def test_a_tool_executor_runs_the_calls_with_the_session_context() -> None:
    seen: list[ToolInvocation] = []

    class Executor:
        async def execute(self, invocation: ToolInvocation) -> Any:
            seen.append(invocation)
            return f"via executor: {invocation.args['city']}"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "get_weather", {"city": "Oslo"}),
            expect.tool_result("c1", result="via executor: Oslo"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(fake, tools=[get_weather], tool_executor=Executor())
    events = await collect(
        app,
        LiveInputQueue(),
        {"thread_id": "t", "user_id": "ada"},
        state={"plan": "gold"},
        close_on="turn_complete",
    )
    assert of_type(events, "tool_result")[0].result == "via executor: Oslo"
    (call,) = seen
    assert call.thread_id == "t" and call.config["user_id"] == "ada"
    assert call.state == {"plan": "gold"} and call.spec.name == "get_weather"
    fake.assert_done()


def test_bad_seams_are_refused_at_compile() -> None:
    fake = FakeProvider([])
    with pytest.raises(TypeError, match="thread_store"):
        app_for(fake, thread_store="sqlite:///x.db")
    with pytest.raises(TypeError, match="tool_executor"):
        app_for(fake, tool_executor=object())
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="output_limit"):
            app_for(fake, output_limit=bad)


class _Bursting:
    """A provider whose one connection streams ``count`` audio chunks as fast as they are
    read (the parts' recording connection counts how many were read)."""

    name = "burst"
    capabilities = ProviderCapabilities()

    def __init__(self, count: int) -> None:
        chunks = [
            AudioDeltaEvent(data=i.to_bytes(4, "little"), sample_rate=24000) for i in range(count)
        ]
        self.conn = RecordingConnection([*chunks, TurnCompleteEvent()])

    async def connect(self, setup: SessionSetup) -> Any:
        return self.conn


async def test_a_stalled_consumer_holds_at_most_the_output_limit_and_loses_nothing() -> None:
    provider = _Bursting(5000)
    app = app_for(provider, output_limit=50)
    queue = LiveInputQueue()
    stream = app.arealtime(queue, {"thread_id": "slow"})
    first = await anext(stream)
    assert first.type == "session_started"
    for _ in range(2000):  # the consumer stalls while the provider bursts
        await asyncio.sleep(0)
    assert provider.conn.pulled <= 51, provider.conn.pulled
    received = []
    queue.close()
    async for event in stream:
        if event.type == "audio_delta":
            received.append(int.from_bytes(event.data, "little"))
    assert received == list(range(5000))  # every chunk, in order


async def test_a_session_that_never_connected_says_why() -> None:
    class Unreachable:
        name = "unreachable"
        capabilities = ProviderCapabilities()

        async def connect(self, setup: SessionSetup) -> Any:
            raise OSError("[Errno -2] Name or service not known")

    config = RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(max_attempts=2, jitter=0))
    app = app_for(Unreachable(), config=config, clock=ManualClock(auto_advance=True))
    events = await collect(app, LiveInputQueue(), {"thread_id": "t"})
    (error,) = of_type(events, "error")
    assert error.fatal and error.code == "reconnect_failed"
    assert error.message == (
        "could not connect after 2 attempt(s): OSError: [Errno -2] Name or service not known"
    )
    assert of_type(events, "reconnected") == []


async def test_a_session_that_lost_its_connection_says_it_could_not_reconnect() -> None:
    from realtalk.provider import DisconnectKind
    from realtalk_testing import end

    busy = end.refuse(DisconnectKind.TRANSIENT, code=1011, reason="busy")
    fake = FakeProvider([[emit.session_update("h1"), end.drop()]] + [[busy]] * 2)
    config = RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(max_attempts=2, jitter=0))
    app = app_for(fake, config=config, clock=ManualClock(auto_advance=True))
    events = await collect(app, LiveInputQueue(), {"thread_id": "t"})
    (error,) = of_type(events, "error")
    assert error.message.startswith("could not reconnect after 2 attempt(s): busy (code=1011)")
    fake.assert_done()
