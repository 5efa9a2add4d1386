"""Kill the process in the middle of a session; on restart the same thread resumes with
every transcript that was finished before the kill, and no tool call runs twice.

The session runs in a child process (``_child.py``) with a persistent checkpointer
(SQLite, PostgreSQL). It is killed with SIGKILL, no cleanup of any kind: once by itself
the instant the user sees a finished transcript, once by the parent after the second
turn. The restart, in this process, resumes the same ``thread_id`` with the same store.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
from realtalk.checkpoint import PgCheckpointer, SqliteCheckpointer
from realtalk_testing import FakeProvider, emit, expect

CHILD = Path(__file__).with_name("_child.py")
THREAD = {"thread_id": "crash-thread"}
MODEL = "fake-live"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
LIMIT = 60.0  # a guard against a hung child, never a wait


@pytest.fixture(params=["sqlite", "postgres"])
def store_args(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(backend, location, schema) of a fresh persistent store."""
    if request.param == "sqlite":
        yield ("sqlite", str(tmp_path / "crash.db"), "-")
        return
    import psycopg

    url = os.environ.get("REALTALK_TEST_PG_URL") or DEFAULT_PG_URL
    try:
        conn = psycopg.connect(url, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        message = f"PostgreSQL at REALTALK_TEST_PG_URL is unreachable ({type(exc).__name__})"
        if os.environ.get("REALTALK_REQUIRE_PG") == "1":
            pytest.fail(f"{message}; REALTALK_REQUIRE_PG=1 requires it", pytrace=False)
        pytest.skip(message)
    schema = f"rt_crash_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield ("postgres", url, schema)
    finally:
        with conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _open(args: tuple[str, str, str]) -> Any:
    backend, location, schema = args
    if backend == "sqlite":
        return SqliteCheckpointer(location)
    return PgCheckpointer(location, schema=schema)


async def _run_child(
    args: tuple[str, str, str], tool_log: Path, die_at: str, *, kill_after_turns: int = 0
) -> tuple[list[list[str]], int]:
    """Run the child until it dies; the finished transcripts it showed, its exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        *args,
        str(tool_log),
        die_at,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen: list[list[str]] = []
    events: list[dict[str, Any]] = []
    turns = 0
    try:
        async with asyncio.timeout(LIMIT):
            async for raw in proc.stdout:
                line = json.loads(raw)
                if "event" in line:
                    events.append(line["event"])
                if "finished" in line:
                    seen.append(line["finished"])
                if "turn_complete" in line:
                    turns += 1
                    if turns == kill_after_turns:
                        proc.send_signal(signal.SIGKILL)
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, stderr
    assert [e["type"] for e in events] == ["tool_call", "tool_result"], events
    return seen, proc.returncode


async def _restart(args: tuple[str, str, str], tool_log: Path) -> tuple[list[Any], Any]:
    """Resume the thread: the provider must see the handle stored before the kill, and
    re-sends the already answered call c1 (which must not run again, and is answered again
    from the ledger: the resumed provider asked because it never saw the answer)."""
    from ._child import make_tool

    store = _open(args)
    entry = await store.aledger_get(THREAD, "c1")
    assert entry is not None and entry.status == "finished"
    # The result went out before the kill, but the kill may have beaten the record that
    # it went out: then it is sent again on resuming (at least once), never re-executed,
    # and the provider's repeat of the call is already answered on this connection (one
    # answer per call and connection). Otherwise the repeat is answered from the ledger.
    if entry.delivered:
        answers = [
            emit.tool_call("c1", "lookup", {"q": "trains"}),
            expect.tool_result("c1"),  # the stored result again, the tool not rerun
        ]
    else:
        answers = [
            expect.tool_result("c1"),  # redelivered as the connection is attached
            emit.tool_call("c1", "lookup", {"q": "trains"}),  # crossed it: not answered twice
        ]
    fake = FakeProvider(
        [
            expect.connect(handle="h-2"),
            *answers,
            emit.input_transcript("fourth question"),
            emit.output_transcript("fourth answer"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    agent = AudioAgent(
        MODEL,
        realtime_config=RealtimeConfig(model=MODEL),
        tools=[make_tool(str(tool_log))],
        provider=fake,
    )
    app = agent.compile(checkpointer=store)
    queue = LiveInputQueue()
    events = []
    try:
        async with asyncio.timeout(LIMIT):
            async for event in app.arealtime(queue, THREAD):
                events.append(event)
                if event.type == "turn_complete":
                    queue.close()
        fake.assert_done()
        messages = list(await store.alist_messages(THREAD))
    finally:
        await app.aclose()
        await store.aclose()
    assert events[-1].type == "session_ended" and events[-1].reason == "closed", events
    assert not [e for e in events if e.type == "error"], events
    return messages, events


def _spoken(messages: list[Any]) -> list[list[str]]:
    return [
        [m.role, m.content[0].text]
        for m in messages
        if m.content and m.content[0].type == "text" and m.role in ("user", "assistant")
    ]


def _tools(messages: list[Any]) -> list[tuple[str, str]]:
    return [(b.type, b.id) for m in messages for b in m.content if b.type != "text"]


async def test_killed_the_instant_a_transcript_was_shown_loses_nothing(
    store_args: tuple[str, str, str], tmp_path: Path
) -> None:
    tool_log = tmp_path / "tools.log"
    seen, _ = await _run_child(store_args, tool_log, "third question")
    assert seen[-1] == ["user", "third question"]
    messages, _ = await _restart(store_args, tool_log)
    assert _spoken(messages) == [*seen, ["user", "fourth question"], ["assistant", "fourth answer"]]
    assert _tools(messages) == [("tool_call", "c1"), ("tool_result", "c1")]
    assert len(tool_log.read_text().splitlines()) == 1  # c1 ran once, in the killed process


async def test_killed_by_its_parent_mid_session_resumes_the_thread(
    store_args: tuple[str, str, str], tmp_path: Path
) -> None:
    tool_log = tmp_path / "tools.log"
    seen, _ = await _run_child(store_args, tool_log, "-", kill_after_turns=2)
    assert seen[:4] == [
        ["user", "first question"],
        ["assistant", "first answer"],
        ["user", "second question"],
        ["assistant", "second answer"],
    ]
    messages, _ = await _restart(store_args, tool_log)
    spoken = _spoken(messages)
    assert spoken[: len(seen)] == seen  # everything shown before the kill, once, in order
    assert spoken[-2:] == [["user", "fourth question"], ["assistant", "fourth answer"]]
    assert len(spoken) in (len(seen) + 2, len(seen) + 3)  # "third question" may have landed
    assert _tools(messages) == [("tool_call", "c1"), ("tool_result", "c1")]
    assert len(tool_log.read_text().splitlines()) == 1


async def test_a_kill_that_beat_the_delivered_record_redelivers_once_and_never_reruns(
    tmp_path: Path,
) -> None:
    """The other side of the race above, made certain: the result of c1 went out, but the
    record that it went out did not (as a kill between the two would leave it)."""
    import sqlite3

    args = ("sqlite", str(tmp_path / "crash.db"), "-")
    tool_log = tmp_path / "tools.log"
    await _run_child(args, tool_log, "-", kill_after_turns=2)
    with sqlite3.connect(args[1]) as db:
        db.execute("UPDATE ledger SET delivered = 0 WHERE call_id = 'c1'")
    messages, events = await _restart(args, tool_log)
    assert [e.id for e in events if e.type == "tool_result"] == []  # answered by redelivery
    assert _spoken(messages)[-2:] == [["user", "fourth question"], ["assistant", "fourth answer"]]
    assert len(tool_log.read_text().splitlines()) == 1  # c1 ran once, in the killed process
