"""Neutral input items: what flows from ``LiveInputQueue`` to a provider session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class AudioInput:
    """PCM16 little-endian mono audio at ``sample_rate`` Hz."""

    data: bytes
    sample_rate: int
    kind: Literal["audio"] = "audio"


@dataclass(frozen=True, slots=True)
class TextInput:
    """Typed text, sent as a user turn."""

    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImageInput:
    """A still image or one video frame (``image/jpeg`` or ``image/png``)."""

    data: bytes
    mime_type: str = "image/jpeg"
    kind: Literal["image"] = "image"


@dataclass(frozen=True, slots=True)
class ActivityStart:
    """Manual turn start (push to talk), only when server VAD is disabled."""

    kind: Literal["activity_start"] = "activity_start"


@dataclass(frozen=True, slots=True)
class ActivityEnd:
    """Manual turn end (push to talk), only when server VAD is disabled."""

    kind: Literal["activity_end"] = "activity_end"


@dataclass(frozen=True, slots=True)
class AudioStreamEnd:
    """The microphone stream paused or ended; lets server VAD flush the last utterance."""

    kind: Literal["audio_stream_end"] = "audio_stream_end"


InputItem = AudioInput | TextInput | ImageInput | ActivityStart | ActivityEnd | AudioStreamEnd
"""Everything a provider session accepts through ``ProviderSession.send``."""

CONTROL_KINDS = frozenset({"text", "image", "activity_start", "activity_end", "audio_stream_end"})
"""Item kinds a bounded queue must never drop (audio is the only droppable kind)."""
