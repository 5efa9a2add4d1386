"""``realtalk demo``: the newcomer's first command works offline, end to end.

The end-to-end test runs the real command in a subprocess with no API key: the real
Gemini plugin and google-genai talk to a FakeGeminiServer replaying the bundled cassette.
The other tests cover the pieces: recording a session and replaying the recording, file
conversion, and the errors a user can run into.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from realtalk.demo import DEMO
from realtalk.demo.main import BUNDLED_CASSETTE, BUNDLED_QUESTION, DATA, run
from realtalk.demo.session import DemoPlan, run_session
from realtalk.demo.wavfile import AudioFileError, read_wav, write_wav
from realtalk_testing.cassette import shipped_cassette_names, shipped_cassette_path

SECRETS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env["NO_COLOR"] = "1"
    return env


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    DEMO.configure(parser)
    return parser.parse_args(list(argv))


def _bundled(name: str) -> Path:
    return Path(str(DATA / name))


def _without_pacing(cassette: Path, folder: Path) -> Path:
    """A copy of ``cassette`` without its cosmetic ``delay_ms`` pacing (faster replays)."""
    lines = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line.pop("delay_ms", None)
    copy = folder / cassette.name
    copy.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return copy


def _wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return rate, channels, data


def test_realtalk_demo_runs_offline_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "answer.wav"
    proc = subprocess.run(
        [sys.executable, "-m", "realtalk", "demo", "--output", str(out), "--json"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    # The live event stream: the question, the tool round trip, the rotation, the answer.
    assert "offline: replaying demo.cassette.jsonl" in text
    assert "you:   What's the weather like in Paris right now?" in text
    assert '-> tool call   get_weather({"city": "Paris"})' in text
    assert '<- tool result get_weather: {"city": "Paris", "temperature_c": 18' in text
    assert "go_away: the server is rotating this connection" in text
    assert "reconnected (attempt 1, resumed with its handle)" in text
    assert "agent: Right now it's eighteen degrees and partly cloudy in Paris" in text
    steps = ("you:   What", "-> tool call", "go_away", "reconnected", "agent: Right")
    order = [text.index(s) for s in steps]
    assert order == sorted(order)
    # The summary, in words and as JSON.
    assert "Summary" in text and "problem:" not in text
    summary = json.loads(text.strip().splitlines()[-1])
    assert summary["turns"] == 1
    assert summary["tool_calls"] == 1
    assert summary["reconnects"] == 1 and summary["resumed"] == 1
    assert summary["audio_in_seconds"] == pytest.approx(3.63 + 0.8, abs=0.05)  # + silence
    assert summary["audio_out_seconds"] > 5
    assert 0 < summary["latency_to_first_audio"] < 30
    assert summary["problems"] == []
    # out.wav: 24 kHz mono PCM16 holding the spoken answer (not silence, not a tone).
    rate, channels, samples = _wav(out)
    assert (rate, channels) == (24000, 1)
    assert len(samples) / rate == pytest.approx(summary["audio_out_seconds"], abs=0.01)
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 1000
    assert np.abs(samples).max() > 10000


async def test_a_recorded_session_replays_offline(tmp_path: Path) -> None:
    """--record writes a cassette (through the recorder) that --replay plays back."""
    from realtalk_testing import FakeGeminiServer

    question, _ = read_wav(_bundled(BUNDLED_QUESTION), 16000)
    recording = tmp_path / "mine.jsonl"
    fast = _without_pacing(_bundled(BUNDLED_CASSETTE), tmp_path)
    async with FakeGeminiServer(fast) as upstream:
        plan = DemoPlan(
            mode="record",
            question=question,
            record_path=recording,
            api_key="secret-test-key",
            model="gemini-2.5-flash-native-audio-preview-12-2025",
            upstream=upstream.http_options,
        )
        recorded = await run_session(plan, io.StringIO())
    assert recorded.problems == []
    assert recording.is_file()
    assert "secret-test-key" not in recording.read_text(encoding="utf-8")

    replay = DemoPlan(mode="offline", question=question, cassette=recording, model=plan.model)
    shown = io.StringIO()
    replayed = await run_session(replay, shown)
    assert replayed.problems == []
    assert replayed.stats.agent_text == recorded.stats.agent_text
    assert replayed.stats.user_text == recorded.stats.user_text
    assert replayed.stats.reconnects == recorded.stats.reconnects == 1
    assert replayed.audio == recorded.audio and len(replayed.audio) > 0
    assert "reconnected" in shown.getvalue()


SHIPPED_GEMINI = shipped_cassette_names()


@pytest.mark.parametrize("name", SHIPPED_GEMINI)
def test_every_shipped_cassette_replays_through_the_demo(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``realtalk demo --replay`` of each shipped Gemini cassette plays every line: the
    microphone stays open offline (later connections get the input they wait for), the
    demo's audio_stream_end is tolerated, and a cassette that resumes a handle gets a
    thread holding it."""
    for secret in SECRETS:
        monkeypatch.delenv(secret, raising=False)
    cassette = _without_pacing(shipped_cassette_path(name), tmp_path)
    out = tmp_path / "answer.wav"
    code = run(_args("--replay", str(cassette), "--output", str(out), "--json"))
    shown = capsys.readouterr()
    assert code == 0, shown.out + shown.err
    assert "problem:" not in shown.out and shown.err == ""
    summary = json.loads(shown.out.strip().splitlines()[-1])
    assert summary["problems"] == [] and summary["turns"] >= 1
    assert "session ended (closed)" in shown.out


