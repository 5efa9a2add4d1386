"""Reconnect gap: how long a user hears nothing when a connection is rotated or dropped.

Against the real-time server (``_stream_server.py``) through the Gemini plugin and the
real SDK, with session resumption on:

* ``go_away``: the server ends a turn, sends ``goAway`` and keeps the socket open; the
  runtime rotates at the turn boundary. Gap = server sent goAway -> the user has the first
  audio chunk of the resumed connection.
* ``drop``: the server aborts the TCP connection mid-stream (no close frame); the runtime
  reconnects after ``base_delay`` (10 ms, no jitter). Gap = abort -> first resumed audio.

Meanwhile the user streams 16 kHz input every 100 ms; the server counts what arrived
across both connections, so ``input_lost_bytes`` = sent - received (must be 0).
Baseline: a fresh plain google-genai connect -> first audio on the same server (the
floor of any reconnect).

``uv run python benchmarks/reconnect.py`` (full) or ``--quick``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import _harness as h

MODEL = "gemini-live-2.5-flash-preview"
BASE_DELAY = 0.01
_RAW: dict[str, Any] = {}


async def raw_first_audio(http_options: dict[str, Any]) -> float:
    """Milliseconds from starting a fresh google-genai connect to its first audio."""
    from google import genai
    from google.genai import types

    client = _RAW.get(http_options["base_url"])
    if client is None:  # one client per server, as an idiomatic program keeps it
        client = _RAW[http_options["base_url"]] = genai.Client(
            api_key="bench", http_options=http_options
        )
    t0 = time.monotonic_ns()
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    first = 0
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        async for message in session.receive():
            content = message.server_content
            if content and content.model_turn and content.model_turn.parts:
                first = time.monotonic_ns()
                break
    return (first - t0) / 1e6


async def realtalk_gap(
    server: h.StreamServer, event: str, before: int, after: int
) -> dict[str, float]:
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
    from realtalk.events import AudioDeltaEvent, ReconnectedEvent, TurnCompleteEvent

    server.configure(
        chunks=before + 5,
        after_chunks=after,
        interval=h.CHUNK_SECONDS,
        handle=True,
        event=event,
        event_after=before,
    )
    config = RealtimeConfig(
        model=MODEL,
        reconnect=ReconnectConfig(base_delay=BASE_DELAY, max_delay=BASE_DELAY, jitter=0.0),
        provider_options={"api_key": "bench", "http_options": server.http_options},
    )
    app = AudioAgent(MODEL, realtime_config=config).compile()
    queue = LiveInputQueue()
    sent = 0

    async def sender() -> None:
        nonlocal sent
        while True:
            await asyncio.sleep(h.CHUNK_SECONDS)
            queue.send_audio(h.stamped(h.IN_CHUNK), h.IN_RATE)
            sent += h.IN_CHUNK

    task = asyncio.create_task(sender())
    reconnected = False
    first_after = 0
    audio = 0
    async for ev in app.arealtime(queue, {"thread_id": f"gap-{event}-{time.monotonic_ns()}"}):
        if isinstance(ev, ReconnectedEvent):
            reconnected = True
        elif isinstance(ev, AudioDeltaEvent):
            audio += 1
            if reconnected and not first_after:
                first_after = time.monotonic_ns()
        elif isinstance(ev, TurnCompleteEvent) and reconnected:
            task.cancel()
            queue.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await app.aclose()
    await asyncio.sleep(0.2)  # let the server read the last input frames
    stats = server.stats()
    mark = stats["marks"].get(event, 0)
    gap = (first_after - mark) / 1e6 if first_after and mark else float("nan")
    return {
        "gap_ms": gap,
        "beyond_backoff_ms": gap - (BASE_DELAY * 1000 if event == "drop" else 0.0),
        "input_lost_bytes": float(sent - stats["recv_bytes"]),
        "output_chunks": float(audio),
        "connections": float(stats["connections"]),
    }


async def main(quick: bool) -> None:
    h.header("reconnect gap", quick)
    runs = 2 if quick else 10
    before, after = (3, 3) if quick else (10, 10)
    with h.StreamServer() as server:
        server.configure(chunks=3, interval=h.CHUNK_SECONDS)
        await raw_first_audio(server.http_options)  # warm up
        base: list[float] = []
        results: dict[str, list[dict[str, float]]] = {"go_away": [], "drop": []}
        for run in range(runs):
            server.configure(chunks=3, interval=h.CHUNK_SECONDS)
            base.append(await raw_first_audio(server.http_options))
            server.stats()
            for event in results:
                r = await realtalk_gap(server, event, before, after)
                results[event].append(r)
                h.row(f"run {run + 1} {event}", **r)
        print(f"\n## medians of {runs} runs")
        floor = h.median(base)
        h.row("raw connect->first audio", ms=floor, p_max=max(base))
        for event, rs in results.items():
            gap = h.median([r["gap_ms"] for r in rs])
            h.row(
                event,
                gap_ms=gap,
                worst_gap_ms=max(r["gap_ms"] for r in rs),
                beyond_backoff_ms=h.median([r["beyond_backoff_ms"] for r in rs]),
                input_lost_bytes=int(sum(r["input_lost_bytes"] for r in rs)),
                ratio_to_raw_connect=h.ratio(gap, floor),
            )
    print("\ndone")


if __name__ == "__main__":
    args = h.parser(__doc__ or "").parse_args()
    asyncio.run(main(args.quick))
