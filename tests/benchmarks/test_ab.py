"""benchmarks/ab.py: a paired before/after run of one benchmark in two checkouts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AB = ROOT / "benchmarks" / "ab.py"

sys.path.insert(0, str(ROOT / "benchmarks"))
import ab  # noqa: E402


def test_ratio_lines_are_read_by_label_and_figure() -> None:
    out = (
        "round 1 floor  cpu=0.05\n"
        "ratio realtalk/floor         cpu_s_per_session_30s=1.147  recv_p99=1.233\n"
        "ratio best realtalk/floor    cpu=1.05\n"
    )
    assert ab.ratio_lines(out) == {
        "ratio realtalk/floor": {"cpu_s_per_session_30s": 1.147, "recv_p99": 1.233},
        "ratio best realtalk/floor": {"cpu": 1.05},
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "/nonexistent", "--", "chunk_path.py"], "is not a realtalk checkout"),
        (["--baseline", str(ROOT), "--", "nope.py"], "name a benchmark script"),
        (["--baseline", str(ROOT)], "name a benchmark script"),
        (["--baseline", str(ROOT), "--pairs", "0", "--", "chunk_path.py"], "at least 1"),
    ],
)
def test_wrong_arguments_get_one_line_and_exit_2(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(AB), *argv], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("uv") is None, reason="ab.py runs each side with uv")
def test_a_pair_of_quick_runs_prints_both_sides_and_the_change(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(AB),
            "--baseline",
            str(ROOT),
            "--pairs",
            "1",
            "--keep",
            str(tmp_path),
            "--",
            "chunk_path.py",
            "--quick",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr
    assert "== before run 1" in done.stdout and "== after run 1" in done.stdout
    assert "ratio realtalk/floor" in done.stdout and "after/before" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["after-1.txt", "before-1.txt"]
