"""realtalk: provider-agnostic realtime audio agents.

Importing the package is cheap and loads no provider SDK (google-genai, websockets) and no
server or database library: providers load when a session opens, and the agent classes
load on first access.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import (
    INPUT_SAMPLE_RATE,
    OUTPUT_SAMPLE_RATE,
    RealtimeConfig,
    ReconnectConfig,
    VADConfig,
)
from .queue import LiveInputQueue
from .tools import tool

if TYPE_CHECKING:
    from .agent import AudioAgent, LiveAgent  # type: ignore[import-not-found, unused-ignore]

__version__ = "0.1.0"

# A library logs; the application decides where logs go.
logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {"AudioAgent": ".agent", "LiveAgent": ".agent"}


def __getattr__(name: str) -> Any:
    """Load the agent classes on first access (they pull in the session runtime)."""
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
