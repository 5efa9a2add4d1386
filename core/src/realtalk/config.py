"""Session configuration: what a user states once and every provider honours.

Validation happens here, at construction, so a typo fails where the user wrote it
instead of minutes later inside a live connection.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

INPUT_SAMPLE_RATE = 16000
"""Sample rate (Hz) of PCM16 mono audio the queue expects by default."""

OUTPUT_SAMPLE_RATE = 24000
"""Sample rate (Hz) of PCM16 mono audio that providers emit by default."""

Sensitivity = Literal["low", "high", "default"]
Modality = Literal["AUDIO", "TEXT"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class VADConfig(_Strict):
    """Server-side voice activity detection.

    With ``enabled=False`` the client marks turns itself with
    ``LiveInputQueue.send_activity_start()`` / ``send_activity_end()`` (push to talk).
    """

    enabled: bool = True
    start_sensitivity: Sensitivity = "default"
    end_sensitivity: Sensitivity = "default"
    prefix_padding_ms: int | None = Field(default=None, ge=0, le=10_000)
    silence_duration_ms: int | None = Field(default=None, ge=0, le=60_000)


class ReconnectConfig(_Strict):
    """How a dropped connection is retried.

    Transient drops wait ``min(base_delay * 2**(n-1), max_delay)`` seconds, plus up to
    ``jitter`` times that delay at random, before attempt ``n``; planned rotation
    (``go_away``) reconnects at once.
    """

    enabled: bool = True
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=10.0, ge=0)
    max_attempts: int = Field(default=5, ge=0)
    jitter: float = Field(default=0.1, ge=0, le=1)
    buffer_seconds: float = Field(
        default=10.0, ge=0, description="Input audio kept while disconnected, in seconds."
    )

    @model_validator(mode="after")
    def _max_not_below_base(self) -> ReconnectConfig:
        if self.max_delay < self.base_delay:
            raise ValueError(
                f"max_delay ({self.max_delay}) must not be smaller than base_delay "
                f"({self.base_delay})"
            )
        return self

    def delay(self, attempt: int) -> float:
        """Backoff before ``attempt`` (1-based), without jitter."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))


class RealtimeConfig(_Strict):
    """Everything a live session needs from the user, independent of the provider.

    ``provider=None`` asks the installed plugins which one serves ``model``.
    ``provider_options`` is handed to the provider untouched (for Gemini: ``api_key``,
    ``vertexai``, ``project``, ``location``, ``http_options``).
    """

    model: str
    provider: str | None = None
    voice: str | None = None
    system_instruction: str | None = None
    input_audio_transcription: bool = True
    output_audio_transcription: bool = True
    response_modalities: list[Modality] = Field(default_factory=lambda: list[Modality](["AUDIO"]))
    vad: VADConfig = Field(default_factory=VADConfig)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    session_resumption: bool = True
    context_window_compression: bool = False
    provider_options: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("model")
    @classmethod
    def _model_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model must name a model, e.g. 'gemini-live-2.5-flash-preview'")
        return value.strip()

    @field_validator("response_modalities")
    @classmethod
    def _one_modality(cls, value: list[Modality]) -> list[Modality]:
        if len(value) != 1:
            raise ValueError(
                "response_modalities takes exactly one of 'AUDIO' or 'TEXT' "
                f"(live models answer in one modality per session), got {value!r}"
            )
        return value

    @property
    def response_modality(self) -> Modality:
        return self.response_modalities[0]

    def merged(self, **overrides: Any) -> RealtimeConfig:
        """A validated copy with ``overrides`` applied (nested dicts merge into vad/reconnect)."""
        data = self.model_dump()
        for key, value in overrides.items():
            if key not in type(self).model_fields:
                raise ValueError(f"unknown realtime config field {key!r}")
            if key in ("vad", "reconnect") and isinstance(value, dict):
                data[key] = {**data[key], **value}
            elif isinstance(value, BaseModel):
                data[key] = value.model_dump()
            else:
                data[key] = value
        # the original objects, not their dumps: provider options reach the provider untouched
        data["provider_options"] = {
            **self.provider_options,
            **(overrides.get("provider_options") or {}),
        }
        return type(self).model_validate(data)
