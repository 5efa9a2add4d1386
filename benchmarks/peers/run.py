"""Peers: LiveKit Agents' and Pipecat's Gemini Live clients against raw google-genai and
the floor, on the same server with the same pacing.

Each peer is installed from PyPI by name into its own throwaway virtual environment
(``uv venv`` + ``uv pip install`` in a temporary folder, removed at the end):

* ``livekit``: ``livekit-agents`` and ``livekit-plugins-google`` (the Gemini
  ``RealtimeModel``);
* ``pipecat``: ``pipecat-ai[google]`` (``GeminiLiveLLMService``).

Every client, ``floor``, ``raw`` and ``realtalk`` included, runs its session in a fresh
process of its own interpreter (``_client.py``) against one ``_stream_server.py``: a 100 ms chunk of
24 kHz audio every 100 ms each way. Clients alternate within a round (the order flips
every round); ratios are medians of per-round ratios to raw and to the floor. CPU is the
client process's own in the steady part of its session (from its 10th received chunk
to its end: per-process first-use costs left out), and also for the whole session
(connect, client setup and first use in); latencies leave out each session's first
second. With ``taskset``, the
clients run on one core and the server on the other.

``uv run python benchmarks/peers/run.py`` (full: 3 rounds of 30 s, installs both peers),
``--peers livekit`` (one), ``--venvs DIR`` (keep and reuse the environments in DIR);
``--quick`` (CI) runs floor, raw and realtalk only, through the same child-process path, and
installs nothing unless ``--peers`` is given. A peer that cannot be installed or connect
is reported with the reason and left out; the others still run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

import _harness as h

PACKAGES = {
    "livekit": ["livekit-agents", "livekit-plugins-google"],
    "pipecat": ["pipecat-ai[google]"],
}
DISTRIBUTIONS = {  # what each environment reports its versions of
    "livekit": ["livekit-agents", "livekit-plugins-google", "google-genai"],
    "pipecat": ["pipecat-ai", "google-genai"],
}
INSTALL_TIMEOUT = 900
CLIENT = Path(__file__).resolve().parent / "_client.py"
SKIP = 10  # each session's first second each way


def install(name: str, root: Path) -> tuple[Path | None, str]:
    """A virtual environment with ``name``'s packages: (its python, versions) or (None, why)."""
    uv = shutil.which("uv")
    if uv is None:
        return None, "uv not found (pip install uv)"
    venv = root / name
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run(
                [uv, "venv", "-q", "-p", sys.executable, str(venv)],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(python), *PACKAGES[name]],
            check=True,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
        probe = (
            "import importlib.metadata as m, sys; "
            "print(', '.join(f'{d} {m.version(d)}' for d in sys.argv[1:]))"
        )
        versions = subprocess.run(
            [str(python), "-c", probe, *DISTRIBUTIONS[name]],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except subprocess.TimeoutExpired as exc:
        return None, f"install timed out after {exc.timeout:.0f} s"
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        return None, f"install failed ({' '.join(exc.cmd[:3])}...): {' | '.join(tail)}"
    return python, versions


def ca_pem(server: h.StreamServer) -> str:
    import ssl

    der = server.client_context.get_ca_certs(binary_form=True)[0]
    return ssl.DER_cert_to_PEM_cert(der)


def session(
    server: h.StreamServer, name: str, python: str, chunks: int, core: int | None
) -> dict[str, Any]:
    """One session of ``name`` in a child process; its figures or ``{"error": why}``."""
    server.configure(chunks=chunks, interval=h.CHUNK_SECONDS, send_skip=SKIP)
    config = {"port": server.port, "ca_pem": ca_pem(server), "chunks": chunks, "skip": SKIP}
    argv = [*h.taskset(core), python, str(CLIENT), name, json.dumps(config)]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=chunks * h.CHUNK_SECONDS * 3 + 120
        )
    except subprocess.TimeoutExpired:
        return {"error": "the session did not finish in time"}
    time.sleep(0.2)  # the server reads the last input frames
    stats = server.stats()
    lines = proc.stdout.strip().splitlines()
    try:
        out: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {"error": f"the client exited {proc.returncode} without a result: {tail}"}
    if "error" in out:
        return out
    if out["chunks"] < chunks // 2:
        return {"error": f"received {out['chunks']} of {chunks} chunks"}
    recv = h.ms(out["recv_lat_ns"][SKIP:])
    send = h.ms(stats["send_lat_ns"])
    seconds = out["chunks"] * h.CHUNK_SECONDS
    return {
        "recv_p50": h.pct(recv, 50),
        "recv_p99": h.pct(recv, 99),
        "send_p50": h.pct(send, 50),
        "send_p99": h.pct(send, 99),
        "cpu_per_30s": out["cpu_steady_s"] / (out["steady_chunks"] * h.CHUNK_SECONDS) * 30,
        "cpu_whole_session_per_30s": out["cpu_s"] / seconds * 30,
    }


