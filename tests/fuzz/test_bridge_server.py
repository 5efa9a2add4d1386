"""Fuzzing the bridge through a real server: hostile frames on one WebSocket session while
another session talks normally on the same server.

Every frame of a seeded random stream (arbitrary bytes, arbitrary text, arbitrary JSON,
near-valid typed frames) goes to a live ``/v1/graph/live`` session under uvicorn on
127.0.0.1. After each one the client sends a probe text and reads until its echo: the
server's verdict on the frame (an ``error`` event or not) must be the pure protocol
functions' verdict, the session must go on, and a bystander session on the same server
must get every one of its echoes, in order. Nothing may close either connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.cli import uvicorn_protocols
from realtalk.bridge.protocol import (
    ControlFrame,
    ProtocolError,
    check_audio_frame,
    parse_client_frame,
)
from realtalk.events import (
    AudioDeltaEvent,
    OutputTranscriptEvent,
    SessionEndedEvent,
    SessionStartedEvent,
    TurnCompleteEvent,
)
from realtalk.inputs import AudioInput, TextInput

from ._budget import SCALE, TRIED

FRAMES = int(1000 * SCALE)
LIMIT = 120.0  # a guard against a hung server, never a wait


class Echo:
    """A compiled-app stand-in: echoes text and audio, acknowledges everything else."""

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        yield SessionStartedEvent(thread_id=config["thread_id"])
        async for item in queue:
            if isinstance(item, AudioInput):
                yield AudioDeltaEvent(data=item.data, sample_rate=24000)
            elif isinstance(item, TextInput):
                yield OutputTranscriptEvent(text=f"echo: {item.text}", finished=True)
                yield TurnCompleteEvent()
            else:
                yield OutputTranscriptEvent(text=f"got {item.kind}", finished=True)
        yield SessionEndedEvent()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@asynccontextmanager
async def serve() -> AsyncIterator[str]:
    config = BridgeConfig.model_validate(
        {"limits": {"max_frames_per_second": 100_000, "max_input_bytes_per_second": 10**8}}
    )
    asgi = create_app(config, app=Echo())
    options = uvicorn_protocols(config.limits)  # the protocol stack realtalk api runs
    server = _Server(uvicorn.Config(asgi, host="127.0.0.1", port=0, log_level="warning", **options))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await server.ready.wait()
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


def hostile(rng: random.Random) -> str | bytes:
    """One frame a hostile or broken client might send."""
    keys = ["type", "text", "data", "mime_type", "x", "thread_id"]
    types_ = ["text", "image", "activity_start", "activity_end", "audio_stream_end", "dance", ""]
    values: list[Any] = [None, True, 0, -1, 1.5, "", "a", [], {}, ["image/png"], {"a": 1}]
    values += ["image/png", "image/jpeg", "AAAA", "!!", base64.b64encode(b"\xff\xd8").decode()]
    kind = rng.randrange(8)
    if kind == 7:  # numbers no field needs, lone surrogates: refused at the boundary
        value = rng.choice(
            [
                "9" * rng.randrange(101, 6000),
                "1e999",
                "NaN",
                f'"\\u{rng.randrange(0xD800, 0xE000):04x}"',
            ]
        )
        return '{"type": "text", "text": @}'.replace("@", value)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
    if kind == 1:
        return (
            "".join(
                chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x10FFFF)]))
                for _ in range(rng.randrange(0, 30))
            )
            .encode("utf-8", "replace")
            .decode()
        )
    if kind == 2:
        return json.dumps(rng.choice([[], 1, "x", None, [{"type": "text"}]]))
    frame: dict[str, Any] = {"type": rng.choice(types_)}
    for _ in range(rng.randrange(0, 3)):
        frame[rng.choice(keys)] = rng.choice(values)
    text = json.dumps(frame)
    return text[: rng.randrange(len(text) + 1)] if kind == 3 else text


def refused(frame: str | bytes) -> bool:
    """The pure functions' verdict: True when the frame must get an error event."""
    try:
        if isinstance(frame, bytes):
            check_audio_frame(frame)
        else:
            parsed = parse_client_frame(frame)
            assert not (isinstance(parsed, ControlFrame) and parsed.kind == "close")
    except ProtocolError:
        return True
    return False


async def probe(ws: ClientConnection, tag: str) -> list[dict[str, Any]]:
    """Send a probe text; return the JSON events up to its echo's turn_complete."""
    await ws.send(json.dumps({"type": "text", "text": tag}))
    events: list[dict[str, Any]] = []
    while True:
        frame = await ws.recv()
        if isinstance(frame, bytes):
            continue
        event = json.loads(frame)
        events.append(event)
        if event.get("type") == "output_transcript" and event.get("text") == f"echo: {tag}":
            await ws.recv()  # its turn_complete
            return events


async def test_hostile_frames_on_a_live_server_never_break_a_session() -> None:
    rng = random.Random(20261127)
    async with asyncio.timeout(LIMIT), serve() as addr:
        url = f"ws://{addr}/v1/graph/live"
        async with connect(url) as victim, connect(url) as bystander:
            for ws in (victim, bystander):
                await ws.send("{}")
                assert json.loads(await ws.recv())["type"] == "session_started"
            for i in range(FRAMES):
                frame = hostile(rng)
                if isinstance(frame, str) and '"close"' in frame and not refused(frame):
                    continue  # a valid close ends the input: not what this test is about
                TRIED["bridge server: hostile frames"] += 1
                await victim.send(frame)
                events = await probe(victim, f"probe-{i}")
                errors = [e for e in events if e.get("type") == "error"]
                assert len(errors) == (1 if refused(frame) else 0), (frame, events)
                assert all(not e["fatal"] for e in errors)
                assert all(len(e["message"]) < 400 for e in errors)
                if i % 10 == 0:
                    assert not [e for e in await probe(bystander, f"b-{i}") if e["type"] == "error"]
            await victim.send(json.dumps({"type": "close"}))
            await bystander.send(json.dumps({"type": "close"}))
            for ws in (victim, bystander):
                async for frame in ws:
                    if isinstance(frame, str) and json.loads(frame)["type"] == "session_ended":
                        break
