"""``"observability"`` of ``realtalk.json``: OpenTelemetry for the server's sessions.

The work is realtalk-otel's (an optional plugin); this module only turns the config into
its setup call, and a missing package into a clear startup error.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import ConfigError, ObservabilityConfig


def enable_observability(config: ObservabilityConfig) -> Callable[[], None]:
    """Set up what ``config`` asks for; returns the function that flushes and stops it."""
    if not config.otel:
        return lambda: None
    try:
        from realtalk_otel.setup import SetupError, configure
    except ImportError as exc:
        raise ConfigError(
            '"observability": {"otel": true} needs the realtalk-otel plugin: '
            f"pip install 'realtalk-otel[sdk]' ({exc})"
        ) from None
    try:
        return configure(
            config.exporter,
            service_name=config.service_name,
            capture_tool_arguments=config.capture_tool_arguments,
        )
    except SetupError as exc:
        raise ConfigError(f'"observability": {exc}') from None


__all__ = ["enable_observability"]
