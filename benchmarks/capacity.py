"""Capacity: concurrent bridge sessions streaming in real time on this machine.

A bridge (``_bridge_server.py``: FakeProvider agent) serves N WebSocket sessions run by
this process. Every session sends 100 ms of 16 kHz audio every 100 ms; the provider
answers each chunk with 100 ms of 24 kHz audio. Chunk latency = session sent input
chunk i -> session received output chunk i (a full round trip through the bridge and
the runtime). For each level N: p50/p99 latency (and ``p99_all_streaming_ms``: chunks
sent once every session is streaming, without the connect storm of the ramp), the
bridge's CPU (its processes, from
/proc) and so CPU seconds per session-minute and the cores the bridge used. "Held" = the
largest N with every session served and p99 < 50 ms; sessions per core = held sessions /
cores the bridge used at that level (the load generator shares this machine's cores).

The load generator is one process of bare asyncio protocols: a minimal RFC 6455 client
(handshake, then pre-built frames with a zero mask key, so a chunk costs one write and
no masking; received frames are only delimited and counted), one timer per session per
chunk, on uvloop when installed. It costs a fraction of what a full WebSocket library
does on the same cores.

``uv run python benchmarks/capacity.py`` (full: ramps up to 1,600 sessions) or
``--quick``; ``--levels 200,300`` for a bounded sweep; ``--workers N`` serves through
``realtalk api --workers N`` (default 0: ``create_app`` + ``uvicorn.run`` in one process);
``--loop asyncio|uvloop`` and ``--ws`` (uvicorn's WebSocket implementation, one-process
mode only) pick the bridge's event loop and protocol; ``--no-gc`` / ``--gc-freeze`` run
the bridge with the collector off (a diagnosis) or its startup objects frozen;
``BENCH_PROFILE=/tmp/p`` profiles each bridge process (CPU time) into ``/tmp/p.<pid>``;
``--client-deflate`` makes every client offer permessage-deflate as browsers do (the
server then compresses what it sends, unless it declines); ``--model echo`` puts a
minimal model double in the bridge instead of the scripted FakeProvider (whose matching
is a sixth of the bridge's CPU), so the figure is the bridge's and the runtime's own;
``--model gemini`` runs the real Gemini plugin and google-genai in the bridge, over TLS to
``_stream_server.py`` answering each chunk (the whole path a production bridge takes);
``--bridge floor`` (with ``--model gemini``) serves the sessions with ``_relay_floor.py``
instead, a bare relay that does only what any bridge to Gemini Live must: the floor;
``--pin`` runs the bridge (all its workers) on one core and the load generator on
another with ``taskset -c``, so the held level is the bridge's
own per core (falls back, printed, without ``taskset`` or a second core).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _harness as h
import _profile

TARGET_P99_MS = 50.0
TARGET_PER_CORE = 500
GOAL_PER_BRIDGE_CORE = 1000  # issue 19: measured with --pin
CORES = os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- the load generator


def _frame(opcode: int, payload: bytes) -> bytes:
    """A client frame with a zero mask key (masking is then the identity: no copy)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


FAILURES: dict[str, int] = {}  # why -> sessions, per level
CLIENT = {"offer_deflate": False, "deflated": 0}  # --client-deflate; sessions that got it
BROWSER_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
"""What Chrome and Firefox offer on every WebSocket: the server may then compress."""
OVERRIDES = _frame(0x1, b"{}")
CHUNK = _frame(0x2, bytes(h.IN_CHUNK))
CLOSE = _frame(0x8, (1000).to_bytes(2, "big"))


