"""The floor of a bridge to Gemini Live: a bare relay (``capacity.py --bridge floor``).

What any server between browsers and Gemini Live must do per chunk, and nothing else:
a WebSocket server for the clients (``websockets``, no compression), and per session one
TLS WebSocket to the model (``_stream_server.py``) opened with google-genai's setup
frame; each binary client frame goes up as URL-safe base64 in the JSON text google-genai
writes, and each model frame comes down as ``json.loads`` + base64 decode + one binary
frame. No SDK, no runtime, no protocol, limits, auth, transcripts or reconnection: the
realtalk bridge with the real Gemini plugin (``--model gemini``) is measured against it.

``python _relay_floor.py PORT [--loop uvloop]``; the model's port and CA come in
``BENCH_GEMINI_PORT`` and ``BENCH_GEMINI_CA`` (as for ``_bridge_server.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import sys

import _harness as h
from _clients import FLOOR_SETUP, IN_MIME, live_uri
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve


async def relay(client: ServerConnection, uri: str, context: ssl.SSLContext) -> None:
    headers = {"x-goog-api-key": "bench"}
    async with connect(uri, additional_headers=headers, ssl=context, compression=None) as model:
        await model.send(FLOOR_SETUP)
        json.loads(await model.recv(decode=False))  # setupComplete

        async def up() -> None:
            async for frame in client:
                if isinstance(frame, bytes):
                    data = base64.urlsafe_b64encode(frame).decode("ascii")
                    audio = {"data": data, "mime_type": IN_MIME}
                    await model.send(json.dumps({"realtime_input": {"audio": audio}}))

        async def down() -> None:
            while True:
                content = json.loads(await model.recv(decode=False)).get("serverContent") or {}
                for part in (content.get("modelTurn") or {}).get("parts", ()):
                    blob = part.get("inlineData")
                    if blob is not None:
                        await client.send(base64.b64decode(blob["data"]))

        tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def main(port: int) -> None:
    context = ssl.create_default_context(cadata=os.environ["BENCH_GEMINI_CA"])
    uri = live_uri(h.gemini_http_options(int(os.environ["BENCH_GEMINI_PORT"]), context))

    async def handler(client: ServerConnection) -> None:
        try:
            await relay(client, uri, context)
        except Exception:  # a session's end (either side closing) is not the relay's error
            pass

    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=1 << 20
    ):
        print("Application startup complete (relay floor)", file=sys.stderr, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    args = p.parse_args()
    factory = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(args.port))