def test_the_issue_command_replays_spoken_question_in_a_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "realtalk", "demo", "--replay",
         str(shipped_cassette_path("spoken_question")), "--output", str(tmp_path / "o.wav")],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == "" and "problem:" not in proc.stdout


def _write(path: Path, samples: np.ndarray, rate: int, channels: int, width: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


def _tone(rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 22050, 37800])
def test_any_rate_and_channel_count_is_converted(tmp_path: Path, rate: int) -> None:
    mono = _tone(rate)
    stereo = np.stack([mono, mono], axis=1).reshape(-1)
    path = tmp_path / "in.wav"
    _write(path, stereo, rate, 2, 2)
    pcm, info = read_wav(path, 16000)
    assert (info.sample_rate, info.channels) == (rate, 2)
    out = np.frombuffer(pcm, dtype="<i2")
    assert len(out) == pytest.approx(8000, abs=40)  # 0.5 s at 16 kHz
    # Still a 440 Hz tone of the same loudness.
    assert np.sqrt(np.mean(out[400:-400].astype(float) ** 2)) == pytest.approx(
        12000 / np.sqrt(2), rel=0.05
    )


@pytest.mark.parametrize("width", [1, 3, 4])
def test_8_24_and_32_bit_files_are_read(tmp_path: Path, width: int) -> None:
    mono = _tone(16000).astype(np.int32)
    if width == 1:
        raw = ((mono >> 8) + 128).astype(np.uint8)
    elif width == 3:
        wide = (mono << 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        raw = np.ascontiguousarray(wide)
    else:
        raw = (mono << 16).astype("<i4")
    path = tmp_path / "in.wav"
    _write(path, raw, 16000, 1, width)
    pcm, info = read_wav(path, 16000)
    assert info.sample_width == width
    out = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    tolerance = 256 if width == 1 else 1
    assert np.abs(out - mono).max() <= tolerance


def test_output_at_another_rate_and_channel_count(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "o.wav", _tone(24000).tobytes(), 24000, out_rate=48000, channels=2)
    rate, channels, data = _wav(path)
    assert (rate, channels) == (48000, 2)
    frames = data.reshape(-1, 2)
    assert len(frames) == pytest.approx(24000, abs=50)
    assert np.array_equal(frames[:, 0], frames[:, 1])


def test_non_audio_files_get_a_clear_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not audio\n" * 10, encoding="utf-8")
    with pytest.raises(AudioFileError, match=r"notes.txt is not a PCM WAV file.*sox"):
        read_wav(notes, 16000)
    with pytest.raises(AudioFileError, match="no such file"):
        read_wav(tmp_path / "missing.wav", 16000)
    empty = tmp_path / "empty.wav"
    _write(empty, np.zeros(0, dtype="<i2"), 16000, 1, 2)
    with pytest.raises(AudioFileError, match="holds no audio"):
        read_wav(empty, 16000)


def test_the_command_reports_bad_input_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    assert run(_args("--input", str(notes), "--output", str(tmp_path / "o.wav"))) == 2
    err = capsys.readouterr().err
    assert "realtalk demo:" in err and "is not a PCM WAV file" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()


def test_record_needs_a_key_and_replay_needs_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    assert run(_args("--record", str(tmp_path / "r.jsonl"))) == 2
    assert "GEMINI_API_KEY" in capsys.readouterr().err
    assert run(_args("--replay", str(tmp_path / "missing.jsonl"))) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _args("--offline", "--replay", "x.jsonl")  # modes are mutually exclusive
    # Out-of-range numbers are refused while parsing (tests/core/test_cli_mistakes.py).
    for bad in (("--output-rate", "-5"), ("--output-channels", "0")):
        with pytest.raises(SystemExit):
            _args(*bad)


def test_importing_the_command_stays_light() -> None:
    code = (
        "import sys, realtalk.cli; realtalk.cli.build_parser(); "
        "heavy = [m for m in ('google.genai', 'numpy', 'realtalk_testing', 'websockets') "
        "if m in sys.modules]; print(heavy); assert not heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("key", "argv", "mode"),
    [
        (None, [], "offline"),
        ("k", [], "live"),
        ("k", ["--offline"], "offline"),
        ("k", ["--record", "r.jsonl"], "record"),
        (None, ["--replay", "BUNDLED"], "offline"),
    ],
)
def test_the_mode_follows_the_key_and_the_flags(
    monkeypatch: pytest.MonkeyPatch, key: str | None, argv: list[str], mode: str
) -> None:
    from realtalk.demo.main import _plan

    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    if key:
        monkeypatch.setenv("GEMINI_API_KEY", key)
    argv = [str(_bundled(BUNDLED_CASSETTE)) if a == "BUNDLED" else a for a in argv]
    plan, info, _notes = _plan(_args(*argv))
    assert plan.mode == mode
    assert info.sample_rate == 16000 and info.channels == 1
    assert (plan.api_key is None) == (mode == "offline")  # a key never reaches a replay
    assert plan.realtime_pace == (mode != "offline")
    if mode == "offline":
        assert plan.cassette is not None and plan.cassette.is_file()
        assert plan.model == "gemini-2.5-flash-native-audio-preview-12-2025"