class Session(asyncio.Protocol):
    """One client: handshake, overrides frame, then a chunk every 100 ms on its timer."""

    def __init__(self, request: bytes, chunks: int, lat: list[int], sent: list[int]) -> None:
        self.loop = asyncio.get_running_loop()
        self.request = request
        self.chunks = chunks
        self.lat = lat
        self.finished: asyncio.Future[bool] = self.loop.create_future()
        self.buf = bytearray()
        self.open = False
        self.sent = sent  # monotonic ns each input chunk went out (lat[i] is chunk i's)
        self.got = 0
        self.next_at = 0.0
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._end(False, "handshake refused")
                return
            if b"permessage-deflate" in buf[:end].lower():
                CLIENT["deflated"] += 1  # frames may now come compressed (RSV1): counted as is
            del buf[: end + 4]
            self.open = True
            self.transport.write(OVERRIDES)
            self.next_at = self.loop.time()
            self._tick()
        pos, n, now = 0, len(buf), 0
        while n - pos >= 2:
            size = buf[pos + 1] & 0x7F
            head = 2
            if size == 126:
                if n - pos < 4:
                    break
                size, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif size == 127:
                if n - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if n - pos < head + size:
                break
            opcode = buf[pos] & 0x0F
            pos += head + size
            if opcode == 0x2:  # model audio: the answer to input chunk `got`
                now = now or time.monotonic_ns()
                if self.got < len(self.sent):
                    self.lat.append(now - self.sent[self.got])
                self.got += 1
                if self.got >= self.chunks:
                    self._end(True)
                    return
            elif opcode == 0x8:
                self._end(False, "closed by the bridge")
                return
        if pos:
            del buf[:pos]

    def _tick(self) -> None:
        if self.finished.done():
            return
        if len(self.sent) < self.chunks:
            self.sent.append(time.monotonic_ns())
            self.transport.write(CHUNK)
            self.next_at += h.CHUNK_SECONDS
            self.loop.call_at(self.next_at, self._tick)
        else:  # everything sent: the answers get 5 s
            self.loop.call_at(self.next_at + 5, self._end, False, "answers missing")

    def _end(self, ok: bool, why: str = "") -> None:
        if self.finished.done():
            return
        if not ok:
            FAILURES[why] = FAILURES.get(why, 0) + 1
        if self.transport is not None and not self.transport.is_closing():
            if self.open:
                self.transport.write(CLOSE)
            self.transport.close()
        self.finished.set_result(ok)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(self.got >= self.chunks, "connection lost")


