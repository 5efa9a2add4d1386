"""Every mistake on the ``realtalk`` command line is one line on stderr and exit 2, found
before any work starts (no session, no server, no traceback).

One table, one row per mistake, run through the real command in a subprocess. A sweep
over the parsers makes sure every option of every subcommand has a row here, or is
listed as a flag that cannot be given a wrong value.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from realtalk.cli import build_parser, main
from realtalk_testing.cassette import SHIPPED_DIR

SECRETS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")

FILES: dict[str, str] = {
    "notes.txt": "hello, not a cassette\n",
    "bad.jsonl": '{"cassette": 1, "provider": "gemini"}\n{"conn": 1, "nonsense": true}\n',
    "not_a_wav.wav": "RIFF? no\n",
    "a_file": "",
    "agent_ok.py": "from realtalk import AudioAgent\n"
    "agent = AudioAgent('gemini-live-2.5-flash-preview')\n",
    "agent_raises.py": "raise RuntimeError('boom while importing')\n",
    "agent_unknown_model.py": "from realtalk import AudioAgent\nagent = AudioAgent('nobody-1')\n",
    "agent_number.py": "agent = 42\n",
    "not_json.json": "{ not json",
    "no_agent.json": "{}",
    "typo.json": json.dumps({"agent": "agent_ok:agent", "limitz": {}}),
    "raises.json": json.dumps({"agent": "agent_raises:agent"}),
    "raises_sqlite.json": json.dumps(
        {"agent": "agent_raises:agent", "checkpointer": "sqlite:///threads.db"}
    ),
    "missing_module.json": json.dumps({"agent": "no_such_module:agent"}),
    "missing_attr.json": json.dumps({"agent": "agent_ok:nope"}),
    "number.json": json.dumps({"agent": "agent_number:agent"}),
    "unknown_model.json": json.dumps({"agent": "agent_unknown_model:agent"}),
    "bogus_scheme.json": json.dumps({"agent": "agent_ok:agent", "checkpointer": "bogus://x"}),
    "postgres.json": json.dumps(
        {"agent": "agent_ok:agent", "checkpointer": "postgresql://u@127.0.0.1:1/db"}
    ),
    "memory.json": json.dumps({"agent": "agent_ok:agent", "checkpointer": "memory://"}),
    "missing_env.json": json.dumps({"agent": "agent_ok:agent", "env": "nope.env"}),
    "public.json": json.dumps({"agent": "agent_ok:agent", "host": "0.0.0.0"}),
}


@dataclass(frozen=True)
class Mistake:
    argv: tuple[str, ...]
    says: str
    """A piece of the one line the user must see."""
    env: dict[str, str] = field(default_factory=dict)
    block: tuple[str, ...] = ()
    """Modules made unimportable (an extra that is not installed)."""
    process: bool = False
    """Run as a real process (always when modules are blocked); else ``main()`` runs in
    this interpreter, which is the same code without the interpreter's start-up cost."""

    @property
    def id(self) -> str:
        blocked = f"[without {','.join(self.block)}]" if self.block else ""
        return " ".join(self.argv) + blocked


OPENAI_CASSETTE = str(SHIPPED_DIR / "openai" / "text_turn.jsonl")
KEY = {"GEMINI_API_KEY": "not-a-real-key"}

