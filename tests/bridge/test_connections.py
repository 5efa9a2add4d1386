"""What ``realtalk api`` does below the protocol: connections that never become sessions,
frames over the size limit, and clients that stopped reading (real sockets throughout)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.cli import uvicorn_protocols
from realtalk.events import OutputTranscriptEvent, SessionStartedEvent
from realtalk_testing import FakeProvider, emit, expect

from ._support import connect, live_url, realtalk_api, recv_json, recv_until, serve

ECHO_AGENT = (
    "from realtalk.events import SessionEndedEvent, SessionStartedEvent\n"
    "class App:\n"
    "    async def arealtime(self, queue, config):\n"
    "        yield SessionStartedEvent(thread_id=config['thread_id'])\n"
    "        async for _ in queue:\n"
    "            pass\n"
    "        yield SessionEndedEvent()\n"
    "app = App()\n"
)


def write_server(tmp_path: Path, limits: dict[str, Any]) -> Path:
    (tmp_path / "echo_agent.py").write_text(ECHO_AGENT)
    config = {"agent": "echo_agent:app", "limits": limits}
    (tmp_path / "realtalk.json").write_text(json.dumps(config))
    return tmp_path


async def raw(addr: str, payload: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = addr.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    if payload:
        writer.write(payload)
        await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader, within: float = 10.0) -> bytes:
    """Everything the server sent until it closed the connection (fails if it never does)."""
    async with asyncio.timeout(within):
        return await reader.read()


UPGRADE_HEAD = (
    b"GET /v1/graph/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
)

# ---------------------------------------------------------------- handshakes (item 8)


STALLED = {
    "nothing": b"",
    "half a request line": b"GET /v1/gr",
    "a request line": b"GET /v1/graph/live HTTP/1.1\r\n",
    "an upgrade without its end": UPGRADE_HEAD,
    "half a POST": b"POST /v1/tokens",
}


async def test_a_connection_without_a_request_head_is_closed(tmp_path: Path) -> None:
    write_server(tmp_path, {"handshake_timeout": 0.5})
    async with realtalk_api(tmp_path) as (addr, _, _):
        stalled = {name: await raw(addr, payload) for name, payload in STALLED.items()}
        async with connect(live_url(addr)) as ws:  # a real client is served meanwhile
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
            for name, (reader, writer) in stalled.items():
                assert await closed_by_server(reader) == b"", name  # closed, unanswered
                writer.close()
            await ws.send(b"\x00\x00" * 160)  # and its session outlives the bound
            await ws.send('{"type": "close"}')
            await recv_until(ws, lambda e: e["type"] == "session_ended")
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"http://{addr}/healthz")).json()
        assert health["handshakes_timed_out"] == len(STALLED)


async def test_a_kept_alive_connection_trickling_its_next_request_is_closed(
    tmp_path: Path,
) -> None:
    write_server(tmp_path, {"handshake_timeout": 0.5})
    async with realtalk_api(tmp_path) as (addr, _, _):
        reader, writer = await raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)  # answered; the connection is kept alive
        writer.write(b"GET /heal")  # and its next request never completes
        await writer.drain()
        assert await closed_by_server(reader, within=4.0) == b""  # before keep-alive (5 s)
        writer.close()


async def test_idle_connections_beyond_the_limit_close_the_oldest(tmp_path: Path) -> None:
    write_server(tmp_path, {"handshake_timeout": 60, "max_pending_connections": 2})
    async with realtalk_api(tmp_path) as (addr, _, lines):
        idle = [await raw(addr) for _ in range(3)]  # the third evicts the first
        assert await closed_by_server(idle[0][0]) == b""
        half = [await raw(addr, b"GET /v1/gr") for _ in range(2)]  # evict the other two
        for reader, _ in idle[1:]:
            assert await closed_by_server(reader) == b""
        async with connect(live_url(addr)) as ws:  # never locked out by idle sockets
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
        for _, writer in idle + half:
            writer.close()
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"http://{addr}/healthz")).json()
        assert health["pending_connections_closed"] >= 3 and health["handshakes_timed_out"] == 0
    assert any("limits.max_pending_connections" in line for line in lines)


# ---------------------------------------------------------------- frame size (item 9)


async def test_every_oversized_frame_gets_frame_too_big_before_1009(tmp_path: Path) -> None:
    limit = 4096
    write_server(tmp_path, {"max_frame_bytes": limit})
    async with realtalk_api(tmp_path) as (addr, _, _):
        for kind, compression, size in itertools.product(
            ("binary", "text"), (None, "deflate"), (limit + 1, limit + 70_000, 3_000_000)
        ):
            async with connect(live_url(addr), max_size=None, compression=compression) as ws:
                await ws.send("{}")
                await recv_json(ws)
                # a client still writing a frame far over the limit may see the close
                # while its send drains: what it received is what this test is about
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(b"\x00" * size if kind == "binary" else "x" * size)
                events, _ = await recv_until(ws, lambda e: e["type"] == "error")
                case = (kind, compression, size)
                assert events[-1]["code"] == "frame_too_big" and events[-1]["fatal"], case
                expected = (  # a compressed frame's size is known only once inflated
                    f"a frame of {size} bytes exceeds the limit of {limit}"
                    if compression is None
                    else f"exceeds the limit of {limit}"
                )
                assert expected in events[-1]["message"], case
                await ws.wait_closed()
                assert (ws.close_code, ws.close_reason) == (1009, "frame too big"), case
        async with connect(live_url(addr)) as ws:  # exactly the limit is fine
            await ws.send("{}")
            await recv_json(ws)
            await ws.send(b"\x00" * limit)
            await ws.send('{"type": "close"}')
            events, _ = await recv_until(ws, lambda e: e["type"] == "session_ended")
            assert [e["type"] for e in events] == ["session_ended"]


# ---------------------------------------------------------------- slow consumers (item 10)


class StreamApp:
    """Streams 10 kB events for ever once the client says go; records when it ended."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        try:
            yield SessionStartedEvent(thread_id=config["thread_id"])
            await queue.get()
            index = 0
            while True:
                yield OutputTranscriptEvent(text=f"{index:08d}" + "x" * 10_000)
                index += 1
        finally:
            self.ended.set()


