"""Fixtures for the Gemini provider tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._fakews import CloseWith, FakeServer

Script = list[dict[str, Any] | CloseWith]


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or Vertex settings."""
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_GENAI_USE_ENTERPRISE",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GEMINI_LIVE_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeServer]]:
    """``fake_server(script1, script2, ...)`` patches the SDK's socket with scripted ones."""

    def make(*scripts: Script) -> FakeServer:
        server = FakeServer(list(scripts))
        monkeypatch.setattr("google.genai.live.ws_connect", server.connect)
        return server

    yield make
