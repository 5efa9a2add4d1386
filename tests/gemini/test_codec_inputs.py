"""Neutral input items and tool results -> the exact SDK session call (one field each)."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    TextInput,
)
from realtalk_gemini import codec


@pytest.mark.parametrize(
    ("item", "kwargs"),
    [
        (
            AudioInput(data=b"\x01\x00", sample_rate=16000),
            {"audio": types.Blob(data=b"\x01\x00", mime_type="audio/pcm;rate=16000")},
        ),
        (
            AudioInput(data=b"\x01\x00", sample_rate=24000),
            {"audio": types.Blob(data=b"\x01\x00", mime_type="audio/pcm;rate=24000")},
        ),
        (
            ImageInput(data=b"\xff\xd8", mime_type="image/jpeg"),
            {"video": types.Blob(data=b"\xff\xd8", mime_type="image/jpeg")},
        ),
        (
            ImageInput(data=b"\x89PNG", mime_type="image/png"),
            {"video": types.Blob(data=b"\x89PNG", mime_type="image/png")},
        ),
        (TextInput(text="hello"), {"text": "hello"}),
        (ActivityStart(), {"activity_start": types.ActivityStart()}),
        (ActivityEnd(), {"activity_end": types.ActivityEnd()}),
        (AudioStreamEnd(), {"audio_stream_end": True}),
    ],
)
def test_one_realtime_input_field_per_item(item: Any, kwargs: dict[str, Any]) -> None:
    call = codec.input_call(item)
    assert call.method == "send_realtime_input"
    assert call.kwargs == kwargs
    assert len(call.kwargs) == 1


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (AudioInput(data=b"\x00", sample_rate=16000), "even number of bytes"),
        (AudioInput(data=b"\x00\x00", sample_rate=0), "sample_rate must be positive"),
        (ImageInput(data=b"GIF8", mime_type="image/gif"), "image/jpeg or image/png"),
    ],
)
def test_bad_items_are_clear_errors(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codec.input_call(item)


def test_non_items_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a realtalk input item"):
        codec.input_call("hello")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("result", "error", "response"),
    [
        ({"temp": 20}, None, {"temp": 20}),
        ("sunny", None, {"result": "sunny"}),
        ([1, 2], None, {"result": [1, 2]}),
        (None, None, {"result": None}),
        (None, "timed out", {"error": "timed out"}),
        ({"ignored": True}, "boom", {"error": "boom"}),
    ],
)
def test_tool_responses_carry_the_id(result: Any, error: str | None, response: Any) -> None:
    call = codec.tool_response_call("fc-7", "get_weather", result, error)
    assert call.method == "send_tool_response"
    assert call.kwargs == {
        "function_responses": [
            types.FunctionResponse(id="fc-7", name="get_weather", response=response)
        ]
    }


def test_unserialisable_results_are_sent_as_text() -> None:
    class Weather:
        def __repr__(self) -> str:
            return "Weather(sunny)"

    response = codec.function_response("c", "f", {"w": Weather(), "when": {1, 2}}).response
    assert response == {"w": "Weather(sunny)", "when": [1, 2]}
