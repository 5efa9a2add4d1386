"""Paired A/B of two checkouts: one benchmark, run alternately in each, ratios compared.

A change to realtalk is proven by running the same benchmark on the code before it (a
git worktree of the earlier commit) and after it, alternately (B A A B ...), so drift in
machine load hits both alike. Each run is its own process with its own in-process
baseline (the floor client, raw google-genai), and what is compared is the benchmark's
own ``ratio ...`` lines: a ratio against a baseline measured in the same process and
round is what stays stable on a shared machine, not absolute CPU seconds.

Both checkouts run *this* checkout's benchmark scripts (copied into a temporary folder
beside the baseline's code), so only the library differs between A and B.

    git worktree add /tmp/before <commit>
    uv run python benchmarks/ab.py --baseline /tmp/before --pairs 2 -- \\
        many_sessions.py --sessions 500 --clients floor,realtalk --rounds 1 --seconds 20

prints every run's ratio lines and, per ratio line and figure, the median over the runs
of each side and after/before.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_FIGURE = re.compile(r"(\w+)=(-?[0-9.]+)")


def ratio_lines(output: str) -> dict[str, dict[str, float]]:
    """``ratio a/b  key=value ...`` lines of a benchmark's output, by label."""
    found: dict[str, dict[str, float]] = {}
    for line in output.splitlines():
        if not line.startswith("ratio "):
            continue
        label = line[: line.index("=")].rsplit(None, 1)[0] if "=" in line else line
        found[label] = {k: float(v) for k, v in _FIGURE.findall(line)}
    return found


def run(checkout: Path, scripts: Path, argv: list[str]) -> str:
    """One run of the benchmark in ``checkout``'s environment with ``scripts``' code."""
    command = ["uv", "run", "--project", str(checkout), "python", str(scripts / argv[0])]
    # the same string hashes on both sides: dict layouts and so cache behaviour match
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [*command, *argv[1:]], cwd=checkout, capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        sys.exit(f"the benchmark failed in {checkout} ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--baseline", required=True, help="checkout of the code before the change")
    p.add_argument("--pairs", type=int, default=2, help="runs on each side (default 2)")
    p.add_argument("--keep", help="folder for every run's whole output (<side>-<run>.txt)")
    p.add_argument("benchmark", nargs=argparse.REMAINDER, help="-- script.py [its options]")
    args = p.parse_args()
    argv = [a for a in args.benchmark if a != "--"] if args.benchmark else []
    baseline = Path(args.baseline).resolve()
    if not argv or not (HERE / argv[0]).is_file():
        p.error("name a benchmark script of benchmarks/ after --, e.g. -- many_sessions.py")
    if not (baseline / "pyproject.toml").is_file():
        p.error(f"--baseline {baseline} is not a realtalk checkout (no pyproject.toml)")
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="realtalk-ab-") as tmp:
        scripts = Path(tmp) / "benchmarks"
        shutil.copytree(HERE, scripts, ignore=shutil.ignore_patterns("results", "__pycache__"))
        results: dict[str, list[dict[str, dict[str, float]]]] = {"before": [], "after": []}
        for i in range(args.pairs):
            order = [("before", baseline), ("after", ROOT)]
            for side, checkout in order if i % 2 == 0 else reversed(order):
                print(f"== {side} run {i + 1} ({checkout})", flush=True)
                output = run(checkout, scripts, argv)
                if args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    (Path(args.keep) / f"{side}-{i + 1}.txt").write_text(output)
                lines = ratio_lines(output)
                for label, figures in lines.items():
                    print(f"{label:28s} " + "  ".join(f"{k}={v:g}" for k, v in figures.items()))
                results[side].append(lines)
    print(f"\nmedians of {args.pairs} run(s) each side; after/before of those medians")
    for label in results["after"][0] if results["after"] else ():
        keys = results["after"][0][label]
        for key in keys:
            before = statistics.median(r[label][key] for r in results["before"] if label in r)
            after = statistics.median(r[label][key] for r in results["after"] if label in r)
            change = after / before if before else float("nan")
            print(f"{label:28s} {key:24s} before={before:.3f}  after={after:.3f}  x{change:.3f}")


if __name__ == "__main__":
    main()
