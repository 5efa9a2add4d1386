"""OpenAI codec: config, inputs, tool outputs and history to client events; server events
to neutral events (pure, no sockets)."""

from __future__ import annotations

import base64
import json

import pytest

from realtalk.config import RealtimeConfig, VADConfig
from realtalk.events import (
    AudioDeltaEvent,
    ErrorEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    TextDeltaEvent,
    ToolCallEvent,
    TurnCompleteEvent,
    UsageEvent,
)
from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    TextInput,
)
from realtalk.messages import Message, ToolCallBlock, ToolResultBlock
from realtalk.provider import SessionSetup
from realtalk.tools import to_tool_spec
from realtalk_openai import codec


def get_weather(city: str) -> dict[str, object]:
    """Current weather for a city."""
    return {}


def _setup(**config: object) -> SessionSetup:
    return SessionSetup(config=RealtimeConfig(model="gpt-realtime", **config))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- session.update


def test_session_update_defaults() -> None:
    frame = codec.session_update(_setup(), "gpt-realtime")
    assert frame == {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": "gpt-realtime",
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": {
                        "type": "server_vad",
                        "create_response": True,
                        "interrupt_response": True,
                    },
                    "transcription": {"model": "gpt-4o-mini-transcribe"},
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}},
            },
        },
    }


def test_session_update_voice_instructions_tools_and_text() -> None:
    setup = SessionSetup(
        config=RealtimeConfig(
            model="gpt-realtime",
            voice="marin",
            system_instruction="config prompt",
            response_modalities=["TEXT"],
            input_audio_transcription=False,
            provider_options={"session": {"audio": {"output": {"speed": 1.2}}, "temperature": 0.7}},
        ),
        system_instruction="agent prompt",
        tools=[to_tool_spec(get_weather)],
    )
    session = codec.session_update(setup, "gpt-realtime")["session"]
    assert session["output_modalities"] == ["text"]
    assert session["instructions"] == "agent prompt"
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.2,
    }
    assert "transcription" not in session["audio"]["input"]
    assert session["temperature"] == 0.7
    assert session["tool_choice"] == "auto"
    [tool] = session["tools"]
    assert tool["type"] == "function" and tool["name"] == "get_weather"
    assert tool["description"] == "Current weather for a city."
    assert tool["parameters"]["properties"]["city"]["type"] == "string"


def test_session_option_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="session"):
        codec.session_update(_setup(provider_options={"session": "x"}), "m")


@pytest.mark.parametrize(
    ("vad", "expected"),
    [
        (VADConfig(enabled=False), None),
        (
            VADConfig(start_sensitivity="high", end_sensitivity="low"),
            {"threshold": 0.3, "silence_duration_ms": 1000},
        ),
        (
            VADConfig(start_sensitivity="low", prefix_padding_ms=200, silence_duration_ms=700),
            {"threshold": 0.7, "prefix_padding_ms": 200, "silence_duration_ms": 700},
        ),
    ],
)
def test_turn_detection_maps_vad(vad: VADConfig, expected: dict[str, object] | None) -> None:
    detection = codec.turn_detection(vad)
    if expected is None:
        assert detection is None
        return
    assert detection is not None
    base = {"type": "server_vad", "create_response": True, "interrupt_response": True}
    assert detection == {**base, **expected}


# --------------------------------------------------------------------------- inputs


def test_audio_is_appended_as_base64() -> None:
    [frame] = codec.input_frames(AudioInput(b"\x01\x02\x03\x04", 24000))
    assert frame == {"type": "input_audio_buffer.append", "audio": "AQIDBA=="}
    assert codec.input_frames(AudioInput(b"", 24000)) == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (AudioInput(b"\x01\x02\x03", 24000), "even number of bytes"),
        (AudioInput(b"\x01\x02", 16000), "24000 Hz"),
        (TextInput("  "), "empty"),
        (ImageInput(b"GIF", "image/gif"), "image/jpeg or image/png"),
        (ImageInput(b"", "image/png"), "empty"),
    ],
)
def test_bad_items_raise_value_errors(item: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codec.input_frames(item)  # type: ignore[arg-type]


def test_not_an_item_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        codec.input_frames("hello")  # type: ignore[arg-type]


def test_text_image_and_manual_turns() -> None:
    assert codec.input_frames(TextInput("Hi")) == [
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            },
        },
        {"type": "response.create"},
    ]
    [image] = codec.input_frames(ImageInput(b"\x89PNG", "image/png"))
    assert image["item"]["content"] == [
        {"type": "input_image", "image_url": "data:image/png;base64," + "iVBORw=="}
    ]
    assert codec.input_frames(ActivityStart()) == [{"type": "input_audio_buffer.clear"}]
    assert codec.input_frames(ActivityEnd()) == [
        {"type": "input_audio_buffer.commit"},
        {"type": "response.create"},
    ]
    assert codec.input_frames(AudioStreamEnd()) == []


