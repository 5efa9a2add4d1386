"""The demo agent as the bridge's app, offline: what ``realtalk api`` serves without a key.

With no API key and no ``realtalk.json``, ``realtalk api`` serves `OFFLINE_DEMO`
(``"realtalk.demo.playground:OFFLINE_DEMO"``). Every question a client asks is answered by
one *round*: a fresh local FakeGeminiServer replaying the demo's cassette to the real
Gemini plugin, exactly as ``realtalk demo`` does (weather tool, planned rotation with
resumption, spoken answer). The cassette answers the bundled question, so the round
feeds it what it expects: the client's own speech (ended by a small energy detector, as
Gemini's server-side VAD would end it), or the bundled question for typed text.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import INPUT_SAMPLE_RATE
from ..events import ErrorEvent, SessionEndedEvent, SessionStartedEvent
from ..inputs import AudioInput, AudioStreamEnd, TextInput
from ..queue import LiveInputQueue

BADGE = "offline demo"
NOTICE = (
    "No API key and no realtalk.json: this is the demo agent replaying a recorded session "
    "on a local fake Gemini server. Speak (then pause) or type anything; it answers the "
    "recorded question about the weather in Paris."
)
SPEECH_RMS = 500.0
"""RMS (of 32768) above which a chunk counts as speech: quiet rooms sit well below it."""
END_SILENCE_SECONDS = 0.6
"""Silence after speech that ends the user's turn (Gemini's server VAD is similar)."""
MIN_TURN_SECONDS = 1.2
"""The cassette plays its transcript after one second of audio: a turn is never shorter."""
MAX_TURN_SECONDS = 15.0
"""A turn that never falls silent (a noisy room) ends here anyway."""


def _import_replay_modules() -> None:
    with contextlib.suppress(ImportError):
        import google.genai  # noqa: F401

        import realtalk_gemini  # noqa: F401
        import realtalk_testing  # noqa: F401


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


@dataclass
class _Round:
    """Input of one replayed question: speech until it falls silent, then stream end."""

    queue: LiveInputQueue = field(default_factory=lambda: LiveInputQueue(maxsize=10_000))
    seconds: float = 0.0
    silence: float = 0.0
    heard: bool = False
    ended: bool = False
    finished: bool = False
    failed: bool = False
    """The replay ended with a fatal error: the client's session ends with it."""
    """The replay is over: the next speech starts a new round (until then input is
    dropped, so the answer's echo in a microphone cannot queue another question)."""

    def audio(self, item: AudioInput) -> None:
        if self.ended:
            return  # the recorded turn is over; the replay needs nothing more
        self.queue.send_audio(item.data, item.sample_rate)
        seconds = len(item.data) / 2 / item.sample_rate
        self.seconds += seconds
        if _rms(item.data) >= SPEECH_RMS:
            self.heard, self.silence = True, 0.0
        else:
            self.silence += seconds
        done = self.heard and self.seconds >= MIN_TURN_SECONDS
        if (done and self.silence >= END_SILENCE_SECONDS) or self.seconds >= MAX_TURN_SECONDS:
            self.end()

    def question(self, pcm: bytes) -> None:
        if not self.ended:
            self.queue.send_audio(pcm, INPUT_SAMPLE_RATE)
            self.seconds += len(pcm) / 2 / INPUT_SAMPLE_RATE
            self.end()

    def end(self) -> None:
        """The user's turn is over: pad it to what the cassette waits for, end the stream."""
        if self.ended:
            return
        self.ended = True
        short = MIN_TURN_SECONDS - self.seconds
        if short > 0:  # the microphone stopped early: the replay still needs its second
            self.queue.send_audio(b"\x00\x00" * int(short * INPUT_SAMPLE_RATE + 1))
            self.seconds = MIN_TURN_SECONDS
        self.queue.send_audio_stream_end()


