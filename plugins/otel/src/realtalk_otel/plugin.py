"""The realtalk plugin (entry point ``otel``): lifecycle hooks that feed the tracing.

Loaded in every process where realtalk-otel is installed, so importing it stays cheap
(OpenTelemetry loads with `realtalk_otel.instrument()`); until then every hook returns
at once.
"""

from __future__ import annotations

from typing import Any

from realtalk.hookspecs import hookimpl

from . import _state


@hookimpl
def realtalk_session_start(thread_id: str) -> None:
    tracing = _state.active
    if tracing is not None:
        tracing.session_start(thread_id)


@hookimpl
def realtalk_tool_call(thread_id: str, call_id: str, args: dict[str, Any]) -> None:
    tracing = _state.active
    if tracing is not None:
        tracing.tool_call(thread_id, call_id, args)


@hookimpl
def realtalk_error(thread_id: str, code: str, fatal: bool) -> None:
    tracing = _state.active
    if tracing is not None:
        tracing.error(thread_id, code, fatal)


@hookimpl
def realtalk_metrics(thread_id: str, metrics: Any) -> None:
    tracing = _state.active
    if tracing is not None:
        tracing.metrics(thread_id, metrics)


@hookimpl
def realtalk_session_end(thread_id: str, reason: str) -> None:
    tracing = _state.active
    if tracing is not None:
        tracing.session_end(thread_id, reason)
