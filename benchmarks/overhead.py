"""Overhead of realtalk (Gemini plugin + runtime) over a plain google-genai loop.

Both clients talk to the same real-time server (``_stream_server.py``, a child process)
that streams 100 ms chunks of 24 kHz audio every 100 ms while the client streams 100 ms
chunks of 16 kHz audio back. Runs alternate between the two clients in this one process,
so machine load hits both alike. Measured per chunk:

* receive: server hands the frame to its socket -> the user's ``async for`` has the audio;
* send: the user calls ``queue.send_audio`` (raw: ``send_realtime_input``) -> the server
  has decoded the frame;
* client CPU (``time.process_time``) per 30 s of audio, and at N concurrent receive-only
  sessions; burst decode (the server sends as fast as it can) in chunks per second.

Three clients: ``raw`` (the floor), ``realtalk`` (default settings: audio frames take the
plugin's wire fast path, ``realtalk_gemini.frames``) and ``realtalk_sdk_path`` (the same
with ``audio_fast_path=False``: every frame parsed by google-genai, as before the fast path).

``uv run python benchmarks/overhead.py`` (full) or ``--quick`` (CI, a few seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import _harness as h

MODEL = "gemini-live-2.5-flash-preview"


# --------------------------------------------------------------------------- raw SDK

_RAW_CLIENTS: dict[str, Any] = {}


def raw_client(http_options: dict[str, Any]) -> Any:
    """One client per server, as an idiomatic google-genai program (and realtalk) does."""
    from google import genai

    key = http_options["base_url"]
    if key not in _RAW_CLIENTS:
        _RAW_CLIENTS[key] = genai.Client(api_key="bench", http_options=http_options)
    return _RAW_CLIENTS[key]


async def raw_session(http_options: dict[str, Any], *, send: bool, lat: list[int]) -> int:
    """One plain google-genai session until the server's turnComplete; returns chunks."""
    from google.genai import types

    client = raw_client(http_options)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    chunks = 0
    async with client.aio.live.connect(model=MODEL, config=config) as session:

        async def sender() -> None:
            mime = f"audio/pcm;rate={h.IN_RATE}"
            while True:
                await asyncio.sleep(h.CHUNK_SECONDS)
                blob = types.Blob(data=h.stamped(h.IN_CHUNK), mime_type=mime)
                await session.send_realtime_input(audio=blob)

        task = asyncio.create_task(sender()) if send else None
        done = False
        while not done:
            async for message in session.receive():
                content = message.server_content
                if content is None:
                    continue
                if content.model_turn is not None and content.model_turn.parts:
                    for part in content.model_turn.parts:
                        blob = part.inline_data
                        if blob is not None and blob.data:
                            lat.append(time.monotonic_ns() - h.stamp_of(blob.data))
                            chunks += 1
                if content.turn_complete:
                    done = True
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return chunks


# --------------------------------------------------------------------------- realtalk

_APPS: dict[str, Any] = {}


def realtalk_app(http_options: dict[str, Any], *, fast: bool = True) -> Any:
    """One compiled app per server and path (an app serves any number of sessions)."""
    key = f"{http_options['base_url']} fast={fast}"
    if key not in _APPS:
        from realtalk import AudioAgent, RealtimeConfig

        options = {"api_key": "bench", "http_options": http_options, "audio_fast_path": fast}
        config = RealtimeConfig(model=MODEL, session_resumption=False, provider_options=options)
        _APPS[key] = AudioAgent(MODEL, realtime_config=config).compile()
    return _APPS[key]


async def realtalk_session(
    http_options: dict[str, Any],
    *,
    send: bool,
    lat: list[int],
    thread: str = "bench",
    fast: bool = True,
) -> int:
    """One realtalk session until the server's turn completes; returns chunks."""
    from realtalk import LiveInputQueue
    from realtalk.events import AudioDeltaEvent, TurnCompleteEvent

    app = realtalk_app(http_options, fast=fast)
    queue = LiveInputQueue()
    chunks = 0

    async def sender() -> None:
        while True:
            await asyncio.sleep(h.CHUNK_SECONDS)
            queue.send_audio(h.stamped(h.IN_CHUNK), h.IN_RATE)

    task = asyncio.create_task(sender()) if send else None
    async for event in app.arealtime(queue, {"thread_id": thread}):
        if isinstance(event, AudioDeltaEvent):
            lat.append(time.monotonic_ns() - h.stamp_of(event.data))
            chunks += 1
        elif isinstance(event, TurnCompleteEvent):
            if task is not None:
                task.cancel()
            queue.close()
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return chunks


