"""PCM16 audio helpers: validation, streaming resampling, durations.

Audio in realtalk is always PCM16 little-endian mono. Providers want one rate (Gemini:
16 kHz in, 24 kHz out) while microphones and files come at 44.1 or 48 kHz, so audio is
resampled on the way. Resampling chunk by chunk with a one-shot resampler would restart
the filter at every chunk edge and produce clicks; `StreamResampler` keeps the
filter state between chunks instead.

numpy and soxr load on first use of a resampler, keeping ``import realtalk`` cheap.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SAMPLE_WIDTH = 2
"""Bytes per PCM16 sample."""

SUPPORTED_SAMPLE_RATES = frozenset(
    {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000}
)
"""Sample rates (Hz) accepted for input and output audio."""


def validate_sample_rate(sample_rate: object) -> int:
    """Return ``sample_rate`` if it is one of `SUPPORTED_SAMPLE_RATES`, else raise."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise ValueError(
            f"sample_rate must be an int number of Hz, got {type(sample_rate).__name__} "
            f"{sample_rate!r}"
        )
    if sample_rate not in SUPPORTED_SAMPLE_RATES:
        rates = ", ".join(str(r) for r in sorted(SUPPORTED_SAMPLE_RATES))
        raise ValueError(f"unsupported sample rate {sample_rate} Hz: use one of {rates}")
    return sample_rate


def validate_pcm16(data: bytes, sample_rate: int) -> None:
    """Check that ``data`` is PCM16 mono audio at a supported ``sample_rate``.

    Raises ValueError naming the problem: not bytes, an odd number of bytes (a PCM16
    sample is two bytes, so half a sample means the buffer was cut or is not PCM16), or an
    unsupported rate. Empty audio is valid.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(
            f"audio must be PCM16 bytes, got {type(data).__name__}; "
            "convert numpy arrays with array.astype('<i2').tobytes()"
        )
    nbytes = data.nbytes if isinstance(data, memoryview) else len(data)
    if nbytes % SAMPLE_WIDTH:
        raise ValueError(
            f"PCM16 audio must have an even number of bytes (2 per sample), got {nbytes}"
        )
    validate_sample_rate(sample_rate)


MAX_CHANNELS = 8


def downmix_pcm16(data: bytes, channels: int) -> bytes:
    """Interleaved PCM16 with ``channels`` channels, averaged to mono.

    Raises ValueError for a channel count outside 1-8 or a buffer that is not a whole
    number of frames (``2 * channels`` bytes each). numpy loads only for more than one
    channel. Mono ``bytes`` of whole samples come back as they are (immutable: nothing
    to copy)."""
    if type(data) is bytes and type(channels) is int and channels == 1 and not len(data) % 2:
        return data  # the path of every microphone chunk
    if isinstance(channels, bool) or not isinstance(channels, int):
        raise ValueError(f"channels must be an int, got {type(channels).__name__}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"channels must be from 1 to {MAX_CHANNELS}, got {channels}")
    nbytes = data.nbytes if isinstance(data, memoryview) else len(data)
    frame = SAMPLE_WIDTH * channels
    if nbytes % frame:
        raise ValueError(
            f"{channels}-channel PCM16 audio must be a whole number of {frame}-byte frames, "
            f"got {nbytes} bytes"
        )
    if channels == 1:
        return bytes(data)
    import numpy as np

    frames = np.frombuffer(data, dtype="<i2").reshape(-1, channels).astype(np.int32)
    return bytes(frames.mean(axis=1).round().astype("<i2").tobytes())


def pcm16_seconds(nbytes: int, rate: int) -> float:
    """Duration in seconds of ``nbytes`` of PCM16 mono audio at ``rate`` Hz."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    return nbytes / (SAMPLE_WIDTH * rate)


def pcm16_bytes(seconds: float, rate: int) -> int:
    """Byte count (whole samples) of ``seconds`` of PCM16 mono audio at ``rate`` Hz."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    return int(seconds * rate) * SAMPLE_WIDTH


class StreamResampler:
    """Stateful PCM16 mono resampler for a continuous stream cut into chunks.

    ``process`` may return fewer (or more) samples than the ratio suggests for one chunk:
    the filter holds a few milliseconds back until more input arrives. ``flush`` returns
    that tail at the end of the stream and resets the resampler for a new stream. With
    equal rates audio passes through untouched. Calls are serialised by a lock, so a
    resampler may be fed from any thread (one stream at a time).
    """

    def __init__(self, in_rate: int, out_rate: int, *, quality: str = "HQ") -> None:
        self.in_rate = validate_sample_rate(in_rate)
        self.out_rate = validate_sample_rate(out_rate)
        self.quality = quality
        self._lock = threading.Lock()
        self._stream: Any = None  # soxr.ResampleStream, created on first use

    @property
    def passthrough(self) -> bool:
        """True when the rates are equal and audio is returned unchanged."""
        return self.in_rate == self.out_rate

    def _resampler(self) -> Any:
        if self._stream is None:
            import soxr

            self._stream = soxr.ResampleStream(
                self.in_rate, self.out_rate, 1, dtype="int16", quality=self.quality
            )
        return self._stream

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk of the stream (PCM16 bytes in, PCM16 bytes out)."""
        validate_pcm16(pcm, self.in_rate)
        if self.passthrough:
            return bytes(pcm)
        if not pcm:
            return b""
        samples = _as_int16(pcm)
        with self._lock:
            out = self._resampler().resample_chunk(samples)
        return bytes(out.astype("<i2", copy=False).tobytes())

    def flush(self) -> bytes:
        """Return the samples still held by the filter and reset for a new stream."""
        if self.passthrough:
            return b""
        import numpy as np

        with self._lock:
            if self._stream is None:
                return b""
            out = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
            self._stream = None
        return bytes(out.astype("<i2", copy=False).tobytes())


def _as_int16(pcm: bytes) -> np.ndarray[Any, Any]:
    import numpy as np

    return np.frombuffer(pcm, dtype="<i2").astype(np.int16, copy=False)


def resample_pcm16(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    """Resample one complete PCM16 buffer (not a chunk of a stream) in one go."""
    resampler = StreamResampler(in_rate, out_rate)
    return resampler.process(pcm) + resampler.flush()


__all__ = [
    "MAX_CHANNELS",
    "SAMPLE_WIDTH",
    "SUPPORTED_SAMPLE_RATES",
    "StreamResampler",
    "downmix_pcm16",
    "pcm16_bytes",
    "pcm16_seconds",
    "resample_pcm16",
    "validate_pcm16",
    "validate_sample_rate",
]
