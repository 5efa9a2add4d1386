"""ToolDispatcher: each call id runs once, and every call the provider asks for is answered."""

from __future__ import annotations

import asyncio
from typing import Any

from realtalk.events import ToolCallEvent
from realtalk.runtime.executor import ToolInvocation
from realtalk.runtime.tool_dispatch import CANCELLED, LEDGER_DOWN

from ._build import CONFIG, Parts, RecordingConnection, settle


def charge(amount: int) -> str:
    """Not idempotent."""
    charged.append(amount)
    return f"charged {amount}"


charged: list[int] = []


def call(call_id: str = "c1", amount: int = 5) -> ToolCallEvent:
    return ToolCallEvent(id=call_id, name="charge", args={"amount": amount})


async def test_a_call_runs_once_and_a_repeated_id_gets_the_stored_result_again() -> None:
    charged.clear()
    parts = Parts(tools=[charge])
    first = RecordingConnection()
    parts.attach(first)
    await parts.dispatcher.on_call(call())
    await settle(parts.runner)
    assert first.results == [("c1", "charge", "charged 5", None)]
    # the connection drops after the result was written; the resumed one asks again
    second = RecordingConnection()
    parts.attach(second)
    await parts.dispatcher.on_call(call())
    assert charged == [5]
    assert second.results == [("c1", "charge", "charged 5", None)]
    entry = await parts.store.ledger_get("c1")
    assert entry is not None and entry.delivered
    kinds = [e.type for e in parts.drain()]
    assert kinds == ["tool_call", "tool_result"]  # the repeat is answered, not announced


async def test_a_repeated_error_outcome_is_sent_again_as_an_error() -> None:
    parts = Parts(tools=[])
    conn = RecordingConnection()
    parts.attach(conn)
    await parts.dispatcher.on_call(ToolCallEvent(id="x", name="nope", args={}))
    await parts.dispatcher.on_call(ToolCallEvent(id="x", name="nope", args={}))
    assert len(conn.results) == 2
    assert all(r[3] is not None and "unknown tool 'nope'" in r[3] for r in conn.results)


async def test_an_outcome_without_a_connection_waits_in_the_ledger_for_the_next() -> None:
    charged.clear()
    parts = Parts(tools=[charge])
    await parts.dispatcher.on_call(call())
    await settle(parts.runner)
    entry = await parts.store.ledger_get("c1")
    assert entry is not None and entry.status == "finished" and not entry.delivered
    resumed = RecordingConnection()
    gen = parts.attach(resumed)
    await parts.dispatcher.redeliver(resumed, gen, resumed=True)
    assert resumed.results == [("c1", "charge", "charged 5", None)]
    assert parts.turns.awaiting_reply  # the model owes a reply to the result
    again = RecordingConnection()
    await parts.dispatcher.redeliver(again, parts.attach(again), resumed=True)
    assert again.results == []  # delivered once is delivered


async def test_a_fresh_connection_is_not_sent_old_results() -> None:
    parts = Parts(tools=[charge])
    await parts.dispatcher.on_call(call())
    await settle(parts.runner)
    fresh = RecordingConnection()
    await parts.dispatcher.redeliver(fresh, parts.attach(fresh), resumed=False)
    assert fresh.results == []  # it was reseeded with the result as history
    entry = await parts.store.ledger_get("c1")
    assert entry is not None and entry.delivered


async def test_a_ledger_that_fails_gets_an_error_answer_and_a_report() -> None:
    parts = Parts(tools=[charge])
    conn = RecordingConnection()
    parts.attach(conn)

    async def down(*args: Any) -> bool:
        raise OSError("connection refused")

    parts.store.ledger_start = down  # type: ignore[method-assign]
    await parts.dispatcher.on_call(call())
    assert conn.results == [("c1", "charge", None, LEDGER_DOWN)]
    codes = [getattr(e, "code", None) for e in parts.drain()]
    assert "checkpointer_error" in codes


async def test_a_cancelled_call_sends_nothing_and_records_the_cancel() -> None:
    release = asyncio.Event()

    async def slow() -> str:
        """Waits."""
        await release.wait()
        return "late"

    parts = Parts(tools=[slow])
    conn = RecordingConnection()
    parts.attach(conn)
    await parts.dispatcher.on_call(ToolCallEvent(id="s1", name="slow", args={}))
    await asyncio.sleep(0)
    await parts.dispatcher.on_cancel(["s1", "unknown"])
    await settle(parts.runner)
    assert conn.results == []
    entry = await parts.store.ledger_get("s1")
    assert entry is not None and entry.error == CANCELLED and entry.delivered


async def test_the_executor_seam_runs_calls_with_the_session_context() -> None:
    seen: list[ToolInvocation] = []

    class Recording:
        async def execute(self, invocation: ToolInvocation) -> Any:
            seen.append(invocation)
            return {"ran": invocation.name, "via": "executor"}

    parts = Parts(tools=[charge], executor=Recording(), state={"user": "ada"})
    conn = RecordingConnection()
    parts.attach(conn)
    await parts.dispatcher.on_call(call())
    await settle(parts.runner)
    assert conn.results == [("c1", "charge", {"ran": "charge", "via": "executor"}, None)]
    (invocation,) = seen
    assert invocation.call_id == "c1" and invocation.args == {"amount": 5}
    assert invocation.thread_id == "t" and invocation.config == CONFIG
    assert invocation.state == {"user": "ada"} and invocation.spec.name == "charge"
