"""Runs the demo's one voice session: feed the question, print events, keep the answer.

The same function serves every mode. Offline the real Gemini plugin and google-genai talk
to a local FakeGeminiServer replaying a cassette; live they talk to Gemini Live; recording
puts a CassetteRecorder (a proxy that writes the cassette) between them and Gemini.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..audio import pcm16_seconds
from ..config import INPUT_SAMPLE_RATE, RealtimeConfig
from .display import EventPrinter, SessionStats
from .weather import SYSTEM_PROMPT, get_weather

OFFLINE_API_KEY = "offline-demo-key"
"""A dummy key: google-genai insists on one, FakeGeminiServer ignores it."""

DEFAULT_LIVE_MODEL = "gemini"
"""The Gemini plugin's alias for its default Live model (or ``GEMINI_LIVE_MODEL``)."""

CHUNK_SECONDS = 0.1
TRAILING_SILENCE_SECONDS = 0.8
"""Silence after the question, as a microphone would send: server-side voice activity
detection ends the turn on it. Sent in every mode, so a session recorded live and its
replay see the same input."""


class DemoError(Exception):
    """The demo cannot run as asked; the message says what to do."""


@dataclass
class DemoPlan:
    """Everything one demo run needs, decided from the command line and environment."""

    mode: str  # "offline" | "live" | "record"
    question: bytes  # PCM16 mono at 16 kHz
    cassette: Path | None = None
    record_path: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str = DEFAULT_LIVE_MODEL
    voice: str | None = None
    realtime_pace: bool = False
    timeout: float = 60.0
    max_audio_bytes: int | None = None
    upstream: dict[str, Any] | None = None
    """Where ``record`` mode forwards to: None is Gemini Live (tests use a fake server)."""
    resume_handle: str | None = None
    """A resumption handle the thread starts with (a cassette that resumes a session)."""


@dataclass
class DemoResult:
    stats: SessionStats
    audio: bytes
    sample_rate: int
    problems: list[str]


def build_app(
    model: str, provider_options: dict[str, Any], voice: str | None, checkpointer: Any = None
) -> Any:
    """The demo agent, compiled: Gemini Live with the weather tool."""
    from ..agent import AudioAgent

    config = RealtimeConfig(
        model=model,
        provider="gemini",
        voice=voice,
        provider_options=provider_options,
    )
    return AudioAgent(
        model, realtime_config=config, tools=[get_weather], system_prompt=SYSTEM_PROMPT
    ).compile(checkpointer=checkpointer)


@contextlib.asynccontextmanager
async def _endpoint(plan: DemoPlan) -> AsyncIterator[tuple[dict[str, Any], Any]]:
    """Provider options for the mode, and the local server (or recorder) if any."""
    if plan.mode == "offline":
        try:
            from realtalk_testing import FakeGeminiServer
        except ImportError as exc:
            raise DemoError(
                f"the offline demo needs realtalk-testing ({exc}): pip install 'realtalk[demo]'"
            ) from None
        assert plan.cassette is not None
        async with FakeGeminiServer(plan.cassette, strict=False) as server:
            yield {"api_key": OFFLINE_API_KEY, "http_options": server.http_options}, server
    elif plan.mode == "record":
        try:
            from realtalk_testing.recorder import CassetteRecorder
        except ImportError as exc:
            raise DemoError(f"--record needs realtalk-testing: {exc}") from None
        assert plan.record_path is not None
        recorder = CassetteRecorder(
            plan.record_path,
            upstream=plan.upstream,
            api_key=plan.api_key,
            max_audio_bytes=plan.max_audio_bytes,
            header={"name": plan.record_path.stem, "recorded_with": "realtalk demo"},
        )
        async with recorder:
            yield {"api_key": OFFLINE_API_KEY, "http_options": recorder.http_options}, recorder
    else:
        yield {"api_key": plan.api_key}, None


def input_audio(question: bytes) -> bytes:
    """What the demo streams: the question, then a moment of silence."""
    return question + b"\x00\x00" * int(INPUT_SAMPLE_RATE * TRAILING_SILENCE_SECONDS)


async def _feed(queue: Any, pcm: bytes, plan: DemoPlan) -> None:
    """Stream ``pcm`` in 100 ms chunks (at speaking pace when live), then end the stream.

    Offline, the microphone then stays open: silence at speaking pace until the session
    ends, as a real one would send. A cassette whose later connections wait for input
    (a reconnect after ``go_away`` or a drop) gets it the way the recording did."""
    chunk = int(INPUT_SAMPLE_RATE * CHUNK_SECONDS) * 2
    for start in range(0, len(pcm), chunk):
        queue.send_audio(pcm[start : start + chunk], sample_rate=INPUT_SAMPLE_RATE)
        if plan.realtime_pace:
            await asyncio.sleep(CHUNK_SECONDS)
    queue.send_audio_stream_end()
    if plan.mode != "offline":
        return
    silence = b"\x00" * chunk
    while not queue.closed:
        await asyncio.sleep(CHUNK_SECONDS)
        if not queue.closed:
            queue.send_audio(silence, sample_rate=INPUT_SAMPLE_RATE)


