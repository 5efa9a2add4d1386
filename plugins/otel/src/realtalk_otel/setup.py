"""A ready-made OpenTelemetry SDK setup, for processes that have none (``realtalk api``).

Applications that configure OpenTelemetry themselves call `realtalk_otel.instrument()`
instead; this module is what ``"observability": {"otel": true, "exporter": ...}`` in
``realtalk.json`` runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from . import instrument, uninstrument

EXPORTERS = ("none", "console", "otlp")


class SetupError(RuntimeError):
    """The requested setup needs a package that is not installed (the message says which)."""


def configure(
    exporter: str = "none",
    *,
    service_name: str = "realtalk",
    capture_tool_arguments: bool = False,
    out: TextIO | None = None,
) -> Callable[[], None]:
    """Instrument realtalk and, unless ``exporter`` is ``"none"``, build the SDK providers
    that export its spans and metrics: ``"console"`` prints them to ``out`` (stderr by
    default), ``"otlp"`` sends them over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``.
    ``"none"`` uses the process's global providers. Returns the function that flushes and
    stops everything."""
    if exporter not in EXPORTERS:
        raise SetupError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    if exporter == "none":
        instrument(capture_tool_arguments=capture_tool_arguments)
        return uninstrument
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricExporter,
            PeriodicExportingMetricReader,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError as exc:
        raise SetupError(
            f"exporter {exporter!r} needs the OpenTelemetry SDK: pip install 'realtalk-otel[sdk]' "
            f"({exc})"
        ) from None
    resource = Resource.create({"service.name": service_name})
    processor: SpanProcessor
    metric_exporter: MetricExporter
    if exporter == "console":
        stream = out or sys.stderr
        processor = SimpleSpanProcessor(ConsoleSpanExporter(out=stream))
        metric_exporter = ConsoleMetricExporter(out=stream)
    else:
        span_exporter, metric_exporter = _otlp()
        processor = BatchSpanProcessor(span_exporter)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter)]
    )
    instrument(tracer_provider, meter_provider, capture_tool_arguments=capture_tool_arguments)

    def shutdown() -> None:
        uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return shutdown


def _otlp() -> tuple[Any, Any]:
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise SetupError(
            "exporter 'otlp' needs pip install opentelemetry-exporter-otlp-proto-http"
        ) from None
    return OTLPSpanExporter(), OTLPMetricExporter()


__all__ = ["EXPORTERS", "SetupError", "configure"]
