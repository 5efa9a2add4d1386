"""Memory per idle session and the cost of ``import realtalk``.

* Resident memory per idle session: a fresh child process warms up with a few sessions,
  then opens N more that stay connected and silent; (RSS after - RSS before) / N.
  Kinds: ``fake`` (runtime only, through FakeProvider: what realtalk itself holds),
  ``gemini`` (runtime + plugin + google-genai socket, against the benchmark server) and
  its baseline ``raw`` (a plain google-genai ``live.connect`` held open).
* ``import realtalk`` in a fresh interpreter (median of several), whether it loaded
  google-genai, against ``import google.genai`` as the baseline; and the first use of a
  public name (``realtalk.RealtimeConfig``, then building one), which loads pydantic and
  the models the package itself defers.

``uv run python benchmarks/memory.py`` (full: 1,000 fake sessions, 200 Gemini ones) or
``--quick``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from typing import Any

import _harness as h

MODEL = "gemini-live-2.5-flash-preview"
WARM = 5

IMPORT_PROBE = """
import sys, time
t = time.perf_counter()
import {module}
d = time.perf_counter() - t
print(d, 'google.genai' in sys.modules)
"""


PYDANTIC_FLOOR = "pydantic\nclass M(pydantic.BaseModel):\n    x: int"
FIRST_USE = "realtalk; realtalk.RealtimeConfig"
FIRST_CONFIG = "realtalk; realtalk.RealtimeConfig(model='m')"
"""The floor for any package whose public types are pydantic models."""


def import_time(module: str) -> tuple[float, bool]:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]) * 1000, out[1] == "True"


# --------------------------------------------------------------------------- child side


async def _hold_fake(n: int) -> float:
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
    from realtalk_testing import FakeProvider
    from realtalk_testing.script import expect

    total = WARM + n
    provider = FakeProvider([[expect.close()] for _ in range(total)])
    app = AudioAgent(
        "fake-model", realtime_config=RealtimeConfig(model="fake-model"), provider=provider
    ).compile()
    queues: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    async def run(i: int) -> None:
        queue = LiveInputQueue()
        queues.append(queue)
        async for _ in app.arealtime(queue, {"thread_id": f"idle-{i}"}):
            pass

    async def open_sessions(start: int, count: int) -> None:
        for i in range(start, start + count):
            tasks.append(asyncio.create_task(run(i)))
        while len(provider.sessions) < start + count:  # noqa: ASYNC110 - polling a fake
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)

    await open_sessions(0, WARM)
    gc.collect()
    before = h.rss_bytes()
    await open_sessions(WARM, n)
    gc.collect()
    per = (h.rss_bytes() - before) / n
    for q in queues:
        q.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    return per


async def _hold_gemini(n: int, kind: str) -> float:
    with h.StreamServer() as server:
        server.configure(chunks=0, idle=True, interval=h.CHUNK_SECONDS)
        opened = asyncio.Event()
        release = asyncio.Event()
        count = 0
        target = 0

        def note() -> None:
            nonlocal count
            count += 1
            if count >= target:
                opened.set()

        clients: list[Any] = []

        async def raw() -> None:
            from google import genai
            from google.genai import types

            if not clients:  # one client for all sessions, as an idiomatic program does
                clients.append(genai.Client(api_key="bench", http_options=server.http_options))
            config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
            async with clients[0].aio.live.connect(model=MODEL, config=config):
                note()
                await release.wait()

        app: Any = None
        queues: list[Any] = []

        async def rt(i: int) -> None:
            from realtalk import LiveInputQueue

            queue = LiveInputQueue()
            queues.append(queue)
            async for ev in app.arealtime(queue, {"thread_id": f"idle-{i}"}):
                if ev.type == "session_started":
                    pass
            return None

        if kind == "gemini":
            from realtalk import AudioAgent, RealtimeConfig

            config = RealtimeConfig(
                model=MODEL,
                provider_options={"api_key": "bench", "http_options": server.http_options},
            )
            app = AudioAgent(MODEL, realtime_config=config).compile()

        async def open_sessions(start: int, count_: int) -> list[asyncio.Task[None]]:
            nonlocal target
            target = start + count_
            opened.clear()
            if kind == "raw":
                made = [asyncio.create_task(raw()) for _ in range(count_)]
            else:
                made = [asyncio.create_task(rt(start + i)) for i in range(count_)]
            if kind == "raw":
                await opened.wait()
            else:
                # connected once the server has seen every setup
                while True:
                    await asyncio.sleep(0.1)
                    if server_conns() >= target:
                        break
            await asyncio.sleep(0.2)
            return made

        seen = 0

        def server_conns() -> int:
            nonlocal seen
            seen += int(server.stats()["connections"])
            return seen

        tasks = await open_sessions(0, WARM)
        gc.collect()
        before = h.rss_bytes()
        tasks += await open_sessions(WARM, n)
        gc.collect()
        per = (h.rss_bytes() - before) / n
        release.set()
        for q in queues:
            q.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        return per


def child(kind: str, n: int) -> None:
    if kind == "fake":
        per = asyncio.run(_hold_fake(n))
    else:
        per = asyncio.run(_hold_gemini(n, kind))
    print(json.dumps({"per_session_bytes": per}))


def measure(kind: str, n: int) -> float:
    out = (
        subprocess.run(
            [sys.executable, __file__, "--child", kind, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return float(json.loads(out)["per_session_bytes"])


def main(quick: bool) -> None:
    h.header("memory and import time", quick)
    runs = 2 if quick else 9
    rt = [import_time("realtalk") for _ in range(runs)]
    use = [import_time(FIRST_USE) for _ in range(runs)]
    built = h.median([import_time(FIRST_CONFIG)[0] for _ in range(runs)])
    base = [import_time("google.genai") for _ in range(runs)]
    floor = h.median([import_time(PYDANTIC_FLOOR)[0] for _ in range(runs)])
    rt_ms = h.median([t for t, _ in rt])
    use_ms = h.median([t for t, _ in use])
    base_ms = h.median([t for t, _ in base])
    print(f"\n## import time, median of {runs} fresh interpreters")
    h.row("import realtalk", ms=rt_ms, loads_google_genai=any(g for _, g in rt))
    h.row(
        "+ realtalk.RealtimeConfig",
        ms=use_ms,
        loads_google_genai=any(g for _, g in use),
    )
    h.row("+ RealtimeConfig(model=...)", ms=built)
    h.row("import google.genai", ms=base_ms)
    h.row("import pydantic + 1 model", ms=floor)
    h.row(
        "ratio realtalk/google.genai",
        time=h.ratio(rt_ms, base_ms),
        first_use_beyond_pydantic_ms=use_ms - floor,
    )

    fake_n = 100 if quick else 1000
    gem_n = 60 if quick else 200
    print("\n## resident memory per idle session (fresh process each)")
    fake = measure("fake", fake_n)
    h.row(f"realtalk runtime x{fake_n}", kib=fake / 1024)
    raw = measure("raw", gem_n)
    gem = measure("gemini", gem_n)
    h.row(f"raw google-genai x{gem_n}", kib=raw / 1024)
    h.row(f"realtalk + gemini x{gem_n}", kib=gem / 1024)
    h.row("ratio realtalk+gemini/raw", memory=h.ratio(gem, raw))
    print("\ndone")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        args = h.parser(__doc__ or "").parse_args()
        main(args.quick)
