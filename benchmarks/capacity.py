"""Capacity: concurrent bridge sessions streaming in real time on this machine.

A bridge process (``_bridge_server.py``: ``create_app`` + uvicorn, FakeProvider agent)
serves N WebSocket clients run by this process. Every client sends 100 ms of 16 kHz audio
every 100 ms; the provider answers each chunk with 100 ms of 24 kHz audio. Chunk latency
= client sent input chunk i -> client received output chunk i (a full round trip through
the bridge and the runtime). For each level N: p50/p99 latency, the bridge process's CPU
(from /proc) and so CPU seconds per session-minute. "Held" = the largest N with every
session served and p99 < 50 ms. The load generator shares the 2 cores with the bridge,
so the CPU-based figure (sessions one core can serve = 60 / CPU s per session-minute)
is printed alongside.

``uv run python benchmarks/capacity.py`` (full: ramps up to 1,000 sessions) or ``--quick``;
``--levels 200,300`` for a bounded sweep; ``--no-gc`` / ``--gc-freeze`` run the bridge with
the collector off (a diagnosis) or with its startup objects frozen. The bridge's fake
provider keeps counters only (``record=False``), as a real provider keeps no history.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import _harness as h
import websockets

TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(url: str, chunks: int, lat: list[int], delay: float) -> bool:
    await asyncio.sleep(delay)
    chunk = bytes(h.IN_CHUNK)
    sent: list[int] = []
    got = 0
    try:
        async with websockets.connect(url, compression=None, max_size=None, open_timeout=30) as ws:
            await ws.send("{}")

            async def reader() -> None:
                nonlocal got
                async for msg in ws:
                    if isinstance(msg, bytes):
                        if got < len(sent):
                            lat.append(time.monotonic_ns() - sent[got])
                        got += 1
                        if got >= chunks:
                            return

            task = asyncio.create_task(reader())
            deadline = time.monotonic()
            for _ in range(chunks):
                wait = deadline - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                deadline += h.CHUNK_SECONDS
                sent.append(time.monotonic_ns())
                await ws.send(chunk)
            try:
                await asyncio.wait_for(task, 5)
            except TimeoutError:
                task.cancel()
    except Exception as exc:
        print(f"session failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    return got >= chunks


async def level(sessions: int, chunks: int, *, gc_mode: str = "on") -> dict[str, float]:
    port = free_port()
    env = dict(os.environ)
    if gc_mode == "off":
        env["BENCH_NO_GC"] = "1"
    elif gc_mode == "freeze":
        env["BENCH_GC_FREEZE"] = "1"
    proc = subprocess.Popen(  # noqa: ASYNC220 - started before any session runs
        [
            sys.executable,
            str(h.HERE / "_bridge_server.py"),
            str(port),
            str(sessions),
            str(chunks),
        ],
        stderr=subprocess.DEVNULL,  # shutdown noise of sessions cut by terminate()
        env=env,
    )
    try:
        for _ in range(200):  # wait for the port
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        url = f"ws://127.0.0.1:{port}/v1/graph/live"
        lats: list[list[int]] = [[] for _ in range(sessions)]
        cpu0 = h.proc_cpu_seconds(proc.pid)
        own0 = h.cpu_seconds()
        t0 = time.monotonic()
        ramp = min(2.0, sessions / 200)  # spread connects over up to 2 s
        oks = await asyncio.gather(
            *(client(url, chunks, lats[i], ramp * i / sessions) for i in range(sessions))
        )
        wall = time.monotonic() - t0
        cpu = h.proc_cpu_seconds(proc.pid) - cpu0
        own = h.cpu_seconds() - own0
        rss = h.rss_bytes(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    steady = h.ms([v for lat in lats for v in lat[5:]])  # skip each session's first 0.5 s
    minutes = sessions * chunks * h.CHUNK_SECONDS / 60
    return {
        "ok": float(sum(oks)),
        "p50_ms": h.pct(steady, 50),
        "p99_ms": h.pct(steady, 99),
        "bridge_cpu_pct": 100 * cpu / wall,
        "cpu_s_per_session_min": cpu / minutes,
        "bridge_rss_mib": rss / 2**20,
        "loadgen_cpu_pct": 100 * own / wall,
    }


async def main(quick: bool, gc_mode: str, levels_arg: str | None) -> None:
    h.header("capacity: bridge + runtime + FakeProvider", quick)
    if gc_mode == "off":
        print("diagnosis: the bridge process runs with the garbage collector disabled")
    elif gc_mode == "freeze":
        print("the bridge process freezes its startup objects (gc.collect(); gc.freeze())")
    levels = [10] if quick else [100, 200, 300, 400, 500, 600, 800, 1000]
    if levels_arg:
        levels = [int(x) for x in levels_arg.split(",")]
    chunks = 30 if quick else 200  # 3 s or 20 s of audio per session
    held = 0
    per_min: list[float] = []
    for n in levels:
        r = await level(n, chunks, gc_mode=gc_mode)
        h.row(f"{n} sessions", **r)
        per_min.append(r["cpu_s_per_session_min"])
        if r["ok"] == n and r["p99_ms"] < TARGET_P99_MS:
            held = n
        else:
            break
    cpu_min = h.median(per_min)
    print("\n## summary")
    h.row(
        "held (p99<50ms, all served)",
        sessions=held,
        per_core=held / 2,
        cpu_s_per_session_min=cpu_min,
        sessions_per_core_by_cpu=60 / cpu_min if cpu_min else float("nan"),
        ratio_to_target_500_per_core=(held / 2) / 500,
    )
    print("\ndone")


if __name__ == "__main__":
    p = h.parser(__doc__ or "")
    p.add_argument(
        "--no-gc",
        action="store_true",
        help="diagnosis: disable the collector in the bridge process (are spikes GC pauses?)",
    )
    p.add_argument(
        "--gc-freeze",
        action="store_true",
        help="the bridge freezes its startup objects (gc.freeze) before serving",
    )
    p.add_argument("--levels", help="comma-separated session counts to ramp through")
    args = p.parse_args()
    gc_mode = "off" if args.no_gc else "freeze" if args.gc_freeze else "on"
    asyncio.run(main(args.quick, gc_mode, args.levels))