MISTAKES = [
    # realtalk
    Mistake(("--bogus",), "unrecognized arguments: --bogus"),
    Mistake(("nope",), "invalid choice: 'nope'"),
    # realtalk demo
    Mistake(("demo", "--replay", "notes.txt"), "not a cassette", process=True),
    Mistake(("demo", "--replay", "not_a_wav.wav"), "not a cassette"),
    Mistake(("demo", "--replay", OPENAI_CASSETTE), "the demo replays Gemini Live cassettes"),
    Mistake(("demo", "--replay", "bad.jsonl"), "not a valid cassette: line 2"),
    Mistake(("demo", "--replay", "missing.jsonl"), "no such file"),
    Mistake(("demo", "--replay", "."), "is a directory"),
    Mistake(("demo", "--offline", "--replay", "bad.jsonl"), "not allowed with argument"),
    Mistake(("demo", "--record", "r.jsonl"), "set GEMINI_API_KEY"),
    Mistake(("demo", "--record", "no_dir/r.jsonl"), "folder no_dir does not exist", env=KEY),
    Mistake(("demo", "--input", "missing.wav"), "missing.wav"),
    Mistake(("demo", "--input", "not_a_wav.wav"), "not_a_wav.wav"),
    Mistake(("demo", "--output", "."), "is a directory"),
    Mistake(("demo", "--output", "no_dir/out.wav"), "the folder no_dir does not exist"),
    Mistake(("demo", "--output", "a_file/out.wav"), "a_file is not a folder"),
    Mistake(("demo", "--output-rate", "5"), "--output-rate: must be from 8000 to 192000"),
    Mistake(("demo", "--output-rate", "fast"), "--output-rate: expected an integer"),
    Mistake(("demo", "--output-channels", "0"), "--output-channels: must be from 1 to 8"),
    Mistake(("demo", "--output-channels", "9"), "--output-channels: must be from 1 to 8"),
    Mistake(("demo", "--model", "gemini-x"), "--model applies to live sessions only"),
    Mistake(("demo", "--offline", "--model", "m"), "run without --offline/--replay", env=KEY),
    Mistake(("demo", "--voice", "Puck"), "--voice applies to live sessions only"),
    Mistake(("demo", "--timeout", "0"), "--timeout: must be greater than 0", process=True),
    Mistake(("demo", "--timeout", "-1"), "--timeout: must be greater than 0"),
    Mistake(("demo", "--timeout", "soon"), "--timeout: expected a number"),
    Mistake(("demo", "--json", "extra"), "unrecognized arguments: extra"),
    Mistake(("demo",), "pip install 'realtalk[demo]'", block=("realtalk_testing",)),
    Mistake(("demo",), "realtalk-gemini plugin is not installed", block=("realtalk_gemini",)),
    # realtalk api
    Mistake(("api", "--config", "missing.json"), "not found"),
    Mistake(("api", "--config", "not_json.json"), "not valid JSON"),
    Mistake(("api", "--config", "no_agent.json"), 'needs "agent"'),
    Mistake(("api", "--config", "typo.json"), "limitz"),
    Mistake(
        ("api", "--config", "raises.json"),
        "raised RuntimeError: boom while importing",
        process=True,
    ),
    Mistake(("api", "--config", "missing_module.json"), "cannot import module 'no_such_module'"),
    Mistake(("api", "--config", "missing_attr.json"), "has no attribute 'nope'"),
    Mistake(("api", "--config", "number.json"), "expected a compiled app"),
    Mistake(("api", "--config", "unknown_model.json"), "no installed provider claims model"),
    Mistake(("api", "--config", "bogus_scheme.json"), "URL scheme 'bogus'"),
    Mistake(("api", "--config", "missing_env.json"), "nope.env"),
    Mistake(
        ("api", "--config", "postgres.json"), "pip install 'realtalk[postgres]'", block=("psycopg",)
    ),
    Mistake(("api", "--config", "memory.json"), "needs the 'server' extra", block=("starlette",)),
    Mistake(("api", "--port", "1"), "pip install 'realtalk[server]'", block=("starlette",)),
    Mistake(("api", "--config", "public.json", "--port", "0"), "authentication is required"),
    Mistake(("api", "--config", "memory.json", "--host", "0.0.0.0"), "authentication is required"),
    Mistake(("api", "--port", "99999"), "--port: must be from 0 to 65535"),
    Mistake(("api", "--port", "-1"), "--port: must be from 0 to 65535"),
    Mistake(("api", "--port", "http"), "--port: expected an integer"),
    Mistake(("api", "--log-level", "bogus"), "--log-level: invalid choice: 'bogus'"),
    Mistake(("api", "--workers", "0"), "--workers: must be from 1 to 1024"),
    Mistake(("api", "--config", "memory.json", "--workers", "2"), "needs a checkpointer"),
    Mistake(
        ("api", "--config", "raises_sqlite.json", "--workers", "2", "--port", "0"),
        "raised RuntimeError: boom while importing",
        process=True,  # found in the parent, before the port is bound and workers spawn
    ),
    Mistake(("api", "--loop", "tokio"), "--loop: invalid choice: 'tokio'"),
    # realtalk plugins
    Mistake(("plugins", "--jsn"), "unrecognized arguments: --jsn"),
]

