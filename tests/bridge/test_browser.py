"""Headless Chromium opens the bridge's page, streams a fake microphone (a WAV file) and
plays the reply of a FakeProvider agent; the test reads transcripts and audio from the page."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig, create_app
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.inputs import AudioInput
from realtalk_testing import FakeProvider, emit, expect

from ._cdp import chromium, write_tone
from ._support import serve

pytestmark = pytest.mark.usefixtures("needs_chromium")


async def test_browser_page_streams_the_microphone_and_plays_the_reply(tmp_path: Path) -> None:
    wav = tmp_path / "question.wav"
    write_tone(wav, 3.0)
    provider = FakeProvider(
        [
            [
                expect.audio(min_seconds=0.5),  # half a second of 16 kHz PCM16 from the page
                emit.input_transcript("hello from the browser"),
                emit.tool_call("c1", "weather", {"city": "Oslo"}),
                expect.tool_result("c1", result="sunny"),
                emit.speech("it is sunny in Oslo", seconds=1.5, chunks=15),
                emit.turn_complete(),
                # The user goes on talking; a second of it (real-time microphone audio, so
                # well after the first reply was read below) triggers a reply that the
                # user barges in on.
                expect.audio(min_seconds=1.0),
                emit.audio(seconds=1.0, chunks=5),
                emit.interrupted(),
                emit.turn_complete(),
                # Hanging up stops the microphone first: the provider may still answer
                # the last words, so the session waits for that turn before closing.
                expect.audio_stream_end(),
                emit.turn_complete(),
                expect.close(),
            ]
        ]
    )

    def weather(city: str) -> str:
        """Today's weather in a city."""
        return "sunny"

    checkpointer = InMemoryCheckpointer()
    app = AudioAgent("fake-live-model", provider=provider, tools=[weather]).compile(
        checkpointer=checkpointer
    )
    async with serve(create_app(BridgeConfig(), app=app)) as addr:
        async with chromium(wav, tmp_path / "profile") as page:
            await page.navigate(f"http://{addr}/")
            thread = await page.evaluate("realtalk.connect({threadId: 'browser-1'})")
            assert thread == "browser-1", page.console
            await page.evaluate("realtalk.startMic()")
            await page.evaluate("realtalk.until(e => e.type === 'turn_complete')")
            state = await page.evaluate("JSON.parse(JSON.stringify(realtalk.state))")
            queued = await page.evaluate("realtalk.playbackQueued()")
            await page.evaluate("realtalk.until(e => e.type === 'interrupted')")
            flushed = await page.evaluate("realtalk.playbackQueued()")
            interruptions = await page.evaluate("realtalk.state.interruptions")
            await page.evaluate("(realtalk.hangUp(), realtalk.waitFor(e => e.type === '__closed'))")
            closed = await page.evaluate("realtalk.state.closeCode")
            ended = await page.evaluate("realtalk.state.events.at(-1).type")
            shown = await page.evaluate("document.getElementById('transcript').innerText")
    assert state["threadId"] == "browser-1"
    assert state["sentAudioBytes"] >= 16000  # at least 0.5 s at 16 kHz PCM16
    assert state["sentAudioBytes"] % 640 == 0  # whole 20 ms chunks
    assert abs(state["receivedAudioSeconds"] - 1.5) < 1e-6
    assert state["receivedAudioBytes"] == 72000
    finals = [(t["role"], t["text"]) for t in state["transcripts"] if t["final"]]
    assert finals == [("user", "hello from the browser"), ("assistant", "it is sunny in Oslo")]
    assert state["toolCalls"][0].pop("ms") >= 0  # how long the tool ran, as the page saw it
    assert state["toolCalls"] == [
        {
            "id": "c1",
            "name": "weather",
            "args": {"city": "Oslo"},
            "done": True,
            "result": "sunny",
            "error": None,
        }
    ]
    assert "it is sunny in Oslo" in shown and "hello from the browser" in shown
    assert closed == 1000 and ended == "session_ended"  # a clean end, not a drain timeout
    assert queued["secondsAhead"] > 1.0  # the reply was scheduled gap-free ahead of time
    assert interruptions == 1 and flushed == {"sources": 0, "secondsAhead": 0}  # barge-in
    record = provider.connections[0]
    assert record.audio_sample_rate == 16000 and record.audio_bytes >= 16000
    pcm = b"".join(i.data for i in record.items if isinstance(i, AudioInput))
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    loudest = max(abs(s) for s in samples)
    loud = [x for x in samples if abs(x) > 0]
    crossings = sum(1 for a, b in itertools.pairwise(loud) if (a < 0) != (b < 0))
    hertz = crossings / 2 / (len(samples) / 16000)
    print(f"browser mic: loudest {loudest}, {len(pcm)} bytes, about {hertz:.0f} Hz")
    assert loudest > 1000 and 250 < hertz < 350  # the WAV's 300 Hz tone, downsampled
    provider.assert_done()
