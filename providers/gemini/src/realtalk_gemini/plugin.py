"""Registers the Gemini Live provider with realtalk (entry point group ``realtalk``).

Importing this module must stay cheap: google-genai loads only when a session opens,
inside the factory.
"""

from __future__ import annotations

from collections.abc import Callable

from realtalk.hookspecs import ProviderRecord, hookimpl
from realtalk.provider import Provider, ProviderCapabilities

CAPABILITIES = ProviderCapabilities(
    input_sample_rate=16000,
    output_sample_rate=24000,
    audio_input=True,
    audio_output=True,
    text_output=True,
    images=True,
    resumption=True,
    manual_activity=True,
    tool_cancellation=True,
)


def _make_provider() -> Provider:
    from .provider import GeminiProvider

    return GeminiProvider()


@hookimpl
def realtalk_register_providers(register: Callable[[ProviderRecord], None]) -> None:
    register(
        ProviderRecord(
            name="gemini",
            factory=_make_provider,
            models=("gemini-*", "models/gemini-*"),
            capabilities=CAPABILITIES,
            description="Google Gemini Live API (google-genai)",
        )
    )
