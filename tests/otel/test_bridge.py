"""``realtalk api`` turns realtalk-otel on from ``realtalk.json`` (the real CLI, a real
socket): a session through the bridge is printed as spans by the console exporter."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from bridge._support import connect, live_url, realtalk_api, recv_json, recv_until

from realtalk.bridge.config import ConfigError, ObservabilityConfig, load_config
from realtalk.bridge.observability import enable_observability

AGENT = """\
from realtalk import AudioAgent
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk_testing import FakeProvider, emit, expect

provider = FakeProvider(
    [[expect.text("hi"), emit.audio(seconds=0.1), emit.turn_complete(), emit.usage(3, 4, 7),
      expect.close()]]
)
app = AudioAgent("fake-model", provider=provider).compile(checkpointer=InMemoryCheckpointer())
"""


async def test_realtalk_api_exports_spans_when_the_config_says_so(tmp_path: Path) -> None:
    (tmp_path / "otel_agent.py").write_text(AGENT)
    config = {"agent": "otel_agent:app", "observability": {"otel": True, "exporter": "console"}}
    (tmp_path / "realtalk.json").write_text(json.dumps(config))
    async with realtalk_api(tmp_path) as (addr, proc, lines):
        async with connect(live_url(addr)) as ws:
            await ws.send(json.dumps({"thread_id": "otel-thread"}))
            assert (await recv_json(ws))["type"] == "session_started"
            await ws.send(json.dumps({"type": "text", "text": "hi"}))
            await recv_until(ws, lambda e: e["type"] == "metrics")
            await ws.send(json.dumps({"type": "close"}))
            await recv_until(ws, lambda e: e["type"] == "session_ended")
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    log = "".join(lines)
    assert '"name": "realtime fake-model"' in log
    assert '"name": "chat fake-model"' in log
    assert '"gen_ai.conversation.id": "otel-thread"' in log
    assert '"service.name": "realtalk"' in log


def test_observability_config_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "realtalk.json"
    path.write_text(json.dumps({"observability": {"otel": True, "exporter": "zipkin"}}))
    with pytest.raises(ConfigError, match="exporter"):
        load_config(path)
    path.write_text(json.dumps({"observability": {"otle": True}}))
    with pytest.raises(ConfigError, match="otle"):
        load_config(path)


def test_a_missing_otlp_exporter_is_a_clear_startup_error() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the OTLP exporter is installed here")
    with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp-proto-http"):
        enable_observability(ObservabilityConfig(otel=True, exporter="otlp"))


def test_observability_is_off_by_default() -> None:
    stop = enable_observability(ObservabilityConfig())
    stop()
    import realtalk_otel

    assert not realtalk_otel.is_instrumented()
