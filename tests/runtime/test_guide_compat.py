"""Code written against the seed guide runs after changing only its import lines.

The guide's quick start names a Gemini model and passes no provider, so this test makes
the plugin registry answer that model with a scripted FakeProvider (the real Gemini
plugin is disabled for the test); everything below the imports then follows the guide's
quick start: compile once, WAV in as 100 ms chunks, iterate events, close the queue at
``turn_complete``, ``aclose`` in ``finally``.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# the only lines that differ from the guide are the realtalk imports
from realtalk import OUTPUT_SAMPLE_RATE, AudioAgent, LiveInputQueue, RealtimeConfig, plugins
from realtalk.hookspecs import ProviderRecord, hookimpl
from realtalk_testing import FakeProvider, emit, expect

from ._support import pcm

GUIDE_MODEL = "gemini-live-2.5-flash-preview"


class GuideModelPlugin:
    """Serves the guide's model name with a scripted fake."""

    def __init__(self, fake: FakeProvider) -> None:
        self.fake = fake

    @hookimpl
    def realtalk_register_providers(self, register: Callable[[ProviderRecord], None]) -> None:
        register(
            ProviderRecord(
                name="guide-fake",
                factory=lambda: self.fake,
                models=(GUIDE_MODEL,),
                capabilities=self.fake.capabilities,
            )
        )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeProvider]:
    fake = FakeProvider(
        [
            expect.connect(system_contains="concise voice assistant"),
            expect.audio(min_seconds=1.0),
            emit.input_transcript("What is the weather like?"),
            *emit.speech("It is sunny and warm.", chunks=4).steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )
    monkeypatch.setenv(plugins.DISABLE_ENV, "gemini")
    monkeypatch.chdir(tmp_path)
    plugins.reset_plugins()
    plugins.register_plugin(GuideModelPlugin(fake), "guide-fake")
    with wave.open("input.wav", "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(16000)
        wf.writeframes(pcm(1.0))
    try:
        yield fake
    finally:
        plugins.reset_plugins()


def test_the_guide_quick_start_runs_with_only_the_imports_changed(
    fake: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    MODEL = GUIDE_MODEL

    app = AudioAgent(
        MODEL,
        realtime_config=RealtimeConfig(
            model=MODEL,
            voice="Puck",
            system_instruction="You are a concise voice assistant.",
        ),
    ).compile()

    async def main() -> None:
        out = wave.open("out.wav", "wb")
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(OUTPUT_SAMPLE_RATE)

        with wave.open("input.wav", "rb") as wf:
            sample_rate = wf.getframerate()
            pcm = wf.readframes(wf.getnframes())

        queue = LiveInputQueue()

        chunk = (sample_rate // 10) * 2
        for offset in range(0, len(pcm), chunk):
            queue.send_audio(pcm[offset : offset + chunk], sample_rate=sample_rate)
            await asyncio.sleep(0.0)

        try:
            async for event in app.arealtime(queue, {"thread_id": "demo"}):
                if event.type == "audio_delta":
                    out.writeframes(event.data)
                elif event.type == "input_transcript" and event.finished:
                    print(f"you: {event.text}")
                elif event.type == "output_transcript" and event.finished:
                    print(f"agent: {event.text}")
                elif event.type == "turn_complete":
                    queue.close()
        finally:
            out.close()
            await app.aclose()

    asyncio.run(main())

    assert capsys.readouterr().out.splitlines() == [
        "you: What is the weather like?",
        "agent: It is sunny and warm.",
    ]
    with wave.open("out.wav", "rb") as wf:
        assert wf.getframerate() == OUTPUT_SAMPLE_RATE
        assert wf.getnframes() == round(0.2 * OUTPUT_SAMPLE_RATE)
    assert fake.connections[0].setup.config.voice == "Puck"
    fake.assert_done()
