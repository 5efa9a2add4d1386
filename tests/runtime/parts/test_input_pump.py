"""InputPump: the queue's input reaches the provider, or waits (bounded) for it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from realtalk import LiveInputQueue
from realtalk.inputs import AudioInput, InputItem, TextInput
from realtalk.provider import ProviderCapabilities
from realtalk.runtime.input_pump import DIRECT_TRIAL, EAGER_TASKS, InputPump

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


needs_eager = pytest.mark.skipif(
    not EAGER_TASKS, reason="direct sends need eager tasks (Python 3.12+)"
)


class GatedConnection(RecordingConnection):
    """Its sends wait for ``gate`` while ``hold`` is set: a socket that must drain."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.hold = False

    async def send(self, item: InputItem) -> None:
        if self.hold:
            await self.gate.wait()
        await super().send(item)


def chunk(n: int) -> bytes:
    return bytes([n, 0]) * 160


async def parked(
    conn: RecordingConnection | None,
) -> tuple[LiveInputQueue, InputPump, asyncio.Task[None]]:
    """A pump running on a fresh queue (over ``conn``, if any), waiting on it."""
    parts = Parts()
    if conn is not None:
        parts.attach(conn)
    queue = LiveInputQueue()
    pump = parts.pump(queue, CAPS)
    task = asyncio.create_task(pump.run())
    for _ in range(3):  # the pump reaches its wait on the empty queue
        await asyncio.sleep(0)
    assert queue._waiters
    return queue, pump, task


@needs_eager
async def test_a_chunk_sent_while_the_pump_waits_goes_out_inside_send_audio() -> None:
    conn = RecordingConnection()
    queue, _, task = await parked(conn)
    queue.send_audio(chunk(1), 16000)
    assert [i.data for i in conn.sent] == [chunk(1)]  # no loop turn in between
    queue.close()
    await task
    assert queue._sink is None  # the queue is free for another session


@needs_eager
async def test_a_send_that_must_wait_keeps_the_order_of_everything_after_it() -> None:
    conn = GatedConnection()
    queue, pump, task = await parked(conn)
    conn.hold = True
    queue.send_audio(chunk(1), 16000)  # starts directly, then waits on the socket
    assert pump.in_flight() and not conn.sent
    queue.send_audio(chunk(2), 16000)  # the lock is held: queued for the pump
    queue.send_text("after the audio")
    conn.hold = False
    conn.gate.set()
    queue.close()
    await task
    assert [(i.kind, getattr(i, "data", None)) for i in conn.sent] == [
        ("audio", chunk(1)),
        ("audio", chunk(2)),
        ("text", None),
    ]
    assert not pump.in_flight()


async def test_without_a_connection_chunks_wait_in_the_buffer_in_order() -> None:
    queue, pump, task = await parked(None)
    queue.send_audio(chunk(1), 16000)
    queue.send_audio(chunk(2), 16000)
    queue.close()
    await task
    assert [i.data for i in pump.buffer] == [chunk(1), chunk(2)]  # type: ignore[attr-defined]


