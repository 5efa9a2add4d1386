"""Sync tools that outlive their call: a bounded pool of their own, reported, cancellable.

Each tool here is held by a ``threading.Event`` and timeouts run on a ManualClock, so
nothing depends on the wall clock.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from realtalk import LiveInputQueue, tool
from realtalk.events import RealtimeEvent
from realtalk.runtime.clock import ManualClock
from realtalk.runtime.executor import DirectExecutor
from realtalk.tool_threads import CancelToken, ToolThreadPool, default_pool, default_threads
from realtalk.tools import to_tool_spec
from realtalk_testing import FakeProvider, emit, expect

from ._support import app_for, collect, of_type

TOOLS_LOG = "realtalk.tools"


def _advance_on_tool_call(clock: ManualClock, seconds: float, calls: int = 1) -> Any:
    seen = 0

    async def on_event(event: RealtimeEvent) -> None:
        nonlocal seen
        if event.type == "tool_call":
            seen += 1
            await clock.wait_for_sleepers(1)
            await clock.advance(seconds)

    return on_event


async def test_a_timed_out_sync_tool_is_reported_while_it_runs_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    entered = threading.Event()
    pool = ToolThreadPool(max_workers=2)

    @tool(timeout=5)
    def export_report() -> str:
        """Blocks until the test releases it (ignores cancellation)."""
        entered.set()
        release.wait()
        return "late"

    fake = FakeProvider(
        [
            emit.tool_call("c-slow", "export_report"),
            expect.tool_result("c-slow", error="timed out after 5s"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    clock = ManualClock()
    with caplog.at_level(logging.WARNING, logger=TOOLS_LOG):
        events = await collect(
            app_for(fake, tools=[export_report], clock=clock, tool_executor=DirectExecutor(pool)),
            LiveInputQueue(),
            {"thread_id": "t"},
            on_event=_advance_on_tool_call(clock, 5),
            close_on="turn_complete",
        )
        assert entered.is_set()
        [stuck] = pool.abandoned
        assert (stuck.tool, stuck.call_id) == ("export_report", "c-slow")
        assert pool.busy == 1
        still = [r for r in caplog.records if "still running" in r.getMessage()]
        assert len(still) == 1 and "'export_report'" in still[0].getMessage()
        assert "c-slow" in still[0].getMessage()

        release.set()
        await pool.wait_abandoned()
    ended = [r for r in caplog.records if "abandoned sync tool" in r.getMessage()]
    assert len(ended) == 1 and "'export_report' (call c-slow) returned" in ended[0].getMessage()
    assert pool.abandoned == [] and pool.busy == 0
    assert "timed out" in of_type(events, "tool_result")[0].error
    fake.assert_done()
    pool.shutdown()


async def test_the_pool_is_bounded_and_a_call_waiting_for_a_thread_still_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    ran: list[str] = []
    pool = ToolThreadPool(max_workers=1)

    @tool(timeout=5)
    def hog() -> str:
        """Holds the only thread."""
        ran.append("hog")
        release.wait()
        return "hog"

    @tool(timeout=5)
    def quick() -> str:
        """Would be fast, if it got a thread."""
        ran.append("quick")
        return "quick"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "hog"),
            expect.tool_result("c1", error="timed out"),
            emit.tool_call("c2", "quick"),
            expect.tool_result("c2", error="timed out"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    clock = ManualClock()
    with caplog.at_level(logging.WARNING, logger=TOOLS_LOG):
        await collect(
            app_for(fake, tools=[hog, quick], clock=clock, tool_executor=DirectExecutor(pool)),
            LiveInputQueue(),
            {"thread_id": "t"},
            on_event=_advance_on_tool_call(clock, 5),
            close_on="turn_complete",
        )
    assert ran == ["hog"]  # the queued call was withdrawn before a thread was free
    assert "all 1 sync tool threads are busy" in caplog.text and "'quick' (call c2)" in caplog.text
    assert [c.call_id for c in pool.abandoned] == ["c1"]  # the queued call holds nothing
    release.set()
    await pool.wait_abandoned()
    assert pool.busy == 0 and ran == ["hog"]
    pool.shutdown()


async def test_a_sync_tool_with_a_cancel_token_stops_when_the_call_is_withdrawn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = LiveInputQueue()
    stopped: list[bool] = []
    pool = ToolThreadPool(max_workers=1)

    def crawl(url: str, cancel: CancelToken) -> str:
        """Crawls until told to stop."""
        queue.send_text("crawler running")
        stopped.append(cancel.wait())  # no timeout: returns when the call is cancelled
        return "partial"

    spec = to_tool_spec(crawl)
    assert spec.cancel_param == "cancel"
    assert list(spec.parameters["properties"]) == ["url"]  # the token is not the model's
    assert spec.parameters["required"] == ["url"]

    fake = FakeProvider(
        [
            emit.tool_call("c1", "crawl", {"url": "https://example.com"}),
            expect.text("crawler running"),
            emit.tool_call_cancelled("c1"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    with caplog.at_level(logging.WARNING, logger=TOOLS_LOG):
        events = await collect(
            app_for(fake, tools=[crawl], tool_executor=DirectExecutor(pool)),
            queue,
            {"thread_id": "t"},
            close_on="turn_complete",
        )
        await pool.wait_abandoned()
    assert stopped == [True]
    assert fake.connections[0].tool_results == []
    assert of_type(events, "tool_call_cancelled")[0].ids == ["c1"]
    assert pool.busy == 0 and pool.abandoned == []
    pool.shutdown()


def test_sync_tools_use_their_own_pool_sized_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REALTALK_TOOL_THREADS", raising=False)
    assert default_threads() == 16
    monkeypatch.setenv("REALTALK_TOOL_THREADS", "3")
    assert default_threads() == 3 and ToolThreadPool().max_workers == 3
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv("REALTALK_TOOL_THREADS", bad)
        with pytest.raises(ValueError, match="REALTALK_TOOL_THREADS must be a positive integer"):
            default_threads()
    with pytest.raises(ValueError, match="max_workers"):
        ToolThreadPool(max_workers=0)
    monkeypatch.delenv("REALTALK_TOOL_THREADS")
    assert default_pool() is default_pool()


async def test_sync_tools_do_not_run_in_the_event_loops_default_executor() -> None:
    names: list[str] = []

    def where() -> str:
        """Reports its thread."""
        names.append(threading.current_thread().name)
        return "ok"

    fake = FakeProvider(
        [
            emit.tool_call("c1", "where"),
            expect.tool_result("c1", result="ok"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    await collect(
        app_for(fake, tools=[where]), LiveInputQueue(), {"thread_id": "t"}, close_on="turn_complete"
    )
    assert len(names) == 1 and names[0].startswith("realtalk-tool")
    fake.assert_done()
