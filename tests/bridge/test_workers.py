"""``realtalk api --workers N``: worker processes on one port, through the public CLI.

Real processes and sockets on 127.0.0.1. Readiness is read from the server's log as it
is written (the port line, then one "Application startup complete" per worker), never
waited for with sleeps. Which worker accepts a connection is the kernel's choice, so the
tests assert what must hold whichever worker answers: sessions are served, and thread
ownership, stored in the shared SQLite file, holds on every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import signal
from pathlib import Path

from realtalk.bridge.cli import (
    GC_YOUNG_THRESHOLD,
    check_workers,
    process_local_checkpointer,
    tune_gc,
)
from realtalk.bridge.config import BridgeConfig, ConfigError
from realtalk.checkpoint import InMemoryCheckpointer, SqliteCheckpointer

from ._support import connect, live_url, realtalk_api, recv_json, start_realtalk_api

AGENT = """\
import os
from realtalk.events import OutputTranscriptEvent, SessionEndedEvent, SessionStartedEvent


class App:
    async def arealtime(self, queue, config):
        yield SessionStartedEvent(thread_id=config["thread_id"])
        async for item in queue:
            yield OutputTranscriptEvent(text=f"{item.text} from {os.getpid()}", finished=True)
        yield SessionEndedEvent()


app = App()
"""

MEMORY_AGENT = """\
from realtalk import AudioAgent
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk_testing import FakeProvider

app = AudioAgent("fake-model", provider=FakeProvider([])).compile(
    checkpointer=InMemoryCheckpointer()
)
"""

KEYS = {"alice": "key-of-alice-0123456789", "bob": "key-of-bob-0123456789"}


def _write(workdir: Path, config: dict[str, object]) -> None:
    (workdir / "echo_agent.py").write_text(AGENT)
    (workdir / "memory_agent.py").write_text(MEMORY_AGENT)
    (workdir / "realtalk.json").write_text(json.dumps(config))


async def _start(workdir: Path, workers: int) -> asyncio.subprocess.Process:
    return await start_realtalk_api(workdir, "--workers", str(workers), "--loop", "asyncio")


def api_workers(
    workdir: Path, workers: int
) -> contextlib.AbstractAsyncContextManager[tuple[str, asyncio.subprocess.Process, list[str]]]:
    """``realtalk api --workers N`` on an ephemeral port, once every worker is up."""
    args = ("--workers", str(workers), "--loop", "asyncio")
    return realtalk_api(workdir, *args, processes=workers)


async def _say(addr: str, user: str, thread_id: str, text: str) -> dict[str, object]:
    """One session: open ``thread_id`` as ``user``, say ``text``; the answer or the error."""
    async with connect(live_url(addr, f"access_token={KEYS[user]}")) as ws:
        await ws.send(json.dumps({"thread_id": thread_id}))
        first = await recv_json(ws)
        if first["type"] != "session_started":
            return first
        await ws.send(json.dumps({"type": "text", "text": text}))
        answer = await recv_json(ws)
        await ws.send(json.dumps({"type": "close"}))
        return answer


async def test_two_workers_serve_sessions_and_share_thread_ownership(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "agent": "echo_agent:app",
            "checkpointer": "sqlite:///threads.db",
            "auth": {
                "required": True,
                "api_keys": [{"user": u, "key": k} for u, k in KEYS.items()],
            },
        },
    )
    async with api_workers(tmp_path, 2) as (addr, proc, lines):
        pids = {
            int(m) for line in lines for m in re.findall(r"started worker process \[(\d+)\]", line)
        }
        assert len(pids) == 2 and proc.pid not in pids
        # Sessions at once: each is answered by the worker that accepted it.
        answers = await asyncio.gather(
            *(_say(addr, "alice", f"alice-{n}", f"hello {n}") for n in range(8))
        )
        for n, answer in enumerate(answers):
            assert answer["type"] == "output_transcript"
            text = str(answer["text"])
            assert text.startswith(f"hello {n} from ") and int(text.rsplit(" ", 1)[1]) in pids
        # Ownership lives in the shared SQLite file: bob is refused on whichever worker
        # takes each of his connections, and alice keeps her thread.
        refusals = await asyncio.gather(*(_say(addr, "bob", "alice-0", "mine?") for _ in range(6)))
        for refusal in refusals:
            assert refusal["type"] == "error" and refusal["code"] == "thread_forbidden"
        assert (await _say(addr, "alice", "alice-0", "again"))["type"] == "output_transcript"
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
    log = "".join(lines)
    assert log.count("Finished server process") == 2  # both workers drained and stopped
    assert not any(_alive(pid) for pid in pids)  # no worker outlives the parent


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def test_several_workers_refuse_an_in_memory_checkpointer_url(tmp_path: Path) -> None:
    for url in ("memory://", "sqlite:///:memory:"):
        _write(tmp_path, {"agent": "echo_agent:app", "checkpointer": url})
        proc = await _start(tmp_path, 2)
        _, err = await proc.communicate()
        message = err.decode()
        assert proc.returncode == 2, message
        assert "--workers 2 needs a checkpointer the worker processes share" in message
        assert "sqlite:///threads.db" in message and "--workers 1" in message
        assert "Uvicorn running" not in message  # refused before binding the port


async def test_several_workers_refuse_an_agent_compiled_with_an_in_memory_checkpointer(
    tmp_path: Path,
) -> None:
    # The config names no checkpointer; the app brings its own, known only once a worker
    # imported it: the workers refuse it, and the parent stops instead of restarting them.
    _write(tmp_path, {"agent": "memory_agent:app"})
    proc = await _start(tmp_path, 2)
    _, err = await proc.communicate()
    message = err.decode()
    assert proc.returncode == 2, message
    assert "the in-memory checkpointer keeps threads inside one process" in message
    assert "restarting" not in message


async def test_one_worker_still_accepts_an_in_memory_checkpointer(tmp_path: Path) -> None:
    _write(tmp_path, {"agent": "echo_agent:app", "checkpointer": "memory://"})
    async with api_workers(tmp_path, 1) as (addr, proc, _):
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
        proc.send_signal(signal.SIGTERM)
        # One worker is the plain server: uvicorn re-raises the SIGTERM it drained on.
        assert await proc.wait() in (0, -signal.SIGTERM)


async def test_worker_checks_without_processes(tmp_path: Path) -> None:
    for workers in (0, -1):
        try:
            check_workers(BridgeConfig(), workers)
        except ConfigError as exc:
            assert "at least 1" in str(exc)
        else:
            raise AssertionError("a worker count below 1 was accepted")
    check_workers(BridgeConfig(checkpointer="memory://"), 1)
    check_workers(BridgeConfig(checkpointer="sqlite:///x.db"), 4)
    check_workers(BridgeConfig(checkpointer="postgresql://u@h/db"), 4)
    check_workers(BridgeConfig(), 4)  # no checkpointer: nothing to share, nothing to break
    assert process_local_checkpointer(InMemoryCheckpointer()) is not None
    assert process_local_checkpointer(SqliteCheckpointer(":memory:")) is not None
    assert process_local_checkpointer(SqliteCheckpointer(tmp_path / "t.db")) is None
    assert process_local_checkpointer(None) is None


def test_realtalk_api_raises_the_young_generation_threshold_unless_chosen() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # the interpreter's default
        tune_gc()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
        gc.set_threshold(5000, 20, 30)  # the deployment chose: kept
        tune_gc()
        assert gc.get_threshold() == (5000, 20, 30)
    finally:
        gc.set_threshold(*saved)
