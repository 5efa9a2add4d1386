"""realtalk-otel on scripted FakeProvider sessions and a ManualClock: exact span times,
failed tools, interruptions, dropped audio, the opt-in for tool arguments, and nothing at
all until ``instrument()``."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from runtime._support import MODEL, app_for, collect

import realtalk_otel
from realtalk import LiveInputQueue
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, expect

from .conftest import Telemetry


def script() -> FakeProvider:
    return FakeProvider(
        [
            [
                expect.text("weather?"),
                emit.tool_call("c1", "get_weather", {"city": "Paris"}),
                emit.tool_call("c2", "broken", {}),
                expect.any_order(expect.tool_result("c1"), expect.tool_result("c2")),
                emit.audio(seconds=0.1),
                emit.interrupted(),
                emit.usage(7, 3, 10),
                expect.close(),
            ]
        ]
    )


def tools(clock: ManualClock) -> list[Any]:
    async def get_weather(city: str) -> dict[str, Any]:
        """Weather for a city."""
        await clock.sleep(0.25)
        return {"city": city}

    def broken() -> None:
        """Always fails."""
        raise ValueError("no weather today")

    return [get_weather, broken]


async def run(clock: ManualClock) -> list[Any]:
    queue = LiveInputQueue()
    queue.send_text("weather?")

    def on_event(event: Any) -> None:
        if event.type == "metrics":
            queue.close()

    app = app_for(script(), tools=tools(clock), clock=clock, tool_timeout=None)
    return await collect(app, queue, {"thread_id": "t-otel"}, on_event=on_event)


async def test_span_times_are_the_measured_figures(telemetry: Telemetry) -> None:
    clock = ManualClock(auto_advance=True)
    events = await run(clock)
    [figures] = [e for e in events if e.type == "metrics"]

    [session] = telemetry.named("realtime")
    assert session.name == f"realtime {MODEL}"
    assert dict(session.attributes or {})["gen_ai.system"] == "fake"
    [turn] = telemetry.named("chat")
    tools_by_name = {s.attributes["gen_ai.tool.name"]: s for s in telemetry.named("execute_tool")}
    ok, failed = tools_by_name["get_weather"], tools_by_name["broken"]
    assert ok.end_time - ok.start_time == 250_000_000  # exactly the tool's 0.25 s
    assert ok.start_time == turn.start_time  # the turn starts at the text; the call at once
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "error"
    assert ok.status.status_code is StatusCode.UNSET

    a = dict(turn.attributes or {})
    assert a["realtalk.turn.interrupted"] is True
    assert a["realtalk.turn.time_to_first_audio"] == figures.time_to_first_audio == 0.25
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (7, 3)
    assert turn.end_time - turn.start_time == 250_000_000

    [interruptions] = telemetry.points("realtalk.interruptions")
    assert interruptions.value == 1
    outcomes = {
        p.attributes["realtalk.tool.outcome"]: p.count
        for p in telemetry.points("realtalk.tool.duration")
    }
    assert outcomes == {"ok": 1, "error": 1}


async def test_tool_arguments_only_when_opted_in() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    realtalk_otel.instrument(provider, meters, capture_tool_arguments=True)
    try:
        await run(ManualClock(auto_advance=True))
    finally:
        realtalk_otel.uninstrument()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    args = spans["execute_tool get_weather"].attributes["gen_ai.tool.call.arguments"]
    assert args == '{"city": "Paris"}'


async def test_nothing_is_recorded_until_instrumented() -> None:
    assert not realtalk_otel.is_instrumented()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await run(ManualClock(auto_advance=True))
    assert exporter.get_finished_spans() == ()


async def test_a_session_that_ends_in_error_has_an_error_status(telemetry: Telemetry) -> None:
    fake = FakeProvider(
        [[emit.error("quota_exceeded", "out of quota", fatal=True), expect.close()]]
    )
    await collect(app_for(fake), LiveInputQueue(), {"thread_id": "t-err"})
    [session] = telemetry.named("realtime")
    assert session.status.status_code is StatusCode.ERROR
    assert session.attributes["realtalk.session.end_reason"] == "error"
    [error] = session.events
    assert (
        error.name == "realtalk.error"
        and error.attributes["realtalk.error.code"] == "quota_exceeded"
    )
