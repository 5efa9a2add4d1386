"""Agentflow's PgCheckpointer on real PostgreSQL and Redis: the thread, its handle and
Agentflow's tool ledger, a session killed with SIGKILL and restarted on the same thread.

PostgreSQL comes from ``REALTALK_TEST_PG_URL`` and Redis from ``REALTALK_TEST_REDIS_URL``;
each run works in its own schema. Unreachable servers skip, or fail when
``REALTALK_REQUIRE_PG=1`` (CI sets it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tenxgraph.core.realtime import LiveInputQueue
from tenxgraph.core.state import AgentState
from tenxgraph.storage.checkpointer import PgCheckpointer

from realtalk_agentflow import AudioAgent
from realtalk_testing import FakeProvider, emit, expect

from ._crash_app import booking_tool
from ._crash_app import script as crash_script
from ._support import MODEL, run

PG_URL = os.environ.get("REALTALK_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("REALTALK_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
USER = {"user_id": "u1"}


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is unreachable ({type(exc).__name__}: {exc})"
    if os.environ.get("REALTALK_REQUIRE_PG") == "1":
        pytest.fail(f"{message}; REALTALK_REQUIRE_PG=1 requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    import asyncpg
    import redis.asyncio as aioredis

    name = f"rt_af_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except Exception as exc:
        _unavailable("PostgreSQL at REALTALK_TEST_PG_URL", exc)
    try:
        client = aioredis.from_url(REDIS_URL)
        await client.ping()
        await client.aclose()
    except Exception as exc:
        await conn.close()
        _unavailable("Redis at REALTALK_TEST_REDIS_URL", exc)
    await conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


@pytest.fixture
async def checkpointer(schema: str) -> AsyncIterator[PgCheckpointer[AgentState]]:
    saver: PgCheckpointer[AgentState] = PgCheckpointer(
        postgres_dsn=PG_URL, redis_url=REDIS_URL, schema=schema
    )
    await saver.asetup()
    yield saver
    await saver.arelease()


CALLS: list[str] = []


def book_table(city: str, tool_call_id: str) -> str:
    """Book a table in a city."""
    CALLS.append(tool_call_id)
    return f"booked in {city}"


def _queue(text: str) -> LiveInputQueue:
    queue = LiveInputQueue()
    queue.send_text(text)
    return queue


async def test_pg_thread_handle_and_ledger_across_two_sessions(
    checkpointer: PgCheckpointer[AgentState],
) -> None:
    CALLS.clear()
    first = FakeProvider(
        [
            emit.session_update("pg-1"),
            expect.text("book Paris"),
            emit.input_transcript("book Paris"),
            emit.tool_call("c1", "book_table", {"city": "Paris"}),
            expect.tool_result("c1", result="booked in Paris", error=None),
            emit.speech("Booked."),
            emit.turn_complete(),
        ]
    )
    graph = AudioAgent(MODEL, tools=[book_table], provider=first).compile(checkpointer=checkpointer)
    await run(graph, _queue("book Paris"), {"thread_id": "pg-t", **USER})
    first.assert_done()
    config = {"thread_id": "pg-t", **USER}
    thread = await checkpointer.aget_thread(config)
    assert thread is not None and (thread.metadata or {})["resumption_handle"] == "pg-1"
    ledger = await checkpointer.aget_tool_result(config, "realtalk:c1:finished")
    assert ledger == {"__kind__": "raw", "value": {"result": "booked in Paris", "error": None}}

    second = FakeProvider(
        [
            expect.connect(handle="pg-1", history=False),  # resumed: no reseed
            expect.text("thanks"),
            emit.speech("You're welcome."),
            emit.turn_complete(),
        ]
    )
    graph2 = AudioAgent(MODEL, tools=[book_table], provider=second).compile(
        checkpointer=checkpointer
    )
    await run(graph2, _queue("thanks"), {"thread_id": "pg-t", **USER})
    second.assert_done()
    assert CALLS == ["c1"]
    texts = [(m.role, m.text()) for m in await checkpointer.alist_messages(config)]
    assert texts == [
        ("user", "book Paris"),
        ("user", "book Paris"),
        ("assistant", ""),
        ("tool", "booked in Paris"),
        ("assistant", "Booked."),
        ("user", "thanks"),
        ("assistant", "You're welcome."),
    ]


async def _phase(phase: str, schema: str, thread: str, marker: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("_crash_app.py")),
        phase,
        PG_URL,
        REDIS_URL,
        schema,
        thread,
        str(marker),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _lines_until(proc: asyncio.subprocess.Process, wanted: str) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 60)  # a safety net
        if not raw:
            assert proc.stderr is not None
            err = (await proc.stderr.read()).decode(errors="replace")
            raise AssertionError(f"session process ended early: {lines}\n{err}")
        lines.append(raw.decode().strip())
        if lines[-1] == wanted:
            return lines


async def test_kill_9_mid_session_then_restart_on_the_same_thread(
    checkpointer: PgCheckpointer[AgentState], schema: str, tmp_path: Path
) -> None:
    marker = tmp_path / "bookings.txt"
    first = await _phase("1", schema, "crash-t", marker)
    try:
        seen = await _lines_until(first, "delivered")
    finally:
        if first.returncode is None:
            first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    assert seen[:3] == ["session_update", "input_transcript", "tool_call"]

    # the restart: another process (this one) on the same thread and database
    fake = FakeProvider(crash_script("2"))
    graph = AudioAgent(MODEL, tools=[booking_tool(str(marker))], provider=fake).compile(
        checkpointer=checkpointer
    )
    events = await run(graph, _queue("are you there"), {"thread_id": "crash-t", **USER})
    fake.assert_done()  # it connected with the handle phase 1 stored
    assert [e.type for e in events][-1] == "turn_complete"
    assert marker.read_text().splitlines() == ["booked"]  # the tool ran once
    config = {"thread_id": "crash-t", **USER}
    texts = [(m.role, m.text()) for m in await checkpointer.alist_messages(config)]
    assert texts == [
        ("user", "book Paris"),
        ("user", "book Paris"),
        ("assistant", ""),
        ("tool", "booked in Paris"),
        ("user", "are you there"),
        ("assistant", "Your table is booked."),
    ]
    thread = await checkpointer.aget_thread(config)
    assert thread is not None and (thread.metadata or {}).get("realtalk_undelivered") == []
