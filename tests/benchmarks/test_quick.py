"""Every benchmark's ``--quick`` mode runs to the end and prints its figures.

Timing is never asserted (CI machines vary); a benchmark that crashes, hangs or stops
printing its ratio against the baseline fails here. The scripts start together in
subprocesses (each spawns its own servers) so the whole set takes about as long as the
slowest one. A name with options (``"capacity --pin"``) runs the script with them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {
    "overhead": [
        "recv_p50=",
        "send_p50=",
        "cpu_pct=",
        "chunks_per_s=",
        "ratio realtalk/raw",
        "ratio realtalk/floor",
    ],
    "many_sessions": [
        "20 concurrent sessions",
        "cpu_s_per_session_30s=",
        "send_p99=",
        "ratio realtalk/floor",
        "ratio realtalk/raw",
        "goal realtalk (cpu <= 1.1x",
        "gc_passes=",
        "gc_full_max_ms=",
    ],
    "chunk_path": ["us_per_chunk=", "realtalk_cost=", "ratio realtalk/floor", "ratio best"],
    "reconnect": ["go_away", "drop", "gap_ms=", "input_lost_bytes=", "ratio_to_raw_connect="],
    "memory": ["import realtalk", "kib=", "ratio realtalk+gemini/raw"],
    "capacity": ["10 sessions", "p99_ms=", "cpu_s_per_session_min=", "ratio_to_target"],
    "capacity --pin": ["pinning: the bridge", "pinned_to_one_core=yes", "ratio_to_goal_1000"],
    "capacity --model echo": [
        "model double: EchoModel",
        "10 sessions",
        "ok=10",
        "p99_all_streaming_ms=",
    ],
    "capacity --model gemini": [
        "model double: the real Gemini plugin",
        "10 sessions",
        "ok=10",
        "p99_all_streaming_ms=",
    ],
    "capacity --model gemini --bridge floor": [
        "bridge: the relay floor",
        "10 sessions",
        "ok=10",
        "p99_all_streaming_ms=",
    ],
    "objects": [
        "floor",
        "per_session=",
        "cyclic_per_session=",
        "ratio realtalk/floor",
        "bridge_cyclic_per_session=",
    ],
    "peers/run": ["peers: none", "round 1 floor", "ratio realtalk/raw", "ratio realtalk/floor"],
    "runtime_path": ["us_per_event=", "runtime_cost=", "ratio realtalk/bare"],
    "otel": ["cpu_per_30s=", "cpu_median_of_pairs=", "ratio on/off concurrent"],
}
TIMEOUT = 90


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), "--quick", *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in SCRIPTS
        for script, *extra in [name.split()]
    }
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_quick_mode_runs_and_prints_figures(
    runs: dict[str, subprocess.Popen[str]], name: str
) -> None:
    out, err = runs[name].communicate(timeout=TIMEOUT)
    assert runs[name].returncode == 0, f"{name} --quick failed:\n{out}\n{err}"
    assert out.startswith("# ") and "machine: " in out
    figures = SCRIPTS[name]
    if "--pin" in name and (shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2):
        figures = ["pinning: off", "pinned_to_one_core=no"]  # the documented fallback
    for figure in figures:
        assert figure in out, f"{name} did not print {figure!r}:\n{out}"
    assert out.rstrip().endswith("done")
    assert "nan" not in out, f"{name} printed a missing figure:\n{out}"
