"""Registers the OpenAI Realtime provider with realtalk (entry point group ``realtalk``).

Importing this module stays cheap: the socket code loads only when a session opens.
"""

from __future__ import annotations

from collections.abc import Callable

from realtalk.hookspecs import ProviderRecord, hookimpl
from realtalk.provider import Provider, ProviderCapabilities

CAPABILITIES = ProviderCapabilities(
    input_sample_rate=24000,
    output_sample_rate=24000,
    audio_input=True,
    audio_output=True,
    text_output=True,
    images=True,
    resumption=False,
    manual_activity=True,
    tool_cancellation=False,
)
"""OpenAI Realtime hears and speaks 24 kHz PCM16 and has no resumption handle: the
runtime reconnects with a fresh session reseeded from persisted transcripts."""

MODELS = ("gpt-realtime*", "gpt-4o-realtime*", "gpt-4o-mini-realtime*", "openai/*", "openai")


def _make_provider() -> Provider:
    from .provider import OpenAIProvider

    return OpenAIProvider()


@hookimpl
def realtalk_register_providers(register: Callable[[ProviderRecord], None]) -> None:
    register(
        ProviderRecord(
            name="openai",
            factory=_make_provider,
            models=MODELS,
            capabilities=CAPABILITIES,
            description="OpenAI Realtime API (WebSocket; also Azure OpenAI)",
        )
    )
