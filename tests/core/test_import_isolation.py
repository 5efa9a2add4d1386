"""``import realtalk`` stays light: no provider SDK, transport, database or server library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("google.genai", "websockets", "psycopg", "starlette", "uvicorn")


def modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def heavy_in(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize(
    "code",
    [
        "import realtalk",
        "from realtalk import LiveInputQueue, RealtimeConfig, VADConfig, ReconnectConfig, tool",
        "import realtalk.events, realtalk.messages, realtalk.inputs, realtalk.provider",
        "import realtalk.plugins, realtalk.hookspecs, realtalk.audio, realtalk.queue",
        # Building the registry imports every plugin module, but no provider SDK.
        "import realtalk.plugins as p; p.get_registry()",
    ],
)
def test_importing_realtalk_loads_no_heavy_dependency(code: str) -> None:
    modules = modules_after(code)
    assert "realtalk" in modules
    assert heavy_in(modules) == []


def test_the_probe_detects_a_heavy_import() -> None:
    """The check above can fail: importing google.genai is seen."""
    assert "google.genai" in heavy_in(modules_after("import google.genai"))


def test_import_realtalk_does_not_load_numpy_or_soxr_until_audio_is_resampled() -> None:
    modules = modules_after("import realtalk; realtalk.LiveInputQueue().send_audio(b'\\0\\0')")
    assert "soxr" not in modules and "numpy" not in modules


def test_public_names_are_exported() -> None:
    import realtalk

    expected = {
        "AudioAgent",
        "LiveAgent",
        "RealtimeConfig",
        "VADConfig",
        "ReconnectConfig",
        "LiveInputQueue",
        "tool",
        "INPUT_SAMPLE_RATE",
        "OUTPUT_SAMPLE_RATE",
    }
    assert expected <= set(realtalk.__all__)
    assert expected <= set(dir(realtalk))
    for name in expected - {"AudioAgent", "LiveAgent"}:
        assert getattr(realtalk, name) is not None
    assert realtalk.INPUT_SAMPLE_RATE == 16000 and realtalk.OUTPUT_SAMPLE_RATE == 24000
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        realtalk.Nope  # noqa: B018


def test_agent_classes_load_lazily() -> None:
    pytest.importorskip("realtalk.agent")
    modules = modules_after("import realtalk")
    assert "realtalk.agent" not in modules
    code = "import realtalk; realtalk.AudioAgent; realtalk.LiveAgent"
    assert heavy_in(modules_after(code)) == []


def test_bare_import_loads_no_pydantic_until_a_name_is_used() -> None:
    """``import realtalk`` is cheap; the first public name used loads its module."""
    bare = modules_after("import realtalk")
    assert "pydantic" not in bare and "realtalk.config" not in bare
    used = modules_after("import realtalk; realtalk.RealtimeConfig")
    assert "pydantic" in used and "realtalk.config" in used


def test_every_public_name_imports_with_from() -> None:
    names = "RealtimeConfig, VADConfig, ReconnectConfig, LiveInputQueue, tool"
    code = (
        f"from realtalk import {names}, INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, __version__\n"
        "import realtalk.config as c\n"
        "assert RealtimeConfig is c.RealtimeConfig and INPUT_SAMPLE_RATE == 16000\n"
        "assert callable(tool) and LiveInputQueue.__name__ == 'LiveInputQueue'"
    )
    assert "realtalk.queue" in modules_after(code)


def test_compile_resolves_the_provider_without_loading_its_sdk() -> None:
    """compile() checks the model against the plugins (so an unknown one fails there), but
    the provider's SDK still loads only when a session opens."""
    modules = modules_after(
        "from realtalk import AudioAgent\nAudioAgent('gemini-live-2.5-flash-preview').compile()"
    )
    assert heavy_in(modules) == []
