"""OpenTelemetry traces and metrics for realtalk sessions.

Install ``realtalk-otel`` and call `instrument()` once: every session then becomes a
span (``realtime {model}``) with child spans per turn (``chat {model}``), tool call
(``execute_tool {name}``) and reconnect (``realtalk.reconnect``), plus metric
instruments, on the global (or given) TracerProvider and MeterProvider. Spans follow the
OpenTelemetry GenAI semantic conventions where they apply. See docs/observability.md.
"""

from __future__ import annotations

from typing import Any

from . import _state

__version__ = "0.1.0"


def instrument(
    tracer_provider: Any = None,
    meter_provider: Any = None,
    *,
    capture_tool_arguments: bool = False,
) -> None:
    """Trace every realtalk session of this process from now on.

    ``tracer_provider``/``meter_provider``: where spans and measurements go (the global
    providers when None). ``capture_tool_arguments``: record each tool call's arguments
    as ``gen_ai.tool.call.arguments`` (off by default: arguments may hold what the user
    said). Audio and transcripts are never recorded. Calling it again replaces the
    previous setup."""
    from .tracing import SessionTracing

    uninstrument()
    _state.active = SessionTracing(
        tracer_provider, meter_provider, capture_tool_arguments=capture_tool_arguments
    )


def uninstrument() -> None:
    """Stop tracing (spans of sessions still open are ended now)."""
    tracing, _state.active = _state.active, None
    if tracing is not None:
        tracing.close()


def is_instrumented() -> bool:
    return _state.active is not None


__all__ = ["__version__", "instrument", "is_instrumented", "uninstrument"]
