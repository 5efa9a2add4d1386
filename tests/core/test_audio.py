"""PCM16 validation and the streaming resampler (no clicks at chunk edges)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soxr

from realtalk.audio import (
    SUPPORTED_SAMPLE_RATES,
    StreamResampler,
    pcm16_bytes,
    pcm16_seconds,
    resample_pcm16,
    validate_pcm16,
)

AMPLITUDE = 10_000
FREQ = 440.0


def sine(rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (AMPLITUDE * np.sin(2 * np.pi * FREQ * t)).astype("<i2")


def stream_in_chunks(resampler: StreamResampler, pcm: bytes, chunk_ms: int = 20) -> bytes:
    step = resampler.in_rate * chunk_ms // 1000 * 2
    parts = [resampler.process(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    return b"".join(parts) + resampler.flush()


def test_valid_audio_passes() -> None:
    validate_pcm16(b"\x00\x01" * 160, 16000)
    validate_pcm16(b"", 48000)
    validate_pcm16(bytearray(4), 44100)


def test_odd_byte_count_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"even number of bytes.*got 3"):
        validate_pcm16(b"abc", 16000)


def test_non_bytes_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="PCM16 bytes, got str"):
        validate_pcm16("abcd", 16000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got ndarray"):
        validate_pcm16(np.zeros(4, dtype=np.int16), 16000)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [0, -16000, 1234, 100_000, 16000.0, True, "16000"])
def test_unsupported_rate_is_a_clear_error(rate: object) -> None:
    with pytest.raises(ValueError, match=r"sample rate|sample_rate"):
        validate_pcm16(b"\x00\x00", rate)  # type: ignore[arg-type]


def test_typical_rates_are_supported() -> None:
    assert {8000, 16000, 22050, 24000, 44100, 48000, 96000} <= SUPPORTED_SAMPLE_RATES
    for rate in SUPPORTED_SAMPLE_RATES:
        validate_pcm16(b"\x00\x00", rate)


def test_durations() -> None:
    assert pcm16_seconds(32000, 16000) == 1.0
    assert pcm16_seconds(960, 24000) == 0.02
    assert pcm16_bytes(0.02, 16000) == 640
    with pytest.raises(ValueError):
        pcm16_seconds(10, 0)


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(48000, 16000), (44100, 16000), (16000, 24000), (24000, 16000)]
)
def test_chunked_stream_equals_one_shot_and_has_no_clicks(in_rate: int, out_rate: int) -> None:
    signal = sine(in_rate)
    out = np.frombuffer(
        stream_in_chunks(StreamResampler(in_rate, out_rate), signal.tobytes()), "<i2"
    )
    one_shot = soxr.resample(signal, in_rate, out_rate)

    assert len(out) == len(one_shot) == out_rate
    # Same samples as resampling the whole signal at once (rounding only).
    assert np.abs(out.astype(float) - one_shot.astype(float)).max() <= 4
    # No discontinuity: a sine's steepest step is A*2*pi*f/rate; a click would exceed it.
    # (The first and last 10 ms ring because the test signal itself starts and stops.)
    margin = out_rate // 100
    steepest = AMPLITUDE * 2 * math.pi * FREQ / out_rate
    assert np.abs(np.diff(out[margin:-margin].astype(float))).max() <= steepest * 1.02 + 4


def test_restarting_the_filter_per_chunk_would_click() -> None:
    """The check above can fail: chunk-by-chunk one-shot resampling breaks it."""
    signal = sine(48000)
    step = 960
    naive = np.concatenate(
        [soxr.resample(signal[i : i + step], 48000, 16000) for i in range(0, len(signal), step)]
    )
    steepest = AMPLITUDE * 2 * math.pi * FREQ / 16000
    assert np.abs(np.diff(naive[160:-160].astype(float))).max() > steepest * 1.5


def test_uneven_chunks_and_tiny_chunks() -> None:
    signal = sine(44100, 0.5).tobytes()
    resampler = StreamResampler(44100, 16000)
    sizes = [2, 6, 882, 4410, 2, 1000, 3528]
    parts, pos, k = [], 0, 0
    while pos < len(signal):
        size = sizes[k % len(sizes)]
        parts.append(resampler.process(signal[pos : pos + size]))
        pos += size
        k += 1
    out = np.frombuffer(b"".join(parts) + resampler.flush(), "<i2")
    one_shot = np.frombuffer(resample_pcm16(signal, 44100, 16000), "<i2")
    assert len(out) == len(one_shot) == 8000
    assert np.abs(out.astype(float) - one_shot.astype(float)).max() <= 4


def test_flush_resets_for_a_new_stream() -> None:
    signal = sine(48000, 0.2).tobytes()
    resampler = StreamResampler(48000, 16000)
    first = np.frombuffer(stream_in_chunks(resampler, signal), "<i2").astype(float)
    second = np.frombuffer(stream_in_chunks(resampler, signal), "<i2").astype(float)
    assert len(first) == len(second) == 3200
    assert np.abs(first - second).max() <= 2  # soxr dithers int16 output
    assert resampler.flush() == b""


def test_equal_rates_pass_through() -> None:
    resampler = StreamResampler(16000, 16000)
    assert resampler.passthrough
    assert resampler.process(b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
    assert resampler.flush() == b""


def test_resampler_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unsupported sample rate 1000"):
        StreamResampler(1000, 16000)
    resampler = StreamResampler(48000, 16000)
    with pytest.raises(ValueError, match="even number"):
        resampler.process(b"\x00\x00\x00")
    # The stream is still usable after a rejected chunk.
    assert len(stream_in_chunks(resampler, sine(48000, 0.1).tobytes())) == 1600 * 2
