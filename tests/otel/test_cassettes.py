"""realtalk-otel on shipped cassettes: the real google-genai SDK and the Gemini plugin against
FakeGeminiServer, the plugin loaded through its entry point, spans and measurements read
back from the OpenTelemetry SDK's in-memory exporters; every figure matches the events."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from gemini._e2e import MODEL, SHIPPED, run_session, until_turns
from opentelemetry.sdk.trace import ReadableSpan

from realtalk import plugins
from realtalk.demo.main import BUNDLED_CASSETTE, BUNDLED_QUESTION, DATA
from realtalk.demo.session import DemoPlan
from realtalk.demo.session import run_session as run_demo
from realtalk.demo.wavfile import read_wav
from realtalk.events import MetricsEvent, SessionMetricsEvent
from realtalk_otel.tree import format_span_tree

from .conftest import Telemetry

NS = 1e9


def seconds(span: ReadableSpan) -> float:
    assert span.end_time is not None and span.start_time is not None
    return (span.end_time - span.start_time) / NS


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def test_the_plugin_is_loaded_through_its_entry_point() -> None:
    infos = {info.name: info for info in plugins.get_registry().plugins}
    assert infos["otel"].distribution == "realtalk-otel"


async def test_go_away_cassette_one_session_its_turns_and_a_resumed_reconnect(
    telemetry: Telemetry,
) -> None:
    run = await run_session(
        SHIPPED / "goaway_resume.jsonl", until_turns(2, audio_after=("reconnected",))
    )
    turns = [e for e in run.events if isinstance(e, MetricsEvent)]
    [summary] = [e for e in run.events if isinstance(e, SessionMetricsEvent)]

    [session] = telemetry.named("realtime")
    assert session.name == f"realtime {MODEL}"
    assert session.parent is None
    attrs = dict(session.attributes or {})
    assert attrs["gen_ai.operation.name"] == "realtime"
    assert attrs["gen_ai.system"] == "gemini" and attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.conversation.id"] == "t1"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (120, 80)
    assert attrs["realtalk.session.turns"] == 2 and attrs["realtalk.session.reconnects"] == 1
    assert seconds(session) == pytest.approx(summary.duration, abs=1e-6)

    chats = sorted(telemetry.named("chat"), key=lambda s: s.start_time or 0)
    assert [s.name for s in chats] == [f"chat {MODEL}"] * 2
    assert all(child_of(s, session) for s in chats)
    for span, figures in zip(chats, turns, strict=True):
        a = dict(span.attributes or {})
        assert a["realtalk.turn"] == figures.turn
        assert a["gen_ai.operation.name"] == "chat"
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (60, 40)
        assert a["realtalk.turn.input_end"] == figures.input_end == "transcript"
        assert a["realtalk.turn.time_to_first_audio"] == figures.time_to_first_audio
        assert seconds(span) == pytest.approx(figures.time_to_turn_end, abs=1e-6)

    [reconnect] = telemetry.named("realtalk.reconnect")
    [figures] = summary.reconnects
    assert child_of(reconnect, session)
    a = dict(reconnect.attributes or {})
    assert a["realtalk.reconnect.resumed"] is True and figures.resumed
    assert a["realtalk.reconnect.cause"] == "go_away"
    assert seconds(reconnect) == pytest.approx(figures.gap, abs=1e-6)
    assert {s.context.trace_id for s in telemetry.spans()} == {session.context.trace_id}

    [count] = telemetry.points("realtalk.reconnects")
    assert count.value == 1 and count.attributes["realtalk.reconnect.resumed"] is True
    [latency] = telemetry.points("realtalk.turn.time_to_first_audio")
    assert latency.count == 2
    assert latency.sum == pytest.approx(sum(summary.time_to_first_audio))
    assert sum(p.sum for p in telemetry.points("gen_ai.client.token.usage")) == 200
    assert telemetry.points("realtalk.interruptions") == []


def _fast_demo_cassette(folder: Path) -> Path:
    """The demo's cassette without its cosmetic pacing."""
    source = Path(str(DATA / BUNDLED_CASSETTE))
    lines = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line.pop("delay_ms", None)
    copy = folder / source.name
    copy.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return copy


async def _demo(tmp_path: Path) -> Any:
    question, _ = read_wav(Path(str(DATA / BUNDLED_QUESTION)), 16000)
    plan = DemoPlan(
        mode="offline",
        question=question,
        cassette=_fast_demo_cassette(tmp_path),
        model="gemini-2.5-flash-native-audio-preview-12-2025",
    )
    result = await run_demo(plan, io.StringIO())
    assert result.problems == []
    return result


async def test_demo_session_tool_span_with_its_duration_inside_the_turn(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    result = await _demo(tmp_path)
    summary = result.stats.metrics
    assert summary is not None

    [session] = telemetry.named("realtime")
    [turn] = telemetry.named("chat")
    [tool] = telemetry.named("execute_tool")
    [reconnect] = telemetry.named("realtalk.reconnect")
    assert child_of(turn, session) and child_of(tool, turn) and child_of(reconnect, session)

    [figures] = summary.tool_calls
    a = dict(tool.attributes or {})
    assert tool.name == "execute_tool get_weather"
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert (a["gen_ai.tool.name"], a["gen_ai.tool.call.id"]) == ("get_weather", "fc-demo-1")
    assert a["realtalk.tool.outcome"] == "ok" and "gen_ai.tool.call.arguments" not in a
    assert seconds(tool) == pytest.approx(figures.duration, abs=1e-6)
    [point] = telemetry.points("realtalk.tool.duration")
    assert point.count == 1 and point.sum == pytest.approx(figures.duration)

    assert dict(reconnect.attributes or {})["realtalk.reconnect.resumed"] is True
    assert dict(turn.attributes or {})["realtalk.turn.input_end"] == "audio_stream_end"

    tree = format_span_tree(telemetry.spans())
    assert tree.splitlines()[0].startswith("realtime gemini-2.5-flash-native-audio")
    assert "        execute_tool get_weather" in tree


async def test_no_transcript_audio_or_secret_reaches_the_telemetry(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    result = await _demo(tmp_path)
    words = [*result.stats.user_text, *result.stats.agent_text]
    assert words
    texts: list[str] = []
    for span in telemetry.spans():
        texts += [str(v) for v in (span.attributes or {}).values()]
        for event in span.events:
            texts += [str(v) for v in (event.attributes or {}).values()]
    blob = "\n".join(texts)
    for text in words:
        assert text not in blob
    assert "offline-demo-key" not in blob and "Paris" not in blob  # nor the tool arguments
