"""The Gemini Live provider: a factory of connections, registered by `.plugin`.

Constructing it is free; google-genai loads the first time a session opens, so listing or
resolving providers never pays for (or depends on) the SDK.
"""

from __future__ import annotations

from realtalk.provider import ProviderCapabilities, ProviderSession, SessionSetup

from .plugin import CAPABILITIES


class GeminiProvider:
    """Gemini Live through the official google-genai SDK (API key or Vertex AI)."""

    name = "gemini"
    capabilities: ProviderCapabilities = CAPABILITIES

    async def connect(self, setup: SessionSetup) -> ProviderSession:
        """Open one connection.

        Raises ProviderError for configuration problems (e.g. no API key) before any
        network traffic, and ProviderDisconnected when the server refuses the setup
        (``REJECTED_HANDLE`` when it refused the resumption handle).
        """
        from .transport import open_session

        return await open_session(setup)

    def __repr__(self) -> str:
        return "GeminiProvider()"


__all__ = ["GeminiProvider"]
