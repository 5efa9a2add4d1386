"""Section 3.3: tools run beside the receive loop, time out, cancel, run exactly once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig, tool
from realtalk.checkpoint import InMemoryCheckpointer, SqliteCheckpointer
from realtalk.events import RealtimeEvent
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type, types

INSTANT = RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(base_delay=0.5, jitter=0.0))


async def test_a_slow_tool_does_not_delay_audio() -> None:
    release = asyncio.Event()

    @tool
    async def slow_lookup(query: str) -> str:
        """Takes until the test releases it."""
        await release.wait()
        return f"found {query}"

    fake = FakeProvider(
        [
            expect.text("look it up"),
            emit.tool_call("c1", "slow_lookup", {"query": "x"}),
            emit.audio(seconds=0.1, chunks=3),
            emit.output_transcript("One moment", finished=False),
            expect.tool_result("c1", result="found x", error=None),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(fake, tools=[slow_lookup])
    queue = LiveInputQueue()
    queue.send_text("look it up")

    def on_event(event: RealtimeEvent) -> None:
        if event.type == "output_transcript":
            release.set()  # only now may the tool finish: audio came while it ran

    events = await collect(
        app, queue, {"thread_id": "t"}, on_event=on_event, close_on="turn_complete"
    )
    order = types(events)
    assert order.index("tool_call") < order.index("audio_delta") < order.index("tool_result")
    assert len(of_type(events, "audio_delta")) == 3
    assert of_type(events, "tool_result")[0].result == "found x"
    fake.assert_done()


async def test_sync_tools_run_in_a_worker_thread() -> None:
    threads: list[int] = []

    def where() -> str:
        """Reports its thread."""
        threads.append(threading.get_ident())
        return "ok"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "where"),
            expect.tool_result("c1", result="ok"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    events = await collect(
        app_for(fake, tools=[where]), LiveInputQueue(), {"thread_id": "t"}, close_on="turn_complete"
    )
    assert threads and threads[0] != threading.get_ident()
    assert "tool_result" in types(events)
    fake.assert_done()


async def test_a_tool_that_runs_too_long_times_out() -> None:
    clock = ManualClock()

    @tool(timeout=5)
    async def stuck() -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return "never"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "stuck"),
            expect.tool_result("c1", error="timed out after 5s"),
            emit.turn_complete(),
            expect.close(),
        ]
    )

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "tool_call":
            await clock.wait_for_sleepers(1)
            assert clock.sleeps == [5.0]
            await clock.advance(5)

    events = await collect(
        app_for(fake, tools=[stuck], clock=clock),
        LiveInputQueue(),
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    result = of_type(events, "tool_result")[0]
    assert result.result is None and "timed out" in result.error
    fake.assert_done()


async def test_the_agent_default_tool_timeout_applies() -> None:
    clock = ManualClock()

    async def stuck() -> None:
        """Never returns."""
        await asyncio.Event().wait()

    fake = FakeProvider(
        [
            emit.tool_call("c1", "stuck"),
            expect.tool_result("c1", error="timed out"),
            emit.turn_complete(),
            expect.close(),
        ]
    )

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "tool_call":
            await clock.wait_for_sleepers(1)
            await clock.advance(2)

    await collect(
        app_for(fake, tools=[stuck], clock=clock, tool_timeout=2),
        LiveInputQueue(),
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    assert clock.sleeps[0] == 2
    fake.assert_done()


async def test_a_provider_cancellation_cancels_the_running_tool_and_sends_nothing() -> None:
    queue = LiveInputQueue()
    started = asyncio.Event()
    outcome: list[str] = []

    async def long_job() -> str:
        """Runs until cancelled."""
        started.set()
        queue.send_text("tool is running")  # tells the script the tool really started
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return "finished"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "long_job"),
            expect.text("tool is running"),
            emit.tool_call_cancelled("c1"),
            emit.turn_complete(),
            expect.close(),  # a tool result here would be an unexpected send
        ]
    )
    events = await collect(
        app_for(fake, tools=[long_job]), queue, {"thread_id": "t"}, close_on="turn_complete"
    )
    assert started.is_set() and outcome == ["cancelled"]
    assert fake.connections[0].tool_results == []
    assert of_type(events, "tool_call_cancelled")[0].ids == ["c1"]
    result = of_type(events, "tool_result")[0]
    assert result.id == "c1" and "cancelled" in result.error
    fake.assert_done()


async def test_unadvertised_tools_get_an_error_result() -> None:
    ran: list[str] = []

    def allowed() -> str:
        """Allowed."""
        ran.append("allowed")
        return "ok"

    def secret() -> str:
        """Not for this session."""
        ran.append("secret")
        return "leak"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "secret"),
            expect.tool_result("c1", error="unknown tool 'secret'"),
            emit.tool_call("c2", "nonexistent"),
            expect.tool_result("c2", error="unknown tool"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(fake, tools=[allowed, secret])
    await collect(
        app, LiveInputQueue(), {"thread_id": "t", "tools": ["allowed"]}, close_on="turn_complete"
    )
    assert ran == []
    fake.assert_done()


async def test_a_failing_tool_becomes_an_error_result_and_the_session_goes_on() -> None:
    def broken(x: int) -> int:
        """Always fails."""
        raise ZeroDivisionError("division by zero")

    fake = FakeProvider(
        [
            emit.tool_call("c1", "broken", {"x": 1}),
            expect.tool_result("c1", error="ZeroDivisionError: division by zero"),
            emit.tool_call("c2", "broken", {"x": "not a number"}),
            expect.tool_result("c2", error="invalid arguments"),
            *emit.speech("Sorry").steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )
    events = await collect(
        app_for(fake, tools=[broken]),
        LiveInputQueue(),
        {"thread_id": "t"},
        close_on="turn_complete",
    )
    assert not [e for e in of_type(events, "error") if e.fatal]
    assert of_type(events, "session_ended")[0].reason == "closed"
    fake.assert_done()


async def test_concurrent_calls_run_at_the_same_time() -> None:
    both_running = asyncio.Event()
    running = 0

    async def wait_for_peer(n: int) -> int:
        """Finishes only once both calls are running."""
        nonlocal running
        running += 1
        if running == 2:
            both_running.set()
        await both_running.wait()
        return n

    fake = FakeProvider(
        [
            emit.tool_call("a", "wait_for_peer", {"n": 1}),
            emit.tool_call("b", "wait_for_peer", {"n": 2}),
            expect.any_order(expect.tool_result("a", result=1), expect.tool_result("b", result=2)),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    await collect(
        app_for(fake, tools=[wait_for_peer]),
        LiveInputQueue(),
        {"thread_id": "t"},
        close_on="turn_complete",
    )
    fake.assert_done()


async def test_a_call_id_seen_again_after_reconnect_is_answered_again_not_executed() -> None:
    """The resumed session never saw the answer (it was written to the old socket): it
    asks again and must get the stored result, or it waits forever."""
    calls: list[str] = []

    def charge_card(amount: int) -> str:
        """Not idempotent: must never run twice."""
        calls.append("charged")
        return f"charged {amount}"

    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.tool_call("pay-1", "charge_card", {"amount": 5}),
                expect.tool_result("pay-1", result="charged 5"),
                end.drop(),
            ],
            [
                expect.connect(handle="h1"),
                emit.tool_call("pay-1", "charge_card", {"amount": 5}),  # replayed after resume
                expect.tool_result("pay-1", result="charged 5"),  # the stored result again
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    checkpointer = InMemoryCheckpointer()
    clock = ManualClock(auto_advance=True)
    events = await collect(
        app_for(fake, tools=[charge_card], config=INSTANT, checkpointer=checkpointer, clock=clock),
        LiveInputQueue(),
        {"thread_id": "t"},
        close_on="turn_complete",
    )
    assert calls == ["charged"]
    assert len(of_type(events, "tool_call")) == 1 and len(of_type(events, "tool_result")) == 1
    entry = await checkpointer.aledger_get({"thread_id": "t"}, "pay-1")
    assert entry is not None and entry.delivered and entry.result == "charged 5"
    fake.assert_done()


async def test_a_result_the_drop_kept_from_the_provider_is_delivered_after_reconnecting() -> None:
    clock = ManualClock()
    release = asyncio.Event()

    async def book_table() -> str:
        """Finishes while the connection is down."""
        await release.wait()
        return "booked"

    fake = FakeProvider(
        [
            [emit.session_update("h1"), emit.tool_call("c1", "book_table"), end.drop()],
            [
                expect.connect(handle="h1"),
                expect.tool_result("c1", result="booked"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    checkpointer = InMemoryCheckpointer()

    async def on_event(event: RealtimeEvent) -> None:
        if event.type == "tool_call":
            await clock.wait_for_sleepers(2)  # the tool's timeout and the reconnect backoff
            release.set()
        if event.type == "tool_result":
            entry = await checkpointer.aledger_get({"thread_id": "t"}, "c1")
            assert entry is not None and entry.status == "finished" and not entry.delivered
            await clock.advance(0.5)  # the backoff ends: reconnect

    events = await collect(
        app_for(fake, tools=[book_table], config=INSTANT, checkpointer=checkpointer, clock=clock),
        LiveInputQueue(),
        {"thread_id": "t"},
        on_event=on_event,
        close_on="turn_complete",
    )
    order = types(events)
    assert order.index("tool_result") < order.index("reconnected")
    assert of_type(events, "reconnected")[0].resumed is True
    entry = await checkpointer.aledger_get({"thread_id": "t"}, "c1")
    assert entry is not None and entry.delivered
    fake.assert_done()


async def test_results_are_remembered_across_a_process_restart(tmp_path: Path) -> None:
    """A restarted process (new app, new checkpointer on the same file) never reruns a
    call and delivers a stored result the first process could not."""
    db = tmp_path / "threads.db"
    calls: list[str] = []

    def transfer(amount: int) -> str:
        """Moves money."""
        calls.append("ran")
        return f"moved {amount}"

    first = FakeProvider(
        [
            emit.session_update("h1"),
            emit.tool_call("t-1", "transfer", {"amount": 3}),
            expect.tool_result("t-1", result="moved 3"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    cp1 = SqliteCheckpointer(db)
    await collect(
        app_for(first, tools=[transfer], checkpointer=cp1),
        LiveInputQueue(),
        {"thread_id": "t"},
        close_on="turn_complete",
    )
    # the first process also recorded a result it never got to deliver
    assert await cp1.aledger_start({"thread_id": "t"}, "t-2", "transfer", {"amount": 4})
    await cp1.aledger_finish({"thread_id": "t"}, "t-2", result="moved 4")
    await cp1.aclose()

    second = FakeProvider(
        [
            expect.connect(handle="h1"),
            expect.tool_result("t-2", result="moved 4"),
            emit.tool_call("t-1", "transfer", {"amount": 3}),
            expect.tool_result("t-1", result="moved 3"),  # from the ledger, not rerun
            emit.turn_complete(),
            expect.close(),
        ]
    )
    cp2 = SqliteCheckpointer(db)
    try:
        events = await collect(
            app_for(second, tools=[transfer], checkpointer=cp2),
            LiveInputQueue(),
            {"thread_id": "t"},
            close_on="turn_complete",
        )
        assert calls == ["ran"]
        assert of_type(events, "tool_call") == []
        entry = await cp2.aledger_get({"thread_id": "t"}, "t-2")
        assert entry is not None and entry.delivered
    finally:
        await cp2.aclose()
    second.assert_done()


async def test_a_call_interrupted_by_a_crash_is_refused_not_rerun() -> None:
    checkpointer = InMemoryCheckpointer()
    config: dict[str, Any] = {"thread_id": "t"}
    assert await checkpointer.aledger_start(config, "c1", "send_email", {})
    ran: list[str] = []

    def send_email() -> str:
        """Must not run twice."""
        ran.append("sent")
        return "sent"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "send_email"),
            expect.tool_result("c1", error="not run twice"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    await collect(
        app_for(fake, tools=[send_email], checkpointer=checkpointer),
        LiveInputQueue(),
        config,
        close_on="turn_complete",
    )
    assert ran == []
    fake.assert_done()
