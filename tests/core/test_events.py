"""Every event type round-trips through JSON; audio travels as base64."""

from __future__ import annotations

import base64
import copy
import json
import pickle
import typing

import pytest
from pydantic import TypeAdapter, ValidationError

from realtalk import events as ev
from realtalk.events import (
    AudioDeltaEvent,
    RealtimeEvent,
    event_from_dict,
    event_from_json,
    event_to_json,
)

PCM = bytes(range(256)) * 3  # every byte value, including ones that are invalid UTF-8

SAMPLES: list[typing.Any] = [
    ev.SessionStartedEvent(thread_id="thread-1"),
    ev.AudioDeltaEvent(data=PCM, sample_rate=24000),
    ev.TextDeltaEvent(text="Bonjour, ça va ? 👋"),
    ev.InputTranscriptEvent(text="hello", finished=False),
    ev.InputTranscriptEvent(text="hello there", finished=True),
    ev.OutputTranscriptEvent(text="hi", finished=True),
    ev.ToolCallEvent(id="call-1", name="get_weather", args={"city": "Paris", "days": 3}),
    ev.ToolCallCancelledEvent(ids=["call-1", "call-2"]),
    ev.ToolResultEvent(id="call-1", name="get_weather", result={"temp": 21.5, "sky": ["sun"]}),
    ev.ToolResultEvent(id="call-2", name="broken", result=None, error="timed out after 5s"),
    ev.TurnCompleteEvent(),
    ev.GenerationCompleteEvent(),
    ev.InterruptedEvent(),
    ev.SessionUpdateEvent(resumption_handle="handle-abc", resumable=True),
    ev.SessionUpdateEvent(resumption_handle=None, resumable=False),
    ev.GoAwayEvent(time_left=50.0),
    ev.UsageEvent(prompt_tokens=10, response_tokens=20, total_tokens=30, details={"audio": 5}),
    ev.ErrorEvent(code="reconnect_failed", message="gave up after 5 attempts", fatal=True),
    ev.ReconnectedEvent(attempt=2, resumed=True),
    ev.InputDroppedEvent(audio_chunks=3, audio_bytes=1920, reason="queue full"),
    ev.MetricsEvent(
        turn=1,
        provider="gemini",
        model="gemini-live",
        started_at=1.25,
        ended_at=3.5,
        input_end="audio_stream_end",
        time_to_first_audio=0.75,
        time_to_turn_end=2.75,
        tool_calls=[
            ev.ToolCallMetrics(
                id="call-1", name="get_weather", started_at=1.3, duration=0.2, outcome="ok"
            )
        ],
        reconnects=[
            ev.ReconnectMetrics(attempt=1, resumed=True, cause="go_away", lost_at=2.0, gap=0.1)
        ],
        input_tokens=60,
        output_tokens=40,
    ),
    ev.SessionMetricsEvent(
        provider="gemini",
        model="gemini-live",
        duration=9.5,
        turns=2,
        interruptions=1,
        go_aways=1,
        time_to_first_audio=[0.75, 0.5],
        input_dropped_chunks=3,
        input_dropped_bytes=1920,
        input_tokens=120,
        output_tokens=80,
        total_tokens=200,
    ),
    ev.SessionEndedEvent(reason="closed"),
]


def union_members() -> set[type]:
    union = typing.get_args(RealtimeEvent)[0]
    return set(typing.get_args(union))


def test_samples_cover_every_event_type() -> None:
    assert {type(sample) for sample in SAMPLES} == union_members()
    exported = {
        getattr(ev, name)
        for name in ev.__all__
        if name.endswith("Event") and isinstance(getattr(ev, name), type)
    }
    assert exported == union_members()


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: f"{e.type}")
def test_json_round_trip(event: typing.Any) -> None:
    text = event_to_json(event)
    data = json.loads(text)
    assert data["type"] == event.type
    back = event_from_json(text)
    assert type(back) is type(event)
    assert back == event
    assert event_from_dict(data) == event
    assert event_from_json(text.encode()) == event
    assert event_from_dict(event.model_dump(mode="json")) == event


def test_audio_is_base64_in_json() -> None:
    """Audio is written as standard base64 (what browsers' ``atob`` reads); both alphabets
    parse back."""
    event = AudioDeltaEvent(data=PCM, sample_rate=16000)
    data = json.loads(event_to_json(event))
    standard = base64.b64encode(PCM).decode()
    assert "+" in standard and "/" in standard
    assert data["data"] == standard
    assert event.model_dump(mode="json")["data"] == standard
    assert event.model_dump()["data"] == PCM  # Python mode keeps bytes
    urlsafe = base64.urlsafe_b64encode(PCM).decode()
    assert event_from_dict({**data, "data": urlsafe}) == event
    assert event_from_json(json.dumps({**data, "data": urlsafe})) == event
    assert data == {"type": "audio_delta", "data": data["data"], "sample_rate": 16000}
    assert "bytes=768" in repr(event) and "\\x" not in repr(event)


def test_type_discriminates_and_unknown_types_are_refused() -> None:
    assert isinstance(event_from_dict({"type": "turn_complete"}), ev.TurnCompleteEvent)
    with pytest.raises(ValidationError):
        event_from_dict({"type": "no_such_event"})
    with pytest.raises(ValidationError):
        event_from_dict({"text": "no type"})
    with pytest.raises(ValidationError):
        event_from_dict({"type": "text_delta", "text": "x", "extra": 1})  # extra="forbid"


def test_events_are_immutable() -> None:
    event = ev.TextDeltaEvent(text="a")
    with pytest.raises(ValidationError):
        event.text = "b"  # type: ignore[misc]


# -- AudioDeltaEvent.of: the providers' construction without a validation pass ----------


@pytest.mark.parametrize("rate", [16000, 24000])
def test_audio_delta_of_is_the_validated_event(rate: int) -> None:
    data = bytes(range(256)) * 10
    built, validated = AudioDeltaEvent.of(data, rate), AudioDeltaEvent(data=data, sample_rate=rate)
    assert type(built) is AudioDeltaEvent
    assert built == validated and validated == built
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set == {"data", "sample_rate"}
    assert pickle.loads(pickle.dumps(built)) == validated
    assert copy.deepcopy(built) == validated
    assert TypeAdapter(RealtimeEvent).validate_json(built.model_dump_json()) == validated
    assert repr(built) == repr(validated)


def test_audio_delta_of_shares_nothing_a_user_can_change() -> None:
    first, second = AudioDeltaEvent.of(b"\x00\x01", 24000), AudioDeltaEvent.of(b"\x02\x03", 24000)
    with pytest.raises(ValidationError):
        first.data = b""  # type: ignore[misc]
    # "type" is outside the shared fields set: a copy that added it to the shared set
    # instead of its own would show in ``second`` below
    changed = first.model_copy(update={"sample_rate": 16000, "type": "audio_delta"})
    assert changed.sample_rate == 16000 and first.sample_rate == 24000
    assert second.model_fields_set == {"data", "sample_rate"}
    assert first.model_dump(exclude_unset=True) == {"data": b"\x00\x01", "sample_rate": 24000}


def test_audio_delta_of_validates_anything_else() -> None:
    assert AudioDeltaEvent.of(bytearray(b"\x00\x01"), 24000).data == b"\x00\x01"
    with pytest.raises(ValidationError):
        AudioDeltaEvent.of(b"\x00\x01", "fast")  # type: ignore[arg-type]

    class Tagged(AudioDeltaEvent):
        tag: str = "x"

    assert Tagged.of(b"\x00\x01", 24000).tag == "x"