def small_buffer_socket(addr: str) -> socket.socket:
    """A client socket with a tiny receive buffer: it stops reading, the server feels it."""
    host, port = addr.split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


async def last_json_before_close(ws: Any) -> dict[str, Any]:
    """Read everything the server still sends; the last JSON frame before the close."""
    last: dict[str, Any] = {}
    with contextlib.suppress(ConnectionClosed):
        while True:
            frame = await ws.recv()
            if isinstance(frame, str):
                last = json.loads(frame)
    return last


async def test_a_client_that_stopped_reading_gets_slow_consumer_and_4410() -> None:
    app = StreamApp()
    config = BridgeConfig.model_validate(
        {"limits": {"send_queue_frames": 8, "slow_consumer_timeout": 0.2}}
    )
    asgi = create_app(config, app=app)
    bridge = asgi.state.bridge
    async with serve(asgi, **uvicorn_protocols(config.limits)) as addr:
        sock = small_buffer_socket(addr)
        async with ws_connect(
            live_url(addr), sock=sock, max_queue=1, max_size=None, compression=None
        ) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send('{"type": "text", "text": "go"}')
            # ... and read nothing until the bridge has ended the session and its handler
            # has returned: whatever it wanted to tell this client is written by now.
            await app.ended.wait()
            await asyncio.wait_for(bridge.slots.wait_idle(), 30)
            last = await last_json_before_close(ws)
            assert (last.get("code"), last.get("fatal")) == ("slow_consumer", True), last
            assert ws.close_code == 4410 and ws.close_reason == "client not reading"


async def test_a_stalled_client_holds_back_a_real_agent_and_is_told_why() -> None:
    """End to end with a real agent (the runtime's bounded output between the provider and
    the bridge): a burst of events for a client that stopped reading ends the session,
    and the client, reading again, gets ``slow_consumer`` and 4410."""
    burst = 5000
    script = [
        expect.text("go"),
        *[emit.output_transcript(f"{i:05d} " + "x" * 2000, finished=False) for i in range(burst)],
        emit.turn_complete(),
    ]
    provider = FakeProvider([script], record=False)
    app = AudioAgent("fake-burst", provider=provider).compile(output_limit=64)
    config = BridgeConfig.model_validate(
        {"limits": {"send_queue_frames": 8, "slow_consumer_timeout": 0.2}}
    )
    asgi = create_app(config, app=app)
    async with serve(asgi, **uvicorn_protocols(config.limits)) as addr:
        sock = small_buffer_socket(addr)
        async with ws_connect(
            live_url(addr), sock=sock, max_queue=1, max_size=None, compression=None
        ) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send('{"type": "text", "text": "go"}')
            await asyncio.wait_for(asgi.state.bridge.slots.wait_idle(), 60)
            last = await last_json_before_close(ws)
    assert (last.get("code"), ws.close_code) == ("slow_consumer", 4410), last
