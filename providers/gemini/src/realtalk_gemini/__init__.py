"""Gemini Live provider for realtalk.

Importing this package is cheap: ``google-genai`` loads only when a session opens a
connection. ``GeminiProvider`` is importable from here or from `.provider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .provider import GeminiProvider
    from .transport import clear_client_cache


def __getattr__(name: str) -> Any:
    if name == "GeminiProvider":
        from .provider import GeminiProvider

        return GeminiProvider
    if name == "clear_client_cache":
        from .transport import clear_client_cache

        return clear_client_cache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GeminiProvider", "clear_client_cache"]