async def realtalk_sdk_path_session(http_options: dict[str, Any], **kwargs: Any) -> int:
    """realtalk with ``audio_fast_path=False``: every frame through google-genai's models."""
    return await realtalk_session(http_options, fast=False, **kwargs)


Runner = Callable[..., Coroutine[Any, Any, int]]
CLIENTS: dict[str, Runner] = {
    "raw": raw_session,
    "realtalk": realtalk_session,
    "realtalk_sdk_path": realtalk_sdk_path_session,
}
VARIANTS = ("realtalk", "realtalk_sdk_path")


# --------------------------------------------------------------------------- experiments


async def single(server: h.StreamServer, name: str, chunks: int) -> dict[str, float]:
    server.configure(chunks=chunks, interval=h.CHUNK_SECONDS)
    lat: list[int] = []
    cpu0 = h.cpu_seconds()
    got = await CLIENTS[name](server.http_options, send=True, lat=lat)
    cpu = h.cpu_seconds() - cpu0
    await asyncio.sleep(0.2)  # let the server read the last input frames
    stats = server.stats()
    recv = h.ms(lat[1:])  # the first chunk races the connect; skip it
    send = h.ms(stats["send_lat_ns"][1:])
    seconds = got * h.CHUNK_SECONDS
    return {
        "recv_p50": h.pct(recv, 50),
        "recv_p99": h.pct(recv, 99),
        "send_p50": h.pct(send, 50),
        "send_p99": h.pct(send, 99),
        "cpu_per_30s": cpu / seconds * 30 if seconds else float("nan"),
        "chunks": float(got),
    }


async def concurrent(
    server: h.StreamServer, name: str, sessions: int, chunks: int
) -> dict[str, float]:
    server.configure(chunks=chunks, interval=h.CHUNK_SECONDS, stagger=True)
    lats: list[list[int]] = [[] for _ in range(sessions)]
    runner = CLIENTS[name]
    kwargs: list[dict[str, Any]] = [{} for _ in range(sessions)]
    if name.startswith("realtalk"):
        kwargs = [{"thread": f"bench-{i}"} for i in range(sessions)]
    cpu0, t0 = h.cpu_seconds(), time.monotonic()
    await asyncio.gather(
        *(
            runner(server.http_options, send=False, lat=lats[i], **kwargs[i])
            for i in range(sessions)
        )
    )
    cpu, wall = h.cpu_seconds() - cpu0, time.monotonic() - t0
    server.stats()
    # steady state only: drop each session's first second (connect storm)
    recv = h.ms([v for lat in lats for v in lat[10:]])
    return {
        "cpu_pct": 100 * cpu / wall,
        "recv_p50": h.pct(recv, 50),
        "recv_p99": h.pct(recv, 99),
    }


async def burst(server: h.StreamServer, name: str, chunks: int) -> float:
    server.configure(chunks=chunks, interval=0.0)
    lat: list[int] = []
    t0 = time.monotonic()
    got = await CLIENTS[name](server.http_options, send=False, lat=lat)
    wall = time.monotonic() - t0
    server.stats()
    return got / wall


def per_message_costs(number: int) -> dict[str, float]:
    """Microseconds per 100 ms audio frame: the SDK's parse (what ``session.receive()``
    does per message), JSON + base64 alone (the floor of any parse), the plugin's fast path
    (``frames.audio_events`` on the parsed JSON) and realtalk's decode of an SDK message."""
    import base64
    import json
    import timeit

    from google.genai import _live_converters, types

    from realtalk_gemini import codec, frames

    data = base64.b64encode(bytes(h.OUT_CHUNK)).decode()
    raw = json.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]
                }
            }
        }
    )

    def sdk() -> Any:  # the body of google.genai.live.AsyncSession._receive
        response = json.loads(raw)
        parsed = _live_converters._LiveServerMessage_from_mldev(response)
        return types.LiveServerMessage._from_response(
            response=parsed, kwargs=types.LiveServerMessage().model_dump()
        )

    def lean() -> bytes:
        frame = json.loads(raw)
        part = frame["serverContent"]["modelTurn"]["parts"][0]["inlineData"]
        return base64.b64decode(part["data"])

    def fast() -> Any:  # what the transport does per audio frame on the fast path
        return frames.audio_events(json.loads(raw))

    message = sdk()
    decoder = codec.Decoder()
    out = {}
    steps = (("sdk_parse", sdk), ("json_base64", lean), ("fast_path", fast))
    for name, fn in (*steps, ("realtalk_decode", None)):
        call = fn if fn is not None else (lambda: decoder.decode(message))
        out[name] = min(timeit.repeat(call, number=number, repeat=3)) / number * 1e6
    return out


