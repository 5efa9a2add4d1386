"""A tool call the provider sends again is answered from the ledger on every checkpointer,
within a session (after a reconnect) and across a restart, and never run twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.checkpoint.base import Checkpointer
from realtalk.runtime import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

MODEL = "fake-live"
INSTANT = RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(jitter=0, base_delay=0.01))


def tools(ran: list[str]) -> list[Any]:
    def charge_card(amount: int) -> str:
        """Not idempotent."""
        ran.append(f"charge {amount}")
        return f"charged {amount}"

    def refund(amount: int) -> str:
        """Always fails."""
        ran.append(f"refund {amount}")
        raise RuntimeError("refunds are closed")

    return [charge_card, refund]


async def run(fake: FakeProvider, checkpointer: Checkpointer, ran: list[str], thread: str) -> None:
    agent = AudioAgent(
        MODEL, realtime_config=INSTANT, tools=tools(ran), provider=fake, tool_timeout=None
    )  # no timeout: the auto-advancing clock would expire it at once
    app = agent.compile(checkpointer=checkpointer, clock=ManualClock(auto_advance=True))
    queue = LiveInputQueue()
    async for event in app.arealtime(queue, {"thread_id": thread}):
        if event.type == "turn_complete":
            queue.close()
    fake.assert_done()


async def test_resent_call_ids_get_their_stored_outcome_again(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    ran: list[str] = []
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.tool_call("pay", "charge_card", {"amount": 5}),
                expect.tool_result("pay", result="charged 5"),
                emit.tool_call("back", "refund", {"amount": 5}),
                expect.tool_result("back", error="refunds are closed"),
                end.drop(),  # both answers were written to a socket that then died
            ],
            [
                expect.connect(handle="h1"),
                emit.tool_call("pay", "charge_card", {"amount": 5}),
                expect.tool_result("pay", result="charged 5"),
                emit.tool_call("back", "refund", {"amount": 5}),
                expect.tool_result("back", error="refunds are closed"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    await run(fake, checkpointer, ran, config["thread_id"])
    assert ran == ["charge 5", "refund 5"]


async def test_resent_call_ids_are_answered_after_a_restart(
    durable_backend: str,
    make_checkpointer: Callable[[str], Checkpointer],
    config: dict[str, Any],
) -> None:
    ran: list[str] = []
    first = FakeProvider(
        [
            emit.session_update("h1"),
            emit.tool_call("pay", "charge_card", {"amount": 7}),
            expect.tool_result("pay", result="charged 7"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    await run(first, make_checkpointer(durable_backend), ran, config["thread_id"])
    # a new process: a new checkpointer object on the same storage, a new app
    second = FakeProvider(
        [
            expect.connect(handle="h1"),
            emit.tool_call("pay", "charge_card", {"amount": 7}),
            expect.tool_result("pay", result="charged 7"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    await run(second, make_checkpointer(durable_backend), ran, config["thread_id"])
    assert ran == ["charge 7"]


class SlowMarks(InMemoryCheckpointer):
    """Holds the first "delivered" mark until ``gate`` opens: a slow database write after
    the result went out (PostgreSQL under load), so the tool's report is still running
    when the connection drops and the provider asks again on the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.marks = 0

    async def aledger_mark_delivered(self, config: dict[str, Any], call_id: str) -> None:
        self.marks += 1
        if self.marks == 1:
            await self.gate.wait()
        await super().aledger_mark_delivered(config, call_id)


async def test_a_call_resent_while_its_first_report_still_finishes_is_answered_again() -> None:
    ran: list[str] = []
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.tool_call("pay", "charge_card", {"amount": 5}),
                expect.tool_result("pay", result="charged 5"),
                end.drop(),  # the answer went out; its "delivered" mark is still being written
            ],
            [
                expect.connect(handle="h1"),
                emit.tool_call("pay", "charge_card", {"amount": 5}),
                expect.tool_result("pay", result="charged 5"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    checkpointer = SlowMarks()
    agent = AudioAgent(
        MODEL, realtime_config=INSTANT, tools=tools(ran), provider=fake, tool_timeout=None
    )
    app = agent.compile(checkpointer=checkpointer, clock=ManualClock(auto_advance=True))
    queue = LiveInputQueue()
    async with asyncio.timeout(30):  # a guard: the bug left the second connection unanswered
        async for event in app.arealtime(queue, {"thread_id": "slow-marks"}):
            if event.type == "turn_complete":
                checkpointer.gate.set()  # the second answer came: let the first mark finish
                queue.close()
    fake.assert_done()
    assert ran == ["charge 5"]
    assert checkpointer.marks == 2  # the first mark was still held when the second came
