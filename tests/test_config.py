import pytest
from pydantic import ValidationError

from realtalk.config import RealtimeConfig, ReconnectConfig, VADConfig


def test_defaults_match_the_guide() -> None:
    config = RealtimeConfig(model="gemini-live-2.5-flash-preview")
    assert config.response_modalities == ["AUDIO"]
    assert config.vad.enabled and config.session_resumption
    assert config.input_audio_transcription and config.output_audio_transcription


def test_two_response_modalities_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'AUDIO' or 'TEXT'"):
        RealtimeConfig(model="m", response_modalities=["AUDIO", "TEXT"])


def test_negative_delays_and_inverted_bounds_are_refused() -> None:
    with pytest.raises(ValidationError, match="base_delay"):
        ReconnectConfig(base_delay=-1)
    with pytest.raises(ValidationError, match="must not be smaller than base_delay"):
        ReconnectConfig(base_delay=5, max_delay=1)


def test_backoff_doubles_up_to_the_cap() -> None:
    config = ReconnectConfig(base_delay=0.5, max_delay=3)
    assert [config.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_unknown_fields_and_bad_vad_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="modalities"):
        RealtimeConfig(model="m", modalities=["AUDIO"])  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        VADConfig(start_sensitivity="loud")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="model must name a model"):
        RealtimeConfig(model="  ")


def test_merged_overrides_validate_and_merge_nested() -> None:
    base = RealtimeConfig(model="m", vad=VADConfig(silence_duration_ms=300))
    merged = base.merged(voice="Puck", vad={"enabled": False})
    assert merged.voice == "Puck"
    assert merged.vad.enabled is False and merged.vad.silence_duration_ms == 300
    with pytest.raises(ValueError, match="unknown realtime config field"):
        base.merged(colour="red")
