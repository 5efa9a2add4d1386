"""RealtimeConfig + SessionSetup -> google.genai LiveConnectConfig, field by field."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from realtalk.config import RealtimeConfig, VADConfig
from realtalk.messages import Message, ToolCallBlock, ToolResultBlock
from realtalk.provider import SessionSetup
from realtalk.tools import to_tool_spec, tool
from realtalk_gemini import codec

MODEL = "gemini-live-2.5-flash-preview"


def make(setup_kw: dict[str, Any] | None = None, **config_kw: Any) -> types.LiveConnectConfig:
    config = RealtimeConfig(model=MODEL, **config_kw)
    return codec.live_connect_config(SessionSetup(config=config, **(setup_kw or {})))


def test_defaults_audio_with_transcripts_resumption_and_vad() -> None:
    live = make()
    assert live.response_modalities == [types.Modality.AUDIO]
    assert live.input_audio_transcription == types.AudioTranscriptionConfig()
    assert live.output_audio_transcription == types.AudioTranscriptionConfig()
    assert live.session_resumption == types.SessionResumptionConfig(handle=None)
    assert live.context_window_compression is None
    assert live.speech_config is None
    assert live.system_instruction is None
    assert live.tools is None
    detection = live.realtime_input_config.automatic_activity_detection  # type: ignore[union-attr]
    assert detection == types.AutomaticActivityDetection(disabled=False)


def test_text_modality_drops_voice_and_output_transcription() -> None:
    live = make(response_modalities=["TEXT"], voice="Kore")
    assert live.response_modalities == [types.Modality.TEXT]
    assert live.speech_config is None
    assert live.output_audio_transcription is None
    assert live.input_audio_transcription == types.AudioTranscriptionConfig()


def test_voice() -> None:
    live = make(voice="Puck")
    assert live.speech_config is not None
    voice = live.speech_config.voice_config
    assert voice is not None and voice.prebuilt_voice_config is not None
    assert voice.prebuilt_voice_config.voice_name == "Puck"


def test_transcription_switches() -> None:
    live = make(input_audio_transcription=False, output_audio_transcription=False)
    assert live.input_audio_transcription is None
    assert live.output_audio_transcription is None


def test_system_instruction_from_config_and_setup_wins() -> None:
    live = make(system_instruction="Be brief.")
    assert live.system_instruction == types.Content(
        role="user", parts=[types.Part(text="Be brief.")]
    )
    live = make({"system_instruction": "From the agent."}, system_instruction="Be brief.")
    assert live.system_instruction == types.Content(
        role="user", parts=[types.Part(text="From the agent.")]
    )


@pytest.mark.parametrize(
    ("start", "end", "start_enum", "end_enum"),
    [
        ("low", "high", "START_SENSITIVITY_LOW", "END_SENSITIVITY_HIGH"),
        ("high", "low", "START_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"),
        ("default", "default", None, None),
    ],
)
def test_every_vad_field(
    start: Any, end: Any, start_enum: str | None, end_enum: str | None
) -> None:
    vad = VADConfig(
        start_sensitivity=start,
        end_sensitivity=end,
        prefix_padding_ms=20,
        silence_duration_ms=500,
    )
    detection = make(vad=vad).realtime_input_config.automatic_activity_detection  # type: ignore[union-attr]
    assert detection is not None
    assert detection.disabled is False
    assert detection.start_of_speech_sensitivity == (
        types.StartSensitivity(start_enum) if start_enum else None
    )
    assert detection.end_of_speech_sensitivity == (
        types.EndSensitivity(end_enum) if end_enum else None
    )
    assert detection.prefix_padding_ms == 20
    assert detection.silence_duration_ms == 500


def test_vad_disabled_sends_only_disabled() -> None:
    vad = VADConfig(enabled=False, start_sensitivity="low", silence_duration_ms=300)
    config = make(vad=vad).realtime_input_config
    assert config == types.RealtimeInputConfig(
        automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
    )


def test_resumption_with_handle_and_disabled() -> None:
    assert make({"resumption_handle": "h-1"}).session_resumption == (
        types.SessionResumptionConfig(handle="h-1")
    )
    assert make({"resumption_handle": ""}).session_resumption == (types.SessionResumptionConfig())
    assert make({"resumption_handle": "h-1"}, session_resumption=False).session_resumption is None


def test_sliding_window_compression() -> None:
    live = make(context_window_compression=True)
    assert live.context_window_compression == types.ContextWindowCompressionConfig(
        sliding_window=types.SlidingWindow()
    )
    live = make(
        context_window_compression=True,
        provider_options={"compression_trigger_tokens": 25600, "compression_target_tokens": 12800},
    )
    assert live.context_window_compression == types.ContextWindowCompressionConfig(
        trigger_tokens=25600, sliding_window=types.SlidingWindow(target_tokens=12800)
    )


def test_tools_are_function_declarations_with_json_schema() -> None:
    @tool
    def get_weather(city: str, days: int = 1) -> str:
        """Get weather for a city.

        Args:
            city: The city name.
        """
        return "sunny"

    spec = to_tool_spec(get_weather)
    live = make({"tools": [spec]})
    assert live.tools is not None
    (declaration,) = live.tools[0].function_declarations or []  # type: ignore[union-attr]
    assert declaration.name == "get_weather"
    assert declaration.description == "Get weather for a city."
    assert declaration.parameters_json_schema == spec.parameters
    assert declaration.parameters is None
    schema = declaration.parameters_json_schema
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"type": "string", "description": "The city name."}


def test_live_config_overrides_advanced_fields() -> None:
    live = make(
        provider_options={"live_config": {"temperature": 0.2, "response_modalities": ["TEXT"]}}
    )
    assert live.temperature == 0.2
    assert live.response_modalities == [types.Modality.TEXT]
    assert live.input_audio_transcription == types.AudioTranscriptionConfig()


def test_live_config_typo_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="temprature"):
        make(provider_options={"live_config": {"temprature": 0.2}})


def test_history_turns_merge_roles_and_describe_tools() -> None:
    history = [
        Message.text("system", "ignored"),
        Message.text("user", "What's the weather?", modality="audio"),
        Message(
            role="assistant",
            content=[ToolCallBlock(id="c1", name="get_weather", args={"city": "Paris"})],
        ),
        Message(
            role="tool",
            content=[ToolResultBlock(id="c1", name="get_weather", result={"temp": 20})],
        ),
        Message.text("assistant", "It is 20 degrees.", modality="audio"),
        Message(
            role="tool",
            content=[ToolResultBlock(id="c2", name="f", error="timed out")],
        ),
        Message.text("user", "Thanks"),
    ]
    turns = codec.history_turns(history)
    assert [t.role for t in turns] == ["user", "model", "user"]
    assert [p.text for p in turns[0].parts or []] == ["What's the weather?"]
    assert [p.text for p in turns[1].parts or []] == [
        '[called tool get_weather with {"city": "Paris"}]',
        '[tool get_weather returned {"temp": 20}]',
        "It is 20 degrees.",
        "[tool f failed: timed out]",
    ]
    assert [p.text for p in turns[2].parts or []] == ["Thanks"]


def test_reseed_is_context_without_turn_complete() -> None:
    call = codec.reseed_call([Message.text("user", "hi")])
    assert call is not None
    assert call.method == "send_client_content"
    assert call.kwargs["turn_complete"] is False
    assert call.kwargs["turns"] == [types.Content(role="user", parts=[types.Part(text="hi")])]
    assert codec.reseed_call([]) is None
    assert codec.reseed_call([Message.text("system", "x")]) is None
