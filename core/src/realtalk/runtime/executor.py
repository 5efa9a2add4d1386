"""The tool-executor seam: what actually runs one tool call.

Tool *dispatch* (the exactly-once ledger, timeouts, cancellation, delivery) is the
runtime's job and the same for every app. *Executing* a call is not: realtalk calls the
function behind the `ToolSpec`; an integration may run it through
its own machinery instead (Agentflow's ``ToolNode``, with injected state and callbacks).
An executor gets one `ToolInvocation` and returns the raw result or raises; the
dispatcher turns either into the outcome the model receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..tool_threads import ToolThreadPool
from ..tools import ToolSpec


@dataclass(frozen=True)
class ToolInvocation:
    """One call the provider asked for, as an executor sees it."""

    call_id: str
    name: str
    args: dict[str, Any]
    spec: ToolSpec
    thread_id: str
    config: Mapping[str, Any] = field(default_factory=dict)
    """The session config (``thread_id``, ``user_id``, ...); secrets are not in it."""
    state: Any = None
    """The ``state`` the session was started with (``arealtime(queue, config, state)``)."""


@runtime_checkable
class ToolExecutor(Protocol):
    """Runs one call; returns its result or raises (the exception becomes an error result).

    Cancellation arrives as ``asyncio.CancelledError`` (the user barged in, the provider
    withdrew the call, or its timeout passed) and must not be swallowed.
    """

    async def execute(self, invocation: ToolInvocation) -> Any: ...


class DirectExecutor:
    """The default: call the tool's function (sync tools in a thread of ``pool``).

    ``pool`` bounds the threads sync tools may hold (default: the process-wide
    `default_pool()`, ``REALTALK_TOOL_THREADS`` threads).
    """

    def __init__(self, pool: ToolThreadPool | None = None) -> None:
        self.pool = pool

    async def execute(self, invocation: ToolInvocation) -> Any:
        return await invocation.spec.acall(
            invocation.args, call_id=invocation.call_id, pool=self.pool
        )


__all__ = ["DirectExecutor", "ToolExecutor", "ToolInvocation"]
