"""The ``realtalk`` command line: ``realtalk plugins`` in text and JSON, the command table."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from realtalk import cli, plugins
from realtalk.hookspecs import ProviderRecord, hookimpl
from realtalk.plugins import register_plugin, reset_plugins


class Acme:
    @hookimpl
    def realtalk_register_providers(self, register: Callable[[ProviderRecord], None]) -> None:
        register(
            ProviderRecord(
                name="acme", factory=object, models=("acme-*",), description="Acme voices"
            )
        )


class Broken:
    def load(self) -> object:
        raise ImportError("acme_sdk is not installed")

    name = "broken"
    value = "broken_plugin"
    dist = None


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(plugins, "_entry_points", lambda: [Broken()])
    monkeypatch.setattr(plugins, "BUILTIN_PLUGINS", {})
    monkeypatch.setenv(plugins.DISABLE_ENV, "noisy")
    reset_plugins()
    register_plugin(Acme(), "acme")
    yield
    reset_plugins()


def test_plugins_text_lists_plugins_offers_and_failures(
    registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "acme  (registered in process)" in out
    assert "provider      acme: acme-*  - Acme voices" in out
    assert "Load failures:" in out
    assert "broken  (unknown distribution): importing 'broken_plugin' failed" in out
    assert "acme_sdk is not installed" in out


def test_plugins_json(registry: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [acme] = report["plugins"]
    assert acme["name"] == "acme" and acme["distribution"] is None
    assert acme["providers"][0]["models"] == ["acme-*"]
    assert acme["providers"][0]["capabilities"]["input_sample_rate"] == 16000
    assert [f["name"] for f in report["failures"]] == ["broken"]
    assert report["blocked"] == []


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "plugins" in capsys.readouterr().out


def test_a_command_whose_module_is_missing_breaks_only_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.COMMANDS, "demo", "realtalk._no_such_demo:COMMAND")
    assert cli.main(["demo", "--any", "options"]) == 2  # one line, not "unrecognized"
    err = capsys.readouterr().err
    assert err.startswith("realtalk demo is unavailable (ModuleNotFoundError: ")
    assert "pip install" not in err  # a realtalk module missing is no extra to install
    parser = cli.build_parser()
    assert parser.parse_args(["plugins", "--json"]).json is True


def test_commands_from_other_modules_plug_into_the_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Any] = []

    def configure(parser: Any) -> None:
        parser.add_argument("--port", type=int, default=1)

    def run(args: Any) -> int:
        seen.append(args.port)
        return 0

    monkeypatch.setattr(cli, "HELLO", cli.Command("say hello", configure, run), raising=False)
    monkeypatch.setitem(cli.COMMANDS, "hello", "realtalk.cli:HELLO")
    assert cli.main(["hello", "--port", "8080"]) == 0
    assert seen == [8080]


@pytest.mark.parametrize(
    "argv", [["-m", "realtalk"], ["-c", "from realtalk.cli import main; raise SystemExit(main())"]]
)
def test_the_workspace_lists_the_gemini_provider_from_its_entry_point(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *argv, "plugins", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=_env_without_disable(),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    gemini = next(p for p in report["plugins"] if p["name"] == "gemini")
    assert gemini["distribution"] == "realtalk-gemini"
    assert gemini["providers"][0]["name"] == "gemini"
    assert "gemini-*" in gemini["providers"][0]["models"]


def _env_without_disable() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != plugins.DISABLE_ENV}