KEYS = ("recv_p50", "recv_p99", "send_p50", "send_p99", "cpu_per_30s", "cpu_whole_session_per_30s")


def summarise(rows: dict[str, list[dict[str, Any]]]) -> None:
    for name, rs in rows.items():
        h.row(name, **{k: h.median([r[k] for r in rs]) for k in KEYS})
    for base in ("raw", "floor"):
        for name, rs in rows.items():
            if name in (base, "floor") or base not in rows:
                continue
            paired = {
                k: h.median([h.ratio(a[k], b[k]) for a, b in zip(rs, rows[base], strict=False)])
                for k in KEYS
            }
            h.row(f"ratio {name}/{base}", **paired)


def main() -> None:
    p = h.parser(__doc__ or "")
    p.add_argument(
        "--peers", help="comma-separated: livekit,pipecat (default both; none in --quick)"
    )
    p.add_argument("--venvs", help="keep the environments in this folder and reuse them")
    p.add_argument("--rounds", type=int, help="alternating rounds (default 3, 1 in --quick)")
    p.add_argument("--no-pin", action="store_true", help="do not pin clients and server")
    args = p.parse_args()
    h.header("peers: LiveKit Agents and Pipecat vs raw google-genai and the floor", args.quick)
    peers = [
        x
        for x in (
            args.peers if args.peers is not None else "" if args.quick else "livekit,pipecat"
        ).split(",")
        if x
    ]
    unknown = [x for x in peers if x not in PACKAGES]
    if unknown:
        p.error(f"unknown peer(s) {unknown}; choose from {sorted(PACKAGES)}")
    if not peers:
        print("peers: none (--quick installs nothing; pass --peers livekit,pipecat)")
    chunks = 20 if args.quick else 300
    rounds = args.rounds or (1 if args.quick else 3)
    root = Path(args.venvs) if args.venvs else Path(tempfile.mkdtemp(prefix="realtalk-peers-"))
    root.mkdir(parents=True, exist_ok=True)
    ours = {"floor", "raw", "realtalk"}  # run by this environment's interpreter
    pythons: dict[str, str] = dict.fromkeys(sorted(ours), sys.executable)
    try:
        for peer in peers:
            t0 = time.monotonic()
            python, note = install(peer, root)
            if python is None:
                print(f"{peer}: left out: {note}")
                continue
            print(f"{peer}: installed in {time.monotonic() - t0:.0f} s: {note}")
            pythons[peer] = str(python)
        plan = h.pin_plan(not args.no_pin)
        core = plan[0] if plan else None
        if plan is not None:
            print(
                f"pinning: client processes on core {plan[0]}, server on core {plan[1]} (taskset)"
            )
        with h.StreamServer(core=plan[1] if plan else None) as server:
            rows: dict[str, list[dict[str, Any]]] = {n: [] for n in pythons}
            for run in range(rounds):
                order = list(pythons) if run % 2 == 0 else list(reversed(pythons))
                for name in order:
                    if name not in rows:
                        continue
                    r = session(server, name, pythons[name], chunks, core)
                    if "error" in r:
                        print(f"{name}: left out: {r['error']}")
                        del rows[name]
                        continue
                    rows[name].append(r)
                    h.row(f"round {run + 1} {name}", **r)
            print(f"\n## one session each, medians of {rounds} round(s) of {chunks} chunks")
            summarise(rows)
    finally:
        if not args.venvs:
            shutil.rmtree(root, ignore_errors=True)
    print("done")


if __name__ == "__main__":
    main()
