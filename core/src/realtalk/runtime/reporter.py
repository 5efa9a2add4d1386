"""How every part of a session tells the world what happened.

Three audiences, one object: the user's event stream (`Reporter.emit()`), the
lifecycle callbacks and plugins (`Reporter.fire()`), and the thread store
(`Reporter.persist()`). Failures of the latter two never reach the part that
reported: a callback that raises becomes a ``callback_error`` event, a store that fails
becomes a ``checkpointer_error`` event, and the session goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from ..events import ErrorEvent
from ..messages import Message
from .callbacks import CallbackManager, fire
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
    ) -> None:
        self.out = out
        self.callbacks = callbacks
        self.store = store
        self.thread_id = thread_id
        self.emit = out.push
        """Put one event on the user's stream (never blocks)."""

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
