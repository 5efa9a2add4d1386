"""Fixtures for the Agentflow integration tests (real 10xgraph, real parts only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from injectq import InjectQ


@pytest.fixture(autouse=True)
def _fresh_agentflow_container() -> Iterator[None]:
    """Agentflow keeps one process-wide dependency container, and the first
    ``CallbackManager`` bound in it stays (a later ``compile`` does not replace it): each
    test starts with a fresh container so its graph's callbacks are the ones that fire."""
    InjectQ.reset_instance()
    yield
    InjectQ.reset_instance()


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or Vertex settings."""
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
    ):
        monkeypatch.delenv(name, raising=False)
