"""A WAV file in, a WAV file out: the smallest complete voice session.

    python examples/wav_in_wav_out.py question.wav answer.wav       # needs GEMINI_API_KEY
    python examples/wav_in_wav_out.py --offline                      # no key, no network

The input may have any sample rate (mono PCM16); the queue resamples it to what the
provider wants. ``--offline`` replays the demo's recorded session on a local fake Gemini
server, with the real Gemini plugin, so it shows exactly what a live run would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import wave
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from realtalk import OUTPUT_SAMPLE_RATE, AudioAgent, LiveInputQueue, RealtimeConfig

DEMO_DATA = resources.files("realtalk.demo") / "data"


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return {"city": city, "temperature_c": 18, "conditions": "partly cloudy"}


def build_app(model: str, provider_options: dict[str, Any]) -> Any:
    config = RealtimeConfig(model=model, provider="gemini", provider_options=provider_options)
    return AudioAgent(
        model,
        realtime_config=config,
        tools=[get_weather],
        system_prompt="You are a concise voice assistant. Use get_weather for the weather.",
    ).compile()


@contextlib.asynccontextmanager
async def provider_options(offline: bool) -> AsyncIterator[dict[str, Any]]:
    """Live: credentials from the environment. Offline: a local fake Gemini server."""
    if not offline:
        yield {}
        return
    from realtalk_testing import FakeGeminiServer

    async with FakeGeminiServer(Path(str(DEMO_DATA / "demo.cassette.jsonl"))) as server:
        yield {"api_key": "offline", "http_options": server.http_options}


def read_question(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            sys.exit(f"{path}: need mono 16-bit PCM (try: sox {path} -c 1 -b 16 mono.wav)")
        return wav.readframes(wav.getnframes()), wav.getframerate()


async def main(args: argparse.Namespace) -> int:
    pcm, rate = read_question(args.input)
    model = args.model or os.environ.get("GEMINI_LIVE_MODEL", "gemini")
    async with provider_options(args.offline) as options:
        if args.offline:
            model = "gemini-2.5-flash-native-audio-preview-12-2025"
        app = build_app(model, options)
        queue = LiveInputQueue()
        chunk = rate // 10 * 2  # 100 ms of audio
        for start in range(0, len(pcm), chunk):
            queue.send_audio(pcm[start : start + chunk], sample_rate=rate)
        queue.send_audio_stream_end()  # the file is over: let the server end the turn

        with wave.open(str(args.output), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(OUTPUT_SAMPLE_RATE)
            async for event in app.arealtime(queue, {"thread_id": "wav-example"}):
                if event.type == "audio_delta":
                    out.writeframes(event.data)
                elif event.type == "input_transcript" and event.finished:
                    print(f"you:   {event.text}")
                elif event.type == "output_transcript" and event.finished:
                    print(f"agent: {event.text}")
                elif event.type == "tool_call":
                    print(f"tool:  {event.name}({event.args})")
                elif event.type == "reconnected":
                    print(f"(reconnected, resumed={event.resumed})")
                elif event.type == "error":
                    print(f"error: {event.code}: {event.message}", file=sys.stderr)
                elif event.type == "turn_complete":
                    queue.close()  # one question, one answer
        await app.aclose()
    print(f"wrote {args.output}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_question = Path(str(DEMO_DATA / "question.wav"))
    parser.add_argument("input", nargs="?", type=Path, default=default_question)
    parser.add_argument("output", nargs="?", type=Path, default=Path("answer.wav"))
    parser.add_argument("--offline", action="store_true", help="replay on a local fake server")
    parser.add_argument("--model", help="Gemini Live model (default: GEMINI_LIVE_MODEL)")
    args = parser.parse_args(argv)
    key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    if not args.offline and not key:
        parser.error("set GEMINI_API_KEY to talk to Gemini Live, or pass --offline")
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