class _Ending:
    """When the demo ends its input: once the answer is complete (never in the middle of
    a connection rotation) and, offline, once the cassette has nothing left to play."""

    def __init__(self, queue: Any, replay: Any) -> None:
        self.queue = queue
        self.replay = replay
        self.spoke = self.answered = self.rotating = False

    def observe(self, event: Any) -> None:
        if event.type in ("audio_delta", "output_transcript", "text_delta"):
            self.spoke = True
        elif event.type == "go_away":
            self.rotating = True
        elif event.type == "reconnected":
            self.rotating = False
        elif event.type == "turn_complete" and self.spoke:
            self.answered = True
        self.check()

    def check(self) -> None:
        # Input still streamed after the queue closes is dropped by the closed queue.
        if self.queue.closed:
            return
        if self.replay is not None and self.replay.report.mismatches:
            self.queue.close()  # the replay is broken: nothing more will come
        elif self.answered and not self.rotating and (self.replay is None or self.replay.done):
            self.queue.close()

    async def watch_replay(self) -> None:
        """Re-check once the cassette is done (its last frame may already be handled)."""
        if self.replay is not None:
            await self.replay.wait_done()
            self.check()


async def run_session(plan: DemoPlan, out: TextIO) -> DemoResult:
    """Run the session of ``plan``, printing its events to ``out``."""
    from ..queue import LiveInputQueue

    stats = SessionStats()
    pcm = input_audio(plan.question)
    stats.audio_in_seconds = pcm16_seconds(len(pcm), INPUT_SAMPLE_RATE)
    printer = EventPrinter(out)
    audio = bytearray()
    rate = 24000
    problems: list[str] = []
    thread = {"thread_id": f"demo-{uuid.uuid4().hex[:8]}"}
    checkpointer = await _checkpointer(thread, plan.resume_handle)
    async with _endpoint(plan) as (provider_options, endpoint):
        app = build_app(plan.model, provider_options, plan.voice, checkpointer)
        queue = LiveInputQueue(maxsize=10_000)
        feeder = asyncio.create_task(_feed(queue, pcm, plan))
        ending = _Ending(queue, endpoint if plan.mode == "offline" else None)
        watcher = asyncio.create_task(ending.watch_replay())
        try:
            async with asyncio.timeout(plan.timeout):
                async for event in app.arealtime(queue, thread):
                    stats.observe(event)
                    printer.show(event)
                    if event.type == "audio_delta":
                        audio += event.data
                        rate = event.sample_rate
                    ending.observe(event)
        except TimeoutError:
            problems.append(f"no complete answer within {plan.timeout:g} s")
        finally:
            printer.close()
            for task in (feeder, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.aclose()
    if plan.mode == "offline" and endpoint is not None:
        report = endpoint.report
        problems += [f"cassette: {m}" for m in _report_problems(report)]
    return DemoResult(stats, bytes(audio), rate, problems)


async def _checkpointer(thread: dict[str, Any], handle: str | None) -> Any:
    """None (the app's default), or one whose thread already holds ``handle``."""
    if handle is None:
        return None
    from ..checkpoint import InMemoryCheckpointer
    from ..messages import ThreadInfo
    from ..runtime.persistence import HANDLE_KEY

    checkpointer = InMemoryCheckpointer()
    info = ThreadInfo(thread_id=thread["thread_id"], metadata={HANDLE_KEY: handle})
    await checkpointer.aput_thread(thread, info)
    return checkpointer


def _report_problems(report: Any) -> list[str]:
    """Mismatches and unplayed lines of a FakeGeminiServer report, as short strings."""
    found: list[str] = []
    for mismatch in getattr(report, "mismatches", []) or []:
        found.append(str(mismatch))
    for line in getattr(report, "unplayed", []) or []:
        found.append(f"line {line} was not played")
    return found


def api_key_from_env() -> str | None:
    """The Gemini API key the plugin would use, if the environment has one."""
    return os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY") or None


__all__ = [
    "OFFLINE_API_KEY",
    "DemoError",
    "DemoPlan",
    "DemoResult",
    "api_key_from_env",
    "build_app",
    "run_session",
]
