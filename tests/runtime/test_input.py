"""Section 3.2 (session side): audio is resampled to the provider's rate, bad input is a
clear error that never crashes the session, and queue overflow is reported."""

from __future__ import annotations

from collections.abc import AsyncIterator

from realtalk import LiveInputQueue, RealtimeConfig, VADConfig
from realtalk.inputs import AudioInput, InputItem, TextInput
from realtalk_testing import FakeProvider, emit, expect

from ._support import MODEL, app_for, collect, of_type, pcm

CONFIG = {"thread_id": "t"}


async def test_audio_at_another_rate_is_resampled_to_the_provider_rate() -> None:
    fake = FakeProvider([expect.audio(min_seconds=0.45), emit.turn_complete(), expect.close()])
    queue = LiveInputQueue()
    for _ in range(5):
        queue.send_audio(pcm(0.1, 48000), sample_rate=48000)
    await collect(app_for(fake), queue, CONFIG, close_on="turn_complete")
    record = fake.connections[0]
    assert {i.sample_rate for i in record.items if isinstance(i, AudioInput)} == {16000}
    # the resampler's tail is flushed when input ends: exactly 0.5 s arrives in total
    assert record.audio_bytes == 8000 * 2  # 0.5 s at 16 kHz
    fake.assert_done()


async def test_audio_is_upsampled_for_a_provider_that_wants_24k() -> None:
    fake = FakeProvider(
        [expect.audio(min_seconds=0.09), emit.turn_complete(), expect.close()],
        capabilities={"input_sample_rate": 24000},
    )
    queue = LiveInputQueue()
    queue.send_audio(pcm(0.1, 16000))
    await collect(app_for(fake), queue, CONFIG, close_on="turn_complete")
    assert fake.connections[0].audio_sample_rate == 24000
    fake.assert_done()


class ListQueue:
    """A custom input source (anything ``async for`` can read) with a bad chunk in it."""

    def __init__(self, items: list[object]) -> None:
        self.items = items

    async def __aiter__(self) -> AsyncIterator[InputItem]:
        for item in self.items:
            yield item  # type: ignore[misc]


async def test_malformed_audio_is_a_clear_error_not_a_crash() -> None:
    fake = FakeProvider(
        [expect.text("after the bad chunk"), emit.turn_complete(), expect.close()], strict=True
    )
    queue = ListQueue(
        [
            AudioInput(data=b"\x01\x02\x03", sample_rate=16000),
            AudioInput(data=b"\0\0", sample_rate=12345),
            TextInput("after the bad chunk"),
        ]
    )
    events = await collect(app_for(fake), queue, CONFIG)  # type: ignore[arg-type]
    errors = of_type(events, "error")
    assert [e.code for e in errors] == ["invalid_audio", "invalid_audio"]
    assert "even number of bytes" in errors[0].message and "12345" in errors[1].message
    assert not any(e.fatal for e in errors)
    assert of_type(events, "session_ended")[0].reason == "closed"
    fake.assert_done()


async def test_queue_overflow_is_reported_as_dropped_input() -> None:
    fake = FakeProvider([expect.audio(), emit.turn_complete(), expect.close()])
    queue = LiveInputQueue(maxsize=2)
    chunk = pcm(0.02)
    for _ in range(5):
        queue.send_audio(chunk)
    events = await collect(app_for(fake), queue, CONFIG, close_on="turn_complete")
    dropped = of_type(events, "input_dropped")
    assert len(dropped) == 1 and dropped[0].audio_chunks == 3
    assert dropped[0].audio_bytes == 3 * len(chunk) and "queue full" in dropped[0].reason
    fake.assert_done()


async def test_input_the_provider_cannot_take_is_refused_with_an_error() -> None:
    fake = FakeProvider(
        [expect.text("fine"), emit.turn_complete(), expect.close()],
        capabilities={"images": False},
        strict=True,
    )
    queue = LiveInputQueue()
    queue.send_image(b"\xff\xd8jpeg")
    queue.send_activity_start()  # server VAD is on: manual activity makes no sense
    queue.send_text("fine")
    events = await collect(app_for(fake), queue, CONFIG, close_on="turn_complete")
    errors = of_type(events, "error")
    assert [e.code for e in errors] == ["unsupported_input", "unsupported_input"]
    assert "images" in errors[0].message and "VADConfig(enabled=False)" in errors[1].message
    fake.assert_done()


async def test_push_to_talk_flows_when_vad_is_off() -> None:
    fake = FakeProvider(
        [
            expect.activity_start(),
            expect.audio(),
            expect.activity_end(),
            *emit.speech("heard you").steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )
    queue = LiveInputQueue()
    queue.send_activity_start()
    queue.send_audio(pcm(0.1))
    queue.send_activity_end()
    queue.close()  # the reply to the finished push-to-talk turn still arrives
    app = app_for(fake, config=RealtimeConfig(model=MODEL, vad=VADConfig(enabled=False)))
    events = await collect(app, queue, CONFIG)
    assert [e.text for e in of_type(events, "output_transcript") if e.finished] == ["heard you"]
    fake.assert_done()


async def test_a_change_of_input_rate_mid_stream_keeps_every_sample() -> None:
    fake = FakeProvider([expect.audio(min_seconds=0.3), expect.close()])
    queue = LiveInputQueue()
    queue.send_audio(pcm(0.1, 48000), sample_rate=48000)
    queue.send_audio(pcm(0.1, 16000), sample_rate=16000)  # passthrough, after 48k's tail
    queue.send_audio(pcm(0.1, 24000), sample_rate=24000)
    queue.close()  # nothing awaits a reply: the session sends everything, then ends
    await collect(app_for(fake), queue, CONFIG)
    assert fake.connections[0].audio_bytes == 3 * 1600 * 2  # 3 x 0.1 s at 16 kHz
    fake.assert_done()


async def test_chunked_resampling_matches_resampling_the_whole_stream() -> None:
    """Streaming and stateful: chunk edges add nothing (no clicks), the tail is kept."""
    import numpy as np

    from realtalk.audio import resample_pcm16

    whole = pcm(0.5, 48000)
    expected = np.frombuffer(resample_pcm16(whole, 48000, 16000), "<i2").astype(int)
    fake = FakeProvider([expect.audio(min_bytes=2 * len(expected)), expect.close()])
    queue = LiveInputQueue()
    step = 2 * 1441  # chunks of an odd number of samples that align with nothing
    for offset in range(0, len(whole), step):
        queue.send_audio(whole[offset : offset + step], sample_rate=48000)
    queue.close()
    await collect(app_for(fake), queue, CONFIG)
    sent = b"".join(i.data for i in fake.connections[0].items if isinstance(i, AudioInput))
    got = np.frombuffer(sent, "<i2").astype(int)
    assert len(got) == len(expected)
    assert np.abs(got - expected).max() <= 2  # rounding only: no discontinuity at edges
    fake.assert_done()
