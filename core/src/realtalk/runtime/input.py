"""Input on its way to the provider, sans I/O: rate adaptation and the offline buffer.

`AudioAdapter` turns queued audio at any supported rate into audio at the
provider's rate, with one streaming resampler per input rate so chunk edges do not click;
a change of input rate ends the previous stream (its filter tail goes out first).
`InputBuffer` holds input while no connection is up: bounded by seconds of audio,
dropping the oldest audio first, never a control item, and counting what it dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from ..audio import StreamResampler, pcm16_bytes, validate_pcm16
from ..inputs import ActivityEnd, AudioInput, InputItem, TextInput


class AudioAdapter:
    """Resamples a session's input audio to ``target_rate`` (stateful, streaming)."""

    def __init__(self, target_rate: int, *, validated_input: bool = False) -> None:
        self.target_rate = target_rate
        self.validated_input = validated_input
        """True when every item was validated already (a `LiveInputQueue` checks each
        chunk in ``send_audio``): the check is not repeated per chunk."""
        self._resamplers: dict[int, StreamResampler] = {}

    def adapt(self, item: AudioInput) -> AudioInput | None:
        """``item`` at the target rate (None while the filter still holds it all back).

        Raises ValueError for malformed audio (odd byte count, unsupported rate).
        """
        if not self.validated_input:
            validate_pcm16(item.data, item.sample_rate)
        resamplers = self._resamplers
        if not resamplers and item.sample_rate == self.target_rate:
            return item  # the provider's rate and no stream to end first: as it is
        resampler = resamplers.get(item.sample_rate)
        data = b"" if resampler is not None else self.flush_bytes()
        if item.sample_rate == self.target_rate:
            if not data:
                return item
            data += item.data
        else:
            if resampler is None:
                resampler = StreamResampler(item.sample_rate, self.target_rate)
                self._resamplers[item.sample_rate] = resampler
            data += resampler.process(item.data)
        return AudioInput(data=data, sample_rate=self.target_rate) if data else None

    def flush_bytes(self) -> bytes:
        """The audio the resamplers still hold (the end of a stream); forgets them."""
        tail = b"".join(r.flush() for r in self._resamplers.values())
        self._resamplers.clear()
        return tail

    def flush(self) -> AudioInput | None:
        """The end of the input stream as one last chunk, if anything was held back."""
        tail = self.flush_bytes()
        return AudioInput(data=tail, sample_rate=self.target_rate) if tail else None


class InputBuffer:
    """Input kept for the next connection, in order.

    At most ``seconds`` of audio at ``rate`` is kept; when more arrives the oldest audio
    is dropped and counted (see `take_drops()`). Control items are never dropped.
    """

    def __init__(self, seconds: float, rate: int) -> None:
        self.limit = pcm16_bytes(seconds, rate)
        self._items: deque[InputItem] = deque()
        self._audio_bytes = 0
        self._dropped_chunks = 0
        self._dropped_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[InputItem]:
        return iter(self._items)

    @property
    def audio_bytes(self) -> int:
        return self._audio_bytes

    def append(self, item: InputItem) -> None:
        self._items.append(item)
        if not isinstance(item, AudioInput):
            return
        self._audio_bytes += len(item.data)
        while self._audio_bytes > self.limit:
            oldest = next((i for i in self._items if isinstance(i, AudioInput)), None)
            if oldest is None:
                break
            self._items.remove(oldest)
            self._audio_bytes -= len(oldest.data)
            self._dropped_chunks += 1
            self._dropped_bytes += len(oldest.data)

    def peek(self) -> InputItem:
        return self._items[0]

    def popleft(self) -> InputItem:
        item = self._items.popleft()
        if isinstance(item, AudioInput):
            self._audio_bytes -= len(item.data)
        return item

    def ends_a_turn(self) -> bool:
        """Whether a buffered item asks for a reply (typed text, end of push-to-talk)."""
        return any(isinstance(i, TextInput | ActivityEnd) for i in self._items)

    def take_drops(self) -> tuple[int, int]:
        """(chunks, bytes) of audio dropped since the last call."""
        drops = (self._dropped_chunks, self._dropped_bytes)
        self._dropped_chunks = self._dropped_bytes = 0
        return drops


__all__ = ["AudioAdapter", "InputBuffer"]
