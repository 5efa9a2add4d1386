"""A real-time Gemini Live wire server for benchmarks (run as a subprocess by ``_harness``).

FakeGeminiServer replays cassettes line by line, as fast as the client reads; benchmarks
need the opposite: model audio paced in real time (a 100 ms chunk every 100 ms) whatever
the client does. This server speaks the same wire protocol (TLS, ``setup`` ->
``setupComplete``, camelCase server frames), so the real google-genai SDK and the
realtalk Gemini plugin connect to it unchanged.

Timing travels inside the audio: the first 8 bytes of every PCM chunk hold
``time.monotonic_ns()`` at the moment it was handed to the socket (server -> client), and
clients stamp their input chunks the same way (client -> server). CLOCK_MONOTONIC is
system-wide on Linux, so stamps compare across the two processes.

Control: JSON lines on stdin (``config``, ``stats``, ``quit``); answers on stdout.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import struct
import sys
import time
from typing import Any

import trustme
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CHUNK_BYTES = 4800  # 100 ms of 24 kHz PCM16 mono
_PAD = bytes(CHUNK_BYTES - 8)
_PREFIX = (
    '{"serverContent":{"modelTurn":{"parts":[{"inlineData":'
    '{"mimeType":"audio/pcm;rate=24000","data":"'
)
_SUFFIX = '"}}]}}}'
_TURN_COMPLETE = '{"serverContent":{"turnComplete":true}}'
_SETUP_COMPLETE = '{"setupComplete":{}}'
_HANDLE = json.dumps({"sessionResumptionUpdate": {"newHandle": "bench-handle", "resumable": True}})
_GO_AWAY = '{"goAway":{"timeLeft":"10s"}}'


class State:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {"chunks": 10, "interval": 0.1}
        self.reset()

    def reset(self) -> None:
        self.send_lat_ns: list[int] = []
        self.recv_bytes = 0
        self.recv_chunks = 0
        self.connections = 0
        self.marks: dict[str, int] = {}


STATE = State()


# The client's audio chunk, found without parsing the frame: the first 12 characters of
# its base64 ("data" of realtime_input.audio, either alphabet) hold the 8-byte stamp, and
# the string's length gives the chunk's size. At hundreds of sessions a full json.loads
# and base64 decode of every 4 KB input frame made the server, not the client, the
# bottleneck on a shared core.
_DATA = re.compile(rb'"data":\s*"([A-Za-z0-9+/_-]{12})([A-Za-z0-9+/_=-]*)"')


async def _read(ws: ServerConnection, skip: int, echo: bool = False) -> None:
    """Count the client's audio; time every chunk after the first ``skip`` of it;
    ``echo``: answer each audio chunk with one 100 ms chunk at once (``capacity.py
    --model gemini``: the round trip through a bridge, as a model that answers)."""
    while True:
        try:
            raw = await ws.recv(decode=False)
        except ConnectionClosed:
            return
        now = time.monotonic_ns()
        found = _DATA.search(raw)
        if found is None:
            continue
        head, rest = found.group(1), found.group(2)
        size = (len(head) + len(rest)) * 3 // 4 - rest[-2:].count(b"=")
        STATE.recv_bytes += size
        STATE.recv_chunks += 1
        if echo:
            try:
                await _send_chunk(ws)
            except ConnectionClosed:
                return
        if skip > 0:  # the connection's first chunks (sent while it was connecting)
            skip -= 1
            continue
        (stamp,) = struct.unpack_from("<q", base64.urlsafe_b64decode(head.translate(_URLSAFE)))
        if 0 < stamp <= now:
            STATE.send_lat_ns.append(now - stamp)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


async def _send_chunk(ws: ServerConnection) -> None:
    stamp = time.monotonic_ns()
    body = base64.b64encode(struct.pack("<q", stamp) + _PAD).decode("ascii")
    await ws.send(_PREFIX + body + _SUFFIX)


async def _handle(ws: ServerConnection) -> None:
    cfg = dict(STATE.config)
    STATE.connections += 1
    try:
        setup = json.loads(await ws.recv())
    except Exception:
        return
    resumed = "bench-handle" in json.dumps(setup)
    await ws.send(_SETUP_COMPLETE)
    if cfg.get("handle"):
        await ws.send(_HANDLE)
    echo = bool(cfg.get("echo"))
    reader = asyncio.create_task(_read(ws, int(cfg.get("send_skip", 0)), echo))
    event = cfg.get("event")  # None | "go_away" | "drop"
    if echo:  # answers only: no paced stream, no turn end
        chunks = 0
    else:
        chunks = int(cfg.get("after_chunks", cfg["chunks"]) if resumed else cfg["chunks"])
    interval = float(cfg["interval"])
    # stagger concurrent sessions so their chunks do not all fall on the same tick
    deadline = time.monotonic() + (random.random() * interval if cfg.get("stagger") else 0.0)
    try:
        for i in range(chunks):
            if event and not resumed and i == int(cfg.get("event_after", 0)):
                if event == "drop":
                    STATE.marks["drop"] = time.monotonic_ns()
                    ws.transport.abort()
                    return
                await ws.send(_TURN_COMPLETE)
                STATE.marks["go_away"] = time.monotonic_ns()
                await ws.send(_GO_AWAY)
                break
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            deadline += interval
            if i == 0 and resumed:
                STATE.marks.setdefault("resumed_first_audio_sent", time.monotonic_ns())
            await _send_chunk(ws)
        else:
            if not (cfg.get("idle") or echo):
                await ws.send(_TURN_COMPLETE)
        await reader  # until the client closes
    except Exception:
        pass
    finally:
        reader.cancel()


async def _control() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd["cmd"] == "config":
            STATE.config = {k: v for k, v in cmd.items() if k != "cmd"}
            STATE.reset()
            out: dict[str, Any] = {"ok": True}
        elif cmd["cmd"] == "stats" and cmd.get("keep"):  # a cheap reading mid-run
            out = {"cpu_s": time.process_time()}
        elif cmd["cmd"] == "stats":
            out = {
                "send_lat_ns": STATE.send_lat_ns,
                "recv_bytes": STATE.recv_bytes,
                "recv_chunks": STATE.recv_chunks,
                "connections": STATE.connections,
                "marks": STATE.marks,
                "cpu_s": time.process_time(),
            }
            STATE.reset()
        else:
            return
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


async def main() -> None:
    import ssl

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    async with serve(
        _handle,
        "127.0.0.1",
        0,
        ssl=ctx,
        compression=None,
        ping_interval=None,
        max_size=None,
        close_timeout=2,
        backlog=2048,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        hello = {"port": port, "ca_pem": ca.cert_pem.bytes().decode("ascii")}
        sys.stdout.write(json.dumps(hello) + "\n")
        sys.stdout.flush()
        await _control()


def loop_factory() -> Any:
    """uvloop when installed (what realtalk api runs on): a cheaper server, more of its
    core left for the load it must generate."""
    if os.environ.get("BENCH_SERVER_LOOP") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
