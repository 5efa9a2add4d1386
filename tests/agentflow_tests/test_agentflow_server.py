"""Agentflow's own API server (``10xgraph dev``) serving a graph built with
``realtalk_agentflow.AudioAgent``: examples/agentflow_app, offline, driven over
``/v1/graph/live`` by a websockets client, the thread read back over its REST API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import websockets

APP = Path(__file__).resolve().parents[2] / "examples" / "agentflow_app"
SERVER = Path(sys.executable).parent / "10xgraph"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def agentflow_server() -> AsyncIterator[str]:
    """``10xgraph dev`` on a free port; ready once uvicorn says where it runs (read from
    its log as it is written, no polling)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
    proc = await asyncio.create_subprocess_exec(
        str(SERVER),
        "dev",
        "--config",
        "10xgraph.json",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-reload",
        "--no-open",
        cwd=APP,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode(errors="replace")
            if not line:
                raise RuntimeError("10xgraph dev exited:\n" + "".join(lines))
            lines.append(line)
            if re.search(r"Uvicorn running on http://127\.0\.0\.1:\d+", line):
                break
        drain = asyncio.create_task(proc.stdout.read())
        yield f"127.0.0.1:{port}"
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def test_agentflow_server_serves_a_realtalk_graph_over_graph_live() -> None:
    async with agentflow_server() as addr:
        events: list[dict[str, Any]] = []
        audio = 0
        async with websockets.connect(f"ws://{addr}/v1/graph/live") as ws:
            await ws.send(json.dumps({"thread_id": "voice-1"}))
            await ws.send(b"\x00\x00" * 1600)  # 100 ms of 16 kHz PCM16
            await ws.send(json.dumps({"type": "text", "text": "in Celsius please"}))
            async for frame in ws:
                if isinstance(frame, bytes):
                    audio += len(frame)
                    continue
                events.append(json.loads(frame))
                if events[-1].get("resumption_handle") == "offline-2":  # resumed after go_away
                    await ws.send(json.dumps({"type": "close"}))
        async with httpx.AsyncClient(base_url=f"http://{addr}") as http:
            reply = await http.get("/v1/threads/voice-1/messages")
    kinds = [e["type"] for e in events]
    assert kinds[:5] == [
        "session_update",
        "input_transcript",
        "tool_call",
        "tool_result",
        "go_away",
    ]
    assert events[3]["result"]["result"][0]["city"] == "Paris"
    finished = [e["text"] for e in events if e["type"] == "output_transcript" and e["finished"]]
    assert finished == ["It is 18 degrees and partly cloudy in Paris."]
    assert kinds.index("turn_complete") > kinds.index("go_away")  # the turn survived
    assert events[-1] == {"type": "session_update", "resumption_handle": "offline-2"}
    assert audio > 0
    assert reply.status_code == 200
    stored = [
        (m["role"], m["metadata"].get("modality"), [b["type"] for b in m["content"]])
        for m in reply.json()["data"]["messages"]
    ]
    # the typed text and the transcript of the speech before it race (both are the user's)
    assert sorted(stored[:2]) == [("user", "audio", ["text"]), ("user", "text", ["text"])]
    assert stored[2:] == [
        ("assistant", None, ["tool_call"]),
        ("tool", None, ["tool_result"]),
        ("assistant", "audio", ["text"]),
    ]