def _median_of(results: list[dict[str, float]], key: str) -> float:
    return h.median([r[key] for r in results])


async def main(quick: bool) -> None:
    h.header("overhead: realtalk vs raw google-genai", quick)
    runs = 2 if quick else 5
    chunks = 10 if quick else 300  # 2 s or 30 s of audio per run
    sessions = 5 if quick else 100
    conc_chunks = 15 if quick else 150
    burst_chunks = 100 if quick else 3000
    with h.StreamServer() as server:
        # warm up both paths once (imports, TLS, first connect)
        for name in CLIENTS:
            await single(server, name, 3)
        results: dict[str, list[dict[str, float]]] = {n: [] for n in CLIENTS}
        for run in range(runs):
            order = list(CLIENTS) if run % 2 == 0 else list(reversed(CLIENTS))
            for name in order:
                r = await single(server, name, chunks)
                results[name].append(r)
                h.row(f"run {run + 1} {name}", **r)
        print(f"\n## single session, medians of {runs} alternating runs ({chunks} chunks each)")
        summary = {n: {k: _median_of(rs, k) for k in rs[0]} for n, rs in results.items()}
        for name, s in summary.items():
            h.row(name, **{k: v for k, v in s.items() if k != "chunks"})
        raw = summary["raw"]
        for variant in VARIANTS:
            rt = summary[variant]
            h.row(
                f"ratio {variant}/raw",
                recv_p50=h.ratio(rt["recv_p50"], raw["recv_p50"]),
                send_p50=h.ratio(rt["send_p50"], raw["send_p50"]),
                cpu=h.ratio(rt["cpu_per_30s"], raw["cpu_per_30s"]),
            )
            paired = {
                key: h.median(
                    [
                        h.ratio(b[key], a[key])
                        for a, b in zip(results["raw"], results[variant], strict=True)
                    ]
                )
                for key in ("recv_p50", "send_p50", "cpu_per_30s")
            }
            h.row(f"{variant}: median of per-run ratios", **paired)
            h.row(
                f"{variant}: p99 delta vs raw, ms",
                recv=rt["recv_p99"] - raw["recv_p99"],
                send=rt["send_p99"] - raw["send_p99"],
            )

        print(f"\n## {sessions} concurrent receive-only sessions ({conc_chunks} chunks each)")
        conc: dict[str, dict[str, float]] = {}
        for name in CLIENTS:
            conc[name] = await concurrent(server, name, sessions, conc_chunks)
            h.row(name, **conc[name])
        for variant in VARIANTS:
            h.row(
                f"ratio {variant}/raw",
                cpu=h.ratio(conc[variant]["cpu_pct"], conc["raw"]["cpu_pct"]),
                recv_p99_delta_ms=conc[variant]["recv_p99"] - conc["raw"]["recv_p99"],
            )

        print(f"\n## burst decode ({burst_chunks} chunks sent back to back)")
        rates: dict[str, list[float]] = {n: [] for n in CLIENTS}
        for _ in range(1 if quick else 3):
            for name in CLIENTS:
                rates[name].append(await burst(server, name, burst_chunks))
        for name in CLIENTS:
            h.row(name, chunks_per_s=h.median(rates[name]))
        for variant in VARIANTS:
            h.row(
                f"ratio {variant}/raw",
                throughput=h.ratio(h.median(rates[variant]), h.median(rates["raw"])),
            )

        print("\n## per audio frame, in-process (microseconds): where the receive CPU goes")
        costs = per_message_costs(200 if quick else 5000)
        h.row("us per frame", **costs)
        saved = costs["sdk_parse"] - costs["fast_path"]
        h.row(
            "fast path saves (sdk_parse - fast_path)",
            us_per_frame=saved,
            cpu_s_per_30s=saved * 300 / 1e6,
            core_pct_at_100_sessions=saved * 10 * 100 / 1e4,
        )
    print("\ndone")


if __name__ == "__main__":
    args = h.parser(__doc__ or "").parse_args()
    asyncio.run(main(args.quick))
