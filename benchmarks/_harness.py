"""Shared pieces of the benchmark scripts: statistics, machine facts, CPU and memory
readings, and the real-time streaming server running in its own process.

The server lives in a subprocess so the client's CPU readings (``time.process_time``)
count only client work, as a real deployment would see it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import ssl
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHUNK_SECONDS = 0.1
OUT_RATE = 24_000
IN_RATE = 16_000
OUT_CHUNK = int(OUT_RATE * CHUNK_SECONDS) * 2  # bytes of PCM16 mono
IN_CHUNK = int(IN_RATE * CHUNK_SECONDS) * 2


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a few seconds, for CI (crash check)")
    return p


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def ms(ns: Sequence[int]) -> list[float]:
    return [v / 1e6 for v in ns]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def stamped(size: int) -> bytes:
    """``size`` bytes of PCM whose first 8 bytes are ``time.monotonic_ns()``."""
    return struct.pack("<q", time.monotonic_ns()) + bytes(size - 8)


def stamp_of(data: bytes) -> int:
    return int(struct.unpack_from("<q", data)[0])


def cpu_seconds() -> float:
    """CPU (user + system) this process used so far."""
    return time.process_time()


class CollectorPauses:
    """The cyclic collector's passes in this process while active (``gc.callbacks``):
    how many, their total and longest pause, and the full (generation 2) ones apart,
    so a p99 can be read as collector pauses or as the client's own work. `mark()` at
    the start and the end of a steady window adds the passes inside it (``gc_steady_*``),
    which tell passes driven by streaming apart from those of the connect burst; and
    ``promoted``, the objects its middle passes moved into the oldest generation, which
    is what makes full passes due."""

    def __init__(self) -> None:
        self.passes = self.full_passes = 0
        self.total = self.longest = self.full_longest = 0.0
        self._started = 0.0
        self._marks: list[tuple[int, float, int]] = []
        self.promoted = self._young = 0
        """Objects moved into the oldest generation (survivors of middle passes): a full
        pass is due once they reach a quarter of what that generation holds."""

    def mark(self) -> None:
        """The start, then the end, of the steady window."""
        self._marks.append((self.passes, self.total, self.full_passes))

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        generation = info.get("generation")
        if generation == 1:  # its survivors move to the oldest generation: counted
            if phase == "start":  # before the clock starts, so pauses stay the collector's
                import gc

                self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            else:
                self.promoted += self._young - info.get("collected", 0)
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            return
        took = now - self._started
        self.passes += 1
        self.total += took
        self.longest = max(self.longest, took)
        if info.get("generation") == 2:
            self.full_passes += 1
            self.full_longest = max(self.full_longest, took)

    def __enter__(self) -> CollectorPauses:
        import gc

        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.callbacks.remove(self._callback)

    def figures(self) -> dict[str, float]:
        figures: dict[str, float] = {
            "gc_passes": self.passes,
            "gc_ms": round(self.total * 1000, 1),
            "gc_max_ms": round(self.longest * 1000, 1),
            "gc_full": self.full_passes,
            "gc_full_max_ms": round(self.full_longest * 1000, 1),
        }
        if len(self._marks) >= 2:
            (p0, t0, f0), (p1, t1, f1) = self._marks[0], self._marks[1]
            figures |= {
                "gc_steady_passes": p1 - p0,
                "gc_steady_ms": round((t1 - t0) * 1000, 1),
                "gc_steady_full": f1 - f0,
            }
        return figures


async def alternating(
    runs: int, measures: dict[str, Callable[[], Awaitable[float]]], unit: str
) -> dict[str, list[float]]:
    """``runs`` rounds of every measure, the order flipping every round (so drift in the
    machine's load hits each alike); prints each figure as ``run N name unit=value``."""
    results: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for run in range(runs):
        for name in names if run % 2 == 0 else reversed(names):
            value = await measures[name]()
            results[name].append(value)
            row(f"run {run + 1} {name}", **{unit: value})
    return results


def proc_cpu_seconds(pid: int) -> float:
    """CPU (user + system) another process used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default)."""
    pages = int(Path(f"/proc/{pid or 'self'}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        from importlib.metadata import version

        genai = version("google-genai")
        ws = version("websockets")
    except Exception:
        genai = ws = "?"
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"google-genai {genai}, websockets {ws}, load average {load}"
    )


def header(name: str, quick: bool) -> None:
    print(f"# {name} ({'quick' if quick else 'full'} mode)")
    print(f"machine: {machine()}")


def row(label: str, **values: Any) -> None:
    parts = []
    for key, value in values.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3f}")
        else:
            parts.append(f"{key}={value}")
    print(f"{label:<28} " + "  ".join(parts), flush=True)


def pin_plan(enabled: bool = True) -> tuple[int, int] | None:
    """(client core, load core) to pin this process and its load generator or server to
    different cores, or ``None`` (with the reason printed) when that is not possible:
    ``taskset`` missing, no ``os.sched_setaffinity``, or fewer than two usable cores."""
    if not enabled:
        return None
    why = ""
    if shutil.which("taskset") is None:
        why = "taskset not found"
    elif not hasattr(os, "sched_setaffinity"):
        why = "no sched_setaffinity on this platform"
    elif len(os.sched_getaffinity(0)) < 2:
        why = "fewer than two usable cores"
    if why:
        print(f"pinning: off ({why}); both processes share every core")
        return None
    first, second = sorted(os.sched_getaffinity(0))[:2]
    return first, second


def pin_self(core: int) -> None:
    """Run this process (and threads started later) on ``core`` only."""
    os.sched_setaffinity(0, {core})


def taskset(core: int | None) -> list[str]:
    """The argv prefix that starts a child on ``core`` (empty when not pinning)."""
    return [] if core is None else ["taskset", "-c", str(core)]


def gemini_http_options(port: int, context: ssl.SSLContext) -> dict[str, Any]:
    """google-genai's ``http_options`` for the stream server on ``port``, trusting it."""
    return {
        "base_url": f"https://127.0.0.1:{port}",
        "api_version": "v1beta",
        "async_client_args": {"ssl": context},
    }


def set_gc_threshold_from_env() -> tuple[int, int, int]:
    """``BENCH_GC_THRESHOLD="young[,middle[,old]]"`` applied to this process (the rest
    kept); returns the thresholds before, to restore them."""
    import gc

    before = gc.get_threshold()
    if os.environ.get("BENCH_GC_THRESHOLD"):
        given = [int(v) for v in os.environ["BENCH_GC_THRESHOLD"].split(",")]
        gc.set_threshold(*given, *before[len(given) :])
    return before


class StreamServer:
    """The real-time Gemini wire server (``_stream_server.py``) in a child process,
    pinned to ``core`` with ``taskset`` when one is given."""

    def __init__(self, core: int | None = None) -> None:
        self._proc = subprocess.Popen(
            [*taskset(core), sys.executable, str(HERE / "_stream_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = json.loads(self._read())
        self.port: int = hello["port"]
        self.ca_pem: str = hello["ca_pem"]
        self.client_context = ssl.create_default_context(cadata=self.ca_pem)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _read(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server exited")
        return line

    def _ask(self, **cmd: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(cmd) + "\n")
        self._proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._read())
        return answer

    def configure(self, **cfg: Any) -> None:
        """Behaviour of the next connections (and reset the counters)."""
        self._ask(cmd="config", **cfg)

    def stats(self, *, keep: bool = False) -> dict[str, Any]:
        """Counters since the last configure/stats (send-path latencies, bytes, marks) and
        the server's CPU seconds so far; ``keep``: only the CPU, counters left as they are
        (cheap enough to read while sessions run)."""
        return self._ask(cmd="stats", keep=keep)

    @property
    def http_options(self) -> dict[str, Any]:
        return gemini_http_options(self.port, self.client_context)

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write('{"cmd": "quit"}\n')
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> StreamServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
