"""The echo provider: the smallest thing that honours realtalk's provider contract.

A connection collects the audio it receives and, when the user's turn ends (an
``activity_end`` or ``audio_stream_end`` item), plays it back as model audio and ends the
turn. Typed text is answered with the same text (a text delta in TEXT mode, an
output transcript otherwise). ``close()`` ends the
event stream with ``ProviderDisconnected(CLOSED)``, which is how the runtime learns that a
connection ended normally.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from realtalk.events import (
    AudioDeltaEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    TextDeltaEvent,
    TurnCompleteEvent,
)
from realtalk.inputs import InputItem
from realtalk.provider import (
    DisconnectKind,
    ProviderCapabilities,
    ProviderDisconnected,
    SessionSetup,
)

RATE = 16000
CHUNK_BYTES = RATE // 10 * 2  # 100 ms of PCM16 mono

CAPABILITIES = ProviderCapabilities(
    input_sample_rate=RATE,
    output_sample_rate=RATE,
    audio_input=True,
    audio_output=True,
    text_output=True,
    images=False,
    resumption=False,
    manual_activity=True,
)


class EchoSession:
    """One echo connection."""

    def __init__(self, setup: SessionSetup) -> None:
        self._text_mode = setup.config.response_modality == "TEXT"
        self._audio = bytearray()
        self._events: asyncio.Queue[RealtimeEvent | None] = asyncio.Queue()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise ProviderDisconnected(DisconnectKind.CLOSED, reason="connection closed")

    async def send(self, item: InputItem) -> None:
        self._check_open()
        if item.kind == "audio":
            self._audio += item.data
        elif item.kind in ("activity_end", "audio_stream_end") and self._audio:
            audio, self._audio = bytes(self._audio), bytearray()
            for start in range(0, len(audio), CHUNK_BYTES):
                chunk = audio[start : start + CHUNK_BYTES]
                self._events.put_nowait(AudioDeltaEvent(data=chunk, sample_rate=RATE))
            self._events.put_nowait(TurnCompleteEvent())
        elif item.kind == "text":
            # Typed text is not speech: no input transcript. The answer is text in TEXT
            # mode, and the transcript of a (silent) spoken answer otherwise.
            if self._text_mode:
                self._events.put_nowait(TextDeltaEvent(text=item.text))
            else:
                self._events.put_nowait(OutputTranscriptEvent(text=item.text, finished=True))
            self._events.put_nowait(TurnCompleteEvent())
        # Images and activity_start need no answer from an echo.

    async def send_tool_result(
        self, call_id: str, name: str, result: Any, error: str | None = None
    ) -> None:
        self._check_open()  # the echo never calls tools, so there is nothing to answer

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                raise ProviderDisconnected(DisconnectKind.CLOSED, code=1000)
            yield event

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._events.put_nowait(None)


class EchoProvider:
    """Factory of echo connections."""

    name = "echo"
    capabilities = CAPABILITIES

    async def connect(self, setup: SessionSetup) -> EchoSession:
        return EchoSession(setup)
