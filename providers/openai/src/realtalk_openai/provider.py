"""The OpenAI Realtime provider: a factory of connections, registered by `.plugin`.

Constructing it is free; nothing connects until a session opens.
"""

from __future__ import annotations

from realtalk.provider import ProviderCapabilities, ProviderSession, SessionSetup

from .plugin import CAPABILITIES


class OpenAIProvider:
    """OpenAI Realtime (or Azure OpenAI Realtime) over its WebSocket protocol."""

    name = "openai"
    capabilities: ProviderCapabilities = CAPABILITIES

    async def connect(self, setup: SessionSetup) -> ProviderSession:
        """Open one connection.

        Raises ProviderError for configuration problems (e.g. no API key) before any
        network traffic, and ProviderDisconnected when the server refuses the connection.
        """
        from .transport import open_session

        return await open_session(setup)

    def __repr__(self) -> str:
        return "OpenAIProvider()"


__all__ = ["OpenAIProvider"]
