"""LiveInputQueue: thread safety, bounded drop-oldest-audio, closing, async consumption.

No test waits on the wall clock: threads meet at barriers and events, the consumer is
woken by the queue itself (``wait_for`` timeouts only stop a broken test from hanging).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

import pytest

from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    InputItem,
    TextInput,
)
from realtalk.queue import LiveInputQueue

PRODUCERS = 4


def chunk(producer: int, seq: int) -> bytes:
    """A recognisable 20-byte audio chunk: (producer, seq) encoded in the samples."""
    return bytes([producer, 0]) + seq.to_bytes(4, "little") + bytes(14)


def decode(item: AudioInput) -> tuple[int, int]:
    return item.data[0], int.from_bytes(item.data[2:6], "little")


def drain(queue: LiveInputQueue) -> list[InputItem]:
    items: list[InputItem] = []
    while True:
        try:
            item = queue.get_nowait()
        except asyncio.QueueEmpty:
            return items
        if item is None:
            return items
        items.append(item)


def run_producers(target: object, count: int = PRODUCERS) -> None:
    barrier = threading.Barrier(count)

    def body(producer: int) -> None:
        barrier.wait()
        target(producer)  # type: ignore[operator]

    threads = [threading.Thread(target=body, args=(p,)) for p in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ---------------------------------------------------------------- basic behaviour


def test_items_are_input_dataclasses_in_order() -> None:
    queue = LiveInputQueue()
    queue.send_audio(b"\x01\x00\x02\x00")
    queue.send_audio(b"\x00\x00", sample_rate=48000)
    queue.send_text("hello")
    queue.send_image(b"\xff\xd8jpeg")
    queue.send_image(b"\x89PNG", mime_type="image/png")
    queue.send_activity_start()
    queue.send_activity_end()
    queue.send_audio_stream_end()
    queue.close()
    assert drain(queue) == [
        AudioInput(b"\x01\x00\x02\x00", 16000),
        AudioInput(b"\x00\x00", 48000),
        TextInput("hello"),
        ImageInput(b"\xff\xd8jpeg", "image/jpeg"),
        ImageInput(b"\x89PNG", "image/png"),
        ActivityStart(),
        ActivityEnd(),
        AudioStreamEnd(),
    ]
    assert queue.exhausted


def test_audio_bytes_are_copied_so_callers_may_reuse_buffers() -> None:
    queue = LiveInputQueue()
    buffer = bytearray(b"\x01\x02\x03\x04")
    queue.send_audio(buffer)  # type: ignore[arg-type]
    buffer[:] = b"\x00\x00\x00\x00"
    item = queue.get_nowait()
    assert isinstance(item, AudioInput) and item.data == b"\x01\x02\x03\x04"
    assert type(item.data) is bytes


@pytest.mark.parametrize(
    ("data", "rate", "message"),
    [
        (b"\x00\x00\x00", 16000, "even number of bytes"),
        ("text", 16000, "PCM16 bytes, got str"),
        (b"\x00\x00", 12345, "unsupported sample rate"),
        (b"\x00\x00", 0, "unsupported sample rate"),
    ],
)
def test_malformed_audio_raises_and_queues_nothing(data: bytes, rate: int, message: str) -> None:
    queue = LiveInputQueue()
    with pytest.raises(ValueError, match=message):
        queue.send_audio(data, rate)
    assert queue.qsize() == 0


def test_bad_text_and_images_raise_clear_errors() -> None:
    queue = LiveInputQueue()
    with pytest.raises(ValueError, match="image/jpeg' or 'image/png"):
        queue.send_image(b"GIF89a", mime_type="image/gif")
    with pytest.raises(ValueError, match="must be bytes"):
        queue.send_image("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        queue.send_image(b"")
    with pytest.raises(ValueError, match="must be a str"):
        queue.send_text(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        queue.send_text("")
    with pytest.raises(ValueError, match="positive int"):
        LiveInputQueue(maxsize=0)
    assert queue.qsize() == 0


def test_mime_type_is_normalised() -> None:
    queue = LiveInputQueue()
    queue.send_image(b"x", mime_type="IMAGE/PNG")
    assert queue.get_nowait() == ImageInput(b"x", "image/png")


def test_send_accepts_ready_items_and_validates_them() -> None:
    queue = LiveInputQueue()
    queue.send(TextInput("hi"))
    queue.send(ActivityStart())
    with pytest.raises(ValueError, match="even number"):
        queue.send(AudioInput(b"\x00", 16000))
    with pytest.raises(ValueError, match="not an input item"):
        queue.send("hi")  # type: ignore[arg-type]
    assert drain(queue) == [TextInput("hi"), ActivityStart()]


def test_close_is_idempotent_and_later_sends_are_dropped_and_counted() -> None:
    queue = LiveInputQueue()
    queue.send_text("before")
    queue.close()
    queue.close()
    queue.send_audio(b"\x00\x00")
    queue.send_text("after")
    queue.send_activity_end()
    assert queue.closed and not queue.exhausted
    assert queue.dropped_after_close == 3
    assert queue.dropped_audio_chunks == 0
    assert queue.get_nowait() == TextInput("before")
    assert queue.get_nowait() is None
    assert queue.exhausted
    # Malformed input is still an error after close: a bug is not hidden by timing.
    with pytest.raises(ValueError):
        queue.send_audio(b"\x00")


def test_get_nowait_on_an_open_empty_queue_raises_queue_empty() -> None:
    with pytest.raises(asyncio.QueueEmpty):
        LiveInputQueue().get_nowait()


# ---------------------------------------------------------------- bounded queue


def test_full_queue_drops_the_oldest_audio_and_counts_exactly() -> None:
    queue = LiveInputQueue(maxsize=5)
    queue.send_audio(b"\x01\x00")  # oldest audio
    queue.send_text("keep me")
    queue.send_audio(b"\x02\x00" * 2)
    queue.send_activity_start()
    queue.send_audio(b"\x03\x00" * 3)
    queue.send_audio(b"\x04\x00" * 4)  # full: drops chunk 1 (2 bytes)
    queue.send_audio(b"\x05\x00" * 5)  # drops chunk 2 (4 bytes)
    assert queue.dropped_audio_chunks == 2
    assert queue.dropped_audio_bytes == 6
    assert drain(queue) == [
        TextInput("keep me"),
        ActivityStart(),
        AudioInput(b"\x03\x00" * 3, 16000),
        AudioInput(b"\x04\x00" * 4, 16000),
        AudioInput(b"\x05\x00" * 5, 16000),
    ]


def test_control_items_are_never_dropped_even_past_capacity() -> None:
    queue = LiveInputQueue(maxsize=3)
    queue.send_audio(b"\x01\x00")
    queue.send_audio(b"\x02\x00")
    queue.send_audio(b"\x03\x00")
    for n in range(5):
        queue.send_text(f"t{n}")  # evicts the three audio chunks, then grows past maxsize
    queue.send_image(b"img")
    queue.send_activity_start()
    queue.send_activity_end()
    queue.send_audio_stream_end()
    queue.send_audio(b"\x04\x00")  # no audio left to evict: the incoming chunk is dropped
    queue.close()
    assert queue.qsize() == 9
    assert queue.dropped_audio_chunks == 4 and queue.dropped_audio_bytes == 8
    assert [item.kind for item in drain(queue)] == [
        *["text"] * 5,
        "image",
        "activity_start",
        "activity_end",
        "audio_stream_end",
    ]


def test_four_producers_below_capacity_lose_nothing_and_keep_order() -> None:
    per_producer = 300
    queue = LiveInputQueue(maxsize=PRODUCERS * per_producer * 2)

    def produce(producer: int) -> None:
        for seq in range(per_producer):
            queue.send_audio(chunk(producer, seq))
            if seq % 50 == 0:
                queue.send_text(f"{producer}:{seq}")

    run_producers(produce)
    queue.close()
    items = drain(queue)
    audio: dict[int, list[int]] = defaultdict(list)
    texts: dict[int, list[int]] = defaultdict(list)
    for item in items:
        if isinstance(item, AudioInput):
            producer, seq = decode(item)
            audio[producer].append(seq)
        else:
            assert isinstance(item, TextInput)
            producer, seq = map(int, item.text.split(":"))
            texts[producer].append(seq)
    for producer in range(PRODUCERS):
        assert audio[producer] == list(range(per_producer))
        assert texts[producer] == list(range(0, per_producer, 50))
    assert queue.dropped_audio_chunks == queue.dropped_audio_bytes == 0


def test_four_producers_beyond_capacity_drop_only_the_oldest_audio() -> None:
    per_producer, texts_each, maxsize = 500, 10, 100
    queue = LiveInputQueue(maxsize=maxsize)

    def produce(producer: int) -> None:
        for seq in range(per_producer):
            queue.send_audio(chunk(producer, seq))
            if seq % (per_producer // texts_each) == 0:
                queue.send_text(f"{producer}:{seq}")

    run_producers(produce)
    queue.close()
    items = drain(queue)

    controls = [item for item in items if not isinstance(item, AudioInput)]
    survivors = [decode(item) for item in items if isinstance(item, AudioInput)]
    assert len(controls) == PRODUCERS * texts_each  # every control item survived
    assert len(items) == maxsize
    sent_audio = PRODUCERS * per_producer
    assert queue.dropped_audio_chunks == sent_audio - len(survivors)
    assert queue.dropped_audio_bytes == 20 * queue.dropped_audio_chunks
    for producer in range(PRODUCERS):
        seqs = [seq for p, seq in survivors if p == producer]
        # Only the oldest audio goes: what survives of each producer is its newest chunks.
        assert seqs == list(range(per_producer - len(seqs), per_producer))


# ---------------------------------------------------------------- async consumer


async def test_async_iteration_ends_after_close_once_drained() -> None:
    queue = LiveInputQueue()
    queue.send_text("a")
    queue.send_text("b")
    queue.close()
    assert [item async for item in queue] == [TextInput("a"), TextInput("b")]
    assert await queue.get() is None


def test_sends_before_the_consumer_loop_exists_are_delivered() -> None:
    queue = LiveInputQueue()
    queue.send_text("early")
    queue.send_audio(b"\x00\x00")

    async def consume() -> list[InputItem]:
        queue.close()
        return [item async for item in queue]

    assert asyncio.run(consume()) == [TextInput("early"), AudioInput(b"\x00\x00", 16000)]


async def test_waiting_consumer_is_woken_by_a_foreign_thread() -> None:
    queue = LiveInputQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # let the getter register (a loop turn, not a wall-clock wait)
    assert len(queue._waiters) == 1 and not getter.done()

    thread = threading.Thread(target=queue.send_text, args=("from a thread",))
    thread.start()
    assert await asyncio.wait_for(getter, 10) == TextInput("from a thread")
    thread.join()


async def test_waiting_consumer_is_woken_by_close_from_a_foreign_thread() -> None:
    queue = LiveInputQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    threading.Thread(target=queue.close).start()
    assert await asyncio.wait_for(getter, 10) is None


async def test_consumer_streams_while_four_threads_produce() -> None:
    per_producer = 250
    queue = LiveInputQueue(maxsize=PRODUCERS * per_producer)
    consumer_waiting = threading.Event()

    async def consume() -> list[InputItem]:
        received = []
        async for item in queue:
            received.append(item)
        return received

    def produce(producer: int) -> None:
        consumer_waiting.wait(10)
        for seq in range(per_producer):
            queue.send_audio(chunk(producer, seq))

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    consumer_waiting.set()
    await asyncio.to_thread(run_producers, produce)
    queue.close()
    received = await asyncio.wait_for(task, 10)

    by_producer: dict[int, list[int]] = defaultdict(list)
    for item in received:
        assert isinstance(item, AudioInput)
        producer, seq = decode(item)
        by_producer[producer].append(seq)
    assert {p: by_producer[p] for p in range(PRODUCERS)} == {
        p: list(range(per_producer)) for p in range(PRODUCERS)
    }


async def test_a_cancelled_get_loses_nothing() -> None:
    queue = LiveInputQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert queue._waiters == []
    queue.send_text("still here")
    assert await queue.get() == TextInput("still here")


def test_a_consumer_on_a_new_loop_after_the_old_one_closed() -> None:
    queue = LiveInputQueue()

    async def first() -> None:
        getter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        getter.cancel()

    asyncio.run(first())
    queue.send_text("for the second loop")  # a stale waiter of a closed loop must not break this

    async def second() -> InputItem | None:
        return await queue.get()

    assert asyncio.run(second()) == TextInput("for the second loop")


def test_stereo_audio_is_downmixed_to_mono_when_channels_says_so() -> None:
    import numpy as np

    from realtalk.inputs import AudioInput

    left = np.array([1000, -2000, 3000, 32767], dtype="<i2")
    right = np.array([3000, -4000, 3001, 32767], dtype="<i2")
    stereo = np.stack([left, right], axis=1).reshape(-1).tobytes()
    queue = LiveInputQueue()
    queue.send_audio(stereo, 48000, channels=2)
    item = queue.get_nowait()
    assert isinstance(item, AudioInput) and item.sample_rate == 48000
    # Half the bytes (one channel), the average of both: not stereo read as mono.
    assert np.frombuffer(item.data, dtype="<i2").tolist() == [2000, -3000, 3000, 32767]


def test_a_bad_channel_count_or_a_cut_frame_is_refused() -> None:
    queue = LiveInputQueue()
    with pytest.raises(ValueError, match="channels must be from 1 to 8, got 0"):
        queue.send_audio(b"\x00\x00", channels=0)
    with pytest.raises(ValueError, match="whole number of 4-byte frames, got 6 bytes"):
        queue.send_audio(b"\x00" * 6, channels=2)
    assert queue.qsize() == 0
