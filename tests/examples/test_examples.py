"""Every example that can run offline runs here, the way a reader would run it.

Scripts run in a subprocess with provider keys removed from the environment; the bridge's
server module is loaded through ``realtalk.json`` exactly as ``realtalk api`` loads it and
serves one session against the fake Gemini server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SECRETS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")


def _run(args: list[str], cwd: Path, *, prelude: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    command = [sys.executable, *args]
    if prelude:  # run the script after some setup code, as `python script.py` would
        script, rest = args[0], args[1:]
        code = (
            f"import runpy, sys; {prelude}; sys.argv = {[script, *rest]!r}; "
            f"runpy.run_path({script!r}, run_name='__main__')"
        )
        command = [sys.executable, "-c", code]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=90)


def _without_pacing(cassette: Path, folder: Path) -> Path:
    """A copy of ``cassette`` without its cosmetic ``delay_ms`` pacing (faster replays)."""
    lines = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line.pop("delay_ms", None)
    copy = folder / cassette.name
    copy.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return copy


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts == {"wav_in_wav_out.py", "microphone.py", "images.py", "server_graph.py"}


def test_wav_in_wav_out_offline(tmp_path: Path) -> None:
    out = tmp_path / "answer.wav"
    question = ROOT / "core/src/realtalk/demo/data/question.wav"
    script = str(EXAMPLES / "wav_in_wav_out.py")
    proc = _run([script, "--offline", str(question), str(out)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "you:   What's the weather like in Paris right now?" in proc.stdout
    assert "tool:  get_weather({'city': 'Paris'})" in proc.stdout
    assert "(reconnected, resumed=True)" in proc.stdout
    assert "agent: Right now it's eighteen degrees" in proc.stdout
    with wave.open(str(out), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len(samples) > 24000 * 5 and np.abs(samples).max() > 10000


def test_wav_in_wav_out_without_a_key_says_so(tmp_path: Path) -> None:
    proc = _run([str(EXAMPLES / "wav_in_wav_out.py")], tmp_path)
    assert proc.returncode == 2
    assert "GEMINI_API_KEY" in proc.stderr and "--offline" in proc.stderr


def test_microphone_full_duplex_barge_in_with_fake_devices(tmp_path: Path) -> None:
    proc = _run([str(EXAMPLES / "microphone.py"), "--fake-devices"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "you:   What's the weather in Paris?" in out
    assert "[barge-in: you spoke, dropped" in out
    dropped = float(out.split("dropped ")[1].split(" s")[0])
    assert dropped > 0  # the speaker really discarded the unplayed part of the answer
    assert out.index("[barge-in") < out.index("you:   Wait, stop.") < out.index("agent: Okay.")
    assert "done: 1 turn(s)" in out


def test_microphone_explains_a_missing_sounddevice(tmp_path: Path) -> None:
    proc = _run(
        [str(EXAMPLES / "microphone.py")], tmp_path, prelude="sys.modules['sounddevice'] = None"
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pip install sounddevice" in proc.stderr and "--fake-devices" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_images_offline(tmp_path: Path) -> None:
    proc = _run([str(EXAMPLES / "images.py"), "--offline"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("image/png") == 3
    assert "agent: I see a red square moving from left to right." in proc.stdout


async def test_server_graph_serves_a_session_through_realtalk_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from realtalk import LiveInputQueue
    from realtalk.bridge.app import resolve_app, resolve_checkpointer
    from realtalk.bridge.config import load_config
    from realtalk.demo.wavfile import read_wav
    from realtalk_testing import FakeGeminiServer

    monkeypatch.setenv("REALTALK_CHECKPOINTER", "memory://")
    monkeypatch.delitem(sys.modules, "server_graph", raising=False)
    config = load_config(EXAMPLES / "realtalk.json")
    checkpointer = resolve_checkpointer(config)
    app = resolve_app(config, checkpointer)
    assert app.checkpointer is checkpointer

    question, _ = read_wav(ROOT / "core/src/realtalk/demo/data/question.wav", 16000)
    queue = LiveInputQueue()
    queue.send_audio(question)
    queue.send_audio_stream_end()
    kinds: list[str] = []
    cassette = _without_pacing(ROOT / "core/src/realtalk/demo/data/demo.cassette.jsonl", tmp_path)
    async with FakeGeminiServer(cassette) as srv:
        overrides = {"api_key": "offline", "http_options": srv.http_options}
        session = {"thread_id": "browser-1", "provider_options": overrides}
        async for event in app.arealtime(queue, session):
            kinds.append(event.type)
            if event.type == "turn_complete":
                queue.close()
    await app.aclose()
    assert kinds[0] == "session_started" and kinds[-1] == "session_ended"
    assert {"tool_call", "tool_result", "go_away", "reconnected", "audio_delta"} <= set(kinds)
    stored = await checkpointer.alist_messages({"thread_id": "browser-1"})
    texts = [m.text_content for m in stored if m.text_content]
    assert texts[0] == "What's the weather like in Paris right now?"
    assert texts[-1].startswith("Right now it's eighteen degrees")
    monkeypatch.delitem(sys.modules, "server_graph", raising=False)
