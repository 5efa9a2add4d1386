"""One live session: the per-call object that composes the runtime's parts.

Everything that belongs to one conversation lives here (connection, resumption handle,
transcripts, running tools, buffered input), never on the compiled app, so one app
serves any number of concurrent sessions. Each concern is a part of its own, with one
job and its own tests (``docs/architecture.md`` draws them):

* `Supervisor`: connect, resume or reseed, rotate,
  back off, give up;
* `InputPump`: the user's queue to the provider;
* `EventPipeline`: provider events to transcripts,
  turn state, persistence and the user's events;
* `ToolDispatcher`: the exactly-once ledger,
  over a `ToolExecutor`;
* the `ThreadStore` seam, the one way anything persists;
* `OutputStream`: the bounded stream the user reads.

They share three small state objects: the `Link` (the
current connection and the signals about it), the
`TurnState` (what is in flight, when to drain) and the
`Reporter` (events, callbacks, persistence). Section 3
of ARCHITECTURE.md is the contract; ``docs/sessions.md`` explains it for users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..config import RealtimeConfig
from ..events import SessionEndedEvent, SessionStartedEvent
from ..metrics import SessionMetrics
from ..provider import Provider
from ..tools import ToolSpec
from .callbacks import CallbackManager
from .clock import Clock
from .errors import Fatal
from .executor import ToolExecutor
from .input_pump import InputPump
from .link import Link, close_connection
from .output import DEFAULT_OUTPUT_LIMIT, OutputStream
from .pipeline import ROTATION_MARGIN, EventPipeline
from .reconnect import ReconnectPolicy
from .reporter import Reporter
from .resumption import Resumption
from .store import ThreadStore
from .supervisor import Supervisor
from .tool_dispatch import ToolDispatcher
from .tool_runner import ToolRunner
from .turns import Timers, TurnState

log = logging.getLogger("realtalk.runtime.session")


class Session:
    """The state and tasks of one ``arealtime`` call."""

    def __init__(
        self,
        *,
        queue: Any,
        thread_id: str,
        config: dict[str, Any],
        realtime_config: RealtimeConfig,
        provider: Provider,
        tools: Sequence[ToolSpec],
        system_instruction: str | None,
        instruction_factory: Callable[[], str | None] | None = None,
        store: ThreadStore,
        callbacks: CallbackManager,
        clock: Clock,
        rng: Callable[[], float] | None,
        shutdown_timeout: float,
        tool_timeout: float | None,
        user_id: str | None = None,
        tool_executor: ToolExecutor | None = None,
        state: Any = None,
        output_limit: int | None = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self.thread_id = thread_id
        self.config = config
        self.store = store
        self.clock = clock
        self.shutdown_timeout = shutdown_timeout
        self.user_id = user_id
        caps = provider.capabilities

        self.out = OutputStream(output_limit)
        self.link = Link()
        self.timers = Timers()
        self.metrics = SessionMetrics(provider=provider.name, model=realtime_config.model)
        self.reporter = Reporter(
            self.out, callbacks, store, thread_id, metrics=self.metrics, clock=clock
        )
        runner = ToolRunner(
            tools,
            clock=clock,
            default_timeout=tool_timeout,
            executor=tool_executor,
            thread_id=thread_id,
            config=public_config(config),
            state=state,
        )
        self.turns = TurnState(self.link, runner.is_busy)
        runner.on_settled = self.turns.check_drain
        self.resumption = Resumption(
            store,
            self.reporter,
            enabled=realtime_config.session_resumption and caps.resumption,
            stored=realtime_config.session_resumption,
        )
        self.tools = ToolDispatcher(
            runner,
            store=store,
            link=self.link,
            turns=self.turns,
            reporter=self.reporter,
            thread_id=thread_id,
        )
        self.pump = InputPump(
            queue,
            link=self.link,
            turns=self.turns,
            reporter=self.reporter,
            capabilities=caps,
            realtime_config=realtime_config,
            provider_name=provider.name,
            on_closed=ShutdownDrain(self.link, self.timers, clock, shutdown_timeout),
        )
        self.pipeline = EventPipeline(
            out=self.out,
            link=self.link,
            turns=self.turns,
            reporter=self.reporter,
            resumption=self.resumption,
            tools=self.tools,
            timers=self.timers,
            clock=clock,
            thread_id=thread_id,
        )
        self.supervisor = Supervisor(
            provider=provider,
            realtime_config=realtime_config,
            tools=tools,
            system_instruction=system_instruction,
            instruction_factory=instruction_factory,
            thread_id=thread_id,
            store=store,
            link=self.link,
            turns=self.turns,
            reporter=self.reporter,
            resumption=self.resumption,
            pump=self.pump,
            dispatcher=self.tools,
            pipeline=self.pipeline,
            policy=ReconnectPolicy(realtime_config.reconnect, clock=clock, rng=rng),
            clock=clock,
        )
        self._task: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._cancel_requested = False

    # ------------------------------------------------------------------ public surface

    def start(self) -> None:
        """Start the session's task (once); its events then collect for `next_ready()`."""
        if self._task is not None:
            raise RuntimeError("a session's events can be iterated only once")
        self._task = asyncio.create_task(self._run(), name=f"realtalk-session-{self.thread_id}")

    async def aclose(self) -> None:
        """Stop the session now (closing the connection) and wait until it has ended."""
        task = self._task
        if task is None:
            return
        if not task.done() and not self._cancel_requested:
            # cancel once: a second cancel would interrupt the teardown itself
            self._cancel_requested = True
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    # ------------------------------------------------------------------ main flow

    async def _run(self) -> None:
        reason = "closed"
        reporter = self.reporter
        try:
            reporter.emit(SessionStartedEvent(thread_id=self.thread_id))
            await reporter.fire("session_start", config=public_config(self.config))
            await self._prepare()
            if not self.pump.start():  # on demand, or else in a task of its own
                self._pump_task = asyncio.create_task(self.pump.run(), name="realtalk-input-pump")
            reason = await self.supervisor.run()
        except Fatal as fatal:
            reason = "error"
            await reporter.report(fatal.code, fatal.message, fatal=True)
        except asyncio.CancelledError:
            reason = "cancelled"
        except Exception as exc:  # a bug of ours must still end the session cleanly
            log.exception("session %s failed", self.thread_id)
            reason = "error"
            await reporter.report("internal_error", f"{type(exc).__name__}: {exc}", fatal=True)
        finally:
            try:
                await self._teardown()
            finally:
                reporter.finish_metrics()  # the session_metrics summary, just before the end
                reporter.emit(SessionEndedEvent(reason=reason))
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await reporter.fire("session_end", reason=reason)
                self.out.end()

    async def _prepare(self) -> None:
        """Create the thread record and load the handle kept from an earlier session."""
        try:
            await self.store.ensure_thread(self.user_id)
            await self.resumption.load()
        except Exception as exc:
            raise Fatal(
                "checkpointer_error", f"could not load thread {self.thread_id!r}: {exc}"
            ) from exc

    async def _teardown(self) -> None:
        conn, self.link.conn = self.link.conn, None
        tasks: list[asyncio.Future[Any]] = [
            t for t in (self._pump_task, self.supervisor.receive_task) if t is not None
        ]
        self.pump.stop()
        tasks += self.timers.tasks()
        tasks += self.pump.tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.tools.runner.aclose()  # (also lets go of the turn state)
        if conn is not None:
            await close_connection(conn)
        await self.pipeline.close_transcripts()
        self.pump.report_unsent()


