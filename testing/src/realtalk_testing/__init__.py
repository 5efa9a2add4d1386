"""Offline test kit for realtalk: a scripted FakeProvider, cassettes, fake Gemini and
OpenAI Realtime servers, and the provider conformance suite (``realtalk_testing.conformance``).

``FakeGeminiServer``, ``FakeOpenAIServer`` and ``Cassette`` load lazily, so importing the
package for the FakeProvider stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fake_provider import ConnectionRecord, FakeProvider, FakeSession, ScriptFailed
from .script import ANY, ToolResult, emit, end, expect, tone

if TYPE_CHECKING:
    from .cassette import Cassette, CassetteFormatError
    from .gemini_server import FakeGeminiServer
    from .openai_recorder import OpenAICassetteRecorder
    from .openai_server import FakeOpenAIServer
    from .recorder import CassetteRecorder
    from .report import CassetteMismatchError, CassetteReport

_LAZY = {
    "FakeGeminiServer": ".gemini_server",
    "FakeOpenAIServer": ".openai_server",
    "OpenAICassetteRecorder": ".openai_recorder",
    "Cassette": ".cassette",
    "CassetteFormatError": ".cassette",
    "CassetteRecorder": ".recorder",
    "CassetteMismatchError": ".report",
    "CassetteReport": ".report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANY",
    "Cassette",
    "CassetteFormatError",
    "CassetteMismatchError",
    "CassetteRecorder",
    "CassetteReport",
    "ConnectionRecord",
    "FakeGeminiServer",
    "FakeOpenAIServer",
    "FakeProvider",
    "FakeSession",
    "OpenAICassetteRecorder",
    "ScriptFailed",
    "ToolResult",
    "emit",
    "end",
    "expect",
    "tone",
]
