"""Short-lived provider tokens for clients that talk to the provider directly.

A browser or phone must never hold the real API key. For Gemini, the bridge asks
google-genai's auth-token API for an *ephemeral* token that is locked to the agent's
model and live config, valid for few uses and minutes, and hands that to the client.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import RealtimeConfig
from .config import TokensConfig


class TokenError(Exception):
    """Minting failed; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _live_config(rc: RealtimeConfig) -> Any:
    """The agent's live config in google-genai's types (what the token locks)."""
    from google.genai import types

    config = types.LiveConnectConfig(response_modalities=[types.Modality(rc.response_modality)])
    if rc.voice:
        config.speech_config = types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=rc.voice)
            )
        )
    if rc.system_instruction:
        config.system_instruction = types.Content(
            role="user", parts=[types.Part(text=rc.system_instruction)]
        )
    if rc.input_audio_transcription:
        config.input_audio_transcription = types.AudioTranscriptionConfig()
    if rc.output_audio_transcription and rc.response_modality == "AUDIO":
        config.output_audio_transcription = types.AudioTranscriptionConfig()
    if rc.session_resumption:
        config.session_resumption = types.SessionResumptionConfig()
    return config


async def mint_gemini_token(
    realtime_config: RealtimeConfig,
    settings: TokensConfig,
    *,
    api_key: str,
    http_client: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Create an ephemeral Gemini Live token constrained to ``realtime_config``.

    ``http_client`` (an ``httpx.AsyncClient``) is handed to google-genai so tests and
    deployments control the HTTP layer. Returns the JSON the endpoint answers with.
    """
    from google import genai
    from google.genai import errors, types

    start = now or datetime.now(UTC)
    expire = start + timedelta(seconds=settings.expire_seconds)
    new_session = start + timedelta(seconds=settings.new_session_seconds)
    options: dict[str, Any] = {"api_version": "v1alpha"}
    if http_client is not None:
        options["httpx_async_client"] = http_client
    client = genai.Client(api_key=api_key, http_options=types.HttpOptions(**options))
    try:
        with warnings.catch_warnings():  # google-genai flags the token API as experimental
            warnings.simplefilter("ignore")
            token = await client.aio.auth_tokens.create(
                config=types.CreateAuthTokenConfig(
                    uses=settings.uses,
                    expire_time=expire,
                    new_session_expire_time=new_session,
                    live_connect_constraints=types.LiveConnectConstraints(
                        model=realtime_config.model, config=_live_config(realtime_config)
                    ),
                    lock_additional_fields=[],
                )
            )
    except errors.APIError as exc:
        raise TokenError(f"the provider refused the token request ({exc.code})", 502) from None
    except Exception as exc:
        raise TokenError(f"the provider could not be reached ({type(exc).__name__})", 502) from None
    if not token.name:
        raise TokenError("the provider returned no token", 502)
    return {
        "provider": "gemini",
        "token": token.name,
        "model": realtime_config.model,
        "expire_time": expire.isoformat(),
        "new_session_expire_time": new_session.isoformat(),
        "uses": settings.uses,
    }


__all__ = ["TokenError", "mint_gemini_token"]
