"""Upstream throughput of one bridge process: N sessions each push M 20 ms PCM16 frames.

Run: ``uv run python -m tests.bridge.bench_upstream 50 500``. Client and server share one
event loop (one core), so the figure is a lower bound for the server alone. Not collected
by pytest (the name does not start with ``test_``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from realtalk.bridge import BridgeConfig, create_app
from realtalk.events import SessionEndedEvent, SessionStartedEvent, TurnCompleteEvent
from tests.bridge._support import connect, live_url, recv_json, serve


class SinkApp:
    """Consumes input; answers a text turn so the client knows everything arrived."""

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        yield SessionStartedEvent(thread_id=config["thread_id"])
        async for item in queue:
            if item.kind == "text":
                yield TurnCompleteEvent()
        yield SessionEndedEvent()


async def client(addr: str, frames: int) -> None:
    async with connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        chunk = b"\x00\x01" * 320  # 20 ms at 16 kHz
        for _ in range(frames):
            await ws.send(chunk)
        await ws.send('{"type": "text", "text": "done"}')
        await recv_json(ws)


async def main(sessions: int, frames: int) -> None:
    limits = {
        "max_input_bytes_per_second": 10**9,
        "max_frames_per_second": 10**6,
        "max_sessions": 10_000,
    }
    config = BridgeConfig.model_validate({"limits": limits})
    async with serve(create_app(config, app=SinkApp())) as addr:
        start = time.perf_counter()
        await asyncio.gather(*(client(addr, frames) for _ in range(sessions)))
        elapsed = time.perf_counter() - start
    total = sessions * frames
    print(
        f"{sessions} sessions x {frames} frames in {elapsed:.2f} s: {total / elapsed:,.0f} "
        f"frames/s = {total * 0.02 / elapsed:,.0f} s of 16 kHz audio per second"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
