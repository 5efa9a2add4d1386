"""Running tool calls beside the receive loop: concurrency, timeouts, cancellation.

A tool may be slow (a web request, a database); the model's audio must keep flowing
meanwhile, so every call runs in its own task (sync tools in a thread of the bounded
pool of `realtalk.tool_threads`, through ``ToolSpec.acall``) and reports its
outcome through a callback. Timeouts are measured on the session's injectable clock.
A cancelled call reports nothing: the provider withdrew it, so no result must be sent.
Exceptions in tools become error results; they never reach the session.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ..tools import ToolSpec
from .clock import Clock
from .executor import DirectExecutor, ToolExecutor, ToolInvocation

log = logging.getLogger("realtalk.runtime.tools")


@dataclass(frozen=True)
class ToolOutcome:
    """How one call ended: a JSON-safe ``result`` or an ``error`` message."""

    call_id: str
    name: str
    result: Any = None
    error: str | None = None


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data, the form a tool result is sent and stored in.

    Containers, pydantic models and dataclasses are converted member by member; binary
    data (``bytes``, ``bytearray``, ``memoryview``) anywhere becomes a standard base64
    string (RFC 4648, ``+/`` alphabet, padded) so that it is a result, never a decode
    error; NaN and infinities become ``"nan"``, ``"inf"``, ``"-inf"``; other values
    pydantic knows (datetimes, UUIDs, enums, ...) take its JSON form, and anything else
    its ``str()``. A container holding itself is a ValueError.
    """
    return _convert(value, set())


def _convert(value: Any, active: set[int]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or Infinity; str() is the fallback
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, BaseModel):
        inner: Any = value.model_dump(mode="python")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif isinstance(value, (Mapping, list, tuple, set, frozenset, deque)):
        inner = value
    else:
        return to_jsonable_python(value, fallback=str)
    if id(value) in active:
        raise ValueError("the tool result contains itself (a circular reference)")
    active.add(id(value))
    try:
        if isinstance(inner, Mapping):
            return {_key(k, active): _convert(v, active) for k, v in inner.items()}
        return [_convert(item, active) for item in inner]
    finally:
        active.discard(id(value))


def _key(key: Any, active: set[int]) -> Any:
    """A mapping key as JSON allows it (str, or a number/bool/None ``json`` spells)."""
    if key is None or isinstance(key, (str, int, float)):
        return key
    converted = _convert(key, active)
    return converted if isinstance(converted, str) else str(converted)


async def execute(
    executor: ToolExecutor, invocation: ToolInvocation, limit: float | None, clock: Clock
) -> Any:
    """Run one call for at most ``limit`` seconds on ``clock`` (None: no limit); raises
    what the tool raised, or TimeoutError."""
    spec = invocation.spec
    call: asyncio.Future[Any] = asyncio.ensure_future(executor.execute(invocation))
    if limit is None:
        return await call
    timer = asyncio.ensure_future(clock.sleep(limit))
    try:
        await asyncio.wait({call, timer}, return_when=asyncio.FIRST_COMPLETED)
        if not call.done():
            raise TimeoutError(f"tool {spec.name!r} timed out after {limit:g}s")
        return call.result()
    finally:
        for fut in (call, timer):
            if not fut.done():
                fut.cancel()
        await asyncio.gather(call, timer, return_exceptions=True)


class ToolRunner:
    """The calls of one session that are running right now."""

    def __init__(
        self,
        specs: Iterable[ToolSpec],
        *,
        clock: Clock,
        default_timeout: float | None,
        on_settled: Callable[[], None] | None = None,
        executor: ToolExecutor | None = None,
        thread_id: str = "",
        config: dict[str, Any] | None = None,
        state: Any = None,
    ) -> None:
        self.executor: ToolExecutor = executor if executor is not None else DirectExecutor()
        self.thread_id = thread_id
        self.config = config if config is not None else {}
        self.state = state
        self.specs = {spec.name: spec for spec in specs}
        self.on_settled = on_settled
        self.clock = clock
        self.default_timeout = default_timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._executing: set[str] = set()

    @property
    def running(self) -> frozenset[str]:
        """Ids of the calls still executing (cancellable)."""
        return frozenset(self._executing)

    def has(self, call_id: str) -> bool:
        """True while ``call_id`` executes or its outcome is being reported."""
        return call_id in self._tasks

    def is_busy(self) -> bool:
        """True while any call executes or its outcome is being reported (a method: the
        turn state's drain rule keeps it bound, one object, where a lambda is three)."""
        return bool(self._tasks)

    busy = property(is_busy, doc="`is_busy()` as a property.")

    def spec(self, name: str) -> ToolSpec | None:
        """The advertised tool called ``name``, or None."""
        return self.specs.get(name)

    def timeout_for(self, spec: ToolSpec) -> float | None:
        return spec.timeout if spec.timeout is not None else self.default_timeout

    def start(
        self,
        call_id: str,
        spec: ToolSpec,
        args: dict[str, Any],
        on_done: Callable[[ToolOutcome], Awaitable[None]],
    ) -> None:
        """Run the call in its own task; ``on_done`` gets the outcome unless cancelled.

        Once the tool has finished, reporting its outcome is no longer cancellable by
        `cancel()` (the result exists and is recorded), only by `aclose()`.
        """

        async def run() -> None:
            try:
                invocation = ToolInvocation(
                    call_id=call_id,
                    name=spec.name,
                    args=args,
                    spec=spec,
                    thread_id=self.thread_id,
                    config=self.config,
                    state=self.state,
                )
                result = await execute(
                    self.executor, invocation, self.timeout_for(spec), self.clock
                )
                outcome = ToolOutcome(call_id, spec.name, result=jsonable(result))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a tool's failure is the model's business, not ours
                log.info("tool %s (%s) failed: %s", spec.name, call_id, exc)
                outcome = ToolOutcome(call_id, spec.name, error=describe(exc))
            finally:
                self._executing.discard(call_id)
            try:
                await on_done(outcome)
            except Exception:
                log.exception("reporting the outcome of tool %s (%s) failed", spec.name, call_id)

        task = asyncio.create_task(run(), name=f"realtalk-tool-{spec.name}-{call_id}")
        self._tasks[call_id] = task
        self._executing.add(call_id)
        task.add_done_callback(lambda _t: self._settle(call_id))

    def _settle(self, call_id: str) -> None:
        self._tasks.pop(call_id, None)
        if self.on_settled is not None:
            self.on_settled()

    def cancel(self, ids: Iterable[str]) -> list[str]:
        """Cancel the executing calls among ``ids``; returns the ids actually cancelled."""
        cancelled = []
        for call_id in ids:
            if call_id not in self._executing:
                continue
            self._executing.discard(call_id)
            task = self._tasks.pop(call_id, None)
            if task is not None and not task.done():
                task.cancel()
                cancelled.append(call_id)
        return cancelled

    async def aclose(self) -> None:
        """Cancel every call (and pending report) and wait for the tasks to end; then
        nothing settles any more, so ``on_settled`` is dropped (it is usually the turn
        state's, which asks this runner whether it is busy: a reference cycle that would
        keep the ended session for the collector)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._executing.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.on_settled = None


def describe(exc: BaseException) -> str:
    """An error message for the model: the exception type and text."""
    text = str(exc)
    if isinstance(exc, TimeoutError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["ToolOutcome", "ToolRunner", "describe", "execute", "jsonable"]
