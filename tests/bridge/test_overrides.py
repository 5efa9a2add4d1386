"""First-frame overrides cannot move a session to another provider (issue: a Gemini
agent's key was sent to the OpenAI plugin as ``Authorization: Bearer``)."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from realtalk import AudioAgent, RealtimeConfig
from realtalk.bridge import BridgeConfig, create_app
from realtalk.plugins import get_registry
from realtalk_testing import emit, expect

from ._support import connect, live_url, recv_json, recv_until, serve

MODELS = {
    name: record.models[0].replace("*", "x")
    for name, record in sorted(get_registry().providers.items())
    if record.models
}


def agent_for(provider: str, **options: object) -> AudioAgent:
    config = RealtimeConfig(
        model=MODELS[provider], provider_options={"api_key": f"key-of-{provider}", **options}
    )
    return AudioAgent(MODELS[provider], realtime_config=config)


@pytest.mark.parametrize(("own", "other"), list(itertools.permutations(MODELS, 2)))
async def test_another_providers_model_is_bad_override(own: str, other: str) -> None:
    asgi = create_app(BridgeConfig(), app=agent_for(own).compile())
    async with serve(asgi) as addr, connect(live_url(addr)) as ws:
        await ws.send(json.dumps({"thread_id": "t", "model": MODELS[other]}))
        error = await recv_json(ws)
        assert (error["type"], error["code"], error["fatal"]) == ("error", "bad_override", False)
        assert f"not served by '{own}'" in error["message"] and "key-of" not in error["message"]
        await ws.close()
    assert asgi.state.bridge.slots.total == 1


class Sniffer:
    """A TCP server standing in for a provider endpoint: records what connects to it."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.connected = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.read(4096))
        self.connected.set()
        writer.close()


async def test_a_gemini_key_never_reaches_the_openai_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sniffer = Sniffer()
    server = await asyncio.start_server(sniffer.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"ws://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "the-server-openai-key")
    app = agent_for("gemini").compile()
    async with server, serve(create_app(BridgeConfig(), app=app)) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send(json.dumps({"model": "gpt-realtime"}))
            error = await recv_json(ws)
            assert error["code"] == "bad_override", error
            assert "it belongs to provider 'openai'" in error["message"]
    assert sniffer.requests == []  # the OpenAI plugin never connected, with any key


async def test_a_model_of_the_agents_provider_is_served_with_its_options() -> None:
    script = [[expect.text("hi"), emit.speech("hello", seconds=0.1), emit.turn_complete()]]
    app = agent_for("fake", script=script).compile()  # the fake reads its script from options
    async with serve(create_app(BridgeConfig(), app=app)) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send(json.dumps({"model": "fake-other-model"}))
            assert (await recv_json(ws))["type"] == "session_started"
            await ws.send(json.dumps({"type": "text", "text": "hi"}))
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            assert audio and not [e for e in events if e["type"] == "error"]
