"""An ended bridge session leaves nothing for the collector to free.

A server's sessions come and go; whatever an ended one leaves in reference cycles stays in
memory until a collection and is walked by every collection until then, stalling every
other session of the process (docs/benchmarks.md, objects). Here the app and the bridge's
ASGI app outlive the measurement, as a server's do, and only what the session made (its
connection, protocol, `LiveSession`, runtime `Session`) must be freed by reference
counting alone: the client closing cleanly, and the client dropping mid-session.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _shared.collector import library_garbage

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.cli import uvicorn_protocols
from realtalk_testing import FakeProvider, emit, expect

from ._support import connect, live_url, recv_json, recv_until, serve

CHUNK = bytes(range(256)) * 25  # 200 ms of 16 kHz PCM16
OUT = bytes(4800)


def script() -> list[Any]:
    return [
        expect.audio(min_bytes=len(CHUNK)),
        emit.audio(data=OUT),
        emit.turn_complete(),
        expect.close(),
    ]


def asgi_app() -> tuple[Any, FakeProvider]:
    fake = FakeProvider(script(), yield_on_send=False)
    app = AudioAgent("fake-model", provider=fake).compile()
    return create_app(BridgeConfig(), app=app), fake


async def one_session(asgi: Any, options: dict[str, Any], *, drop: bool) -> None:
    """A server's whole life with one session: talk, then close or drop."""
    async with serve(asgi, **options) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
            await ws.send(CHUNK)
            _, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            assert audio == [OUT]
            if not drop:
                await ws.send(json.dumps({"type": "close"}))
                await recv_until(ws, lambda e: e["type"] == "session_ended")
    # leaving ``serve`` waited for uvicorn to finish every connection and its tasks


@pytest.mark.parametrize("drop", [False, True], ids=["client-closes", "client-drops"])
@pytest.mark.parametrize("stock", [False, True], ids=["realtalk-api", "stock-uvicorn"])
async def test_an_ended_bridge_session_leaves_nothing_for_the_collector(
    stock: bool, drop: bool
) -> None:
    def protocols() -> dict[str, Any]:  # uvicorn's own, or realtalk api's
        return {} if stock else uvicorn_protocols(BridgeConfig().limits)

    warm, _ = asgi_app()
    await one_session(warm, protocols(), drop=drop)  # imports and first-use caches
    # the app, the ASGI app and the protocol factories outlive the measurement, as a
    # server's do
    asgi, fake = asgi_app()
    options = protocols()
    left = await library_garbage(lambda: one_session(asgi, options, drop=drop))
    assert left == []
    assert len(fake.connections) == 1 and fake.connections[0].ended is not None
