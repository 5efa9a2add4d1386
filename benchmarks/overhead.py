"""Overhead of realtalk (Gemini plugin + runtime) over plain google-genai and the floor.

Every client talks to the same real-time server (``_stream_server.py``, a child process)
that streams 100 ms chunks of 24 kHz audio every 100 ms while the client streams 100 ms
chunks of 16 kHz audio back. Runs alternate between the clients in this one process,
so machine load hits both alike. Measured per chunk:

* receive: server hands the frame to its socket -> the user's ``async for`` has the audio;
* send: the user calls ``queue.send_audio`` (raw: ``send_realtime_input``) -> the server
  has decoded the frame;
* client CPU (``time.process_time``) per 30 s of audio, and at N concurrent receive-only
  sessions; burst decode (the server sends as fast as it can) in chunks per second.

Four clients (``_clients.py``): ``floor`` (no SDK, no runtime: websockets + json + base64,
what every client must do), ``raw`` (plain google-genai), ``realtalk`` (default settings:
audio frames take the plugin's wire fast path, ``realtalk_gemini.frames``) and
``realtalk_sdk_path`` (the same with ``audio_fast_path=False``: every frame parsed by
google-genai, as before the fast path). realtalk is reported against raw and the floor.

``uv run python benchmarks/overhead.py`` (full) or ``--quick`` (CI, a few seconds).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import _harness as h
from _clients import CLIENTS, session_kwargs

# (client, baseline) ratios printed: realtalk against the SDK it is built on and against
# the floor of Python itself, and the SDK against the floor for scale
PAIRS = (
    ("realtalk", "raw"),
    ("realtalk", "floor"),
    ("realtalk_sdk_path", "raw"),
    ("realtalk_sdk_path", "floor"),
    ("raw", "floor"),
)


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
    kwargs = [session_kwargs(name, i) for i in range(sessions)]
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
    h.header("overhead: realtalk vs raw google-genai and the bare floor client", quick)
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
        for variant, base in PAIRS:
            rt, ref = summary[variant], summary[base]
            h.row(
                f"ratio {variant}/{base}",
                recv_p50=h.ratio(rt["recv_p50"], ref["recv_p50"]),
                send_p50=h.ratio(rt["send_p50"], ref["send_p50"]),
                cpu=h.ratio(rt["cpu_per_30s"], ref["cpu_per_30s"]),
            )
            paired = {
                key: h.median(
                    [
                        h.ratio(b[key], a[key])
                        for a, b in zip(results[base], results[variant], strict=True)
                    ]
                )
                for key in ("recv_p50", "send_p50", "cpu_per_30s")
            }
            h.row(f"{variant}/{base}: median of per-run ratios", **paired)
            h.row(
                f"{variant}: p99 delta vs {base}, ms",
                recv=rt["recv_p99"] - ref["recv_p99"],
                send=rt["send_p99"] - ref["send_p99"],
            )

        print(f"\n## {sessions} concurrent receive-only sessions ({conc_chunks} chunks each)")
        conc: dict[str, dict[str, float]] = {}
        for name in CLIENTS:
            conc[name] = await concurrent(server, name, sessions, conc_chunks)
            h.row(name, **conc[name])
        for variant, base in PAIRS:
            h.row(
                f"ratio {variant}/{base}",
                cpu=h.ratio(conc[variant]["cpu_pct"], conc[base]["cpu_pct"]),
                recv_p99_delta_ms=conc[variant]["recv_p99"] - conc[base]["recv_p99"],
            )

        print(f"\n## burst decode ({burst_chunks} chunks sent back to back)")
        rates: dict[str, list[float]] = {n: [] for n in CLIENTS}
        for _ in range(1 if quick else 3):
            for name in CLIENTS:
                rates[name].append(await burst(server, name, burst_chunks))
        for name in CLIENTS:
            h.row(name, chunks_per_s=h.median(rates[name]))
        for variant, base in PAIRS:
            h.row(
                f"ratio {variant}/{base}",
                throughput=h.ratio(h.median(rates[variant]), h.median(rates[base])),
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
