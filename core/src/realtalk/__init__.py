"""realtalk: provider-agnostic realtime audio agents.

Importing the package is cheap: it loads no provider SDK (google-genai, websockets), no
server or database library and not even pydantic. Every public name (``RealtimeConfig``,
``LiveInputQueue``, ``tool``, the agent classes) loads its module on first access, and
providers load when a session opens.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import AudioAgent, LiveAgent  # type: ignore[import-not-found, unused-ignore]
    from .config import (
        INPUT_SAMPLE_RATE,
        OUTPUT_SAMPLE_RATE,
        RealtimeConfig,
        ReconnectConfig,
        VADConfig,
    )
    from .queue import LiveInputQueue
    from .tools import tool

__version__ = "0.1.0"

# A library logs; the application decides where logs go.
logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "INPUT_SAMPLE_RATE": ".config",
    "OUTPUT_SAMPLE_RATE": ".config",
    "RealtimeConfig": ".config",
    "ReconnectConfig": ".config",
    "VADConfig": ".config",
    "LiveInputQueue": ".queue",
    "tool": ".tools",
    "AudioAgent": ".agent",
    "LiveAgent": ".agent",
}
"""Public name -> the module defining it, imported on first access (PEP 562)."""


def __getattr__(name: str) -> Any:
    """Load a public name on first access: pydantic and the models load only when used."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'realtalk' has no attribute {name!r}")
    value = getattr(import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "INPUT_SAMPLE_RATE",
    "OUTPUT_SAMPLE_RATE",
    "AudioAgent",
    "LiveAgent",
    "LiveInputQueue",
    "RealtimeConfig",
    "ReconnectConfig",
    "VADConfig",
    "__version__",
    "tool",
]
