"""How every part of a session tells the world what happened.

Three audiences, one object: the user's event stream (`Reporter.emit()`), the
lifecycle callbacks and plugins (`Reporter.fire()`), and the thread store
(`Reporter.persist()`). With a `SessionMetrics`, every
emitted event is also measured and the ``metrics`` events it yields follow it (handed to
the plugins' ``realtalk_metrics`` hook too). Failures of the latter two never reach the part that
reported: a callback that raises becomes a ``callback_error`` event, a store that fails
becomes a ``checkpointer_error`` event, and the session goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..events import ErrorEvent, RealtimeEvent
from ..messages import Message
from ..metrics import SessionMetrics
from .callbacks import CallbackManager, fire, notify_plugins
from .clock import Clock
from .output import OutputStream
from .store import ThreadStore
from .tool_runner import describe

log = logging.getLogger("realtalk.runtime.session")


class Reporter:
    """Emit events, fire callbacks, persist messages, report errors: for one session."""

    def __init__(
        self,
        out: OutputStream,
        callbacks: CallbackManager,
        store: ThreadStore,
        thread_id: str,
        *,
        metrics: SessionMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.out = out
        self.callbacks = callbacks
        self.store = store
        self.thread_id = thread_id
        self.metrics = metrics
        self._clock = clock
        self._measured = metrics is not None and clock is not None

    def emit(self, event: RealtimeEvent) -> None:
        """Put one event on the user's stream (never blocks); measured, the ``metrics``
        events it yields follow it. A method, not a callable chosen per session and kept
        on the reporter: that would be an object more per session, or a reference cycle."""
        self.out.push(event)
        if self._measured:
            assert self.metrics is not None and self._clock is not None
            measured = self.metrics.on_event(event, self._clock.monotonic())
            if measured:
                self._emit_metrics(measured)

    # ------------------------------------------------------------------ metrics

    def _emit_metrics(self, events: Sequence[RealtimeEvent]) -> None:
        for event in events:
            self.out.push(event)
            notify_plugins("metrics", thread_id=self.thread_id, metrics=event)

    def note_input(self, item: object) -> None:
        """An input item goes to the provider (or its buffer) now."""
        if self.metrics is not None and self._clock is not None:
            self.metrics.on_input(item, self._clock.monotonic())

    def note_connection_lost(self) -> None:
        """The session stopped serving its connection (a drop or a rotation)."""
        if self.metrics is not None and self._clock is not None:
            self.metrics.on_connection_lost(self._clock.monotonic())

    def finish_metrics(self) -> None:
        """Emit the last figures: the ``session_metrics`` summary (before session_ended)."""
        if self.metrics is not None and self._clock is not None:
            self._emit_metrics(self.metrics.finish(self._clock.monotonic()))

    async def persist(self, messages: list[Message]) -> None:
        """Store messages in order; a failure is reported, not raised."""
        try:
            await self.store.put(messages)
        except Exception as exc:
            await self.report("checkpointer_error", f"could not persist messages: {exc}")

    async def report(self, code: str, message: str, *, fatal: bool = False) -> None:
        """Emit an error event and fire the error callbacks."""
        log.log(logging.ERROR if fatal else logging.WARNING, "%s: %s", code, message)
        self.emit(ErrorEvent(code=code, message=message, fatal=fatal))
        await self.fire("error", code=code, message=message, fatal=fatal)

    async def fire(self, hook: str, /, **kwargs: Any) -> None:
        """Run a lifecycle hook on the callbacks and plugins."""
        await fire(
            self.callbacks,
            hook,
            report=self._callback_failed,
            thread_id=self.thread_id,
            **kwargs,
        )

    def _callback_failed(self, where: str, exc: BaseException) -> None:
        self.emit(ErrorEvent(code="callback_error", message=f"{where} raised {describe(exc)}"))


__all__ = ["Reporter"]
