"""InputPump: the queue's input reaches the provider, or waits (bounded) for it."""

from __future__ import annotations

import pytest

from realtalk import LiveInputQueue
from realtalk.inputs import AudioInput, TextInput
from realtalk.provider import ProviderCapabilities

from ._build import Parts, RecordingConnection

CAPS = ProviderCapabilities(input_sample_rate=16000)


async def test_input_without_a_connection_is_buffered_then_flushed_in_order() -> None:
    parts = Parts()
    queue = LiveInputQueue()
    queue.send_audio(bytes(3200), sample_rate=16000)
    queue.send_text("hello")
    queue.close()
    pump = parts.pump(queue, CAPS)
    await pump.run()
    assert len(pump.buffer) == 2 and parts.closed_input == 1
    assert parts.turns.input_closed and parts.turns.awaiting_reply
    conn = RecordingConnection()
    gen = parts.attach(conn)
    await pump.flush_to(conn, gen)
    assert [type(i) for i in conn.sent] == [AudioInput, TextInput]
    assert not pump.buffer
    history = await parts.store.history()
    assert [(m.role, m.text_content) for m in history] == [("user", "hello")]


async def test_a_send_failure_keeps_the_item_and_reports_the_connection_lost() -> None:
    parts = Parts()
    dead = RecordingConnection(fail_sends=True)
    gen = parts.attach(dead)
    pump = parts.pump(LiveInputQueue(), CAPS)
    await pump.send(TextInput(text="still here?"))
    assert parts.link.disconnected(gen)
    assert [i.kind for i in pump.buffer] == ["text"]


class ListQueue:
    """A custom input queue (anything ``async for`` reads): its items are unchecked."""

    def __init__(self, *items: object) -> None:
        self.items = list(items)

    def __aiter__(self) -> ListQueue:
        return self

    async def __anext__(self) -> object:
        if not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)


async def test_bad_audio_from_a_custom_queue_is_reported_and_the_rest_goes_on() -> None:
    parts = Parts()
    conn = RecordingConnection()
    parts.attach(conn)
    bad = AudioInput(data=b"\x00\x01\x02", sample_rate=16000)
    odd_rate = AudioInput(data=b"\x00\x01", sample_rate=12345)
    pump = parts.pump(ListQueue(bad, odd_rate, TextInput(text="after")), CAPS)
    await pump.run()
    assert [i.kind for i in conn.sent] == ["text"]
    errors = [e for e in parts.drain() if e.type == "error"]
    assert [e.code for e in errors] == ["invalid_audio", "invalid_audio"]
    assert "even number of bytes" in errors[0].message
    assert "unsupported sample rate 12345" in errors[1].message


async def test_a_live_input_queue_refuses_bad_audio_before_the_pump_sees_it() -> None:
    parts = Parts()
    conn = RecordingConnection()
    parts.attach(conn)
    queue = LiveInputQueue()
    pump = parts.pump(queue, CAPS)
    with pytest.raises(ValueError, match="even number of bytes"):
        queue.send_audio(b"\x00\x01\x02", 16000)
    queue.send_audio(b"\x00\x01" * 160, 16000)
    queue.close()
    await pump.run()
    assert [(i.kind, len(i.data)) for i in conn.sent] == [("audio", 320)]
    assert not [e for e in parts.drain() if e.type == "error"]


async def test_audio_lost_at_the_end_is_reported() -> None:
    parts = Parts()
    queue = LiveInputQueue()
    queue.send_audio(bytes(3200), sample_rate=16000)
    queue.close()
    pump = parts.pump(queue, CAPS)
    await pump.run()
    pump.report_unsent()
    dropped = [e for e in parts.drain() if e.type == "input_dropped"]
    assert dropped and dropped[0].audio_chunks == 1 and dropped[0].audio_bytes == 3200
