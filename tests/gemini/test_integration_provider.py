"""The real GeminiProvider and the real google-genai SDK against FakeGeminiServer.

Each test replays a cassette (a TLS WebSocket server on 127.0.0.1 speaking the Live wire
protocol) and asserts the exact neutral events, what the client sent, and how the
connection ended. The runtime is not involved: reconnecting is its job, so a test that
needs two connections opens them itself, as the runtime would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from realtalk.config import RealtimeConfig
from realtalk.events import (
    AudioDeltaEvent,
    GenerationCompleteEvent,
    GoAwayEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallEvent,
    TurnCompleteEvent,
    UsageEvent,
)
from realtalk.inputs import AudioInput, TextInput
from realtalk.messages import Message
from realtalk.provider import (
    DisconnectKind,
    ProviderDisconnected,
    ProviderSession,
    SessionSetup,
)
from realtalk.tools import ToolSpec
from realtalk_gemini.provider import GeminiProvider

gemini_server = pytest.importorskip("realtalk_testing.gemini_server")
FakeGeminiServer = gemini_server.FakeGeminiServer

CASSETTES = Path(__file__).parent / "cassettes"
MODEL = "gemini-live-2.5-flash-preview"
PCM = bytes(range(0, 200, 2)) * 4
SPEECH = b"\x01\x00" * 1600  # 100 ms at 16 kHz


def setup_for(
    server: Any,
    *,
    handle: str | None = None,
    history: tuple[Message, ...] = (),
    tools: tuple[ToolSpec, ...] = (),
    **config: Any,
) -> SessionSetup:
    realtime = RealtimeConfig(
        model=MODEL,
        provider_options={"api_key": "test-key", "http_options": server.http_options},
        **config,
    )
    return SessionSetup(config=realtime, resumption_handle=handle, history=history, tools=tools)


async def until_turn_complete(session: ProviderSession) -> list[RealtimeEvent]:
    events: list[RealtimeEvent] = []
    async for event in session.events():
        events.append(event)
        if isinstance(event, TurnCompleteEvent):
            break
    return events


async def until_disconnected(
    session: ProviderSession,
) -> tuple[list[RealtimeEvent], ProviderDisconnected]:
    events: list[RealtimeEvent] = []
    with pytest.raises(ProviderDisconnected) as info:
        async for event in session.events():
            events.append(event)
    return events, info.value


async def test_spoken_turn() -> None:
    async with FakeGeminiServer(CASSETTES / "spoken_turn.jsonl") as server:
        session = await GeminiProvider().connect(setup_for(server))
        for _ in range(2):
            await session.send(AudioInput(data=SPEECH, sample_rate=16000))
        events = await until_turn_complete(session)
        tail: list[RealtimeEvent] = []
        async for event in session.events():
            tail.append(event)
            if isinstance(event, SessionUpdateEvent):
                break
        await session.close()
        _, end = await until_disconnected(session)

    assert events == [
        InputTranscriptEvent(text="Hello", finished=False),
        InputTranscriptEvent(text=" there.", finished=False),
        InputTranscriptEvent(text="Hello there.", finished=True),
        AudioDeltaEvent(data=PCM, sample_rate=24000),
        OutputTranscriptEvent(text="Hi, how", finished=False),
        OutputTranscriptEvent(text=" can I help?", finished=False),
        AudioDeltaEvent(data=PCM, sample_rate=24000),
        GenerationCompleteEvent(),
        OutputTranscriptEvent(text="Hi, how can I help?", finished=True),
        TurnCompleteEvent(),
    ]
    assert tail == [
        UsageEvent(prompt_tokens=12, response_tokens=20, total_tokens=32),
        SessionUpdateEvent(resumption_handle="handle-1", resumable=True),
    ]
    assert end.kind is DisconnectKind.CLOSED
    record = server.connection(1)
    assert record.audio_bytes == 2 * len(SPEECH)
    assert record.headers["x-goog-api-key"] == "<redacted>"
    assert record.path.endswith("v1beta.GenerativeService.BidiGenerateContent")


async def test_tool_round_trip_keeps_the_call_id() -> None:
    weather = ToolSpec(
        name="get_weather",
        description="Weather for a city.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        func=lambda city: "sunny, 22 C",
        is_async=False,
    )
    async with FakeGeminiServer(CASSETTES / "tool_round_trip.jsonl") as server:
        session = await GeminiProvider().connect(setup_for(server, tools=(weather,)))
        await session.send(TextInput(text="Weather in Paris?"))
        events: list[RealtimeEvent] = []
        async for event in session.events():
            events.append(event)
            if isinstance(event, ToolCallEvent):
                await session.send_tool_result(event.id, event.name, "sunny, 22 C")
            if isinstance(event, TurnCompleteEvent):
                break
        await session.close()

    assert events == [
        ToolCallEvent(id="fc-42", name="get_weather", args={"city": "Paris"}),
        OutputTranscriptEvent(text="It is sunny in Paris.", finished=False),
        AudioDeltaEvent(data=PCM, sample_rate=24000),
        OutputTranscriptEvent(text="It is sunny in Paris.", finished=True),
        TurnCompleteEvent(),
    ]
    sent = server.received(1)
    assert sent[-1] == {
        "toolResponse": {
            "functionResponses": [
                {"id": "fc-42", "name": "get_weather", "response": {"result": "sunny, 22 C"}}
            ]
        }
    }


async def test_go_away_then_second_connection_presents_the_handle() -> None:
    async with FakeGeminiServer(CASSETTES / "go_away_resume.jsonl") as server:
        provider = GeminiProvider()
        first = await provider.connect(setup_for(server))
        events, end = await until_disconnected(first)
        assert events == [
            SessionUpdateEvent(resumption_handle="handle-A", resumable=True),
            SessionUpdateEvent(resumption_handle=None, resumable=False),
            GoAwayEvent(time_left=50.0),
        ]
        assert end.kind is DisconnectKind.ROTATION
        assert end.code == 1000 and end.reason == "session rotated"

        second = await provider.connect(setup_for(server, handle="handle-A"))
        await second.send(TextInput(text="Are you still there?"))
        reply = await until_turn_complete(second)
        await second.close()

    assert reply == [AudioDeltaEvent(data=PCM, sample_rate=24000), TurnCompleteEvent()]
    assert server.received(2)[0]["setup"]["sessionResumption"] == {"handle": "handle-A"}
    assert server.received(1)[0]["setup"]["sessionResumption"] == {}


async def test_drop_is_transient_1006() -> None:
    async with FakeGeminiServer(CASSETTES / "drop.jsonl") as server:
        session = await GeminiProvider().connect(setup_for(server))
        events, end = await until_disconnected(session)
        with pytest.raises(ProviderDisconnected) as late:
            await session.send(TextInput(text="anyone?"))
    assert events == [OutputTranscriptEvent(text="Let me", finished=False)]
    assert end.kind is DisconnectKind.TRANSIENT and end.code == 1006
    assert late.value.kind is DisconnectKind.TRANSIENT


async def test_close_1011_is_transient() -> None:
    async with FakeGeminiServer(CASSETTES / "server_error_1011.jsonl") as server:
        session = await GeminiProvider().connect(setup_for(server))
        _, end = await until_disconnected(session)
    assert end.kind is DisconnectKind.TRANSIENT
    assert end.code == 1011 and end.reason == "Internal error encountered."


async def test_stale_handle_is_rejected_then_fresh_session_is_reseeded() -> None:
    history = (
        Message.text("user", "My name is Ada.", modality="audio"),
        Message.text("assistant", "Nice to meet you, Ada.", modality="audio"),
    )
    async with FakeGeminiServer(CASSETTES / "stale_handle.jsonl") as server:
        provider = GeminiProvider()
        with pytest.raises(ProviderDisconnected) as refused:
            await provider.connect(setup_for(server, handle="stale-handle", history=history))
        assert refused.value.kind is DisconnectKind.REJECTED_HANDLE
        assert refused.value.code == 1008

        fresh = await provider.connect(setup_for(server, history=history))
        await fresh.send(TextInput(text="What is my name?"))
        reply = await until_turn_complete(fresh)
        await fresh.close()

    assert reply == [
        OutputTranscriptEvent(text="Your name is Ada.", finished=False),
        OutputTranscriptEvent(text="Your name is Ada.", finished=True),
        TurnCompleteEvent(),
    ]
    # The reseed came before any input and did not ask for a reply.
    kinds = server.connection(2).kinds
    assert kinds[:3] == ["setup", "client_content", "realtime_input.text"]


async def test_text_modality() -> None:
    async with FakeGeminiServer(CASSETTES / "text_modality.jsonl") as server:
        session = await GeminiProvider().connect(
            setup_for(server, response_modalities=["TEXT"], voice="Puck")
        )
        await session.send(TextInput(text="Say hi"))
        events = await until_turn_complete(session)
        await session.close()
    assert events == [
        TextDeltaEvent(text="Hi"),
        TextDeltaEvent(text=" there!"),
        GenerationCompleteEvent(),
        TurnCompleteEvent(),
    ]
    setup = server.received(1)[0]["setup"]
    assert "speechConfig" not in setup.get("generationConfig", {})
    assert "outputAudioTranscription" not in setup
