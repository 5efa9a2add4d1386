"""realtalk.json loading, .env parsing, agent resolution and the ``realtalk api`` command."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from realtalk.bridge.app import create_app
from realtalk.bridge.cli import build_config, main
from realtalk.bridge.config import (
    ConfigError,
    import_object,
    is_object_spec,
    load_config,
    load_env_file,
)
from realtalk.cli import main as realtalk_main

from ._support import connect, live_url, realtalk_api, recv_json


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_load_config_resolves_relative_paths_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RT_BRIDGE_TEST_A", raising=False)
    monkeypatch.setenv("RT_BRIDGE_TEST_B", "kept")
    (tmp_path / ".env").write_text(
        "# comment\nRT_BRIDGE_TEST_A='quoted value'\nexport RT_BRIDGE_TEST_B=ignored # x\n"
    )
    config = load_config(write(tmp_path / "realtalk.json", {"env": ".env", "port": 9000}))
    assert config.base_dir == tmp_path and config.port == 9000
    assert os.environ["RT_BRIDGE_TEST_A"] == "quoted value"
    assert os.environ["RT_BRIDGE_TEST_B"] == "kept"  # the environment wins over .env


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"agnet": "x:y"}', "agnet"),
        ('{"limits": {"max_sessions": 0}}', "max_sessions"),
        ('{"auth": {"api_keys": [{"user": "a"}]}}', "exactly one of key"),
        ('{"auth": {"jwt": {"algorithms": ["HS256"]}}}', "HS256 needs"),
        ('{"overrides": ["provider_options"]}', "unknown fields"),
    ],
)
def test_bad_config_is_refused_naming_the_problem(
    tmp_path: Path, content: str, needle: str
) -> None:
    path = tmp_path / "realtalk.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_env_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_env_file(tmp_path / "missing.env")
    bad = tmp_path / "bad.env"
    bad.write_text("this is not an assignment\n")
    with pytest.raises(ConfigError, match=r"bad\.env:1"):
        load_env_file(bad)


def test_object_specs_and_urls(tmp_path: Path) -> None:
    assert is_object_spec("graph:app") and is_object_spec("pkg.mod:obj.attr")
    assert not is_object_spec("sqlite:///x.db") and not is_object_spec("postgresql://h/db")
    assert not is_object_spec("memory://")
    (tmp_path / "rt_bridge_mod.py").write_text("value = 42\n")
    assert import_object("rt_bridge_mod:value", tmp_path) == 42
    with pytest.raises(ConfigError, match="no attribute"):
        import_object("rt_bridge_mod:nope", tmp_path)
    with pytest.raises(ConfigError, match="cannot import"):
        import_object("rt_bridge_missing_mod:x", tmp_path)
    with pytest.raises(ConfigError, match="module:attribute"):
        import_object("just-a-name")


async def test_agent_spec_compiles_an_agent_with_the_checkpointer_url(tmp_path: Path) -> None:
    (tmp_path / "rt_bridge_agent.py").write_text(
        "from realtalk import AudioAgent\n"
        "from realtalk_testing import FakeProvider\n"
        "agent = AudioAgent('fake-live-model', provider=FakeProvider([]))\n"
        "not_an_agent = 3\n"
    )
    config = load_config(
        write(
            tmp_path / "realtalk.json",
            {"agent": "rt_bridge_agent:agent", "checkpointer": "memory://"},
        )
    )
    asgi = create_app(config)
    bridge = asgi.state.bridge
    assert hasattr(bridge.app, "arealtime") and bridge.checkpointer is not None
    assert bridge.owns_app and bridge.owns_checkpointer  # released by the bridge at exit
    await bridge.aclose()
    with pytest.raises(ConfigError, match="expected a compiled app"):
        create_app(config.model_copy(update={"agent": "rt_bridge_agent:not_an_agent"}))


def test_cli_overrides_host_and_port_and_reports_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "realtalk.json", {"agent": "x:y", "port": 1234})
    import argparse

    args = argparse.Namespace(config=str(path), host="0.0.0.0", port=None)
    config = build_config(args)
    assert (config.host, config.port) == ("0.0.0.0", 1234) and config.auth_required
    assert main(["--config", str(tmp_path / "missing.json")]) == 2
    assert "not found" in capsys.readouterr().err
    assert realtalk_main(["api", "--config", str(write(tmp_path / "e.json", {}))]) == 2
    assert 'needs "agent"' in capsys.readouterr().err


async def test_realtalk_api_keeps_query_tokens_out_of_its_logs(tmp_path: Path) -> None:
    key = "query-token-that-must-not-be-logged"
    (tmp_path / "echo_agent.py").write_text(
        "from realtalk.events import SessionEndedEvent, SessionStartedEvent\n"
        "class App:\n"
        "    async def arealtime(self, queue, config):\n"
        "        yield SessionStartedEvent(thread_id=config['thread_id'])\n"
        "        async for _ in queue:\n"
        "            pass\n"
        "        yield SessionEndedEvent()\n"
        "app = App()\n"
    )
    config = {
        "agent": "echo_agent:app",
        "auth": {"required": True, "api_keys": [{"user": "u", "key": key}]},
    }
    write(tmp_path / "realtalk.json", config)
    async with realtalk_api(tmp_path) as (addr, proc, lines):
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"http://{addr}/v1/tokens?access_token={key}")
            assert answer.status_code == 400  # authenticated; the echo agent is not Gemini
        async with connect(live_url(addr, f"access_token={key}")) as ws:
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    log = "".join(lines)
    assert "access_token=***" in log and key not in log
