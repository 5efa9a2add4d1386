"""Server messages (as the SDK parses them from wire JSON) -> neutral events."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.genai import _live_converters, types

from realtalk.events import (
    AudioDeltaEvent,
    GenerationCompleteEvent,
    GoAwayEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TurnCompleteEvent,
    UsageEvent,
)
from realtalk_gemini import codec


def wire(frame: dict[str, Any]) -> types.LiveServerMessage:
    """Parse a camelCase wire frame the way the SDK's receive() does."""
    converted = _live_converters._LiveServerMessage_from_mldev(frame)
    return types.LiveServerMessage._from_response(response=converted, kwargs={})


def audio(data: bytes, mime: str = "audio/pcm;rate=24000") -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def decode(*frames: dict[str, Any]) -> list[RealtimeEvent]:
    decoder = codec.Decoder()
    return [event for frame in frames for event in decoder.decode(wire(frame))]


def test_audio_rate_from_mime_type() -> None:
    events = decode(
        {"serverContent": {"modelTurn": {"parts": [audio(b"\x01\x00\x02\x00")]}}},
        {"serverContent": {"modelTurn": {"parts": [audio(b"\x03\x00", "audio/pcm;rate=16000")]}}},
        {"serverContent": {"modelTurn": {"parts": [audio(b"\x04\x00", "audio/pcm")]}}},
    )
    assert events == [
        AudioDeltaEvent(data=b"\x01\x00\x02\x00", sample_rate=24000),
        AudioDeltaEvent(data=b"\x03\x00", sample_rate=16000),
        AudioDeltaEvent(data=b"\x04\x00", sample_rate=24000),
    ]


@pytest.mark.parametrize(
    ("mime", "rate"),
    [
        ("audio/pcm;rate=24000", 24000),
        ("audio/pcm; rate=48000", 48000),
        ("audio/L16;codec=pcm;rate=8000", 8000),
        ("audio/pcm;rate=0", 24000),
        ("audio/pcm;rate=abc", 24000),
        (None, 24000),
    ],
)
def test_sample_rate_of(mime: str | None, rate: int) -> None:
    assert codec.sample_rate_of(mime) == rate


def test_text_parts_and_thoughts_skipped() -> None:
    events = decode(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"text": "Hello"},
                        {"text": " there"},
                    ]
                }
            }
        }
    )
    assert events == [TextDeltaEvent(text="Hello"), TextDeltaEvent(text=" there")]


def test_unknown_parts_and_fields_are_ignored() -> None:
    events = decode(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [
                        {"executableCode": {"language": "PYTHON", "code": "1"}},
                        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                        {"somethingNew": {"x": 1}},
                        {"text": "ok"},
                    ]
                },
                "brandNewFlag": True,
            },
            "voiceActivity": {"voiceActivityType": "ACTIVITY_START"},
        },
        {"setupComplete": {}},
    )
    assert events == [TextDeltaEvent(text="ok")]


def test_transcripts_fragments_then_whole_utterance() -> None:
    events = decode(
        {"serverContent": {"inputTranscription": {"text": "What is"}}},
        {"serverContent": {"inputTranscription": {"text": " the time?", "finished": True}}},
        {"serverContent": {"outputTranscription": {"text": "It is"}}},
        {"serverContent": {"outputTranscription": {"text": " noon."}}},
        {"serverContent": {"outputTranscription": {"finished": True}}},
        {"serverContent": {"turnComplete": True}},
    )
    assert events == [
        InputTranscriptEvent(text="What is", finished=False),
        InputTranscriptEvent(text=" the time?", finished=False),
        InputTranscriptEvent(text="What is the time?", finished=True),
        OutputTranscriptEvent(text="It is", finished=False),
        OutputTranscriptEvent(text=" noon.", finished=False),
        OutputTranscriptEvent(text="It is noon.", finished=True),
        TurnCompleteEvent(),
    ]


def test_transcripts_finish_at_boundaries_without_server_flag() -> None:
    events = decode(
        {"serverContent": {"inputTranscription": {"text": "Hi"}}},
        {"serverContent": {"modelTurn": {"parts": [audio(b"\x00\x00")]}}},
        {"serverContent": {"outputTranscription": {"text": "Hello!"}}},
        {"serverContent": {"generationComplete": True}},
        {"serverContent": {"turnComplete": True}},
    )
    assert events == [
        InputTranscriptEvent(text="Hi", finished=False),
        InputTranscriptEvent(text="Hi", finished=True),
        AudioDeltaEvent(data=b"\x00\x00", sample_rate=24000),
        OutputTranscriptEvent(text="Hello!", finished=False),
        GenerationCompleteEvent(),
        OutputTranscriptEvent(text="Hello!", finished=True),
        TurnCompleteEvent(),
    ]


