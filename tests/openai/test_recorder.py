"""OpenAICassetteRecorder: record a live session through the proxy (upstream: a
FakeOpenAIServer standing in for OpenAI), replay the recording offline, same stream."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
from realtalk.events import RealtimeEvent
from realtalk_testing.openai_recorder import OpenAICassetteRecorder
from realtalk_testing.openai_server import FakeOpenAIServer
from realtalk_testing.openai_wire import load_openai_cassette, openai_cassette_path

from ._e2e import THREAD, Run, run_session, until_turns

SECRET = "sk-live-secret-0123456789"


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"sky": "sunny", "temp_c": 20}


async def _live_session(options: dict[str, Any]) -> list[RealtimeEvent]:
    config = RealtimeConfig(model="gpt-realtime", provider_options=options)
    app = AudioAgent("gpt-realtime", realtime_config=config, tools=[get_weather]).compile()
    queue = LiveInputQueue()
    queue.send_audio(b"\x01\x00" * 16000, 16000)
    seen: list[RealtimeEvent] = []

    async def consume() -> None:
        async for event in app.arealtime(queue, THREAD):
            seen.append(event)
            if event.type == "turn_complete":
                queue.close()
            if event.type == "reconnected":
                queue.send_audio(b"\x01\x00" * 16000, 16000)

    try:
        await asyncio.wait_for(consume(), 20)  # a safety net, not a wait
    finally:
        await app.aclose()
    return seen


async def test_record_then_replay_gives_the_same_stream(tmp_path: Path) -> None:
    path = tmp_path / "recorded.jsonl"
    async with FakeOpenAIServer(openai_cassette_path("tool_call")) as upstream:
        recorder = OpenAICassetteRecorder(
            path,
            upstream=upstream.base_url,
            upstream_ssl=upstream.ssl_context,
            api_key=SECRET,
            max_audio_bytes=960,
        )
        async with recorder:
            events = await _live_session(recorder.provider_options)
    assert recorder.errors == []
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and "Bearer" not in text
    cassette = load_openai_cassette(path)
    assert cassette.header["model"] == "gpt-realtime"
    kinds = [line.raw.get("send") for line in cassette.lines if "send" in line.raw]
    assert kinds[0] == "session.update"
    audio = [
        line.raw for line in cassette.lines if line.raw.get("send") == "input_audio_buffer.append"
    ]
    assert audio and all(a["min_bytes"] > 0 for a in audio)  # counted, never stored
    live = Run(events, [], upstream).stream()
    replayed = await run_session(path, until_turns(1), tools=[get_weather])
    assert replayed.stream() == live
    # audio deltas were cut to the limit, so the replay carries less audio
    assert all(
        len(e.data) <= 960
        for e in replayed.events
        if e.type == "audio_delta"  # type: ignore[union-attr]
    )


async def test_an_upstream_abort_is_recorded_as_a_drop(tmp_path: Path) -> None:
    path = tmp_path / "drop.jsonl"
    async with FakeOpenAIServer(openai_cassette_path("drop_reconnect")) as upstream:
        async with OpenAICassetteRecorder(
            path, upstream=upstream.base_url, upstream_ssl=upstream.ssl_context
        ) as recorder:
            events = await _live_session(recorder.provider_options)
    cassette = load_openai_cassette(path)
    assert cassette.conns == [1, 2]
    assert [line.raw for line in cassette.lines_for(1)][-1] == {"conn": 1, "drop": True}
    live = Run(events, [], upstream).stream()
    replayed = await run_session(path, until_turns(1, audio_after=("reconnected",)))
    assert replayed.stream() == live