class ShutdownDrain:
    """What the pump calls when the user's queue ends: a reply in flight may still drain,
    within ``timeout``. Holds the parts it needs, not the `Session` that holds the pump
    (that would be a reference cycle), in one object (a closure would be eight)."""

    __slots__ = ("clock", "link", "timeout", "timers")

    def __init__(self, link: Link, timers: Timers, clock: Clock, timeout: float) -> None:
        self.link, self.timers, self.clock, self.timeout = link, timers, clock, timeout

    def __call__(self) -> None:
        if self.link.finish_reason is None:
            self.timers.start(self._expire())

    async def _expire(self) -> None:
        await self.clock.sleep(self.timeout)
        self.link.request_finish("shutdown_timeout")


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The session config without secrets, for callbacks and plugins (which may log it):
    ``provider_options`` values (API keys, credentials) are redacted."""

    def redact(options: Any) -> Any:
        if isinstance(options, dict):
            return {key: "<redacted>" for key in options}
        return "<redacted>"

    out = dict(config)
    if "provider_options" in out:
        out["provider_options"] = redact(out["provider_options"])
    nested = out.get("realtime_config")
    if isinstance(nested, dict) and "provider_options" in nested:
        out["realtime_config"] = {
            **nested,
            "provider_options": redact(nested["provider_options"]),
        }
    return out


__all__ = ["ROTATION_MARGIN", "Session", "public_config"]
