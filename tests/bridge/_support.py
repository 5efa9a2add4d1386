"""Bridge test helpers: a real uvicorn on an ephemeral 127.0.0.1 port, and an app double."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.cli import uvicorn_protocols
from realtalk.events import (
    AudioDeltaEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    SessionEndedEvent,
    SessionStartedEvent,
    TurnCompleteEvent,
)
from realtalk.inputs import AudioInput, ImageInput, TextInput
from realtalk.queue import LiveInputQueue


class _Server(uvicorn.Server):
    """uvicorn that reports readiness through an asyncio.Event (no polling, no sleeps)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@asynccontextmanager
async def serve(asgi: Any, **options: Any) -> AsyncIterator[str]:
    """Run ``asgi`` under uvicorn on 127.0.0.1:<ephemeral>; yields ``host:port``."""
    config = uvicorn.Config(
        asgi, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **options
    )
    server = _Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign,attr-defined]
    task = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not server.ready.is_set():
        ready.cancel()
        raise RuntimeError(f"uvicorn did not start: {task.exception()!r}")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class EchoApp:
    """A stand-in compiled app: echoes audio back, answers text, describes images.

    Records every session config and input item so tests can assert what arrived.
    """

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []
        self.items: list[Any] = []
        self.finished = asyncio.Event()

    async def arealtime(self, queue: LiveInputQueue, config: dict[str, Any]) -> AsyncIterator[Any]:
        self.configs.append(config)
        yield SessionStartedEvent(thread_id=config["thread_id"])
        async for item in queue:
            self.items.append(item)
            if isinstance(item, AudioInput):
                yield AudioDeltaEvent(data=item.data, sample_rate=24000)
            elif isinstance(item, TextInput):
                if item.text == "interrupt":
                    yield InterruptedEvent()
                    continue
                yield OutputTranscriptEvent(text=f"echo: {item.text}", finished=True)
                yield TurnCompleteEvent()
            elif isinstance(item, ImageInput):
                text = f"image {item.mime_type} {len(item.data)} bytes"
                yield OutputTranscriptEvent(text=text, finished=True)
                yield TurnCompleteEvent()
            else:
                yield OutputTranscriptEvent(text=f"control {item.kind}", finished=True)
        yield SessionEndedEvent()
        self.finished.set()


@asynccontextmanager
async def bridge_server(
    app: Any, config: BridgeConfig | None = None, *, stock_protocol: bool = False, **create: Any
) -> AsyncIterator[str]:
    """The bridge under uvicorn with ``realtalk api``'s protocols (its WebSocket protocol
    and shortcuts), or uvicorn's own (``stock_protocol``: as under another server)."""
    config = config or BridgeConfig()
    asgi = create_app(config, app=app, **create)
    options = (
        {}
        if stock_protocol
        else uvicorn_protocols(config.limits, compression=config.websocket_compression)
    )
    async with serve(asgi, **options) as addr:
        yield addr


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    """Next JSON frame (skipping binary frames would hide bugs: they fail here)."""
    frame = await ws.recv()
    assert isinstance(frame, str), f"expected a JSON frame, got {len(frame)} bytes"
    data: dict[str, Any] = json.loads(frame)
    return data


async def recv_until(
    ws: ClientConnection, pred: Callable[[dict[str, Any]], bool]
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Collect frames until a JSON frame matches ``pred`` (included)."""
    events: list[dict[str, Any]] = []
    audio: list[bytes] = []
    while True:
        frame = await ws.recv()
        if isinstance(frame, bytes):
            audio.append(frame)
            continue
        event = json.loads(frame)
        events.append(event)
        if pred(event):
            return events, audio


def live_url(addr: str, query: str = "") -> str:
    return f"ws://{addr}/v1/graph/live" + (f"?{query}" if query else "")


__all__ = [
    "ClientConnection",
    "EchoApp",
    "bridge_server",
    "connect",
    "live_url",
    "offline_env",
    "recv_json",
    "recv_until",
    "serve",
]


def offline_env() -> dict[str, str]:
    """This environment without any provider key (``realtalk api`` serves the offline demo)."""
    return {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}


async def start_realtalk_api(
    workdir: Path,
    *args: str,
    node: str = "1",
    config: bool = True,
    env: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """``python -m realtalk api --port 0 ARGS`` in ``workdir``, its log on stderr.

    ``config``: pass ``--config workdir/realtalk.json`` (False: the command's default);
    ``env``: the environment (default: this process's)."""
    env = {**(os.environ if env is None else env), "REALTALK_TEST_NODE": node}
    env["PYTHONUNBUFFERED"] = "1"
    options = ["--config", str(workdir / "realtalk.json")] if config else []
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtalk",
        "api",
        *options,
        "--port",
        "0",
        "--log-level",
        "info",
        *args,
        cwd=workdir,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


@asynccontextmanager
async def realtalk_api(
    workdir: Path,
    *args: str,
    node: str = "1",
    processes: int = 1,
    config: bool = True,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process, list[str]]]:
    """``realtalk api`` on an ephemeral port; yields (host:port, process, log lines).

    Ready once uvicorn said where it runs and ``processes`` applications (workers) said
    their startup is complete, read from the log as it is written (no polling)."""
    proc = await start_realtalk_api(workdir, *args, node=node, config=config, env=env)
    assert proc.stderr is not None
    lines: list[str] = []
    addr: str | None = None
    started = 0
    try:
        while addr is None or started < processes:
            line = (await proc.stderr.readline()).decode(errors="replace")
            if not line:
                raise RuntimeError(f"realtalk api (node {node}) exited:\n" + "".join(lines))
            lines.append(line)
            found = re.search(r"Uvicorn running on http://([\d.]+:\d+)", line)
            if found:
                addr = found.group(1)
            started += "Application startup complete" in line
        drain = asyncio.create_task(_drain(proc.stderr, lines))
        yield addr, proc, lines
        if proc.returncode is None:
            drain.cancel()
        else:
            await drain  # the log up to the end (EOF once the process exited)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))
