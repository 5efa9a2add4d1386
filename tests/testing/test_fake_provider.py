"""FakeProvider driven directly through the ProviderSession protocol (no runtime, no sleeps)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from realtalk.config import RealtimeConfig
from realtalk.events import (
    AudioDeltaEvent,
    GoAwayEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    SessionUpdateEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
)
from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    TextInput,
)
from realtalk.messages import Message
from realtalk.provider import (
    DisconnectKind,
    Provider,
    ProviderDisconnected,
    ProviderError,
    ProviderSession,
    SessionSetup,
)
from realtalk.tools import tool_specs
from realtalk_testing import FakeProvider, ScriptFailed, emit, end, expect
from realtalk_testing.fake_provider import SCRIPT_ENV

RATE = 16000


def setup_for(**kwargs: Any) -> SessionSetup:
    return SessionSetup(config=RealtimeConfig(model="fake-model"), **kwargs)


def audio(seconds: float = 0.1, rate: int = RATE) -> AudioInput:
    return AudioInput(data=b"\x01\x00" * int(seconds * rate), sample_rate=rate)


async def drain(session: ProviderSession) -> tuple[list[RealtimeEvent], ProviderDisconnected]:
    """Every event until the connection ends, and how it ended."""
    events: list[RealtimeEvent] = []
    with pytest.raises(ProviderDisconnected) as info:
        async for event in session.events():
            events.append(event)
    return events, info.value


async def take(session: ProviderSession, n: int) -> list[RealtimeEvent]:
    """The next ``n`` events (queued already: never waits for time)."""
    out: list[RealtimeEvent] = []
    it = session.events().__aiter__()
    for _ in range(n):
        out.append(await it.__anext__())
    return out


def types(events: list[RealtimeEvent]) -> list[str]:
    return [e.type for e in events]


# --------------------------------------------------------------------------- protocol


def test_fake_provider_implements_the_provider_protocol() -> None:
    provider = FakeProvider([])
    assert isinstance(provider, Provider)
    assert provider.name == "fake"
    assert provider.capabilities.resumption is True
    assert provider.capabilities.input_sample_rate == 16000


async def test_session_implements_provider_session() -> None:
    provider = FakeProvider([expect.close()])
    session = await provider.connect(setup_for())
    assert isinstance(session, ProviderSession)
    await session.close()
    provider.assert_done()


def test_capabilities_are_configurable() -> None:
    provider = FakeProvider([], capabilities={"input_sample_rate": 24000, "images": False})
    assert provider.capabilities.input_sample_rate == 24000
    assert provider.capabilities.images is False
    assert provider.capabilities.resumption is True


# --------------------------------------------------------------------------- emissions


async def test_emissions_before_any_expectation_come_in_order() -> None:
    provider = FakeProvider(
        [
            emit.input_transcript("hel", finished=False),
            emit.input_transcript("hello", finished=True),
            emit.audio(seconds=0.1, chunks=3),
            emit.output_transcript("hi there"),
            emit.generation_complete(),
            emit.turn_complete(),
            end.close(1000),
        ]
    )
    session = await provider.connect(setup_for())
    events, ended = await drain(session)
    assert types(events) == [
        "input_transcript",
        "input_transcript",
        "audio_delta",
        "audio_delta",
        "audio_delta",
        "output_transcript",
        "generation_complete",
        "turn_complete",
    ]
    assert events[0] == InputTranscriptEvent(text="hel", finished=False)
    audio_events = [e for e in events if isinstance(e, AudioDeltaEvent)]
    assert sum(len(e.data) for e in audio_events) == 2 * 2400  # 0.1 s at 24 kHz
    assert all(e.sample_rate == 24000 and len(e.data) % 2 == 0 for e in audio_events)
    assert ended.kind is DisconnectKind.CLOSED and ended.code == 1000
    provider.assert_done()


async def test_emission_waits_for_the_expectation_before_it() -> None:
    provider = FakeProvider(
        [
            emit.output_transcript("Hello"),
            expect.text("what time is it?"),
            emit.output_transcript("Noon"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    session = await provider.connect(setup_for())
    first = await take(session, 1)
    assert first == [OutputTranscriptEvent(text="Hello", finished=True)]
    # nothing else may be emitted before the text arrives
    assert provider.connections[0].events == first
    await session.send(TextInput("what time is it?"))
    rest = await take(session, 2)
    assert types(rest) == ["output_transcript", "turn_complete"]
    await session.close()
    provider.assert_done()


async def test_every_emission_builder() -> None:
    provider = FakeProvider(
        [
            emit.text("delta"),
            emit.tool_call("c1", "lookup", {"q": 1}),
            emit.tool_call_cancelled("c1", "c2"),
            emit.interrupted(),
            emit.usage(prompt_tokens=3, response_tokens=4, total_tokens=7, cached=1),
            emit.session_update("h1"),
            emit.session_update(None, resumable=False),
            emit.go_away(time_left=5.0),
            emit.error("quota", "slow down"),
            emit.speech("it is noon", seconds=0.05),
            end.drop(),
        ]
    )
    session = await provider.connect(setup_for())
    events, ended = await drain(session)
    assert types(events) == [
        "text_delta",
        "tool_call",
        "tool_call_cancelled",
        "interrupted",
        "usage",
        "session_update",
        "session_update",
        "go_away",
        "error",
        "audio_delta",
        "output_transcript",
        "output_transcript",
        "output_transcript",
        "output_transcript",
    ]
    assert events[1] == ToolCallEvent(id="c1", name="lookup", args={"q": 1})
    assert events[2] == ToolCallCancelledEvent(ids=["c1", "c2"])
    assert events[5] == SessionUpdateEvent(resumption_handle="h1", resumable=True)
    assert events[6] == SessionUpdateEvent(resumption_handle=None, resumable=False)
    assert events[7] == GoAwayEvent(time_left=5.0)
    transcripts = [e for e in events if isinstance(e, OutputTranscriptEvent)]
    assert [t.text for t in transcripts] == ["it", " is", " noon", "it is noon"]
    assert [t.finished for t in transcripts] == [False, False, False, True]
    assert ended.kind is DisconnectKind.TRANSIENT and ended.code == 1006


# --------------------------------------------------------------------------- audio matching


async def test_loose_audio_needs_the_stated_duration() -> None:
    provider = FakeProvider(
        [expect.audio(min_seconds=1.0), emit.input_transcript("hello"), expect.close()]
    )
    session = await provider.connect(setup_for())
    for _ in range(9):
        await session.send(audio(0.1))
    assert provider.connections[0].events == []  # 0.9 s is not enough
    await session.send(audio(0.1))
    assert types(await take(session, 1)) == ["input_transcript"]
    record = provider.connections[0]
    assert record.audio_chunks == 10
    assert record.audio_bytes == 32000
    assert record.audio_seconds == pytest.approx(1.0)
    await session.close()
    provider.assert_done()


async def test_exact_audio_is_compared_across_chunks() -> None:
    payload = bytes(range(200))
    provider = FakeProvider([expect.audio(exact=payload), emit.turn_complete(), expect.close()])
    session = await provider.connect(setup_for())
    await session.send(AudioInput(payload[:50], RATE))
    await session.send(AudioInput(payload[50:], RATE))
    assert types(await take(session, 1)) == ["turn_complete"]
    await session.close()
    provider.assert_done()


async def test_exact_audio_mismatch_names_the_byte() -> None:
    provider = FakeProvider([expect.audio(exact=b"\x00\x01\x02\x03"), emit.turn_complete()])
    session = await provider.connect(setup_for())
    await session.send(AudioInput(b"\x00\x01\x09\x03", RATE))
    _, ended = await drain(session)
    assert ended.kind is DisconnectKind.FATAL
    assert "connection 1 step 1 (expect audio exactly 4 bytes)" in ended.reason
    assert "byte 2" in ended.reason


async def test_unexpected_streaming_audio_is_counted_not_failed() -> None:
    provider = FakeProvider([expect.text("hi"), emit.turn_complete(), expect.close()])
    session = await provider.connect(setup_for())
    await session.send(audio(0.2))
    await session.send(audio(0.2))
    await session.send(TextInput("hi"))
    assert types(await take(session, 1)) == ["turn_complete"]
    record = provider.connections[0]
    assert record.unmatched_audio_chunks == 2
    assert record.unmatched_audio_bytes == 2 * 6400
    await session.close()
    provider.assert_done()


async def test_record_false_keeps_counters_not_items_or_events() -> None:
    script = [
        expect.audio(min_seconds=0.2),
        emit.audio(data=b"\x00\x00" * 2400),
        expect.tool_result("c1"),
        emit.turn_complete(),
        expect.close(),
    ]
    kept = FakeProvider(script)
    lean = FakeProvider(script, record=False)
    for provider in (kept, lean):
        session = await provider.connect(setup_for())
        await session.send(audio(0.1))
        await session.send(audio(0.1))
        await session.send(AudioStreamEnd())  # tolerated, unmatched
        assert types(await take(session, 1)) == ["audio_delta"]
        await session.send_tool_result("c1", "weather", "sunny")
        assert types(await take(session, 1)) == ["turn_complete"]
        await session.close()
        provider.assert_done()  # the script is checked the same way
    full, counted = kept.connections[0], lean.connections[0]
    assert len(full.items) == 3 and len(full.events) == 2 and len(full.tool_results) == 1
    assert full.unmatched_items == [AudioStreamEnd()]
    assert counted.items == [] and counted.events == [] and counted.tool_results == []
    assert counted.unmatched_items == []
    for record in (full, counted):
        assert record.items_received == 3
        assert record.events_emitted == 2
        assert record.delivered == 2
        assert (record.audio_chunks, record.audio_bytes) == (2, 6400)
        assert record.audio_seconds == pytest.approx(0.2)


async def test_record_false_still_fails_on_a_mismatch() -> None:
    provider = FakeProvider([expect.text("hi")], record=False)
    session = await provider.connect(setup_for())
    await session.send(TextInput("bye"))
    with pytest.raises(ScriptFailed, match=r"connection 1 step 1 \(expect text 'hi'\): got text"):
        provider.assert_done()
    assert provider.connections[0].items_received == 1


async def test_strict_mode_refuses_unexpected_audio() -> None:
    provider = FakeProvider([expect.text("hi")], strict=True)
    session = await provider.connect(setup_for())
    await session.send(audio(0.2))
    _, ended = await drain(session)
    assert ended.kind is DisconnectKind.FATAL
    assert "connection 1 step 1 (expect text 'hi'): got unexpected audio" in ended.reason


async def test_audio_stream_end_is_streaming_input_too() -> None:
    provider = FakeProvider([emit.turn_complete()])
    session = await provider.connect(setup_for())
    await session.send(audio())
    await session.send(AudioStreamEnd())
    assert provider.connections[0].unmatched_items == [AudioStreamEnd()]
    provider.assert_done()

    strict = FakeProvider([emit.turn_complete()], strict=True)
    session = await strict.connect(setup_for())
    await session.send(AudioStreamEnd())
    with pytest.raises(ScriptFailed, match=r"after its last step, 1.*unexpected audio_stream_end"):
        strict.assert_done()


async def test_tolerate_accepts_more_streaming_kinds() -> None:
    provider = FakeProvider([expect.text("hi"), expect.close()], tolerate={"image"})
    session = await provider.connect(setup_for())
    await session.send(ImageInput(b"frame1"))
    await session.send(TextInput("hi"))
    await session.send(ImageInput(b"frame2"))
    await session.close()
    assert len(provider.connections[0].unmatched_items) == 2
    provider.assert_done()


async def test_audio_at_the_wrong_rate_fails() -> None:
    provider = FakeProvider([expect.audio()])
    session = await provider.connect(setup_for())
    await session.send(AudioInput(b"\x00\x00" * 10, 24000))
    _, ended = await drain(session)
    assert "24000 Hz, the provider takes 16000 Hz" in ended.reason
    with pytest.raises(ScriptFailed):
        provider.assert_done()


# --------------------------------------------------------------------------- other inputs


async def test_text_regex_image_and_control_items() -> None:
    provider = FakeProvider(
        [
            expect.text(pattern=r"^what.*weather"),
            expect.image("image/png"),
            expect.activity_start(),
            expect.activity_end(),
            expect.audio_stream_end(),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    session = await provider.connect(setup_for())
    await session.send(TextInput("what is the weather in Paris"))
    await session.send(ImageInput(b"\x89PNG", "image/png"))
    await session.send(ActivityStart())
    await session.send(ActivityEnd())
    await session.send(AudioStreamEnd())
    assert types(await take(session, 1)) == ["turn_complete"]
    assert provider.connections[0].kinds == [
        "text",
        "image",
        "activity_start",
        "activity_end",
        "audio_stream_end",
    ]
    await session.close()
    provider.assert_done()


async def test_wrong_text_fails_naming_the_step() -> None:
    provider = FakeProvider(
        [emit.output_transcript("hello"), expect.text("hi"), emit.turn_complete()]
    )
    session = await provider.connect(setup_for())
    await session.send(TextInput("bye"))
    events, ended = await drain(session)
    assert types(events) == ["output_transcript"]  # emitted before the mismatch
    assert ended.kind is DisconnectKind.FATAL
    assert ended.reason == "connection 1 step 2 (expect text 'hi'): got text 'bye'"
    with pytest.raises(ScriptFailed) as info:
        provider.assert_done()
    message = str(info.value)
    assert "connection 1 step 2 (expect text 'hi'): got text 'bye'" in message
    assert "connection 1 step 3 (emit turn_complete): not played" in message


async def test_send_after_a_mismatch_raises_fatal() -> None:
    provider = FakeProvider([expect.text("hi")])
    session = await provider.connect(setup_for())
    await session.send(ImageInput(b"jpg"))
    with pytest.raises(ProviderDisconnected) as info:
        await session.send(TextInput("hi"))
    assert info.value.kind is DisconnectKind.FATAL
    assert "got unexpected image" in info.value.reason


async def test_images_refused_when_the_capability_is_off() -> None:
    provider = FakeProvider([expect.image()], capabilities={"images": False})
    session = await provider.connect(setup_for())
    await session.send(ImageInput(b"jpg"))
    _, ended = await drain(session)
    assert "capabilities.images is False" in ended.reason


# --------------------------------------------------------------------------- tools


async def test_tool_round_trip() -> None:
    provider = FakeProvider(
        [
            expect.audio(min_seconds=0.5),
            emit.tool_call("c1", "weather", {"city": "Paris"}),
            expect.tool_result("c1", name="weather", result=lambda r: "sunny" in r, error=None),
            emit.speech("It is sunny"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    session = await provider.connect(setup_for())
    await session.send(audio(0.5))
    (call,) = await take(session, 1)
    assert isinstance(call, ToolCallEvent)
    await session.send_tool_result(call.id, call.name, {"forecast": "sunny"}.__repr__())
    rest = await take(session, 6)
    assert types(rest)[-1] == "turn_complete"
    record = provider.connections[0]
    assert [r.call_id for r in record.tool_results] == ["c1"]
    await session.close()
    provider.assert_done()


async def test_tool_result_for_the_wrong_id_fails() -> None:
    provider = FakeProvider([emit.tool_call("c1", "weather"), expect.tool_result("c1")])
    session = await provider.connect(setup_for())
    await take(session, 1)
    await session.send_tool_result("c9", "weather", "x")
    _, ended = await drain(session)
    assert ended.kind is DisconnectKind.FATAL
    assert ended.reason.startswith("connection 1 step 2 (expect tool result 'c1'): got tool")
    assert "id='c9'" in ended.reason


async def test_tool_error_expectation() -> None:
    provider = FakeProvider(
        [
            emit.tool_call("c1", "boom"),
            expect.tool_result("c1", error="timed out"),
            expect.close(),
        ]
    )
    session = await provider.connect(setup_for())
    await session.send_tool_result("c1", "boom", None, error="tool boom timed out after 1 s")
    await session.close()
    provider.assert_done()


async def test_tool_results_in_any_order() -> None:
    provider = FakeProvider(
        [
            emit.tool_call("a", "slow"),
            emit.tool_call("b", "fast"),
            expect.any_order(expect.tool_result("a"), expect.tool_result("b")),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    session = await provider.connect(setup_for())
    await session.send_tool_result("b", "fast", 1)
    assert provider.connections[0].events[-1].type == "tool_call"
    await session.send_tool_result("a", "slow", 2)
    assert provider.connections[0].events[-1].type == "turn_complete"
    await session.close()
    provider.assert_done()


# --------------------------------------------------------------------------- endings


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1000, DisconnectKind.CLOSED),
        (1001, DisconnectKind.ROTATION),
        (1008, DisconnectKind.FATAL),
        (1011, DisconnectKind.TRANSIENT),
        (4003, DisconnectKind.FATAL),
    ],
)
async def test_close_codes_are_classified(code: int, kind: DisconnectKind) -> None:
    provider = FakeProvider([emit.turn_complete(), end.close(code, "bye")])
    session = await provider.connect(setup_for())
    events, ended = await drain(session)
    assert types(events) == ["turn_complete"]
    assert (ended.kind, ended.code, ended.reason) == (kind, code, "bye")
    provider.assert_done()


async def test_drop_is_transient_1006_and_send_raises_it() -> None:
    provider = FakeProvider([expect.audio(), end.drop()])
    session = await provider.connect(setup_for())
    await session.send(audio())
    with pytest.raises(ProviderDisconnected) as info:
        await session.send(audio())
    assert (info.value.kind, info.value.code) == (DisconnectKind.TRANSIENT, 1006)
    _, ended = await drain(session)
    assert (ended.kind, ended.code) == (DisconnectKind.TRANSIENT, 1006)
    # a second reader sees the same ending again
    _, again = await drain(session)
    assert again.kind is DisconnectKind.TRANSIENT
    assert len(provider.connections[0].sent_after_end) == 1
    provider.assert_done()


async def test_go_away_then_client_switches_connection() -> None:
    provider = FakeProvider(
        [
            [
                expect.connect(handle=None),
                emit.session_update("h1"),
                emit.go_away(time_left=10),
                expect.close(),
            ],
            [
                expect.connect(handle="h1"),
                expect.text("still there?"),
                emit.output_transcript("yes"),
                emit.turn_complete(),
                end.close(1000),
            ],
        ]
    )
    first = await provider.connect(setup_for())
    update, go_away = await take(first, 2)
    assert isinstance(update, SessionUpdateEvent) and update.resumption_handle
    assert isinstance(go_away, GoAwayEvent)
    second = await provider.connect(setup_for(resumption_handle=update.resumption_handle))
    await first.close()
    await second.send(TextInput("still there?"))
    events, ended = await drain(second)
    assert types(events) == ["output_transcript", "turn_complete"]
    assert ended.kind is DisconnectKind.CLOSED
    assert [c.setup.resumption_handle for c in provider.connections] == [None, "h1"]
    assert provider.connections[0].delivered_at_close == 2
    assert provider.connections[0].delivered_events == [update, go_away]
    provider.assert_done()


async def test_wrong_handle_fails_the_connect() -> None:
    provider = FakeProvider([[emit.turn_complete()], [expect.connect(handle="h1")]])
    await provider.connect(setup_for())
    with pytest.raises(ProviderDisconnected) as info:
        await provider.connect(setup_for(resumption_handle="stale"))
    assert info.value.kind is DisconnectKind.FATAL
    assert info.value.reason == (
        "connection 2 step 1 (expect connect handle='h1'): got resumption handle 'stale'"
    )
    with pytest.raises(ScriptFailed, match="resumption handle 'stale'"):
        provider.assert_done()


async def test_rejected_handle_at_connect_then_fresh_reseeded_session() -> None:
    history = [Message.text("user", "hi", modality="audio")]
    provider = FakeProvider(
        [
            [expect.connect(handle="old"), end.refuse()],
            [expect.connect(handle=None, history=True), emit.turn_complete()],
        ]
    )
    with pytest.raises(ProviderDisconnected) as info:
        await provider.connect(setup_for(resumption_handle="old"))
    assert info.value.kind is DisconnectKind.REJECTED_HANDLE
    assert info.value.code == 1008
    session = await provider.connect(setup_for(history=history))
    assert types(await take(session, 1)) == ["turn_complete"]
    assert provider.connections[0].ended is not None
    assert provider.connections[0].ended.kind is DisconnectKind.REJECTED_HANDLE
    provider.assert_done()


async def test_configuration_error_at_connect() -> None:
    provider = FakeProvider([end.provider_error("API key not valid")])
    with pytest.raises(ProviderError, match="API key not valid"):
        await provider.connect(setup_for())
    provider.assert_done()


async def test_send_rejects_things_that_are_not_input_items() -> None:
    provider = FakeProvider([expect.close()])
    session = await provider.connect(setup_for())
    with pytest.raises(TypeError, match="send\\(\\) takes an input item"):
        await session.send(b"raw bytes")  # type: ignore[arg-type]
    assert provider.connections[0].items == []


async def test_connect_expectations_on_tools_and_instruction() -> None:
    def weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    provider = FakeProvider(
        [expect.connect(tools={"weather"}, system_contains="helpful"), expect.close()]
    )
    session = await provider.connect(
        setup_for(tools=tool_specs([weather]), system_instruction="You are helpful.")
    )
    await session.close()
    provider.assert_done()

    provider = FakeProvider([expect.connect(tools=set()), expect.close()])
    with pytest.raises(ProviderDisconnected, match=r"got tools \['weather'\]"):
        await provider.connect(setup_for(tools=tool_specs([weather])))


async def test_more_connects_than_scripted_fail_clearly() -> None:
    provider = FakeProvider([emit.turn_complete()])
    await provider.connect(setup_for())
    with pytest.raises(ProviderDisconnected) as info:
        await provider.connect(setup_for())
    assert info.value.kind is DisconnectKind.FATAL
    assert "connect #2: the script has only 1 connection(s)" in info.value.reason
    with pytest.raises(ScriptFailed, match="connect #2"):
        provider.assert_done()


# --------------------------------------------------------------------------- close / done


async def test_close_is_idempotent_and_ends_events_with_closed() -> None:
    provider = FakeProvider([emit.turn_complete(), expect.close()])
    session = await provider.connect(setup_for())
    reader = asyncio.ensure_future(drain(session))
    await session.close()
    await session.close()
    events, ended = await reader
    assert ended.kind is DisconnectKind.CLOSED
    with pytest.raises(ProviderDisconnected) as info:
        await session.send(audio())
    assert info.value.kind is DisconnectKind.CLOSED
    assert len(events) <= 1
    provider.assert_done()  # audio after close is tolerated (not strict)


async def test_control_item_after_close_is_a_failure() -> None:
    provider = FakeProvider([expect.close()])
    session = await provider.connect(setup_for())
    await session.close()
    with pytest.raises(ProviderDisconnected):
        await session.send(TextInput("lost"))
    with pytest.raises(ScriptFailed, match="text 'lost' sent after close"):
        provider.assert_done()


async def test_unplayed_steps_and_connections_fail_naming_each() -> None:
    provider = FakeProvider(
        [
            [expect.audio(min_seconds=1), emit.turn_complete(), expect.close()],
            [expect.connect(handle="h"), emit.turn_complete()],
        ]
    )
    session = await provider.connect(setup_for())
    await session.send(audio(0.5))
    with pytest.raises(ScriptFailed) as info:
        provider.assert_done()
    problems = info.value.problems
    assert problems == [
        "connection 1 step 1 (expect audio >= 1 s): not played (got 16000 of 32000 bytes)",
        "connection 1 step 2 (emit turn_complete): not played",
        "connection 1 step 3 (expect client close): not played "
        "(the client never closed the connection)",
        "connection 2 (2 steps): never connected",
    ]


async def test_wait_done_returns_once_the_script_is_played() -> None:
    provider = FakeProvider([expect.text("a"), emit.turn_complete(), expect.close()])
    session = await provider.connect(setup_for())
    waiter = asyncio.ensure_future(provider.wait_done())
    await asyncio.sleep(0)  # let it start waiting (a yield, not a wall-clock wait)
    assert not waiter.done()
    await session.send(TextInput("a"))
    await session.close()
    await waiter
    provider.assert_done()


def test_a_provider_outlives_event_loops() -> None:
    provider = FakeProvider([[expect.text("a"), expect.close()], [emit.turn_complete()]])

    async def first() -> None:
        session = await provider.connect(setup_for())
        waiter = asyncio.ensure_future(provider.wait_done())
        await session.send(TextInput("a"))
        await session.close()
        await asyncio.sleep(0)
        assert not waiter.done()  # connection 2 is still to come
        waiter.cancel()

    async def second() -> None:
        session = await provider.connect(setup_for())
        await provider.wait_done()
        assert types(await take(session, 1)) == ["turn_complete"]

    asyncio.run(first())
    asyncio.run(second())
    provider.assert_done()


async def test_events_wait_without_polling() -> None:
    provider = FakeProvider([expect.text("go"), emit.turn_complete(), expect.close()])
    session = await provider.connect(setup_for())
    reader = asyncio.ensure_future(take(session, 1))
    await asyncio.sleep(0)
    assert not reader.done()
    await session.send(TextInput("go"))
    assert types(await reader) == ["turn_complete"]
    await session.close()


# --------------------------------------------------------------------------- script shape


def test_steps_after_an_ending_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"step 1 \(drop \(1006\)\) ends the connection"):
        FakeProvider([end.drop(), emit.turn_complete()])


def test_connect_expectation_must_come_first() -> None:
    with pytest.raises(ValueError, match="connect expectations must come first"):
        FakeProvider([emit.turn_complete(), expect.connect(handle=None)])


def test_non_steps_are_rejected() -> None:
    with pytest.raises(TypeError, match="not a script step"):
        FakeProvider(["hello"])  # type: ignore[list-item]


def test_builders_validate_arguments() -> None:
    with pytest.raises(ValueError):
        emit.audio(b"\x00")  # odd byte count
    with pytest.raises(ValueError):
        emit.audio()
    with pytest.raises(ValueError):
        expect.audio(min_seconds=1, min_bytes=2)
    with pytest.raises(ValueError):
        expect.text("a", pattern="b")


# --------------------------------------------------------------------------- JSON scripts


def test_json_script_builds_the_same_steps() -> None:
    from realtalk_testing.script import script_from_data

    data = [
        [
            {"expect": "connect", "handle": None},
            {"expect": "audio", "min_seconds": 0.5},
            {"emit": "tool_call", "call_id": "c1", "name": "weather", "args": {"city": "Oslo"}},
            {"expect": "tool_result", "call_id": "c1", "error": None},
            {"emit": "audio", "data_b64": "AAABAA=="},
            {"emit": "tool_call_cancelled", "ids": ["c1"]},
            {"emit": "session_update", "handle": "h1"},
            {"emit": "go_away", "time_left": 3},
            {"end": "close", "code": 1001},
        ],
        [
            {"expect": "connect", "handle": "stale"},
            {"end": "refuse", "kind": "rejected_handle", "code": 1008},
        ],
    ]
    script = script_from_data(data)
    assert [s.describe() for s in script[0]] == [
        "expect connect handle=None",
        "expect audio >= 0.5 s",
        "emit tool_call (id='c1', name='weather', args={'city': 'Oslo'})",
        "expect tool result 'c1' error=None",
        "emit audio (4 bytes)",
        "emit tool_call_cancelled (ids=['c1'])",
        "emit session_update (resumption_handle='h1', resumable=True)",
        "emit go_away (time_left=3.0)",
        "close 1001",
    ]
    assert script[1][1].describe() == "refuse connect (rejected_handle, code=1008)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"emit": "nope"}], "script step 1: unknown step emit.nope"),
        ([{"expect": "text", "emit": "text"}], "exactly one of"),
        ([{"expect": "audio", "min_seconds": 1, "min_bytes": 2}], "script step 1: expect.audio"),
        ([{"emit": "tool_call", "call_id": "c"}], "script step 1: emit.tool_call"),
        ([[{"emit": "turn_complete"}], [42]], "script connection 2 step 1: a step is a JSON"),
        ({"steps": []}, "a script is a list"),
    ],
)
def test_json_script_errors_name_the_step(data: Any, message: str) -> None:
    from realtalk_testing.script import script_from_data

    with pytest.raises(ValueError, match=re.escape(message)):
        script_from_data(data)


def test_load_script_reports_bad_files(tmp_path: Path) -> None:
    from realtalk_testing.script import load_script

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_script(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_script(bad)


async def test_script_from_provider_options() -> None:
    provider = FakeProvider()  # as the registered plugin builds it
    config = RealtimeConfig(
        model="fake-model",
        provider_options={"script": [emit.output_transcript("from options"), expect.close()]},
    )
    session = await provider.connect(SessionSetup(config=config))
    assert await take(session, 1) == [OutputTranscriptEvent(text="from options", finished=True)]
    await session.close()
    provider.assert_done()


async def test_script_from_a_json_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "script.json"
    path.write_text(
        json.dumps([{"expect": "text", "text": "ping"}, {"emit": "text", "text": "pong"}]),
        encoding="utf-8",
    )
    monkeypatch.setenv(SCRIPT_ENV, str(path))
    provider = FakeProvider()
    session = await provider.connect(setup_for())
    await session.send(TextInput("ping"))
    assert types(await take(session, 1)) == ["text_delta"]
    provider.assert_done()


async def test_provider_without_any_script_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SCRIPT_ENV, raising=False)
    provider = FakeProvider()
    with pytest.raises(ProviderDisconnected, match="has no script") as info:
        await provider.connect(setup_for())
    assert SCRIPT_ENV in info.value.reason


# --------------------------------------------------------------------------- plugin


def test_entry_point_registers_the_fake_provider() -> None:
    import importlib.metadata

    import pluggy

    from realtalk.hookspecs import PROJECT, ProviderRecord, RealtalkSpecs

    (entry_point,) = [
        ep for ep in importlib.metadata.entry_points(group="realtalk") if ep.name == "fake"
    ]
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(RealtalkSpecs)
    manager.register(entry_point.load(), name="fake")
    records: list[ProviderRecord] = []
    manager.hook.realtalk_register_providers(register=records.append)
    (record,) = records
    assert record.name == "fake"
    assert record.models == ("fake-*",)
    assert record.capabilities.resumption is True
    provider = record.factory()
    assert isinstance(provider, FakeProvider)
    assert provider.capabilities == record.capabilities


def test_registry_resolves_fake_models() -> None:
    plugins = pytest.importorskip("realtalk.plugins")
    record = plugins.build_registry().resolve_provider("fake-echo")
    assert record.name == "fake"
    assert isinstance(record.factory(), FakeProvider)


def test_package_exports() -> None:
    import realtalk_testing

    for name in ("FakeProvider", "expect", "emit", "end", "ScriptFailed", "ANY"):
        assert name in realtalk_testing.__all__
        assert getattr(realtalk_testing, name) is not None
    with pytest.raises(AttributeError):
        realtalk_testing.NoSuchThing  # noqa: B018


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("step", "setup", "message"),
    [
        (
            expect.connect(handle=None),
            {"resumption_handle": "h9"},
            "connection 1 step 1 (expect connect handle=None): got resumption handle 'h9'",
        ),
        (
            expect.connect(history=2),
            {},
            "connection 1 step 1 (expect connect history=2): got 0 history messages",
        ),
        (
            expect.connect(history=False),
            {"history": [Message.text("user", "x")]},
            "(expect connect history=False): got 1 history messages",
        ),
        (
            expect.connect(system_contains="pirate"),
            {"system_instruction": "Be brief."},
            "(expect connect system instruction contains 'pirate'): "
            "got system instruction 'Be brief.'",
        ),
        (
            expect.connect(check=lambda s: s.thread_id == "t1"),
            {"thread_id": "t2"},
            "got a setup the check rejected",
        ),
    ],
)
async def test_connect_mismatches_name_the_step(
    step: Any, setup: dict[str, Any], message: str
) -> None:
    provider = FakeProvider([step, expect.close()])
    with pytest.raises(ProviderDisconnected) as info:
        await provider.connect(setup_for(**setup))
    assert info.value.kind is DisconnectKind.FATAL
    assert message in info.value.reason
    with pytest.raises(ScriptFailed) as failed:
        provider.assert_done()
    assert message in str(failed.value)


async def test_system_instruction_falls_back_to_the_config() -> None:
    provider = FakeProvider([expect.connect(system_contains="pirate"), expect.close()])
    config = RealtimeConfig(model="fake-model", system_instruction="Talk like a pirate.")
    session = await provider.connect(SessionSetup(config=config))
    await session.close()
    provider.assert_done()


@pytest.mark.parametrize(
    ("step", "item", "message"),
    [
        (
            expect.text(pattern=r"^weather"),
            TextInput("the weather"),
            "step 1 (expect text matching '^weather'): got text 'the weather'",
        ),
        (
            expect.image("image/png"),
            ImageInput(b"x", "image/jpeg"),
            "step 1 (expect image image/png): got image (image/jpeg, 1 bytes)",
        ),
        (
            expect.image(data=b"abc"),
            ImageInput(b"abd"),
            "step 1 (expect image): got image (image/jpeg, 3 bytes) with different bytes",
        ),
        (
            expect.activity_start(),
            ActivityEnd(),
            "step 1 (expect activity_start): got unexpected activity_end",
        ),
        (
            expect.audio(),
            AudioInput(b"\x00", RATE),
            "step 1 (expect audio): got audio with an odd byte count (1), not PCM16",
        ),
        (
            expect.any_order(expect.text("a"), expect.text("b")),
            TextInput("c"),
            "step 1 (expect in any order [expect text 'a'; expect text 'b']): got text 'c'",
        ),
    ],
)
async def test_item_mismatches_name_the_step(step: Any, item: Any, message: str) -> None:
    provider = FakeProvider([step])
    session = await provider.connect(setup_for())
    await session.send(item)
    _, ended = await drain(session)
    assert ended.kind is DisconnectKind.FATAL
    assert ended.reason == f"connection 1 {message}"


@pytest.mark.parametrize(
    ("step", "result", "error", "ok"),
    [
        (expect.tool_result("c1", result=3), 3, None, True),
        (expect.tool_result("c1", result=3), 4, None, False),
        (expect.tool_result("c1", error=None), 1, "boom", False),
        (expect.tool_result("c1", error="boom"), None, None, False),
        (expect.tool_result("c1", error=lambda e: e and e.startswith("x")), None, "xy", True),
        (expect.tool_result("c1", name="other"), 1, None, False),
    ],
)
async def test_tool_result_matching(step: Any, result: Any, error: Any, ok: bool) -> None:
    provider = FakeProvider([step])
    session = await provider.connect(setup_for())
    await session.send_tool_result("c1", "tool", result, error)
    assert (provider.failures == []) is ok
    assert provider.done


async def test_any_order_with_audio_in_the_group() -> None:
    provider = FakeProvider(
        [
            expect.any_order(expect.audio(min_bytes=4), expect.text("hi")),
            emit.turn_complete(),
        ],
        strict=True,
    )
    session = await provider.connect(setup_for())
    await session.send(AudioInput(b"\x00\x00", RATE))
    await session.send(TextInput("hi"))  # while the audio member is half met
    assert provider.connections[0].events == []
    await session.send(AudioInput(b"\x00\x00", RATE))
    assert types(await take(session, 1)) == ["turn_complete"]
    provider.assert_done()


def test_tone_is_deterministic_pcm16() -> None:
    from realtalk_testing import tone

    one = tone(0.01, 24000)
    assert len(one) == 480 and one == tone(0.01, 24000)
    assert one != tone(0.01, 24000, frequency=880)


async def test_failures_are_logged_and_the_repr_summarises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = FakeProvider([[expect.text("a")], [emit.turn_complete()]])
    session = await provider.connect(setup_for())
    await session.send(TextInput("b"))
    assert "connection 1 step 1 (expect text 'a'): got text 'b'" in caplog.text
    assert repr(provider) == "FakeProvider(2 connection(s) scripted, 1 opened, 1 failure(s))"


def test_server_and_cassette_load_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, realtalk_testing as t\n"
        "assert 'realtalk_testing.gemini_server' not in sys.modules\n"
        "assert 'realtalk_testing.cassette' not in sys.modules\n"
        "from realtalk_testing import Cassette, FakeGeminiServer\n"
        "assert FakeGeminiServer.__name__ == 'FakeGeminiServer' and Cassette.__name__\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


async def test_a_script_in_provider_options_survives_config_merging() -> None:
    config = RealtimeConfig(
        model="fake-model", provider_options={"script": [emit.turn_complete(), expect.close()]}
    ).merged(voice="Puck", provider_options={"other": 1})
    provider = FakeProvider()
    session = await provider.connect(SessionSetup(config=config))
    assert types(await take(session, 1)) == ["turn_complete"]
    await session.close()
    provider.assert_done()


@pytest.mark.parametrize("yield_on_send", [True, False])
async def test_send_yields_to_the_loop_unless_told_not_to(yield_on_send: bool) -> None:
    fake = FakeProvider([expect.audio(min_seconds=1)], yield_on_send=yield_on_send)
    session = await fake.connect(setup_for())
    ran = asyncio.Event()
    asyncio.get_running_loop().call_soon(ran.set)  # runs at the loop's next turn
    await session.send(audio())
    assert ran.is_set() is yield_on_send  # False: returned without giving the loop a turn
    assert fake.sessions[0].record.audio_chunks == 1