class StuckConnection(RecordingConnection):
    """A connection whose every send waits forever (a socket that never drains)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = 0
        self.started = 0

    async def send(self, item: InputItem) -> None:
        self.started += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class RecordingProvider:
    """Hands every connect the same connection (a `RecordingConnection` by default)."""

    name = "recording"
    capabilities = CAPS

    def __init__(self, conn: RecordingConnection | None = None) -> None:
        self.conn = conn if conn is not None else RecordingConnection()
        self.connected = asyncio.Event()

    async def connect(self, setup: Any) -> RecordingConnection:
        self.connected.set()
        return self.conn


class StuckProvider(RecordingProvider):
    name = "stuck"

    def __init__(self) -> None:
        self.conn: StuckConnection = StuckConnection()
        super().__init__(self.conn)


def live_app(provider: RecordingProvider) -> Any:
    """An app on ``provider`` (no resumption: every connect starts fresh)."""
    from realtalk import AudioAgent, RealtimeConfig

    config = RealtimeConfig(model=provider.name, session_resumption=False)
    return AudioAgent(provider.name, realtime_config=config, provider=provider).compile()


@needs_eager
async def test_a_direct_send_still_waiting_at_the_end_of_a_session_is_cancelled() -> None:
    provider = StuckProvider()
    app = live_app(provider)
    queue = LiveInputQueue()
    async with contextlib.aclosing(app.arealtime(queue, {"thread_id": "t"})) as events:
        async for event in events:
            assert event.type == "session_started"
            await provider.connected.wait()
            for _ in range(5):  # the connection is attached and the pump waits on the queue
                await asyncio.sleep(0)
            queue.send_audio(chunk(1), 16000)  # starts at once and gets stuck in the socket
            assert provider.conn.started == 1
            break  # closing the stream ends the session
    assert provider.conn.cancelled == 1
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftover


@needs_eager
async def test_a_provider_whose_sends_always_wait_gets_its_chunks_from_the_pump_again() -> None:
    conn = YieldingConnection()
    queue, pump, task = await parked(conn)
    for n in range(DIRECT_TRIAL + 8):
        queue.send_audio(chunk(n), 16000)
        for _ in range(3):  # each send finishes and the pump waits again
            await asyncio.sleep(0)
    queue.close()
    await task
    assert [i.data for i in conn.sent] == [chunk(n) for n in range(DIRECT_TRIAL + 8)]
    assert pump._direct_sent == DIRECT_TRIAL  # then the pump took over


class YieldingConnection(RecordingConnection):
    """Yields to the loop once per send, as FakeProvider does."""

    async def send(self, item: InputItem) -> None:
        await super().send(item)
        await asyncio.sleep(0)


# -- on demand (Python 3.12+, a LiveInputQueue): no task parked on the queue ------------


async def on_demand(
    conn: RecordingConnection | None, queue: LiveInputQueue | None = None
) -> tuple[Parts, LiveInputQueue, InputPump]:
    """A pump started on demand, after its first loop turn (what was queued is taken)."""
    parts = Parts()
    if conn is not None:
        parts.attach(conn)
    queue = queue if queue is not None else LiveInputQueue()
    pump = parts.pump(queue, CAPS)
    assert pump.start()
    await asyncio.sleep(0)
    return parts, queue, pump


@needs_eager
async def test_on_demand_the_pump_waits_without_a_task_and_sends_inside_each_call() -> None:
    conn = RecordingConnection()
    parts, queue, pump = await on_demand(conn)
    assert pump.tasks() == [] and queue._waiters  # a doorbell waits, no task does
    queue.send_audio(chunk(1), 16000)  # the direct path
    queue.send_text("hi")  # not audio: rings, and the drain runs right here
    queue.send_audio(chunk(2), 16000)
    assert [i.kind for i in conn.sent] == ["audio", "text", "audio"]
    assert pump.tasks() == [] and queue._waiters and parts.turns.awaiting_reply
    history = await parts.store.history()
    assert [(m.role, m.text_content) for m in history] == [("user", "hi")]


@needs_eager
async def test_on_demand_what_was_queued_before_the_start_is_buffered_in_order() -> None:
    queue = LiveInputQueue()
    queue.send_audio(chunk(1), 16000)
    queue.send_text("typed early")
    parts = Parts()
    pump = parts.pump(queue, CAPS)
    assert pump.start()
    assert queue.qsize() == 2  # taken on the next loop turn, as a task started now would
    await asyncio.sleep(0)
    assert [i.kind for i in pump.buffer] == ["audio", "text"]
    assert pump.tasks() == [] and not queue.qsize()


@needs_eager
async def test_on_demand_audio_from_another_thread_goes_out_after_one_loop_turn() -> None:
    conn = RecordingConnection()
    _, queue, pump = await on_demand(conn)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, queue.send_audio, chunk(1), 16000)
    await loop.run_in_executor(None, queue.send_audio, chunk(2), 16000)
    queue.send_audio(chunk(3), 16000)  # this loop's own task, behind the thread's chunks
    for _ in range(3):
        await asyncio.sleep(0)
    assert [i.data for i in conn.sent] == [chunk(1), chunk(2), chunk(3)]
    assert pump.tasks() == []


@needs_eager
async def test_on_demand_a_drain_that_must_wait_keeps_the_order_then_parks_again() -> None:
    conn = GatedConnection()
    _, queue, pump = await on_demand(conn)
    conn.hold = True
    queue.send_text("first")  # rings; the drain waits on the socket
    assert len(pump.tasks()) == 1 and not conn.sent
    queue.send_audio(chunk(1), 16000)  # the drain is busy: queued behind the text
    conn.hold = False
    conn.gate.set()
    await asyncio.gather(*pump.tasks())
    assert [i.kind for i in conn.sent] == ["text", "audio"]
    assert pump.tasks() == [] and queue._waiters


@needs_eager
async def test_on_demand_the_end_of_the_queue_closes_input_and_flushes_the_resampler() -> None:
    conn = RecordingConnection()
    parts, queue, _ = await on_demand(conn)
    queue.send_audio(bytes(441 * 2), 44100)  # 10 ms at 44.1 kHz: the resampler holds some
    queue.close()
    assert parts.turns.input_closed and parts.closed_input == 1
    sent = sum(len(i.data) for i in conn.sent if isinstance(i, AudioInput))
    assert sent == 320  # 10 ms at 16 kHz, the tail included
    assert queue._sink is None and not queue._waiters  # the queue is free again


@needs_eager
async def test_on_demand_stop_lets_go_of_the_queue() -> None:
    conn = RecordingConnection()
    parts, queue, pump = await on_demand(conn)
    pump.stop()
    queue.send_text("too late")
    queue.send_audio(chunk(1), 16000)
    assert conn.sent == [] and queue.qsize() == 2 and pump.tasks() == []
    assert queue._sink is None and not queue._waiters and parts.turns.input_closed
    assert parts.closed_input == 0  # stopped by the session, not ended by the user


@needs_eager
async def test_on_demand_a_failing_step_reports_and_ends_input_not_the_session() -> None:
    conn = RecordingConnection()
    parts, queue, pump = await on_demand(conn)

    async def broken_store(messages: object) -> None:
        raise RuntimeError("disk full")

    parts.reporter.persist = broken_store  # type: ignore[method-assign]
    queue.send_text("hello")
    await asyncio.gather(*pump.tasks())
    errors = [e for e in parts.drain() if e.type == "error"]
    assert [e.code for e in errors] == ["input_error"] and "disk full" in errors[0].message
    assert parts.turns.input_closed and parts.closed_input == 1


def test_a_custom_queue_or_python_3_11_needs_the_pump_task() -> None:
    parts = Parts()
    assert not parts.pump(ListQueue(), CAPS).start()
    if not EAGER_TASKS:
        assert not parts.pump(LiveInputQueue(), CAPS).start()


@needs_eager
async def test_a_streaming_session_keeps_no_task_parked_on_its_input() -> None:
    provider = RecordingProvider()
    app = live_app(provider)
    queue = LiveInputQueue()
    queue.send_audio(chunk(0), 16000)  # before the connection: buffered, then flushed
    seen: list[str] = []
    async for event in app.arealtime(queue, {"thread_id": "t"}):
        seen.append(event.type)
        if event.type != "session_started":
            continue
        await provider.connected.wait()
        for _ in range(5):  # the connection is attached and the buffer flushed
            await asyncio.sleep(0)
        tasks = {t.get_name() for t in asyncio.all_tasks()}
        assert not [name for name in tasks if "input" in name], tasks
        queue.send_audio(chunk(1), 16000)  # goes out inside the call
        assert [i.data for i in provider.conn.sent] == [chunk(0), chunk(1)]  # type: ignore[attr-defined]
        queue.close()  # the end of input still ends the session
    assert seen[0] == "session_started" and seen[-1] == "session_ended"


class HistoryProvider(RecordingProvider):
    """Records the history each connection was seeded with."""

    def __init__(self) -> None:
        super().__init__()
        self.histories: list[list[tuple[str, str]]] = []

    async def connect(self, setup: Any) -> RecordingConnection:
        self.histories.append([(m.role, m.text_content) for m in setup.history])
        return await super().connect(setup)


async def test_text_typed_before_the_first_connection_is_sent_not_seeded_as_history() -> None:
    provider = HistoryProvider()
    app = live_app(provider)
    queue = LiveInputQueue()
    queue.send_text("typed before the connection")
    async for event in app.arealtime(queue, {"thread_id": "t"}):
        if event.type == "session_started":
            await provider.connected.wait()
            for _ in range(5):
                await asyncio.sleep(0)
            break
    assert provider.histories == [[]]  # a fresh thread: nothing to reseed
    assert [i.kind for i in provider.conn.sent] == ["text"]  # sent once, as input