def test_tool_outputs_are_json_strings() -> None:
    frame = codec.tool_output_frame("call_1", {"b": 1, "a": "é"})
    assert frame == {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": '{"a": "é", "b": 1}',
        },
    }
    assert json.loads(codec.tool_output("x", error="boom")) == {"error": "boom"}
    assert json.loads(codec.tool_output(object())).startswith("<object")  # repr, never a crash


def test_reseed_adds_history_without_asking_for_a_reply() -> None:
    history = [
        Message.text("system", "ignored"),
        Message.text("user", "My name is Ada.", modality="audio"),
        Message.text("assistant", "Hello Ada."),
        Message(
            role="assistant",
            content=[ToolCallBlock(id="c1", name="get_weather", args={"city": "Paris"})],
        ),
        Message(role="tool", content=[ToolResultBlock(id="c1", name="get_weather", result=1)]),
    ]
    frames = codec.reseed_frames(history)
    assert all(f["type"] == "conversation.item.create" for f in frames)
    assert [f["item"]["role"] for f in frames] == ["user", "assistant", "assistant", "assistant"]
    assert frames[0]["item"]["content"] == [{"type": "input_text", "text": "My name is Ada."}]
    assert frames[1]["item"]["content"] == [{"type": "output_text", "text": "Hello Ada."}]
    assert frames[2]["item"]["content"][0]["text"] == (
        '[called tool get_weather with {"city": "Paris"}]'
    )
    assert frames[3]["item"]["content"][0]["text"] == "[tool get_weather returned 1]"


# --------------------------------------------------------------------------- decoder


