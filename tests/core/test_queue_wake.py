"""A producer on the consumer's own loop wakes it without call_soon_threadsafe (no
self-pipe write per chunk); a producer on another thread still wakes it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from realtalk import LiveInputQueue


async def test_same_loop_producer_wakes_the_consumer_directly(monkeypatch: Any) -> None:
    loop = asyncio.get_running_loop()
    calls: list[Any] = []
    original = loop.call_soon_threadsafe

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", spy)
    queue = LiveInputQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)  # the consumer is now waiting
    queue.send_audio(b"\x00\x00" * 160)
    item = await asyncio.wait_for(getter, 5)
    assert item is not None and item.kind == "audio"
    assert calls == []


async def test_foreign_thread_producer_still_wakes_the_consumer() -> None:
    queue = LiveInputQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    thread = threading.Thread(target=queue.send_text, args=("hello",))
    thread.start()
    item = await asyncio.wait_for(getter, 5)
    thread.join()
    assert item is not None and item.kind == "text"
