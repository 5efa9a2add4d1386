"""The demo agent: a concise voice assistant with one tool, ``get_weather``.

The tool answers from a small fixed table (no network, no key), so a replayed session
gets the same result every time and the cassette can check what the client sent.
"""

from __future__ import annotations

import zlib
from typing import Any

SYSTEM_PROMPT = (
    "You are a friendly, concise voice assistant. For questions about the weather, call "
    "the get_weather tool, then answer in one or two short spoken sentences."
)

_KNOWN: dict[str, tuple[int, str, str]] = {
    "paris": (18, "partly cloudy", "a light breeze from the west"),
    "london": (14, "light rain", "a moderate wind from the south-west"),
    "tokyo": (24, "sunny", "calm air"),
    "new york": (21, "clear", "a light wind from the north"),
}
_CONDITIONS = ("sunny", "partly cloudy", "overcast", "light rain", "clear")


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    key = city.strip().lower()
    if key in _KNOWN:
        temperature, conditions, wind = _KNOWN[key]
    else:  # any other city gets stable, made-up weather
        seed = zlib.crc32(key.encode("utf-8"))
        temperature = 5 + seed % 25
        conditions = _CONDITIONS[seed % len(_CONDITIONS)]
        wind = "a light breeze"
    return {
        "city": city.strip().title(),
        "temperature_c": temperature,
        "conditions": conditions,
        "wind": wind,
    }


__all__ = ["SYSTEM_PROMPT", "get_weather"]