def test_interruption_closes_utterances_without_a_finished_event() -> None:
    events = decode(
        {"serverContent": {"inputTranscription": {"text": "Wait"}}},
        {"serverContent": {"outputTranscription": {"text": "Let me"}}},
        {"serverContent": {"outputTranscription": {"text": " explain"}}},
        {"serverContent": {"interrupted": True}},
        {"serverContent": {"outputTranscription": {"text": "Okay."}}},
        {"serverContent": {"turnComplete": True}},
    )
    assert events == [
        InputTranscriptEvent(text="Wait", finished=False),
        InputTranscriptEvent(text="Wait", finished=True),
        OutputTranscriptEvent(text="Let me", finished=False),
        OutputTranscriptEvent(text=" explain", finished=False),
        InterruptedEvent(),
        OutputTranscriptEvent(text="Okay.", finished=False),
        OutputTranscriptEvent(text="Okay.", finished=True),
        TurnCompleteEvent(),
    ]


def test_empty_finished_transcript_without_text_emits_nothing() -> None:
    assert decode({"serverContent": {"inputTranscription": {"finished": True}}}) == []


def test_tool_calls_with_ids_and_args() -> None:
    events = decode(
        {"serverContent": {"outputTranscription": {"text": "Checking."}}},
        {
            "toolCall": {
                "functionCalls": [
                    {"id": "fc-1", "name": "get_weather", "args": {"city": "Paris"}},
                    {"id": "fc-2", "name": "get_time"},
                ]
            }
        },
    )
    assert events == [
        OutputTranscriptEvent(text="Checking.", finished=False),
        OutputTranscriptEvent(text="Checking.", finished=True),
        ToolCallEvent(id="fc-1", name="get_weather", args={"city": "Paris"}),
        ToolCallEvent(id="fc-2", name="get_time", args={}),
    ]


def test_tool_call_without_id_gets_a_stable_one() -> None:
    events = decode({"toolCall": {"functionCalls": [{"name": "f", "args": {}}]}})
    assert events == [ToolCallEvent(id="f#1", name="f", args={})]


def test_tool_call_cancellation() -> None:
    events = decode({"toolCallCancellation": {"ids": ["fc-1", "fc-2"]}})
    assert events == [ToolCallCancelledEvent(ids=["fc-1", "fc-2"])]
    assert decode({"toolCallCancellation": {}}) == []


def test_flags() -> None:
    events = decode(
        {"serverContent": {"interrupted": True}},
        {"serverContent": {"generationComplete": True}},
        {"serverContent": {"turnComplete": True}},
    )
    assert events == [InterruptedEvent(), GenerationCompleteEvent(), TurnCompleteEvent()]


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"newHandle": "h-1", "resumable": True}, SessionUpdateEvent(resumption_handle="h-1")),
        ({"resumable": False}, SessionUpdateEvent(resumption_handle=None, resumable=False)),
        ({"newHandle": "", "resumable": False}, SessionUpdateEvent(resumable=False)),
        ({"newHandle": "h-2"}, SessionUpdateEvent(resumption_handle="h-2", resumable=True)),
        ({}, SessionUpdateEvent(resumption_handle=None, resumable=False)),
    ],
)
def test_session_resumption_update(update: dict[str, Any], expected: SessionUpdateEvent) -> None:
    assert decode({"sessionResumptionUpdate": update}) == [expected]


@pytest.mark.parametrize(
    ("time_left", "seconds"),
    [("50s", 50.0), ("1.5s", 1.5), ("0s", 0.0), ("10.000s", 10.0), ("soon", None), (None, None)],
)
def test_go_away_time_left(time_left: str | None, seconds: float | None) -> None:
    frame: dict[str, Any] = {"goAway": {} if time_left is None else {"timeLeft": time_left}}
    assert decode(frame) == [GoAwayEvent(time_left=seconds)]


def test_usage_metadata() -> None:
    events = decode(
        {
            "usageMetadata": {
                "promptTokenCount": 5,
                "responseTokenCount": 7,
                "totalTokenCount": 12,
                "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 5}],
            }
        }
    )
    assert events == [
        UsageEvent(
            prompt_tokens=5,
            response_tokens=7,
            total_tokens=12,
            details={"prompt_tokens_details": [{"modality": "AUDIO", "token_count": 5}]},
        )
    ]


def test_several_keys_in_one_message_keep_a_fixed_order() -> None:
    events = decode(
        {
            "serverContent": {"modelTurn": {"parts": [{"text": "a"}]}, "turnComplete": True},
            "usageMetadata": {"totalTokenCount": 3},
            "sessionResumptionUpdate": {"newHandle": "h", "resumable": True},
        }
    )
    assert [e.type for e in events] == ["text_delta", "turn_complete", "session_update", "usage"]


def test_message_events_is_stateless() -> None:
    message = wire({"serverContent": {"inputTranscription": {"text": "x", "finished": True}}})
    assert codec.message_events(message) == [InputTranscriptEvent(text="x", finished=True)]
    assert codec.message_events(message) == [InputTranscriptEvent(text="x", finished=True)]
