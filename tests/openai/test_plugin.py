"""The plugin registers through its entry point, claims the OpenAI model names and is cheap
to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from realtalk.plugins import get_registry, resolve_provider


@pytest.mark.parametrize(
    "model",
    [
        "gpt-realtime",
        "gpt-realtime-mini",
        "gpt-4o-realtime-preview",
        "gpt-4o-mini-realtime-preview",
    ],
)
def test_model_names_resolve_to_openai(model: str) -> None:
    record = resolve_provider(model)
    assert record.name == "openai"


def test_capabilities() -> None:
    record = get_registry().providers["openai"]
    caps = record.capabilities
    assert (caps.input_sample_rate, caps.output_sample_rate) == (24000, 24000)
    assert caps.resumption is False and caps.manual_activity is True and caps.images is True
    provider = record.factory()
    assert provider.name == "openai" and provider.capabilities == caps
    assert resolve_provider("gemini-live-2.5-flash-preview").name == "gemini"


def test_importing_the_plugin_does_not_load_the_socket_code() -> None:
    code = (
        "import sys, realtalk_openai.plugin, realtalk_openai;"
        "print('realtalk_openai.transport' in sys.modules, 'websockets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