async def run_session(
    port: int, chunks: int, lat: list[int], sent: list[int], delay: float
) -> bool:
    await asyncio.sleep(delay)
    request = (
        f"GET /v1/graph/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\n{BROWSER_OFFER if CLIENT['offer_deflate'] else ''}\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    try:
        _, session = await asyncio.wait_for(
            loop.create_connection(
                lambda: Session(request, chunks, lat, sent), "127.0.0.1", port, ssl=None
            ),
            30,
        )
    except (OSError, TimeoutError) as exc:
        why = f"connect: {type(exc).__name__}"
        FAILURES[why] = FAILURES.get(why, 0) + 1
        return False
    return await session.finished


# ---------------------------------------------------------------- the bridge


def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants (the workers of ``realtalk api --workers N``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            out[pid] = h.proc_cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            pass
    return out


class Bridge:
    """``_bridge_server.py`` in a subprocess, ready once every serving process started."""

    def __init__(self, sessions: int, chunks: int, opts: dict[str, Any]) -> None:
        self.port = free_port()
        env = dict(os.environ)
        if opts["model"] in ("echo", "gemini"):
            env["BENCH_MODEL"] = opts["model"]
        gemini = opts.get("gemini_server")
        if gemini is not None:  # where the real plugin connects, and whom it trusts
            env.update(BENCH_GEMINI_PORT=str(gemini.port), BENCH_GEMINI_CA=gemini.ca_pem)
        if opts["gc"] == "off":
            env["BENCH_NO_GC"] = "1"
        elif opts["gc"] == "freeze":
            env["BENCH_GC_FREEZE"] = "1"
        argv = [*h.taskset(opts["bridge_core"]), sys.executable]
        if opts["bridge"] == "floor":  # the bare relay realtalk is measured against
            argv += [str(h.HERE / "_relay_floor.py"), str(self.port), "--loop", opts["loop"]]
        else:
            argv += [str(h.HERE / "_bridge_server.py")]
            argv += [str(self.port), str(sessions), str(chunks), "--loop", opts["loop"]]
            argv += ["--workers", str(opts["workers"]), "--ws", opts["ws"]]
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, env=env, text=True)
        self.started = threading.Semaphore(0)
        self.tail: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:  # counts startups; the rest (access lines) is dropped
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "Application startup complete" in line:
                self.started.release()
            elif "Error" in line or "Traceback" in line:
                self.tail = [*self.tail[-20:], line]
        self.started.release()  # EOF: let a waiter notice the exit

    async def ready(self, processes: int) -> None:
        for _ in range(processes):
            await asyncio.to_thread(self.started.acquire, True, 60)
            if self.proc.poll() is not None:
                raise RuntimeError("the bridge exited:\n" + "".join(self.tail))
        for _ in range(200):  # and the port answers (bounded)
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the bridge's port never answered")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def level(sessions: int, chunks: int, opts: dict[str, Any]) -> dict[str, Any]:
    for var in ("BENCH_PROFILE", "BENCH_GC_STATS"):
        prefix = os.environ.get(var)
        for old in Path(prefix).parent.glob(Path(prefix).name + ".*") if prefix else ():
            old.unlink()  # this level's processes write their own
    bridge = Bridge(sessions, chunks, opts)
    try:
        await bridge.ready(max(1, opts["workers"]))
        pids = tree_pids(bridge.proc.pid)
        lats: list[list[int]] = [[] for _ in range(sessions)]
        sents: list[list[int]] = [[] for _ in range(sessions)]
        cpu0 = cpu_by_pid(pids)
        own0 = h.cpu_seconds()
        t0 = time.monotonic()
        ramp = min(2.0, sessions / 400)  # spread connects over up to 2 s
        if not opts["loadgen_gc"]:
            # The load generator stands for N separate clients: a collector pause of its
            # own would delay all of them at once and be charged to the bridge.
            gc.collect()
            gc.disable()
        try:
            oks = await asyncio.gather(
                *(
                    run_session(bridge.port, chunks, lats[i], sents[i], ramp * i / sessions)
                    for i in range(sessions)
                )
            )
        finally:
            gc.enable()
        wall = time.monotonic() - t0
        cpu1 = cpu_by_pid(pids)
        own = h.cpu_seconds() - own0
        rss = sum(h.rss_bytes(pid) for pid in pids if pid in cpu1)
    finally:
        bridge.close()
    per_proc = sorted((cpu1[p] - cpu0.get(p, 0.0) for p in cpu1), reverse=True)
    cpu = sum(per_proc)
    steady = h.ms([v for lat in lats for v in lat[5:]])  # skip each session's first 0.5 s
    # the same once every session is streaming (0.5 s after the last one's first chunk):
    # what the connect storm of the ramp adds to p99, and what it does not
    last_start = max((sent[0] for sent in sents if sent), default=0) + 500_000_000
    connected = h.ms(
        [
            v
            for lat, sent in zip(lats, sents, strict=True)
            for v, at in zip(lat, sent, strict=False)
            if at > last_start
        ]
    )
    minutes = sessions * chunks * h.CHUNK_SECONDS / 60
    return {
        "ok": sum(oks),
        "p50_ms": h.pct(steady, 50),
        "p99_ms": h.pct(steady, 99),
        "p99_all_streaming_ms": h.pct(connected, 99) if connected else float("nan"),
        "bridge_cores": cpu / wall,
        "cpu_s_per_session_min": cpu / minutes,
        "busiest_process_cores": per_proc[0] / wall,
        "bridge_rss_mib": rss / 2**20,
        "loadgen_cores": own / wall,
    }


COMPONENTS = (  # (path fragment, component, split by file), first match wins
    ("/realtalk/bridge/", "realtalk bridge (session, limits, protocol)", False),
    ("/realtalk_testing/", "FakeProvider (realtalk_testing)", False),
    ("/realtalk/", "realtalk runtime (runtime/, queue, audio, agent, events)", False),
    ("/uvicorn/", "uvicorn (ASGI server, WebSocket protocol glue)", False),
    ("/websockets/", "websockets (frame parsing/serialising)", False),
    ("/wsproto/", "wsproto (frame parsing/serialising)", False),
    ("/h11/", "h11 (HTTP handshake)", False),
    ("/starlette/", "starlette (routing, WebSocket wrapper)", False),
    ("/asyncio/", "asyncio event loop (tasks, futures, timers, transports)", False),
    ("selectors.py", "asyncio event loop (tasks, futures, timers, transports)", False),
)


def profile_report(prefix: str) -> None:
    """Each bridge process's cProfile, summed, by component (``_profile.report``)."""
    _profile.report(_profile.matching(prefix), COMPONENTS)


def gc_report(prefix: str) -> None:
    """The bridge processes' collector passes during the level (``BENCH_GC_STATS``)."""
    import glob
    import json

    for path in sorted(glob.glob(prefix + ".*")):
        data = json.loads(Path(path).read_text())
        parts = [f"objects={data['tracked']}"]
        walked = data.get("most_walked", {})
        for gen, (count, total, longest) in data["gens"].items():
            parts.append(
                f"gen{gen}: {count} passes {1000 * total:.0f} ms (max {1000 * longest:.1f},"
                f" walked up to {walked.get(gen, 0)})"
            )
        print("  gc " + ", ".join(parts))


def client_loop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


async def main(quick: bool, opts: dict[str, Any], levels_arg: str | None) -> None:
    h.header("capacity: bridge + runtime + FakeProvider", quick)
    mode = (
        f"realtalk api --workers {opts['workers']} --loop {opts['loop']}"
        if opts["workers"]
        else f"create_app + uvicorn.run(loop={opts['loop']!r}, ws={opts['ws']!r}), one process"
    )
    if opts["bridge"] == "floor":
        mode = f"the relay floor (_relay_floor.py: websockets, json, base64), {opts['loop']}"
    plan = h.pin_plan(opts["pin"])
    opts["bridge_core"] = plan[1] if plan else None
    if plan is not None:
        h.pin_self(plan[0])  # the load generator; the bridge gets plan[1]
        print(
            f"pinning: the bridge (every worker) on core {opts['bridge_core']}, the load "
            f"generator on core {plan[0]} (taskset -c): one core is the bridge's"
        )
    collector = "on" if opts["loadgen_gc"] else "off during each level"
    print(
        f"bridge: {mode}; load generator: one process, {opts['client_loop']} event loop, "
        f"its collector {collector}"
    )
    doubles = {
        "fake": "FakeProvider (scripted, matches every chunk)",
        "echo": "EchoModel",
        "gemini": "the real Gemini plugin and google-genai over TLS to _stream_server.py "
        "(answers each chunk; its process on the load generator's core)",
    }
    if opts["bridge"] == "floor":
        print("model: _stream_server.py over TLS (answers each chunk), relayed by the floor")
    else:
        print(f"model double: {doubles[opts['model']]}")
    if CLIENT["offer_deflate"]:
        print("clients offer permessage-deflate (as browsers do)")
    if opts["gc"] == "off":
        print("diagnosis: the bridge processes run with the garbage collector disabled")
    elif opts["gc"] == "freeze":
        print("the bridge processes freeze their startup objects (gc.collect(); gc.freeze())")
    levels = [10] if quick else [200, 400, 600, 800, 1000, 1200, 1400, 1600]
    if levels_arg:
        levels = [int(x) for x in levels_arg.split(",")]
    chunks = 30 if quick else 200  # 3 s or 20 s of audio per session
    if opts["model"] == "gemini":
        server = h.StreamServer(core=plan[0] if plan else None)  # not on the bridge's core
        server.configure(interval=h.CHUNK_SECONDS, echo=True)
        opts["gemini_server"] = server
    try:
        await sweep(levels, chunks, opts)
    finally:
        if opts.get("gemini_server") is not None:
            opts["gemini_server"].close()


async def sweep(levels: list[int], chunks: int, opts: dict[str, Any]) -> None:
    """Each level in turn until one is not held; then the summary."""
    held: dict[str, Any] = {}
    per_min: list[float] = []
    for n in levels:
        FAILURES.clear()
        CLIENT["deflated"] = 0
        r = await level(n, chunks, opts)
        if CLIENT["offer_deflate"]:
            r["compressed_sessions"] = CLIENT["deflated"]
        if FAILURES:
            print(f"failed sessions: {FAILURES}", file=sys.stderr)
        h.row(f"{n} sessions", **r, load_avg_1m=os.getloadavg()[0])
        if os.environ.get("BENCH_PROFILE"):
            profile_report(os.environ["BENCH_PROFILE"])
        if os.environ.get("BENCH_GC_STATS"):
            gc_report(os.environ["BENCH_GC_STATS"])
        per_min.append(r["cpu_s_per_session_min"])
        if r["ok"] == n and r["p99_ms"] < TARGET_P99_MS:
            held = {"sessions": n, **r}
        else:
            break
    cpu_min = h.median(per_min)
    sessions = held.get("sessions", 0)
    cores = held.get("bridge_cores", float("nan"))
    per_core = sessions / cores if sessions else 0.0
    pinned = opts["bridge_core"] is not None
    if pinned:  # the bridge had exactly one core: held sessions are per bridge core
        per_core = float(sessions)
    print("\n## summary")
    h.row(
        "held (p99<50ms, all served)",
        sessions=sessions,
        bridge_cores_at_held=cores if sessions else 0.0,
        sessions_per_bridge_core=per_core,
        sessions_per_machine_core=sessions / CORES,
        pinned_to_one_core="yes" if pinned else "no",
        cpu_s_per_session_min=cpu_min,
        sessions_per_core_by_cpu=60 / cpu_min if cpu_min else float("nan"),
        ratio_to_target_500_per_core=per_core / TARGET_PER_CORE,
        ratio_to_goal_1000_per_bridge_core=per_core / GOAL_PER_BRIDGE_CORE,
    )
    print("\ndone")


if __name__ == "__main__":
    p = h.parser(__doc__ or "")
    p.add_argument("--no-gc", action="store_true", help="diagnosis: bridge collector off")
    p.add_argument("--gc-freeze", action="store_true", help="bridge freezes startup objects")
    p.add_argument("--levels", help="comma-separated session counts to ramp through")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="serve through realtalk api --workers N (0: create_app + uvicorn.run)",
    )
    p.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    p.add_argument(
        "--ws",
        default="auto",
        help="uvicorn ws= for the one-process bridge: auto (websockets-sansio in uvicorn "
        ">= 0.35), websockets, websockets-sansio, wsproto",
    )
    p.add_argument(
        "--loadgen-gc",
        action="store_true",
        help="keep the load generator's own collector on during a level (its pauses then "
        "count as bridge latency; off by default)",
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="the bridge on one core and the load generator on another (taskset -c); "
        "sessions per bridge core is then the held level itself",
    )
    p.add_argument(
        "--client-deflate",
        action="store_true",
        help="offer permessage-deflate in every handshake, as browsers do (the client sends "
        "uncompressed frames and counts received ones without inflating them)",
    )
    p.add_argument(
        "--model",
        default="fake",
        choices=["fake", "echo", "gemini"],
        help="the model inside the bridge: fake (the scripted FakeProvider, matching "
        "every chunk), echo (a minimal double answering each chunk: the bridge's and the "
        "runtime's own cost) or gemini (the real Gemini plugin and google-genai over TLS "
        "to a local server that answers each chunk: the whole production path)",
    )
    p.add_argument(
        "--bridge",
        default="realtalk",
        choices=["realtalk", "floor"],
        help="realtalk (the bridge) or floor: a bare relay doing only what any bridge to "
        "Gemini Live must (needs --model gemini)",
    )
    args = p.parse_args()
    if args.bridge == "floor" and args.model != "gemini":
        p.error("--bridge floor relays to a Gemini Live server: add --model gemini")
    CLIENT["offer_deflate"] = args.client_deflate
    factory, loop_name = client_loop()
    options = {
        "loadgen_gc": args.loadgen_gc,
        "gc": "off" if args.no_gc else "freeze" if args.gc_freeze else "on",
        "workers": args.workers,
        "loop": args.loop,
        "ws": args.ws,
        "client_loop": loop_name,
        "pin": args.pin,
        "model": args.model,
        "bridge": args.bridge,
    }
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(args.quick, options, args.levels))
