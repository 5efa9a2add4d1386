"""Build the runtime's parts by hand around a recording connection, for unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from realtalk import LiveInputQueue
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.config import RealtimeConfig
from realtalk.events import RealtimeEvent
from realtalk.inputs import InputItem
from realtalk.provider import DisconnectKind, ProviderCapabilities, ProviderDisconnected
from realtalk.runtime.callbacks import CallbackManager
from realtalk.runtime.clock import ManualClock
from realtalk.runtime.executor import ToolExecutor
from realtalk.runtime.input_pump import InputPump
from realtalk.runtime.persistence import CheckpointerStore
from realtalk.runtime.session import Session
from realtalk.runtime.tool_runner import ToolRunner
from realtalk.tools import ToolSpec, tool_specs

CONFIG = {"thread_id": "t"}


class RecordingConnection:
    """A provider connection that records what was sent and plays scripted events."""

    def __init__(self, events: Sequence[RealtimeEvent] = (), *, fail_sends: bool = False) -> None:
        self.sent: list[InputItem] = []
        self.results: list[tuple[str, str, Any, str | None]] = []
        self.script = list(events)
        self.fail_sends = fail_sends
        self.pulled = 0
        self.closed = asyncio.Event()

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        for event in self.script:
            self.pulled += 1
            yield event
        await self.closed.wait()
        raise ProviderDisconnected(DisconnectKind.CLOSED)

    async def send(self, item: InputItem) -> None:
        if self.fail_sends:
            raise ConnectionResetError("gone")
        self.sent.append(item)

    async def send_tool_result(
        self, call_id: str, name: str, result: Any, error: str | None
    ) -> None:
        if self.fail_sends:
            raise ConnectionResetError("gone")
        self.results.append((call_id, name, result, error))

    async def close(self) -> None:
        self.closed.set()


class _Provider:
    name = "parts"
    capabilities = ProviderCapabilities(resumption=True)

    async def connect(self, setup: Any) -> Any:  # pragma: no cover - never connected
        raise AssertionError("the parts are driven by hand")


@dataclass
class Parts:
    """One session's parts, exactly as ``Session`` wires them, driven by hand."""

    tools: Sequence[ToolSpec] = ()
    executor: ToolExecutor | None = None
    limit: int | None = 64
    state: Any = None
    checkpointer: Any = field(default_factory=InMemoryCheckpointer)

    def __post_init__(self) -> None:
        self.clock = ManualClock()
        self.store = CheckpointerStore(self.checkpointer, dict(CONFIG))
        self.session = Session(
            queue=LiveInputQueue(),
            thread_id="t",
            config=dict(CONFIG),
            realtime_config=RealtimeConfig(model="fake-live"),
            provider=_Provider(),  # type: ignore[arg-type]
            tools=tool_specs(list(self.tools)),
            system_instruction=None,
            store=self.store,
            callbacks=CallbackManager(),
            clock=self.clock,
            rng=None,
            shutdown_timeout=1.0,
            tool_timeout=None,
            tool_executor=self.executor,
            state=self.state,
            output_limit=self.limit,
        )
        session = self.session
        self.out = session.out
        self.link = session.link
        self.reporter = session.reporter
        self.turns = session.turns
        self.timers = session.timers
        self.resumption = session.resumption
        self.dispatcher = session.tools
        self.runner = session.tools.runner
        self.pipeline = session.pipeline
        self.closed_input = 0

    def pump(self, queue: Any, caps: ProviderCapabilities | None = None) -> InputPump:
        def closed() -> None:
            self.closed_input += 1

        return InputPump(
            queue,
            link=self.link,
            turns=self.turns,
            reporter=self.reporter,
            capabilities=caps or ProviderCapabilities(),
            realtime_config=RealtimeConfig(model="fake-live"),
            provider_name="fake",
            on_closed=closed,
        )

    def attach(self, conn: RecordingConnection) -> int:
        self.link.conn = conn  # type: ignore[assignment]
        return self.link.next_generation()

    def drain(self) -> list[RealtimeEvent]:
        events = []
        while True:
            try:
                event = self.out.next_ready()
            except StopAsyncIteration:
                break
            if event is None:
                break
            events.append(event)
        return events


async def settle(runner: ToolRunner) -> None:
    """Yield until no tool task is left."""
    for _ in range(1000):
        if not runner.busy:
            return
        await asyncio.sleep(0)
    raise AssertionError("tool tasks did not settle")
