"""Failures say their cause: a fatal session closes 1011, ``/healthz`` is not ready while
the checkpointer is down, an unknown model fails when the app is built."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.config import ConfigError
from realtalk.bridge.health import CheckpointerProbe
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import ErrorEvent, SessionEndedEvent, SessionStartedEvent
from realtalk.provider import ProviderError
from realtalk.runtime.clock import ManualClock

from ._support import EchoApp, bridge_server, connect, live_url, recv_json, recv_until


class FatalApp:
    """A session that fails the way the runtime reports it: a fatal error event, then
    the end of the event stream (no exception)."""

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        yield SessionStartedEvent(thread_id=config["thread_id"])
        yield ErrorEvent(code="connect_failed", message="could not connect", fatal=True)
        yield SessionEndedEvent(reason="error")


async def test_a_fatal_session_closes_1011_not_1000() -> None:
    async with bridge_server(FatalApp()) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        events, _ = await recv_until(ws, lambda e: e["type"] == "session_ended")
        assert events[1] == {
            "type": "error",
            "code": "connect_failed",
            "message": "could not connect",
            "fatal": True,
        }
        await ws.wait_closed()
        assert ws.close_code == 1011
        assert ws.close_reason == "session failed: connect_failed"


async def test_a_session_that_ends_normally_still_closes_1000(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        await ws.send(json.dumps({"type": "close"}))
        await recv_until(ws, lambda e: e["type"] == "session_ended")
        await ws.wait_closed()
        assert ws.close_code == 1000


class FlakyCheckpointer(InMemoryCheckpointer):
    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.reads = 0

    async def aget_thread(self, config: dict[str, Any]) -> Any:
        self.reads += 1
        if self.down:
            raise OSError("connection refused by db.internal:5432")
        return await super().aget_thread(config)


async def test_healthz_is_not_ready_while_the_checkpointer_is_down(echo_app: EchoApp) -> None:
    checkpointer = FlakyCheckpointer()
    asgi = create_app(BridgeConfig(), app=echo_app, checkpointer=checkpointer)
    bridge = asgi.state.bridge
    clock = ManualClock()
    bridge.probe = CheckpointerProbe(checkpointer, ttl=2.0, clock=clock.monotonic)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        down = await client.get("/healthz")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unavailable"
        assert body["reason"] == "checkpointer unreachable (OSError)"
        assert "db.internal" not in down.text  # the public endpoint names no hosts
        checkpointer.down = False
        cached = await client.get("/healthz")  # a poll within the ttl reads nothing
        assert cached.status_code == 503 and checkpointer.reads == 1
        await clock.advance(2.0)
        up = await client.get("/healthz")
        assert up.status_code == 200 and up.json()["status"] == "ok"
        assert "reason" not in up.json() and checkpointer.reads == 2


async def test_healthz_without_a_checkpointer_is_ok(echo_app: EchoApp) -> None:
    asgi = create_app(BridgeConfig(), app=echo_app)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_an_unknown_model_fails_at_compile() -> None:
    with pytest.raises(ProviderError, match="no installed provider claims model 'nobody-1'"):
        AudioAgent("nobody-1").compile()
    with pytest.raises(ProviderError, match="no provider named 'nobody'"):
        AudioAgent("gemini-live-2.5-flash-preview", provider="nobody").compile()


def test_a_provider_instance_skips_the_registry() -> None:
    from realtalk_testing import FakeProvider, end

    app = AudioAgent("anything-at-all", provider=FakeProvider([end.close(1000)])).compile()
    assert app is not None


def test_the_bridge_refuses_an_agent_with_an_unknown_model_at_startup(tmp_path: Any) -> None:
    (tmp_path / "unknown_agent.py").write_text(
        "from realtalk import AudioAgent\nagent = AudioAgent('nobody-2')\n", encoding="utf-8"
    )
    config = BridgeConfig(agent="unknown_agent:agent", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown_agent:agent: no installed provider claims"):
        create_app(config)
