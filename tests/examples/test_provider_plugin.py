"""The out-of-tree provider example (examples/provider_plugin) works as a real plugin.

One test installs realtalk and the example into a fresh virtual environment, the way a
third party's user would, and checks that ``realtalk plugins`` discovers it through its
entry point. The others exercise the echo provider itself, in process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtalk.config import RealtimeConfig
from realtalk.events import AudioDeltaEvent, OutputTranscriptEvent, TurnCompleteEvent
from realtalk.inputs import AudioInput, AudioStreamEnd, TextInput
from realtalk.provider import DisconnectKind, Provider, ProviderDisconnected, SessionSetup

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "provider_plugin"


@pytest.fixture
def echo_module() -> Iterator[object]:
    sys.path.insert(0, str(EXAMPLE / "src"))
    try:
        import realtalk_echo

        yield realtalk_echo
    finally:
        sys.path.remove(str(EXAMPLE / "src"))
        for name in [m for m in sys.modules if m.startswith("realtalk_echo")]:
            del sys.modules[name]


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # type: ignore[import-not-found]

        return [uv.find_uv_bin()]
    except ImportError:
        pytest.skip("uv is not installed (pip install uv)")


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _install(uv: list[str], python: Path, args: list[str], env: dict[str, str]) -> None:
    """uv pip install, from uv's cache when possible (works without a network)."""
    base = [*uv, "pip", "install", "--python", str(python), *args]
    proc = _run([*base[:3], "--offline", *base[3:]], env)
    if proc.returncode != 0:  # not cached yet: let uv fetch from the package index
        proc = _run(base, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_realtalk_plugins_discovers_the_installed_example(tmp_path: Path) -> None:
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
    venv = tmp_path / "venv"
    proc = _run([*uv, "venv", "-q", "--python", sys.executable, str(venv)], env)
    assert proc.returncode == 0, proc.stderr
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # Third-party dependencies pinned by the workspace lock (so uv's cache serves them) ...
    lock = tmp_path / "pylock.toml"
    export = [*uv, "export", "--frozen", "--no-dev", "--no-emit-workspace"]
    export += ["--package", "realtalk", "--format", "pylock.toml", "-o", str(lock)]
    proc = _run(export, env)
    assert proc.returncode == 0, proc.stderr
    _install(uv, python, ["-r", str(lock)], env)
    # ... then realtalk itself and the example, from their directories.
    _install(uv, python, ["--no-deps", str(ROOT / "core"), str(EXAMPLE)], env)

    cli = venv / ("Scripts/realtalk.exe" if os.name == "nt" else "bin/realtalk")
    proc = subprocess.run(
        [str(cli), "plugins"], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "echo" in out and "realtalk-echo" in out, out
    # Only what is installed in that venv is found: the workspace's plugins are not.
    assert "realtalk-gemini" not in out, out

    # The model name alone selects the plugin's provider, and a session runs through it.
    proc = subprocess.run(
        [str(python), "-c", SESSION_SCRIPT], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["agent:", "hello"], proc.stdout  # only echo answers so


SESSION_SCRIPT = """
import asyncio
from realtalk import AudioAgent, LiveInputQueue

async def main():
    app = AudioAgent("echo-1").compile()
    queue = LiveInputQueue()
    queue.send_text("hello")
    async for event in app.arealtime(queue, {"thread_id": "t"}):
        if event.type == "output_transcript" and event.finished:
            print("agent:", event.text)
        elif event.type == "turn_complete":
            queue.close()
    await app.aclose()

asyncio.run(main())
"""


def test_echo_provider_satisfies_the_protocol(echo_module: object) -> None:
    from realtalk_echo import EchoProvider  # type: ignore[import-not-found]

    provider = EchoProvider()
    assert isinstance(provider, Provider)
    assert provider.capabilities.output_sample_rate == 16000


async def test_echo_session_plays_audio_back_and_ends_cleanly(echo_module: object) -> None:
    from realtalk_echo import EchoProvider

    setup = SessionSetup(config=RealtimeConfig(model="echo-1"))
    session = await EchoProvider().connect(setup)
    audio = bytes(range(256)) * 25  # 6400 bytes = 200 ms at 16 kHz
    await session.send(AudioInput(data=audio, sample_rate=16000))
    await session.send(AudioStreamEnd())
    await session.send(TextInput(text="hello"))
    await session.close()
    events = []
    with pytest.raises(ProviderDisconnected) as ended:
        async for event in session.events():
            events.append(event)
    assert ended.value.kind is DisconnectKind.CLOSED
    played = b"".join(e.data for e in events if isinstance(e, AudioDeltaEvent))
    assert played == audio
    assert [type(e) for e in events].count(TurnCompleteEvent) == 2
    assert OutputTranscriptEvent(text="hello", finished=True) in events
    with pytest.raises(ProviderDisconnected):
        await session.send(TextInput(text="too late"))
