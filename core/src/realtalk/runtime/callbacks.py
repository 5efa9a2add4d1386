"""Lifecycle callbacks: user handlers and plugin hooks, fired in one documented order.

A session fires, in order of occurrence: ``session_start`` -> (``turn_start`` ->
``tool_call`` -> ``tool_result`` -> ``turn_end``)* with ``reconnect`` and ``error``
wherever they happen -> ``session_end``. For each, the plugins' lifecycle hooks run
first (``realtalk_<name>``), then every handler of the `CallbackManager` in the
order they were added. Handlers are objects with any subset of the ``on_<name>`` methods
(sync or async). A handler that raises is logged and reported as a non-fatal
``error(code="callback_error")`` event; it never ends the session. There is
deliberately no callback per audio chunk.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("realtalk.runtime.callbacks")

LIFECYCLE = (
    "session_start",
    "session_end",
    "turn_start",
    "turn_end",
    "tool_call",
    "tool_result",
    "reconnect",
    "error",
)
"""Callback names; handler methods are ``on_<name>``, plugin hooks ``realtalk_<name>``."""


class CallbackManager:
    """User callback handlers of a compiled app.

    Example::

        class Log:
            def on_tool_call(self, thread_id, call_id, name, args): ...
            async def on_session_end(self, thread_id, reason): ...

        app = agent.compile(callback_manager=CallbackManager([Log()]))

    Any object with ``on_*`` methods can be passed to ``compile(callback_manager=...)``
    directly; it is wrapped in a manager.
    """

    def __init__(self, handlers: Iterable[Any] = ()) -> None:
        self.handlers: list[Any] = list(handlers)

    def add(self, handler: Any) -> Any:
        """Register a handler (returned, so this works as a class decorator on instances)."""
        self.handlers.append(handler)
        return handler

    def remove(self, handler: Any) -> None:
        self.handlers.remove(handler)

    @classmethod
    def of(cls, value: Any) -> CallbackManager:
        """A manager for ``value``: a manager, a handler object, a list of them, or None."""
        if value is None:
            return cls()
        if isinstance(value, CallbackManager):
            return value
        if isinstance(value, list | tuple):
            return cls(value)
        if not any(callable(getattr(value, f"on_{name}", None)) for name in LIFECYCLE):
            raise TypeError(
                "callback_manager must be a CallbackManager or an object with on_* methods "
                f"({', '.join('on_' + n for n in LIFECYCLE)}), got {value!r}"
            )
        return cls([value])


ErrorReporter = Callable[[str, BaseException], Any]


async def fire(
    manager: CallbackManager,
    hook: str,
    /,
    *,
    report: ErrorReporter | None = None,
    **kwargs: Any,
) -> None:
    """Run the plugin hooks then the user handlers for ``hook``; failures are reported."""
    try:
        _call_plugins(hook, kwargs)
    except Exception as exc:
        log.warning("plugin lifecycle hook realtalk_%s raised: %s", hook, exc)
        if report is not None:
            await _maybe_await(report(f"plugin hook realtalk_{hook}", exc))
    for handler in list(manager.handlers):
        method = getattr(handler, f"on_{hook}", None)
        if not callable(method):
            continue
        try:
            await _maybe_await(method(**kwargs))
        except Exception as exc:
            label = f"{type(handler).__name__}.on_{hook}"
            log.warning("callback %s raised: %s", label, exc, exc_info=True)
            if report is not None:
                await _maybe_await(report(label, exc))


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def notify_plugins(hook: str, /, **kwargs: Any) -> None:
    """Run the plugins' hook ``realtalk_<hook>`` now, synchronously (hooks without user
    handlers, such as ``metrics``); a failure is logged, never raised."""
    try:
        _call_plugins(hook, kwargs)
    except Exception as exc:
        log.warning("plugin hook realtalk_%s raised: %s", hook, exc)


def _call_plugins(name: str, kwargs: dict[str, Any]) -> None:
    try:
        from ..plugins import call_lifecycle
    except ImportError:  # plugin registry not available: no plugin hooks
        return
    call_lifecycle(name, **kwargs)


__all__ = ["LIFECYCLE", "CallbackManager", "fire", "notify_plugins"]