def _audio(item: str = "item_a", n: int = 4800) -> dict[str, object]:
    delta = base64.b64encode(b"\x01\x00" * (n // 2)).decode()
    return {"type": "response.output_audio.delta", "item_id": item, "delta": delta}


def test_a_spoken_turn() -> None:
    d = codec.Decoder()
    out = []
    for event in [
        {"type": "session.updated", "session": {}},
        {"type": "conversation.item.input_audio_transcription.delta", "delta": "What's"},
        {"type": "conversation.item.input_audio_transcription.delta", "delta": " up?"},
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "transcript": "What's up?",
        },
        {"type": "response.created", "response": {"id": "r1"}},
        _audio(),
        {"type": "response.output_audio_transcript.delta", "delta": "Not"},
        {"type": "response.output_audio_transcript.delta", "delta": " much."},
        {"type": "response.output_audio_transcript.done", "transcript": "Not much."},
        {"type": "some.future.event"},
        {
            "type": "response.done",
            "response": {
                "status": "completed",
                "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7, "x": 1},
            },
        },
    ]:
        out.extend(d.decode(event))
    assert [type(e) for e in out] == [
        InputTranscriptEvent,
        InputTranscriptEvent,
        InputTranscriptEvent,
        AudioDeltaEvent,
        OutputTranscriptEvent,
        OutputTranscriptEvent,
        OutputTranscriptEvent,
        TurnCompleteEvent,
        UsageEvent,
    ]
    assert [(e.text, e.finished) for e in out if isinstance(e, InputTranscriptEvent)] == [
        ("What's", False),
        (" up?", False),
        ("What's up?", True),
    ]
    assert out[-1] == UsageEvent(
        prompt_tokens=3, response_tokens=4, total_tokens=7, details={"x": 1}
    )
    audio = out[3]
    assert isinstance(audio, AudioDeltaEvent) and audio.sample_rate == 24000
    assert not d.response_active and d.take_outgoing() == []


def test_output_transcripts_can_be_switched_off() -> None:
    d = codec.Decoder(output_transcripts=False)
    assert d.decode({"type": "response.output_audio_transcript.delta", "delta": "x"}) == []
    assert d.decode({"type": "response.output_audio_transcript.done", "transcript": "x"}) == []


def test_beta_event_names_are_understood() -> None:
    d = codec.Decoder()
    d.decode({"type": "response.created", "response": {"id": "r"}})
    assert isinstance(d.decode({**_audio(), "type": "response.audio.delta"})[0], AudioDeltaEvent)
    assert d.decode({"type": "response.text.delta", "delta": "a"}) == [TextDeltaEvent(text="a")]
    out = d.decode({"type": "response.audio_transcript.delta", "delta": "b"})
    assert out == [OutputTranscriptEvent(text="b")]


def test_barge_in_interrupts_once_truncates_and_drops_the_rest() -> None:
    d = codec.Decoder()
    d.decode({"type": "response.created", "response": {"id": "r1"}})
    d.decode(_audio("item_a", 4800))  # 100 ms
    d.decode(_audio("item_a", 2400))  # 50 ms
    assert d.decode({"type": "input_audio_buffer.speech_started"}) == [InterruptedEvent()]
    assert d.decode({"type": "input_audio_buffer.speech_started"}) == []
    assert d.take_outgoing() == [
        {
            "type": "conversation.item.truncate",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": 150,
        }
    ]
    assert d.decode(_audio("item_a")) == []  # late audio of the cut response
    assert d.decode({"type": "response.output_audio_transcript.done", "transcript": "x"}) == []
    assert d.decode({"type": "response.done", "response": {"status": "cancelled"}}) == []
    # speech with no response in flight is not an interruption
    assert d.decode({"type": "input_audio_buffer.speech_started"}) == []


def test_truncation_can_be_switched_off() -> None:
    d = codec.Decoder(truncate=False)
    d.decode({"type": "response.created", "response": {"id": "r1"}})
    d.decode(_audio())
    assert d.decode({"type": "input_audio_buffer.speech_started"}) == [InterruptedEvent()]
    assert d.take_outgoing() == []


def test_a_client_cancel_over_audio_is_an_interruption() -> None:
    d = codec.Decoder()
    d.decode({"type": "response.created", "response": {"id": "r1"}})
    d.decode(_audio())
    out = d.decode({"type": "response.done", "response": {"status": "cancelled"}})
    assert out == [InterruptedEvent()]


def test_tool_calls_wait_for_every_result_and_the_response_end() -> None:
    d = codec.Decoder()
    d.decode({"type": "response.created", "response": {"id": "r1"}})
    d.decode(
        {
            "type": "response.output_item.added",
            "item": {"type": "function_call", "call_id": "c2", "name": "lookup"},
        }
    )
    first = d.decode(
        {
            "type": "response.function_call_arguments.done",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        }
    )
    assert first == [ToolCallEvent(id="c1", name="get_weather", args={"city": "Paris"})]
    second = d.decode(
        {"type": "response.function_call_arguments.done", "call_id": "c2", "arguments": "{}"}
    )
    assert second == [ToolCallEvent(id="c2", name="lookup", args={})]  # name from the item
    assert not d.answered("c1")  # c2 still pending
    assert not d.answered("c2")  # the function-call response is still running
    done = d.decode({"type": "response.done", "response": {"status": "completed"}})
    assert done == []  # a tool round is not the end of the turn
    assert d.take_outgoing() == [{"type": "response.create"}]


def test_results_after_the_response_ended_ask_at_once() -> None:
    d = codec.Decoder()
    d.decode({"type": "response.created", "response": {"id": "r1"}})
    d.decode({"type": "response.function_call_arguments.done", "call_id": "c1", "name": "f"})
    d.decode({"type": "response.done", "response": {"status": "completed"}})
    assert d.take_outgoing() == []
    assert d.answered("c1") is True


def test_bad_tool_arguments_are_reported_and_the_call_still_answered() -> None:
    d = codec.Decoder()
    out = d.decode(
        {"type": "response.function_call_arguments.done", "call_id": "c", "name": "f",
         "arguments": "{not json"},
    )  # fmt: skip
    assert isinstance(out[0], ErrorEvent) and out[0].code == "invalid_tool_arguments"
    assert out[1] == ToolCallEvent(id="c", name="f", args={})


def test_errors_and_failed_responses_are_not_fatal() -> None:
    d = codec.Decoder()
    out = d.decode({"type": "error", "error": {"type": "invalid_request_error", "message": "m"}})
    assert out == [ErrorEvent(code="invalid_request_error", message="m", fatal=False)]
    assert d.decode({"type": "error"})[0].code == "openai_error"
    d.decode({"type": "response.created", "response": {"id": "r"}})
    failed = d.decode(
        {
            "type": "response.done",
            "response": {"status": "failed", "status_details": {"error": {"message": "boom"}}},
        }
    )
    assert failed[0] == ErrorEvent(code="response_failed", message="boom")
    assert isinstance(failed[1], TurnCompleteEvent)


def test_an_event_without_type_is_unreadable() -> None:
    with pytest.raises(ValueError, match="type"):
        codec.Decoder().decode({"delta": "x"})


def test_a_failed_transcription_is_a_non_fatal_error() -> None:
    d = codec.Decoder()
    d.decode({"type": "conversation.item.input_audio_transcription.delta", "delta": "Wha"})
    [event] = d.decode(
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "error": {"message": "audio unclear"},
        }
    )
    assert event == ErrorEvent(
        code="transcription_failed",
        message="the user's speech could not be transcribed: audio unclear",
    )
    # the dropped fragment does not leak into the next utterance
    out = d.decode({"type": "conversation.item.input_audio_transcription.completed",
                    "transcript": "Hi"})  # fmt: skip
    assert out == [InputTranscriptEvent(text="Hi", finished=True)]
