"""The session emits measured figures: a ``metrics`` event per turn and ``session_metrics``
just before ``session_ended``, on the session's clock, and hands them to plugins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig, plugins
from realtalk.events import MetricsEvent, RealtimeEvent, SessionMetricsEvent
from realtalk.hookspecs import hookimpl
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type


class MetricsRecorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def realtalk_metrics(self, thread_id: str, metrics: Any) -> None:
        self.seen.append((thread_id, metrics))


@pytest.fixture
def recorder() -> Iterator[MetricsRecorder]:
    plugin = MetricsRecorder()
    plugins.register_plugin(plugin, "runtime-test-metrics")
    try:
        yield plugin
    finally:
        plugins.reset_plugins()


async def test_turns_tools_and_a_reconnect_are_measured_on_the_session_clock(
    recorder: MetricsRecorder,
) -> None:
    clock = ManualClock(auto_advance=True)

    async def get_weather(city: str) -> dict[str, Any]:
        """Weather for a city."""
        await clock.sleep(0.5)  # the tool takes half a second of session time
        return {"city": city, "sky": "sunny"}

    fake = FakeProvider(
        [
            [
                expect.text("weather?"),
                emit.tool_call("c1", "get_weather", {"city": "Paris"}),
                expect.tool_result("c1"),
                emit.audio(seconds=0.1),
                emit.turn_complete(),
                emit.usage(10, 20, 30),
                emit.session_update("h1"),
                end.drop(),
            ],
            [
                expect.connect(handle="h1"),
                expect.text("thanks"),
                emit.audio(seconds=0.1),
                emit.turn_complete(),
                emit.usage(5, 6, 11),
                expect.close(),
            ],
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("weather?")
    turns = 0

    def on_event(event: RealtimeEvent) -> None:
        nonlocal turns
        if event.type == "reconnected":
            queue.send_text("thanks")
        elif event.type == "metrics":
            turns += 1
            if turns == 2:
                queue.close()

    config = RealtimeConfig(
        model=MODEL, reconnect=ReconnectConfig(base_delay=1.0, jitter=0.0, max_attempts=3)
    )
    events = await collect(
        app_for(fake, tools=[get_weather], config=config, clock=clock, tool_timeout=None),
        queue,
        {"thread_id": "t"},
        on_event=on_event,
    )
    fake.assert_done()
    first, second = of_type(events, "metrics")
    assert (first.turn, first.provider, first.model, first.input_end) == (1, "fake", MODEL, "text")
    assert first.time_to_first_audio == pytest.approx(0.5)  # the tool's half second
    assert (first.input_tokens, first.output_tokens) == (10, 20)
    [tool] = first.tool_calls
    assert (tool.name, tool.outcome, tool.duration) == ("get_weather", "ok", pytest.approx(0.5))
    assert second.input_end == "text" and second.time_to_first_audio == 0.0
    [reconnect] = second.reconnects
    assert (reconnect.cause, reconnect.resumed, reconnect.gap) == ("disconnect", True, 1.0)
    assert (second.input_tokens, second.output_tokens) == (5, 6)

    # each metrics event follows its turn's usage report; the summary precedes the end
    kinds = [e.type for e in events]
    assert kinds[kinds.index("usage") + 1] == "metrics"
    assert kinds[-2:] == ["session_metrics", "session_ended"]
    summary = events[-2]
    assert isinstance(summary, SessionMetricsEvent)
    assert (summary.turns, summary.input_tokens, summary.total_tokens) == (2, 15, 41)
    assert summary.time_to_first_audio == pytest.approx([0.5, 0.0])
    assert summary.reconnects == [reconnect] and summary.tool_calls == [tool]

    # plugins get the same events, in order, for the session's thread
    assert recorder.seen == [("t", e) for e in events if isinstance(e, MetricsEvent)] + [
        ("t", summary)
    ]
