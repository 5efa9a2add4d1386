"""The bridge under load, for ``capacity.py``, in its own process(es).

The agent runs on a FakeProvider whose every connection answers each 100 ms of 16 kHz
input with 100 ms of 24 kHz model audio, so output is paced by the client's real-time
input and a round trip crosses bridge -> runtime -> provider -> runtime -> bridge.

Usage: ``python _bridge_server.py PORT SESSIONS CHUNKS [--workers N] [--loop L] [--ws W]``.

* ``--workers 0`` (default): ``create_app`` + ``uvicorn.run`` in this process, with the
  event loop (``--loop``) and uvicorn WebSocket implementation (``--ws``) given.
* ``--workers N`` (N >= 1): the public ``realtalk api --workers N --loop L`` on a
  ``realtalk.json`` naming this module's ``agent``; N > 1 runs N worker processes.

Environment switches (read in every serving process): ``BENCH_WS_COMPRESSION=1``
(``realtalk api`` accepts permessage-deflate), ``BENCH_MODEL=echo`` (the
`EchoModel` double instead of the scripted FakeProvider), ``BENCH_FAKE_SEND_YIELDS=1``
(the FakeProvider yields to the loop once per send, as in tests, instead of returning at
once as a socket with room in its buffer does), ``BENCH_NO_GC=1`` (collector off,
a diagnosis), ``BENCH_GC_FREEZE=1`` (startup objects frozen), ``BENCH_PROFILE=path``
(cProfile, written to ``path.<pid>`` on SIGTERM), ``BENCH_GC_STATS=path`` (every
collector pass timed, totals per generation written to ``path.<pid>``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import signal
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

import _harness as h

HERE = Path(__file__).resolve().parent


def speech_chunk(nbytes: int = 4800) -> bytes:
    """``nbytes`` of real speech (PCM16 from realtalk-testing's bundled question): what a
    model answers with, so a server that compresses (permessage-deflate) pays what it
    would for real audio, not for silence."""
    import wave
    from importlib.resources import files

    source = files("realtalk_testing") / "audio" / "question_16k.wav"
    with source.open("rb") as f, wave.open(f) as w:
        pcm = w.readframes(w.getnframes())
    middle = len(pcm) // 2 // 2 * 2
    return pcm[middle : middle + nbytes]


class EchoModel:
    """The ``--model echo`` double: each 100 ms of 16 kHz input is answered with 100 ms of
    24 kHz audio, like the scripted FakeProvider, with no script to play (no matchers, no
    records, one event built per answer): what is left is the bridge's and the runtime's
    own cost. A ``realtalk.provider.Provider``; its sends return at once, as a socket's."""

    name = "echo-bench"

    def __init__(self) -> None:
        from realtalk.provider import ProviderCapabilities

        self.capabilities = ProviderCapabilities()

    async def connect(self, setup: Any) -> EchoConnection:
        return EchoConnection()


class EchoConnection:
    ANSWER = speech_chunk()  # 100 ms of 24 kHz PCM16
    PER_ANSWER = 3200  # bytes of 16 kHz PCM16 input per answer

    def __init__(self) -> None:
        from realtalk.events import AudioDeltaEvent

        self._event = AudioDeltaEvent
        self._ready: deque[Any] = deque()
        self._wake: Any = None
        self._pending = 0
        self._closed = False

    async def send(self, item: Any) -> None:
        data = getattr(item, "data", None)
        if data is None or getattr(item, "kind", "") != "audio":
            return
        self._pending += len(data)
        while self._pending >= self.PER_ANSWER:
            self._pending -= self.PER_ANSWER
            self._ready.append(self._event(data=self.ANSWER, sample_rate=24000))
            self._wakeup()

    async def send_tool_result(self, *args: Any, **kwargs: Any) -> None:
        pass

    def _wakeup(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def events(self) -> Any:
        from realtalk.provider import DisconnectKind, ProviderDisconnected

        loop = asyncio.get_running_loop()
        while True:
            while self._ready:
                yield self._ready.popleft()
            if self._closed:
                raise ProviderDisconnected(DisconnectKind.CLOSED, code=1000, reason="closed")
            self._wake = loop.create_future()
            await self._wake

    async def close(self) -> None:
        self._closed = True
        self._wakeup()


def compiled_agent(sessions: int, chunks: int) -> Any:
    from realtalk import AudioAgent, RealtimeConfig

    if os.environ.get("BENCH_MODEL") == "gemini":  # the real plugin, to _stream_server.py
        import ssl

        from _clients import realtalk_app

        trust = ssl.create_default_context(cadata=os.environ["BENCH_GEMINI_CA"])
        http_options = h.gemini_http_options(int(os.environ["BENCH_GEMINI_PORT"]), trust)
        import realtalk_gemini.transport  # noqa: F401  # what a first connect would import

        return realtalk_app(http_options)
    if os.environ.get("BENCH_MODEL") == "echo":
        return AudioAgent(
            "echo-model", realtime_config=RealtimeConfig(model="echo-model"), provider=EchoModel()
        ).compile()
    from realtalk_testing import FakeProvider
    from realtalk_testing.script import emit, expect

    out = speech_chunk()  # 100 ms of 24 kHz PCM16
    steps: list[object] = []
    for _ in range(chunks):
        steps += [expect.audio(min_bytes=3200), emit.audio(data=out)]
    steps.append(expect.close())
    # counters only, and sends that return at once while the socket has room: as a real
    # provider (BENCH_FAKE_SEND_YIELDS=1: one loop turn per send, the test default)
    options: dict[str, Any] = {"record": False}
    if "yield_on_send" in inspect.signature(FakeProvider).parameters:  # not before issue 19
        options["yield_on_send"] = bool(os.environ.get("BENCH_FAKE_SEND_YIELDS"))
    provider = FakeProvider([steps] * sessions, **options)
    return AudioAgent(
        "fake-model", realtime_config=RealtimeConfig(model="fake-model"), provider=provider
    ).compile()


def build(sessions: int, chunks: int) -> object:
    from realtalk.bridge.app import create_app
    from realtalk.bridge.config import BridgeConfig
    from realtalk.bridge.limits import LimitsConfig

    config = BridgeConfig(limits=LimitsConfig(max_sessions=sessions + 10, idle_timeout=600))
    return create_app(config, app=compiled_agent(sessions, chunks))


def process_settings() -> None:
    """The BENCH_* switches, applied in the process that serves."""
    if os.environ.get("BENCH_NO_GC"):  # diagnosis: are latency spikes collector pauses?
        gc.disable()
    elif os.environ.get("BENCH_GC_FREEZE"):  # measured: startup objects out of full passes
        gc.collect()
        gc.freeze()
    h.set_gc_threshold_from_env()  # "young[,middle[,old]]" (default 700,10,10)
    at_exit = []
    profile_path = os.environ.get("BENCH_PROFILE")
    if profile_path:
        import cProfile

        # The default (wall) clock: a CPU clock is a system call per reading and slows the
        # bridge several times over. Profile a level the bridge keeps up with, on a quiet
        # machine, so wall time is CPU time; capacity.py leaves out the idle epoll wait.
        profiler = cProfile.Profile()

        def dump_profile() -> None:
            profiler.disable()
            profiler.dump_stats(f"{profile_path}.{os.getpid()}")

        at_exit.append(dump_profile)
        profiler.enable()
    gc_path = os.environ.get("BENCH_GC_STATS")
    if gc_path:
        at_exit.append(gc_pauses(f"{gc_path}.{os.getpid()}"))
    if at_exit:

        def on_term(*_: object) -> None:  # uvicorn re-raises SIGTERM after its shutdown
            for action in at_exit:
                action()
            os._exit(0)

        signal.signal(signal.SIGTERM, on_term)


def _kind(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def gc_pauses(path: str) -> Any:
    """Time every collector pass (gc.callbacks); the returned callable writes the totals
    per generation (passes, seconds, longest) to ``path`` as JSON."""
    from time import perf_counter

    totals = {g: [0, 0.0, 0.0] for g in range(3)}
    young = {g: 0 for g in range(3)}  # the most objects a pass of each generation walked
    started = [0.0]
    biggest: dict[str, int] = {}
    middle: dict[str, int] = {}

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generation = info["generation"]
            walked = sum(len(gc.get_objects(g)) for g in range(generation + 1))
            if generation == 1 and walked > young[1]:  # what the largest middle pass walks
                from collections import Counter

                middle.clear()
                middle.update(Counter(_kind(o) for g in (0, 1) for o in gc.get_objects(g)))
            young[generation] = max(young[generation], walked)
            started[0] = perf_counter()
            return
        took = perf_counter() - started[0]
        entry = totals[info["generation"]]
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)
        if info["generation"] == 2:  # what the full passes walk (counted after the pass)
            from collections import Counter

            kinds = Counter(_kind(o) for o in gc.get_objects())
            if sum(kinds.values()) > sum(biggest.values()):
                biggest.clear()
                biggest.update(kinds)

    gc.callbacks.append(callback)

    def write() -> None:
        gc.callbacks.remove(callback)
        top = sorted(biggest.items(), key=lambda kv: -kv[1])[:25]
        report = {
            "tracked": len(gc.get_objects()),
            "gens": totals,
            "most_walked": young,
            "full_pass_walked": top,
            "middle_pass_walked": sorted(middle.items(), key=lambda kv: -kv[1])[:40],
        }
        Path(path).write_text(json.dumps(report))

    return write


def __getattr__(name: str) -> Any:
    """``agent``: what the ``realtalk api`` workers serve (built once per worker)."""
    if name != "agent":
        raise AttributeError(name)
    agent = compiled_agent(int(os.environ["BENCH_SESSIONS"]), int(os.environ["BENCH_CHUNKS"]))
    globals()["agent"] = agent
    process_settings()
    return agent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("sessions", type=int)
    p.add_argument("chunks", type=int)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    p.add_argument("--ws", default="auto", help="uvicorn ws= (direct mode only)")
    args = p.parse_args()
    if args.workers:
        serve_api(args.port, args.sessions, args.chunks, args.workers, args.loop)
        return
    import uvicorn

    app = build(args.sessions, args.chunks)
    process_settings()
    print("Application startup complete (direct)", file=sys.stderr, flush=True)
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        loop=args.loop,
        ws=args.ws,
        ws_max_size=1 << 20,
        ws_ping_interval=None,
        backlog=4096,
        timeout_graceful_shutdown=1,
    )


def serve_api(port: int, sessions: int, chunks: int, workers: int, loop: str) -> None:
    """``realtalk api --workers N`` on a temporary realtalk.json serving ``agent``."""
    from realtalk.bridge.cli import main as api

    per_worker = sessions + 10  # max_sessions is per process; the kernel picks the worker
    config = {
        "agent": "_bridge_server:agent",
        "limits": {"max_sessions": per_worker, "idle_timeout": 600, "shutdown_grace": 0},
    }
    if os.environ.get("BENCH_WS_COMPRESSION"):  # accept permessage-deflate (default: off)
        config["websocket_compression"] = True
    os.environ.update(BENCH_SESSIONS=str(sessions), BENCH_CHUNKS=str(chunks))
    sys.path.insert(0, str(HERE))  # the workers import this module as the agent's module
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "realtalk.json"
        path.write_text(json.dumps(config))
        args = ["--config", str(path), "--port", str(port), "--log-level", "info"]
        sys.exit(api([*args, "--workers", str(workers), "--loop", loop]))


if __name__ == "__main__":
    main()