FLAGS_WITHOUT_WRONG_VALUES = {
    ("", "--help"),
    ("", "--version"),
    ("demo", "--help"),
    ("demo", "--json"),
    ("demo", "--no-color"),
    ("api", "--help"),
    ("plugins", "--help"),
    ("plugins", "--json"),
}
"""Options that take no value: nothing to get wrong (an unknown flag has its own rows)."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _run(mistake: Mistake, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(mistake.env, NO_COLOR="1")
    blocked = "".join(f"sys.modules[{name!r}] = None; " for name in mistake.block)
    code = f"import sys; {blocked}from realtalk.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *mistake.argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _run_here(
    mistake: Mistake,
    cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    for name, value in mistake.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the api puts the config's folder first
    try:
        code = main(list(mistake.argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_mistake_is_one_line_and_exit_2(
    mistake: Mistake,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if mistake.process or mistake.block:
        proc = _run(mistake, project)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        code, out, err = _run_here(mistake, project, monkeypatch, capsys)
    assert code == 2, f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert mistake.says in err, err
    assert err.startswith("realtalk"), err
    assert "session started" not in out  # found before any work started


def _options() -> set[tuple[str, str]]:
    """(subcommand, option) for every option of every subcommand ("" is the root)."""
    parser = build_parser()
    found: set[tuple[str, str]] = set()

    def collect(name: str, p: argparse.ArgumentParser) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    collect(sub_name, sub)
            for option in action.option_strings:
                if option.startswith("--"):
                    found.add((name, option))

    collect("", parser)
    return found


def test_every_option_of_every_subcommand_has_a_row() -> None:
    covered = {
        (m.argv[0] if not m.argv[0].startswith("-") else "", a) for m in MISTAKES for a in m.argv
    }
    covered |= {("", "--bogus")}
    missing = sorted(
        option
        for option in _options()
        if option not in covered and option not in FLAGS_WITHOUT_WRONG_VALUES
    )
    assert not missing, f"options without a mistake row in MISTAKES: {missing}"


def test_help_names_the_extra_of_an_unavailable_subcommand(project: Path) -> None:
    proc = _run(Mistake(("--help",), "", block=("starlette",)), project)  # a fresh process
    assert proc.returncode == 0, proc.stderr
    assert "api       (unavailable: install realtalk[server])" in proc.stdout
    assert "{name}" not in proc.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_folder_is_refused_first(project: Path) -> None:
    locked = project / "locked"
    locked.mkdir(exist_ok=True)
    locked.chmod(0o500)
    try:
        proc = _run(Mistake(("demo", "--output", "locked/out.wav"), ""), project)
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "realtalk demo: --output locked/out.wav: cannot create files in locked (permission denied)"
    )


def test_a_folder_without_write_permission_is_refused_first(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same check where tests run as root (who may write anywhere): the permission
    answer is replaced, the command is the real one."""
    real_access = os.access
    locked = project / "locked_for_all"
    locked.mkdir(exist_ok=True)

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if Path(path).resolve() == locked.resolve():
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    mistake = Mistake(("demo", "--output", "locked_for_all/out.wav"), "")
    code, _, err = _run_here(mistake, project, monkeypatch, capsys)
    assert code == 2
    assert err.strip() == (
        "realtalk demo: --output locked_for_all/out.wav: cannot create files in "
        "locked_for_all (permission denied)"
    )
