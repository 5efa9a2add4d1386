"""Many real-time sessions in one process: realtalk against the floor and raw google-genai.

N sessions of one client run concurrently in this process against the real-time server
(``_stream_server.py``, its own process): each receives a 100 ms chunk of 24 kHz audio
every 100 ms and sends a 100 ms chunk of 16 kHz audio every 100 ms, for 30 s. The clients
are ``_clients.py``'s: ``floor`` (websockets + json + base64, no SDK, no runtime), ``raw``
(plain google-genai), ``realtalk`` and optionally ``realtalk_sink`` (audio taken through
``arealtime(event_sink=...)``). Levels and clients alternate within one run (the
order flips every round), so machine load hits them alike; ratios are realtalk/floor,
realtalk/raw and raw/floor, paired per round.

Per client and level:

* CPU of this process per session per 30 s of audio, over the steady window only: from
  one second after every session has its first chunk to the moment the first session
  finishes (connects and TLS handshakes left out), divided by the audio actually received
  in it (so a client that falls behind is not flattered); ``kept_up`` = audio received /
  (window x sessions), 1.0 in real time; ``server_cores`` = the server's CPU over the
  window (a server near a full core, or ``kept_up`` well under 1, means the figures
  measure the machine, not the client); when that window is under 0.5 s (a
  loaded machine in ``--quick``), the whole level, marked ``window=whole``;
* receive latency (server handed the chunk to its socket -> the user's loop has it) and
  send latency (the user's send call -> the server decoded it), p50 and p99, each
  session's first second left out both ways (realtalk buffers input sent while it connects);
* the cyclic collector's passes over the whole level (``gc_*``: passes, total and longest
  pause, full passes), which tell collector pauses apart from the client's own work in p99,
  and those inside the steady window (``gc_steady_*``: passes, their total, full passes),
  which tell the passes streaming drives apart from the connect burst's, and the objects
  promoted into the oldest generation per session (``gc_promoted_per_session``), which
  is what makes a full pass due;
  ``BENCH_NO_GC=1`` turns the collector off during each level (a diagnosis run, not a
  setting to deploy); ``BENCH_GC_THRESHOLD=10000`` sets the young generation's threshold
  for every client (what ``realtalk api`` does in its own processes).

Pinning: with ``taskset`` available and two usable cores, this process runs on one core
and the server on the other (``taskset -c``), so the clients' CPU and latency are their
own; ``--no-pin`` or a missing ``taskset`` shares every core (printed).

``uv run python benchmarks/many_sessions.py`` (full: 200 and 500 sessions, 2 rounds),
``--quick`` (CI: 20 sessions, 3 s), ``--sessions 200 --clients realtalk --rounds 1``;
``BENCH_PROFILE=/tmp/p`` writes a cProfile of each client's last round of each level to
``/tmp/p.<client>.<N>`` and prints its costs by component, by runtime file and its event
loop callbacks per chunk (the task hops), so realtalk's can be read against the floor's.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

import _harness as h
import _profile
from _clients import CLIENTS, session_kwargs

GOAL_CPU = 1.1  # realtalk/floor, issue 19
GOAL_P99 = 2.0
COMPONENTS: _profile.Components = (
    ("/realtalk/runtime/", "realtalk runtime", True),
    ("/realtalk_gemini/", "realtalk Gemini plugin", True),
    ("/realtalk/", "realtalk (queue, audio, events, agent)", True),
    ("/google/genai/", "google-genai (SDK session, models, converters)", False),
    ("/pydantic_core/", "pydantic (validation, models)", False),
    ("/pydantic/", "pydantic (validation, models)", False),
    ("/websockets/", "websockets (frames, protocol)", False),
    ("/asyncio/", "asyncio event loop (task steps, futures, call_soon, timers)", False),
    ("selectors.py", "asyncio event loop (task steps, futures, call_soon, timers)", False),
    ("/ssl.py", "ssl module (Python side)", False),
    ("/json/", "json", False),
    ("/base64.py", "base64", False),
    ("/benchmarks/", "benchmark client code (pacing, stamps)", False),
)


async def level(server: h.StreamServer, name: str, sessions: int, chunks: int) -> dict[str, Any]:
    """One level: ``sessions`` concurrent sessions of client ``name``."""
    skip = 10  # each session's first second each way (connecting, TLS) is left out
    server.configure(chunks=chunks, interval=h.CHUNK_SECONDS, stagger=True, send_skip=skip)
    lats: list[list[int]] = [[] for _ in range(sessions)]
    runner = CLIENTS[name]
    ramp = min(2.0, sessions / 250)  # spread the connects (TLS handshakes) over up to 2 s
    finished = asyncio.Event()

    async def one(i: int) -> int:
        await asyncio.sleep(ramp * i / sessions)
        try:
            kwargs = session_kwargs(name, i)
            return await runner(server.http_options, send=True, lat=lats[i], **kwargs)
        finally:
            finished.set()

    no_gc = bool(os.environ.get("BENCH_NO_GC"))  # diagnosis: are p99s collector pauses?
    if no_gc:
        gc.disable()
    threshold = h.set_gc_threshold_from_env()  # every client alike
    try:
        with h.CollectorPauses() as pauses:
            result = await _measure(server, sessions, chunks, one, lats, finished, skip, pauses)
    finally:
        gc.set_threshold(*threshold)
        if no_gc:
            gc.enable()
            gc.collect()
    promoted = round(pauses.promoted / sessions, 1)
    return {**result, **pauses.figures(), "gc_promoted_per_session": promoted}


async def _measure(
    server: h.StreamServer,
    sessions: int,
    chunks: int,
    one: Any,
    lats: list[list[int]],
    finished: asyncio.Event,
    skip: int,
    pauses: h.CollectorPauses,
) -> dict[str, Any]:
    t0, cpu0, server_t0 = time.monotonic(), h.cpu_seconds(), server.stats(keep=True)["cpu_s"]
    work = asyncio.gather(*(one(i) for i in range(sessions)), return_exceptions=True)
    window: tuple[float, float, float, float] | None = None
    # until every session has its first chunk; polled, so the clients' own per-chunk
    # path stays exactly theirs (no hook on every append)
    while not finished.is_set() and not all(lats):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    got0 = got1 = 0
    if not finished.is_set():
        await asyncio.sleep(1.0)
        server_cpu0 = server.stats(keep=True)["cpu_s"]
        start = (time.monotonic(), h.cpu_seconds())
        pauses.mark()
        got0 = sum(map(len, lats))
        await finished.wait()
        window = (*start, time.monotonic(), h.cpu_seconds())
        pauses.mark()
        got1 = sum(map(len, lats))
        server_cpu = server.stats(keep=True)["cpu_s"] - server_cpu0
    limit = chunks * h.CHUNK_SECONDS * 3 + 30
    results = await asyncio.wait_for(work, limit - (time.monotonic() - t0))
    steady = window is not None and window[2] - window[0] >= 0.5
    if window is None or not steady:  # too short to measure (a loaded machine, --quick)
        window = (t0, cpu0, time.monotonic(), h.cpu_seconds())
        got0, got1 = 0, sum(map(len, lats))
        server_cpu = server.stats(keep=True)["cpu_s"] - server_t0
    await asyncio.sleep(0.2)  # the server reads the last input frames
    stats = server.stats()
    errors = [r for r in results if isinstance(r, BaseException)]
    recv = h.ms([v for lat in lats for v in lat[skip:]])
    send = h.ms(stats["send_lat_ns"])
    seconds, cpu = window[2] - window[0], window[3] - window[1]
    audio = (got1 - got0) * h.CHUNK_SECONDS  # seconds of audio received in the window
    return {
        "ok": sessions - len(errors),
        "cpu_s_per_session_30s": cpu / audio * 30 if audio else float("nan"),
        "cores": cpu / seconds,
        "server_cores": server_cpu / seconds,
        "kept_up": round(audio / (seconds * sessions), 3),  # 1.0: real time
        "window_s": seconds,
        "window": "steady" if steady else "whole",
        "received": sum(map(len, lats)),
        "sent": stats["recv_chunks"],
        "recv_p50": h.pct(recv, 50),
        "recv_p99": h.pct(recv, 99),
        "send_p50": h.pct(send, 50),
        "send_p99": h.pct(send, 99),
        "error": repr(errors[0])[:120] if errors else "",
    }


async def profiled_level(
    server: h.StreamServer, name: str, sessions: int, chunks: int
) -> dict[str, Any]:
    """``level`` under cProfile when ``BENCH_PROFILE`` is set."""
    prefix = os.environ.get("BENCH_PROFILE")
    if not prefix:
        return await level(server, name, sessions, chunks)
    import cProfile

    profiler = cProfile.Profile()  # wall clock: a CPU clock is a system call per reading
    profiler.enable()
    try:
        return await level(server, name, sessions, chunks)
    finally:
        profiler.disable()
        profiler.dump_stats(f"{prefix}.{name}.{sessions}")


def profile_report(prefix: str, name: str, sessions: int, result: dict[str, Any]) -> None:
    import pstats

    path = f"{prefix}.{name}.{sessions}"
    print(f"### {name}")
    _profile.report([path], COMPONENTS, top=25 if name.startswith("realtalk") else 0, under="/src/")
    callbacks = _profile.loop_callbacks(pstats.Stats(path).stats)
    chunks = result["received"] + result["sent"]
    h.row(
        "event loop callbacks",
        total=callbacks,
        chunks_both_ways=chunks,
        per_chunk=h.ratio(callbacks, chunks),  # task steps + call_soon callbacks
    )


def summarise(rows: dict[str, list[dict[str, Any]]], clients: list[str]) -> None:
    keys = ("cpu_s_per_session_30s", "recv_p50", "recv_p99", "send_p50", "send_p99")
    medians = {c: {k: h.median([r[k] for r in rows[c]]) for k in keys} for c in clients}
    for client in clients:
        h.row(client, **medians[client])
    gc_keys = (
        "gc_passes",
        "gc_full",
        "gc_steady_passes",
        "gc_steady_full",
        "gc_promoted_per_session",
    )
    for client in clients:
        got = [k for k in gc_keys if all(k in r for r in rows[client])]
        h.row(f"{client} collector", **{k: h.median([r[k] for r in rows[client]]) for k in got})
    pairs = [
        ("realtalk", "floor"),
        ("realtalk_sink", "floor"),
        ("realtalk", "raw"),
        ("raw", "floor"),
    ]
    for a, b in pairs:
        if a not in rows or b not in rows:
            continue
        paired = {
            k: h.median([h.ratio(x[k], y[k]) for x, y in zip(rows[a], rows[b], strict=True)])
            for k in keys
        }
        h.row(f"ratio {a}/{b}", **paired)
        if b == "floor" and a.startswith("realtalk"):
            cpu, p99 = paired["cpu_s_per_session_30s"], paired["recv_p99"]
            h.row(
                f"goal {a} (cpu <= 1.1x, p99 <= 2x)",
                cpu="met" if cpu <= GOAL_CPU else "missed",
                recv_p99="met" if p99 <= GOAL_P99 else "missed",
                send_p99="met" if paired["send_p99"] <= GOAL_P99 else "missed",
            )


async def main(
    quick: bool, levels: list[int], clients: list[str], rounds: int, pin: bool, seconds: float
) -> None:
    h.header("many sessions in one process: floor, raw google-genai, realtalk", quick)
    plan = h.pin_plan(pin)
    if plan is not None:
        h.pin_self(plan[0])
        print(f"pinning: clients on core {plan[0]}, server on core {plan[1]} (taskset -c)")
    chunks = round(seconds / h.CHUNK_SECONDS)
    with h.StreamServer(core=plan[1] if plan else None) as server:
        for name in clients:  # warm up (imports, first TLS connect, compiled app)
            await level(server, name, 2, 3)
        for sessions in levels:
            print(f"\n## {sessions} concurrent sessions, {chunks} chunks each way")
            rows: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
            for run in range(rounds):
                order = clients if run % 2 == 0 else list(reversed(clients))
                for name in order:
                    r = await profiled_level(server, name, sessions, chunks)
                    rows[name].append(r)
                    h.row(f"round {run + 1} {name}", **r, load_avg_1m=os.getloadavg()[0])
            print(f"medians of {rounds} round(s); ratios are medians of per-round ratios")
            summarise(rows, clients)
            prefix = os.environ.get("BENCH_PROFILE")
            for name in clients if prefix else ():
                profile_report(prefix, name, sessions, rows[name][-1])
    print(f"\nload average at the end: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("done")


if __name__ == "__main__":
    p = h.parser(__doc__ or "")
    p.add_argument("--sessions", help="comma-separated session counts (default 200,500)")
    p.add_argument("--clients", default="floor,raw,realtalk", help="comma-separated clients")
    p.add_argument("--rounds", type=int, help="alternating rounds per level (default 2)")
    p.add_argument("--no-pin", action="store_true", help="do not pin client and server")
    p.add_argument("--seconds", type=float, help="audio per session (default 30, 3 in --quick)")
    args = p.parse_args()
    levels = [20] if args.quick else [200, 500]
    if args.sessions:
        levels = [int(x) for x in args.sessions.split(",")]
    names = [c for c in args.clients.split(",") if c]
    unknown = [c for c in names if c not in CLIENTS]
    if unknown:
        p.error(f"unknown client(s) {unknown}; choose from {sorted(CLIENTS)}")
    rounds = args.rounds or (1 if args.quick else 2)
    seconds = args.seconds or (3.0 if args.quick else 30.0)
    asyncio.run(main(args.quick, levels, names, rounds, not args.no_pin, seconds))
