"""Wakeup: the re-armable future a stream's one consumer waits on."""

from __future__ import annotations

import asyncio

import pytest

from realtalk.runtime.wakeup import Wakeup


async def test_a_task_waits_until_woken_and_the_same_object_serves_the_next_wait() -> None:
    wakeup = Wakeup()
    woken: list[int] = []

    async def consumer() -> None:
        for n in range(3):
            await wakeup.arm()
            woken.append(n)

    task = asyncio.create_task(consumer())
    for n in range(3):
        await asyncio.sleep(0)
        assert woken == list(range(n)) and wakeup.waiting
        wakeup.wake()
        wakeup.wake()  # a second wake of the same wait is nothing
    await task
    assert woken == [0, 1, 2] and not wakeup.waiting


async def test_armed_ready_it_returns_at_once_and_waking_an_idle_one_does_nothing() -> None:
    wakeup = Wakeup()
    wakeup.wake()  # nobody waits: no effect, nothing raised
    await wakeup.arm(ready=True)
    assert not wakeup.waiting


async def test_cancelling_the_waiting_task_raises_in_it_and_leaves_the_wakeup_reusable() -> None:
    wakeup = Wakeup()
    waiting = asyncio.create_task(_wait(wakeup))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not wakeup.waiting
    wakeup.wake()  # stale: nothing to resume
    again = asyncio.create_task(_wait(wakeup))
    await asyncio.sleep(0)
    wakeup.wake()
    assert await again == "woken"


async def _wait(wakeup: Wakeup) -> str:
    await wakeup.arm()
    return "woken"


async def test_a_timeout_around_the_wait_works_as_with_a_future() -> None:
    wakeup = Wakeup()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await wakeup.arm()
    waiting = asyncio.create_task(_wait(wakeup))
    await asyncio.sleep(0)
    wakeup.wake()
    assert await waiting == "woken"


async def test_an_exception_thrown_into_the_wait_resets_it() -> None:
    wakeup = Wakeup()

    async def waits_then_fails() -> None:
        await wakeup.arm()

    coro = waits_then_fails()
    assert coro.send(None) is wakeup  # parked on it, as a task would be
    with pytest.raises(KeyError):
        coro.throw(KeyError("boom"))
    assert not wakeup.waiting and not wakeup.done()


async def test_two_tasks_cannot_wait_on_one_wakeup() -> None:
    wakeup = Wakeup()
    first = asyncio.create_task(_wait(wakeup))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already has a task waiting"):
        wakeup.arm()
    wakeup.wake()
    assert await first == "woken"


def test_it_speaks_the_future_protocol_asyncio_checks() -> None:
    wakeup = Wakeup()
    assert asyncio.isfuture(wakeup)
    with pytest.raises(RuntimeError, match="bound to a loop"):
        wakeup.get_loop()
    with pytest.raises(asyncio.InvalidStateError):
        wakeup.result()
    assert not wakeup.cancel() and not wakeup.cancelled()
