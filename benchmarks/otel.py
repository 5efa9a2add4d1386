"""CPU per session with realtalk-otel on vs off.

The same realtalk client as ``overhead.py`` (Gemini plugin + runtime, against the
real-time stream server in a child process), alternating runs with tracing off (the
plugin loaded but not instrumented) and on (``realtalk_otel.instrument`` with an SDK
TracerProvider, a BatchSpanProcessor and a MeterProvider: the whole pipeline a
production process runs, minus the network export). Paired ratios (on/off of adjacent
runs) cancel most of the machine's load; the figure is still noisy on a busy machine.

``uv run python benchmarks/otel.py`` (full) or ``--quick`` (CI, a few seconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import _harness as h
import overhead


class _DropExporter:
    """A span exporter that keeps nothing (the export itself is not what is measured)."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class Tracing:
    """Turns realtalk-otel on and off between runs."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(_DropExporter()))  # type: ignore[arg-type]
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def set(self, on: bool) -> None:
        import realtalk_otel

        if on:
            realtalk_otel.instrument(self.tracer_provider, self.meter_provider)
        else:
            realtalk_otel.uninstrument()

    def close(self) -> None:
        self.set(False)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


async def main(quick: bool) -> None:
    h.header("otel: realtalk sessions with realtalk-otel on vs off", quick)
    runs = 3 if quick else 10
    chunks = 20 if quick else 300  # 2 s or 30 s of audio per run
    sessions = 5 if quick else 50
    conc_chunks = 15 if quick else 150
    tracing = Tracing()
    modes = {"off": False, "on": True}
    try:
        with h.StreamServer() as server:
            for on in modes.values():  # warm up: imports, TLS, first connect, first span
                tracing.set(on)
                await overhead.single(server, "realtalk", 3)
            results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
            for run in range(runs):
                order = list(modes) if run % 2 == 0 else list(reversed(modes))
                for mode in order:
                    tracing.set(modes[mode])
                    r = await overhead.single(server, "realtalk", chunks)
                    results[mode].append(r)
                    h.row(f"run {run + 1} otel {mode}", cpu_per_30s=r["cpu_per_30s"])
            print(f"\n## single session, {runs} alternating pairs ({chunks} chunks each)")
            for mode, rs in results.items():
                h.row(f"otel {mode}", cpu_per_30s=h.median([r["cpu_per_30s"] for r in rs]))
            paired = [
                h.ratio(b["cpu_per_30s"], a["cpu_per_30s"])
                for a, b in zip(results["off"], results["on"], strict=True)
            ]
            h.row("ratio on/off", cpu_median_of_pairs=h.median(paired))

            print(f"\n## {sessions} concurrent receive-only sessions ({conc_chunks} chunks each)")
            conc: dict[str, list[float]] = {m: [] for m in modes}
            for run in range(2 if quick else 4):
                order = list(modes) if run % 2 == 0 else list(reversed(modes))
                for mode in order:
                    tracing.set(modes[mode])
                    r = await overhead.concurrent(server, "realtalk", sessions, conc_chunks)
                    conc[mode].append(r["cpu_pct"])
            for mode, values in conc.items():
                h.row(f"otel {mode}", cpu_pct=h.median(values))
            h.row(
                "ratio on/off concurrent",
                cpu=h.median([h.ratio(b, a) for a, b in zip(conc["off"], conc["on"], strict=True)]),
            )
    finally:
        tracing.close()
    print("\ndone")


if __name__ == "__main__":
    args = h.parser(__doc__ or "").parse_args()
    asyncio.run(main(args.quick))
