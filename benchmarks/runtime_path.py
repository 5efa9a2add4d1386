"""CPU per event of realtalk's runtime path, without sockets or the SDK's parse.

The network benchmark (``overhead.py``) measures realtalk end to end against raw
google-genai, where the SDK's own per-message parse and the machine's noise dwarf the
runtime's part. This one isolates that part: a scripted in-process provider delivers
model audio events one per loop wakeup (a future resolved by ``call_soon``, as a socket
read would), and the user's ``async for`` over ``app.arealtime(...)`` receives them. The
baseline is the same provider stream read directly (``async for`` over its events):
what any client pays to receive one event. The difference is the runtime's cost per
event: the receive task, the hand-off to the user's task and the event generator.

``uv run python benchmarks/runtime_path.py`` (full) or ``--quick`` (CI).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import _harness as h

CHUNK = bytes(4800)  # 100 ms of 24 kHz PCM16


class _Connection:
    """A provider connection that streams ``count`` audio events, then a turn end."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.closed = asyncio.Event()

    async def events(self) -> AsyncIterator[Any]:
        from realtalk.events import AudioDeltaEvent, TurnCompleteEvent

        loop = asyncio.get_running_loop()
        event = AudioDeltaEvent(data=CHUNK, sample_rate=24000)
        for _ in range(self.count):
            arrived = loop.create_future()
            loop.call_soon(arrived.set_result, None)
            await arrived  # one loop wakeup per event, as a socket read
            yield event
        yield TurnCompleteEvent()
        await self.closed.wait()

    async def send(self, item: Any) -> None:
        pass

    async def send_tool_result(self, *args: Any) -> None:
        pass

    async def close(self) -> None:
        self.closed.set()


class _Provider:
    name = "runtime-path-bench"

    def __init__(self, count: int) -> None:
        from realtalk.provider import ProviderCapabilities

        self.capabilities = ProviderCapabilities()
        self.count = count

    async def connect(self, setup: Any) -> _Connection:
        return _Connection(self.count)


async def bare(count: int) -> float:
    """Microseconds of CPU per event reading the provider stream directly."""
    from realtalk.events import AudioDeltaEvent

    conn = _Connection(count)
    got = 0
    cpu0 = time.process_time()
    async for event in conn.events():
        if type(event) is AudioDeltaEvent:
            got += 1
        else:
            break
    return (time.process_time() - cpu0) / got * 1e6


async def runtime(count: int) -> float:
    """Microseconds of CPU per event through ``arealtime`` (session start/end excluded)."""
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
    from realtalk.events import AudioDeltaEvent, TurnCompleteEvent

    config = RealtimeConfig(model="bench", session_resumption=False)
    app = AudioAgent("bench", realtime_config=config, provider=_Provider(count)).compile()
    queue = LiveInputQueue()
    got = 0
    cpu0 = cpu1 = 0.0
    async for event in app.arealtime(queue, {"thread_id": "bench"}):
        if type(event) is AudioDeltaEvent:
            if got == 0:
                cpu0 = time.process_time()  # from the first audio event on
            got += 1
        elif type(event) is TurnCompleteEvent:
            cpu1 = time.process_time()
            queue.close()
    return (cpu1 - cpu0) / (got - 1) * 1e6


async def main(quick: bool) -> None:
    h.header("runtime path: CPU per event, provider stream -> user's async for", quick)
    count = 2_000 if quick else 50_000
    runs = 2 if quick else 5
    measures = {"bare": lambda: bare(count), "realtalk": lambda: runtime(count)}
    results = await h.alternating(runs, measures, "us_per_event")
    b, r = h.median(results["bare"]), h.median(results["realtalk"])
    print(f"\n## medians of {runs} alternating runs ({count} events each)")
    h.row("us per event", bare=b, realtalk=r, runtime_cost=r - b)
    h.row("ratio realtalk/bare", cpu=h.ratio(r, b))
    print("\ndone")


if __name__ == "__main__":
    args = h.parser(__doc__ or "").parse_args()
    asyncio.run(main(args.quick))
