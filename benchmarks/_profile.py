"""cProfile results summed by component, for the benchmarks' ``BENCH_PROFILE`` runs.

A deterministic profiler inflates call-heavy Python layers against C and the kernel, so
the shares rank costs; they are not a stopwatch. A builtin's time goes to the component
of its caller, except socket and TLS calls and the idle epoll wait, which get their own
lines (the wait is left out of the shares).
"""

from __future__ import annotations

import glob
import pstats
from collections.abc import Sequence
from typing import Any

# (path fragment, component, split by file), first match wins
Components = Sequence[tuple[str, str, bool]]
KERNEL = ("'send' of '_socket", "'recv' of '_socket", "'recv_into' of '_socket")
IDLE = ("'poll' of 'select", "'select' of 'select")
OTHER = "other Python (logging, ...)"


def _component(func: tuple[str, int, str], components: Components) -> str | None:
    path, _, name = func
    if path == "~":
        if any(k in name for k in IDLE):
            return "idle"
        if any(k in name for k in KERNEL):
            return "socket send/recv (system calls)"
        if "_ssl._SSLSocket" in name or "_ssl.MemoryBIO" in name:
            return "TLS (OpenSSL read/write/BIO)"
        return None
    for fragment, component, by_file in components:
        if fragment in path:
            return f"{component}: {path.split(fragment, 1)[1]}" if by_file else component
    return OTHER


def totals(stats: Any, components: Components) -> dict[str, float]:
    """Own time per component (builtins charged to their caller's component)."""
    out: dict[str, float] = {}
    for func, (_, _, own, _, callers) in stats.items():
        group = _component(func, components)
        if group is not None:
            out[group] = out.get(group, 0.0) + own
            continue
        for caller, entry in callers.items():
            owner = _component(caller, components) or OTHER
            out[owner] = out.get(owner, 0.0) + entry[2]
    return out


def loop_callbacks(stats: Any) -> int:
    """Callbacks the event loop ran (task steps included): ``Handle._run`` calls."""
    return sum(
        entry[1]
        for (path, _, name), entry in stats.items()
        if name == "_run" and path.endswith("asyncio/events.py")
    )


def report(files: Sequence[str], components: Components, *, top: int = 0, under: str = "") -> None:
    """Print the shares by component; with ``top``, also the ``top`` functions under
    ``under`` (a path fragment) by own time."""
    if not files:
        return
    stats: Any = pstats.Stats(*files).stats
    shares = totals(stats, components)
    shares.pop("idle", None)
    whole = sum(shares.values()) or 1.0
    print(f"profile ({len(files)} process(es), cProfile, epoll wait left out): share of time")
    for group, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        if seconds / whole >= 0.001:
            print(f"  {100 * seconds / whole:5.1f}%  {group}")
    if top:
        own = [
            (entry[2], entry[1], f"{path.split(under, 1)[1]}:{line} {name}")
            for (path, line, name), entry in stats.items()
            if under and under in path
        ]
        print(f"top {top} functions under {under!r} by own time (share, calls)")
        for seconds, calls, label in sorted(own, reverse=True)[:top]:
            print(f"  {100 * seconds / whole:5.1f}%  {calls:>9}  {label}")


def matching(prefix: str) -> list[str]:
    """The profile files a run wrote for ``prefix`` (``prefix.<suffix>``)."""
    return sorted(glob.glob(prefix + ".*"))
