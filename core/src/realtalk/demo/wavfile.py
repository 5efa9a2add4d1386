"""WAV files in and out of the demo, at any rate and channel count.

The demo accepts whatever WAV a user has (44.1 kHz stereo from a phone, 8-bit, 24-bit)
and hands the session PCM16 mono at the rate it needs; the answer can be written at any
rate and channel count. Only the standard library reads and writes the files; resampling
uses `realtalk.audio`. Anything that is not a PCM WAV file is refused with an error
that says what to do, never a traceback.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio import SUPPORTED_SAMPLE_RATES, resample_pcm16


class AudioFileError(ValueError):
    """A file could not be used as audio (not a WAV, unsupported encoding, empty)."""


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file held before conversion."""

    path: Path
    sample_rate: int
    channels: int
    sample_width: int
    seconds: float


def _to_int16_mono(raw: bytes, width: int, channels: int) -> Any:
    import numpy as np

    samples: Any  # integer samples, then (several channels) their float mean
    if width == 1:  # unsigned 8-bit
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif width == 3:  # packed 24-bit little-endian: keep the top 16 bits
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        high = bytes3[:, 2].astype(np.int8).astype(np.int32) << 8
        samples = bytes3[:, 1].astype(np.int32) | high
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.int64) >> 16
    else:
        raise AudioFileError(f"unsupported sample width of {width} bytes")
    if channels > 1:
        usable = len(samples) - len(samples) % channels
        samples = samples[:usable].reshape(-1, channels).mean(axis=1)
    return np.clip(samples, -32768, 32767).astype("<i2")


def _resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    if in_rate == out_rate or not pcm:
        return pcm
    if in_rate in SUPPORTED_SAMPLE_RATES and out_rate in SUPPORTED_SAMPLE_RATES:
        return resample_pcm16(pcm, in_rate, out_rate)
    import numpy as np
    import soxr

    samples = np.frombuffer(pcm, dtype="<i2")
    return bytes(soxr.resample(samples, in_rate, out_rate).astype("<i2").tobytes())


def read_wav(path: str | Path, sample_rate: int) -> tuple[bytes, WavInfo]:
    """PCM16 mono audio at ``sample_rate`` from any PCM WAV file, and what the file held."""
    file = Path(path)
    if not file.is_file():
        raise AudioFileError(f"{file}: no such file")
    try:
        with wave.open(str(file), "rb") as wav:
            rate, channels = wav.getframerate(), wav.getnchannels()
            width, frames = wav.getsampwidth(), wav.getnframes()
            raw = wav.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(
            f"{file} is not a PCM WAV file ({exc}); convert it first, e.g. "
            f"`sox {file.name} -b 16 question.wav` or `ffmpeg -i {file.name} question.wav`"
        ) from None
    if rate <= 0 or channels <= 0:
        raise AudioFileError(f"{file}: invalid WAV header ({rate} Hz, {channels} channels)")
    if frames == 0 or not raw:
        raise AudioFileError(f"{file} holds no audio")
    mono = _to_int16_mono(raw, width, channels).tobytes()
    info = WavInfo(file, rate, channels, width, frames / rate)
    return _resample(mono, rate, sample_rate), info


def write_wav(
    path: str | Path,
    pcm: bytes,
    sample_rate: int,
    *,
    out_rate: int | None = None,
    channels: int = 1,
) -> Path:
    """Write PCM16 mono ``pcm`` at ``sample_rate`` as a WAV at ``out_rate`` with ``channels``."""
    if channels < 1:
        raise AudioFileError(f"channels must be at least 1, got {channels}")
    rate = out_rate or sample_rate
    data = _resample(pcm, sample_rate, rate)
    if channels > 1:
        import numpy as np

        data = np.repeat(np.frombuffer(data, dtype="<i2"), channels).tobytes()
    file = Path(path)
    if file.parent and not file.parent.exists():
        raise AudioFileError(f"cannot write {file}: the folder {file.parent} does not exist")
    with wave.open(str(file), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data)
    return file


def check_writable(path: str | Path, option: str = "--output") -> Path:
    """Refuse, before any work, a WAV path that cannot be written: a directory, a missing
    or non-folder parent, or a place without write permission."""
    import os

    file = Path(path)
    parent = file.parent if str(file.parent) else Path(".")
    if file.is_dir():
        raise AudioFileError(
            f"{option} {file}: is a directory; name a file, e.g. {file / 'out.wav'}"
        )
    if not parent.exists():
        raise AudioFileError(f"{option} {file}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise AudioFileError(f"{option} {file}: {parent} is not a folder")
    if file.exists() and not os.access(file, os.W_OK):
        raise AudioFileError(f"{option} {file}: the file is not writable")
    if not file.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise AudioFileError(
            f"{option} {file}: cannot create files in {parent} (permission denied)"
        )
    return file


__all__ = ["AudioFileError", "WavInfo", "check_writable", "read_wav", "write_wav"]
