"""OpenAI Realtime provider for realtalk.

Importing this package is cheap: the socket code loads only when a session opens a
connection. ``OpenAIProvider`` is importable from here or from `.provider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .provider import OpenAIProvider


def __getattr__(name: str) -> Any:
    if name == "OpenAIProvider":
        from .provider import OpenAIProvider

        return OpenAIProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OpenAIProvider"]
