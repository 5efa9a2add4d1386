"""Regenerate the data of ``realtalk demo``: the spoken question and the demo cassette.

Run from the repository root (needs espeak-ng and sox, both Debian packages):

    uv run python scripts/make_demo_data.py

Writes ``core/src/realtalk/demo/data/question.wav`` (16 kHz mono PCM16) and
``core/src/realtalk/demo/data/demo.cassette.jsonl``. The cassette is *authored* to the
Gemini Live wire protocol (it is not a capture of Google's service): one spoken question,
a ``get_weather`` tool call answered by the client, a resumption handle, a ``goAway`` and a
server close in the middle of the turn, then a second connection that presents the handle
and speaks the answer. Its speech is real speech synthesised by espeak-ng, so the demo's
``out.wav`` is something a person can listen to.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "core" / "src" / "realtalk" / "demo" / "data"

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
QUESTION = "What's the weather like in Paris right now?"
ANSWER = (
    "Right now it's eighteen degrees and partly cloudy in Paris, "
    "with a light breeze from the west. A light jacket should do."
)
CALL_ID = "fc-demo-1"
CITY = "Paris"
HANDLE_1 = "demo-handle-1"
HANDLE_2 = "demo-handle-2"
ANSWER_CHUNK_SECONDS = 0.2
AUDIO_DELAY_MS = 30  # replay pacing only: makes the transcript visibly grow in the demo
WORD_DELAY_MS = 60


def speak(text: str, voice: str, rate: int, out: Path, pad: tuple[float, float]) -> bytes:
    """Synthesise ``text`` to PCM16 mono at ``rate`` (with silence padding); returns frames."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "155", "-w", str(raw), text], check=True)
        cmd = ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)]
        cmd += ["pad", str(pad[0]), str(pad[1])]
        subprocess.run(cmd, check=True)
    with wave.open(str(out), "rb") as wav:
        assert wav.getframerate() == rate and wav.getnchannels() == 1
        return wav.readframes(wav.getnframes())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def words_of(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def build_cassette(answer_pcm: bytes) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = [
        {
            "cassette": 1,
            "provider": "gemini",
            "model": MODEL,
            "note": (
                "Authored for `realtalk demo` to the Gemini Live wire protocol, not captured "
                "from Google. Speech synthesised by espeak-ng. Regenerate with "
                "scripts/make_demo_data.py."
            ),
        },
        # ---- connection 1: the question, the tool call, then a planned rotation.
        {"conn": 1, "connect": {"handle": None}},
        {
            "conn": 1,
            "send": {"setup": {}},
            "match": {
                "subset": {
                    "setup": {
                        "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
                        "inputAudioTranscription": {},
                        "outputAudioTranscription": {},
                    }
                }
            },
            "note": "the agent advertises its weather tool and asks for both transcripts",
        },
        {"conn": 1, "recv": {"setupComplete": {}}},
        {
            "conn": 1,
            "send": {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000"}}},
            "min_seconds": 1.0,
            "note": "the spoken question starts streaming in",
        },
    ]
    for word in words_of(QUESTION):
        lines.append(
            {
                "conn": 1,
                "recv": {"serverContent": {"inputTranscription": {"text": word}}},
                "delay_ms": WORD_DELAY_MS,
            }
        )
    lines += [
        {
            "conn": 1,
            "send": {"realtimeInput": {"audioStreamEnd": True}},
            "note": "the input file ended",
        },
        {
            "conn": 1,
            "recv": {
                "toolCall": {
                    "functionCalls": [
                        {"id": CALL_ID, "name": "get_weather", "args": {"city": CITY}}
                    ]
                }
            },
            "delay_ms": 100,
        },
        {
            "conn": 1,
            "send": {"toolResponse": {"functionResponses": [{"id": CALL_ID}]}},
            "match": {
                "subset": {
                    "toolResponse": {"functionResponses": [{"id": CALL_ID, "name": "get_weather"}]}
                }
            },
            "note": "the client answers the call by its id",
        },
        {
            "conn": 1,
            "recv": {"sessionResumptionUpdate": {"newHandle": HANDLE_1, "resumable": True}},
        },
        {"conn": 1, "recv": {"goAway": {"timeLeft": "0s"}}, "delay_ms": 50},
        {"conn": 1, "close": {"code": 1001, "reason": "connection rotated"}},
        # ---- connection 2: resumed with the handle, the answer is spoken.
        {"conn": 2, "connect": {"handle": HANDLE_1}},
        {"conn": 2, "send": {"setup": {}}, "match": "key"},
        {"conn": 2, "recv": {"setupComplete": {}}},
    ]
    chunk = int(ANSWER_CHUNK_SECONDS * 24000) * 2
    chunks = [answer_pcm[i : i + chunk] for i in range(0, len(answer_pcm), chunk)]
    words = words_of(ANSWER)
    speech_chunks = max(1, len(chunks) - 3)  # the last chunks are trailing silence
    next_word = 0
    for index, data in enumerate(chunks):
        lines.append(
            {
                "conn": 2,
                "recv": {
                    "serverContent": {
                        "modelTurn": {
                            "parts": [
                                {
                                    "inlineData": {
                                        "mimeType": "audio/pcm;rate=24000",
                                        "data": b64(data),
                                    }
                                }
                            ]
                        }
                    }
                },
                "delay_ms": AUDIO_DELAY_MS,
            }
        )
        due = min(len(words), round((index + 1) * len(words) / speech_chunks))
        while next_word < due:
            lines.append(
                {
                    "conn": 2,
                    "recv": {"serverContent": {"outputTranscription": {"text": words[next_word]}}},
                }
            )
            next_word += 1
    lines += [
        {"conn": 2, "recv": {"serverContent": {"generationComplete": True}}},
        {"conn": 2, "recv": {"serverContent": {"turnComplete": True}}},
        {
            "conn": 2,
            "recv": {
                "usageMetadata": {
                    "promptTokenCount": 412,
                    "responseTokenCount": 187,
                    "totalTokenCount": 599,
                }
            },
        },
        {
            "conn": 2,
            "recv": {"sessionResumptionUpdate": {"newHandle": HANDLE_2, "resumable": True}},
        },
    ]
    return lines


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    speak(QUESTION, "en-us", 16000, DATA / "question.wav", (0.3, 0.6))
    with tempfile.TemporaryDirectory() as tmp:
        answer = speak(ANSWER, "en-us+f3", 24000, Path(tmp) / "answer.wav", (0.0, 0.4))
    lines = build_cassette(answer)
    path = DATA / "demo.cassette.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {DATA / 'question.wav'} and {path} ({len(lines)} lines)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