class OfflineDemoApp:
    """A ``LiveApp`` (``arealtime``) that answers each question with one replayed round."""

    page_badge = BADGE
    page_notice = NOTICE

    def __init__(self) -> None:
        self._question: bytes | None = None
        self._warming: threading.Thread | None = None

    def warm_up(self) -> None:
        """Import the replay's heavy modules (google-genai takes seconds on a busy
        machine) in the background now, not while the first client waits for its answer."""
        if self._warming is None:
            self._warming = threading.Thread(
                target=_import_replay_modules, name="realtalk-demo-warm-up", daemon=True
            )
            self._warming.start()

    def _bundled_question(self) -> bytes:
        if self._question is None:
            from .main import BUNDLED_QUESTION, _data_file
            from .session import input_audio
            from .wavfile import read_wav

            pcm, _ = read_wav(_data_file(BUNDLED_QUESTION), INPUT_SAMPLE_RATE)
            self._question = input_audio(pcm)
        return self._question

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        thread_id = str(config.get("thread_id") or "offline-demo")
        self.warm_up()
        rounds: asyncio.Queue[_Round | None] = asyncio.Queue()
        router = asyncio.create_task(self._route(queue, rounds))
        yield SessionStartedEvent(thread_id=thread_id)
        try:
            while (current := await rounds.get()) is not None:
                async for event in self._replay(current, thread_id):
                    yield event
                if current.failed:
                    break
        finally:
            router.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await router
        yield SessionEndedEvent()

    async def _route(self, queue: Any, rounds: asyncio.Queue[_Round | None]) -> None:
        """Client input -> rounds: speech or text starts one, its end closes it."""
        current: _Round | None = None
        async for item in queue:
            if current is not None and current.finished:
                current = None
            if isinstance(item, AudioInput):
                if current is None:
                    if _rms(item.data) < SPEECH_RMS:
                        continue  # an open microphone in a quiet room asks nothing
                    current = _Round()
                    rounds.put_nowait(current)
                current.audio(item)
            elif isinstance(item, TextInput):
                if current is None or current.ended:  # typed: a question, even mid-answer
                    current = _Round()
                    rounds.put_nowait(current)
                    current.question(self._bundled_question())
            elif isinstance(item, AudioStreamEnd) and current is not None:
                current.end()  # the microphone stopped: the user's turn is over
        if current is not None:
            current.end()
        rounds.put_nowait(None)

    async def _replay(self, current: _Round, thread_id: str) -> AsyncIterator[Any]:
        """One round: the demo's cassette on a fresh fake server, through the real plugin."""
        from .cassettes import inspect_cassette
        from .main import BUNDLED_CASSETTE, _data_file
        from .session import OFFLINE_API_KEY, build_app

        try:
            from realtalk_testing import FakeGeminiServer
        except ImportError as exc:
            yield ErrorEvent(
                code="offline_demo_unavailable",
                message=f"the offline demo needs realtalk-testing and realtalk-gemini: {exc}",
                fatal=True,
            )
            current.failed = True
            return
        cassette = _data_file(BUNDLED_CASSETTE)
        model = inspect_cassette(cassette).model or "gemini"
        async with FakeGeminiServer(cassette, strict=False) as server:
            options = {"api_key": OFFLINE_API_KEY, "http_options": server.http_options}
            app = build_app(model, options, None)
            spoke = rotating = False
            try:
                async for event in app.arealtime(current.queue, {"thread_id": thread_id}):
                    if event.type in ("session_started", "session_ended"):
                        continue  # one client session spans many rounds
                    yield event
                    if event.type == "error" and event.fatal:
                        current.failed = True
                    elif event.type in ("audio_delta", "output_transcript"):
                        spoke = True
                    elif event.type == "go_away":
                        rotating = True
                    elif event.type == "reconnected":
                        rotating = False
                    elif event.type == "turn_complete" and spoke and not rotating:
                        current.end()
                        current.queue.close()  # the recorded answer is complete
            finally:
                current.end()
                current.queue.close()
                current.finished = True
                await app.aclose()


OFFLINE_DEMO = OfflineDemoApp()
OFFLINE_DEMO.warm_up()  # imported by ``realtalk api`` as it starts: warm up meanwhile
"""What ``realtalk api`` serves with no key and no config (its ``OFFLINE_DEMO_SPEC``)."""

__all__ = ["BADGE", "NOTICE", "OFFLINE_DEMO", "OfflineDemoApp"]
