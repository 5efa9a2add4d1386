"""OutputStream: the bounded stream a session's consumer reads."""

from __future__ import annotations

import asyncio

import pytest

from realtalk.events import AudioDeltaEvent, TurnCompleteEvent
from realtalk.runtime.output import OutputStream


def audio(i: int) -> AudioDeltaEvent:
    return AudioDeltaEvent(data=i.to_bytes(2, "little"), sample_rate=24000)


async def test_events_come_out_in_order_then_the_end() -> None:
    out = OutputStream(limit=4)
    out.push(audio(1))
    out.push(TurnCompleteEvent())
    out.end()
    out.push(audio(2))  # after the end: never seen
    assert out.next_ready() == audio(1)
    assert out.next_ready() == TurnCompleteEvent()
    with pytest.raises(StopAsyncIteration):
        out.next_ready()
    with pytest.raises(StopAsyncIteration):
        out.next_ready()  # the end stays the end


async def test_a_waiting_consumer_is_woken_by_a_push() -> None:
    out = OutputStream()
    waiter = asyncio.ensure_future(out.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    out.push(audio(1))
    await waiter
    assert out.next_ready() == audio(1)
    assert out.next_ready() is None


async def test_waiting_when_an_event_is_ready_returns_at_once() -> None:
    out = OutputStream()
    out.push(audio(1))
    await asyncio.wait_for(out.wait(), timeout=1)  # done already: no push needed
    assert out.next_ready() == audio(1)


async def test_a_consumer_cancelled_while_waiting_leaves_the_stream_usable() -> None:
    out = OutputStream()
    consumer = asyncio.create_task(asyncio.wait_for(out.wait(), timeout=None))
    await asyncio.sleep(0)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    out.push(audio(1))  # the cancelled waiter is skipped, nothing raises
    await out.wait()
    assert out.next_ready() == audio(1)
    waiter = out.wait()
    out.push(audio(2))
    await waiter
    assert out.next_ready() == audio(2)


async def test_push_never_blocks_but_the_reader_waits_for_room_until_half_is_taken() -> None:
    out = OutputStream(limit=4)
    for i in range(6):  # producers other than the provider may push past the limit
        out.push(audio(i))
    assert out.full and len(out) == 6
    room = asyncio.ensure_future(out.wait_room())
    await asyncio.sleep(0)
    for i in range(3):
        assert out.next_ready() == audio(i)
        await asyncio.sleep(0)
        assert not room.done(), f"woke with {len(out)} waiting"
    assert out.next_ready() == audio(3)  # 2 left: at half the limit
    await room


async def test_wait_room_returns_at_once_when_not_full() -> None:
    out = OutputStream(limit=2)
    out.push(audio(1))
    await out.wait_room()


def test_an_unbounded_stream_is_never_full_and_a_bad_limit_is_refused() -> None:
    out = OutputStream(limit=None)
    for i in range(10_000):
        out.push(audio(i % 100))
    assert not out.full
    with pytest.raises(ValueError, match="at least 1"):
        OutputStream(limit=0)


async def test_the_sink_takes_events_only_while_the_consumer_waits_on_an_empty_stream() -> None:
    out = OutputStream()
    taken: list[object] = []
    out.sink = lambda event: isinstance(event, AudioDeltaEvent) and not taken.append(event)
    out.push(audio(1))  # nobody waits: queued, not offered
    assert taken == []
    assert out.next_ready() == audio(1)
    waiter = out.wait()  # the consumer waits on an empty stream now
    out.push(audio(2))  # taken by the sink: not queued, the consumer not woken
    assert taken == [audio(2)] and len(out) == 0 and not waiter.done()
    out.push(TurnCompleteEvent())  # declined: queued, and the consumer woken
    assert waiter.done()
    out.push(audio(3))  # something queued before it: queued behind, in order
    assert taken == [audio(2)]
    assert out.next_ready() == TurnCompleteEvent()
    assert out.next_ready() == audio(3)


async def test_a_failing_sink_is_dropped_and_its_event_still_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = OutputStream()

    def broken(event: object) -> bool:
        raise RuntimeError("boom")

    out.sink = broken
    out.wait()
    out.push(audio(1))
    assert out.sink is None
    assert out.next_ready() == audio(1)
    assert "the event sink failed" in caplog.text


async def test_the_end_is_never_offered_to_the_sink() -> None:
    out = OutputStream()
    offered: list[object] = []
    out.sink = lambda event: offered.append(event) or True
    out.wait()
    out.end()
    assert offered == []
    with pytest.raises(StopAsyncIteration):
        out.next_ready()


async def test_every_wait_reuses_one_object_where_that_is_cheaper() -> None:
    from realtalk.runtime.wakeup import REUSABLE

    out = OutputStream()
    waits = []
    for i in range(3):
        waiter = out.wait()
        waits.append(waiter)
        out.push(audio(i))
        await waiter
        assert out.next_ready() == audio(i)
    distinct = len({id(w) for w in waits})
    assert distinct == (1 if REUSABLE else 3)  # one Wakeup on 3.12+, a future per wait on 3.11
