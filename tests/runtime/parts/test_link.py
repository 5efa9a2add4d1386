"""Link: the current connection's generation rules and the supervisor's signal."""

from __future__ import annotations

import asyncio

import pytest

from realtalk.provider import DisconnectKind, ProviderDisconnected
from realtalk.runtime.clock import ManualClock
from realtalk.runtime.link import Link, SendLock, as_disconnect

DROP = ProviderDisconnected(DisconnectKind.TRANSIENT, reason="reset")


async def test_news_about_an_old_connection_is_ignored() -> None:
    link = Link()
    old = link.next_generation()
    new = link.next_generation()
    link.note_disconnect(old, DROP)
    link.rotate(old)
    assert not link.disconnected(old) and not link.disconnected(new)
    link.note_disconnect(new, DROP)
    assert link.disconnected(new)
    assert await link.serve(new) == "disconnected"
    assert link.take_disconnect() is DROP


async def test_the_first_disconnect_wins_and_finish_beats_everything() -> None:
    link = Link()
    gen = link.next_generation()
    first = ProviderDisconnected(DisconnectKind.ROTATION)
    link.note_disconnect(gen, first)
    link.note_disconnect(gen, DROP)
    assert link.take_disconnect() is first
    link.rotate(gen)
    link.request_finish("closed")
    link.request_finish("error")
    assert link.finish_reason == "closed"
    assert await link.serve(gen) == "finish"


async def test_serve_waits_for_a_rotation_of_its_own_generation() -> None:
    link = Link()
    gen = link.next_generation()
    served = asyncio.ensure_future(link.serve(gen))
    await asyncio.sleep(0)
    assert not served.done()
    link.rotate(gen)
    assert await served == "rotate"
    assert link.next_generation() == gen + 1  # a new generation forgets the rotation
    assert link.go_away_gen is None


async def test_wait_or_finish_sleeps_on_the_clock_or_stops_at_the_finish() -> None:
    link = Link()
    clock = ManualClock()
    slept = asyncio.ensure_future(link.wait_or_finish(clock, 2.0))
    await clock.wait_for_sleepers()
    await clock.advance(2.0)
    assert await slept is True
    waiting = asyncio.ensure_future(link.wait_or_finish(clock, 5.0))
    await clock.wait_for_sleepers()
    link.request_finish("closed")
    assert await waiting is False
    assert clock.pending == 0


def test_unclassified_send_failures_are_transient() -> None:
    exc = as_disconnect(OSError("broken pipe"))
    assert exc.kind is DisconnectKind.TRANSIENT and "broken pipe" in exc.reason
    assert as_disconnect(DROP) is DROP


async def test_the_send_lock_serves_senders_in_arrival_order() -> None:
    lock = SendLock()
    order: list[str] = []
    assert lock.try_acquire() and lock.locked()
    assert not lock.try_acquire()  # held: the fast path refuses

    async def sender(name: str) -> None:
        async with lock:
            order.append(name)
            await asyncio.sleep(0)  # hold it across a suspension, as a send does

    tasks = [asyncio.create_task(sender(n)) for n in "abc"]
    await asyncio.sleep(0)  # all three wait now
    lock.release()
    assert lock.locked()  # handed to "a", not freed
    assert not lock.try_acquire()  # a newcomer cannot overtake the waiters
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]
    assert not lock.locked() and lock.try_acquire()


async def test_a_sender_cancelled_while_waiting_or_just_as_it_got_the_lock_passes_it_on() -> None:
    lock = SendLock()
    await lock.acquire()
    got: list[str] = []

    async def sender(name: str) -> None:
        async with lock:
            got.append(name)

    waiting = asyncio.create_task(sender("cancelled while waiting"))
    handed = asyncio.create_task(sender("cancelled as it got it"))
    last = asyncio.create_task(sender("last"))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    lock.release()  # goes to "handed", which is cancelled before it runs
    handed.cancel()
    results = await asyncio.gather(waiting, handed, last, return_exceptions=True)
    assert [type(r) for r in results[:2]] == [asyncio.CancelledError] * 2
    assert got == ["last"]
    assert not lock.locked()


def test_releasing_a_free_send_lock_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not held"):
        SendLock().release()
