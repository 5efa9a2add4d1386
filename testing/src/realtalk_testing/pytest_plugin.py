"""pytest plugin (entry point ``pytest11``): fixtures for offline realtalk tests.

- ``fake_gemini_server``: a running `FakeGeminiServer` replaying
  the cassette named by ``@pytest.mark.cassette("name")`` (looked up in the test's
  ``cassettes/`` directory, then among the shipped cassettes); it fails the test at
  teardown when lines were unplayed or mismatched. With ``--cassette-record-mode=once``
  (missing cassettes) or ``all`` (every cassette) it is a
  `CassetteRecorder` proxying to real Gemini instead.
- ``fake_openai_server``: the same for a `FakeOpenAIServer`
  replaying an OpenAI Realtime cassette (shipped ones under ``cassettes/openai``).
- ``cassette_record_mode``: the ``--cassette-record-mode`` value (``none`` by default).
- ``fake_provider``: a factory of `FakeProvider` whose scripts
  are checked (``assert_done``) when the test passed.

This module is imported by every pytest run in an environment where realtalk-testing
is installed, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from .fake_provider import FakeProvider

RECORD_MODES = ("none", "once", "all")
_API_KEY_ENV = "GEMINI_API_KEY"
_OPENAI_KEY_ENV = "OPENAI_API_KEY"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtalk", "realtalk offline test kit")
    group.addoption(
        "--cassette-record-mode",
        action="store",
        default="none",
        choices=RECORD_MODES,
        help=(
            "none (default): replay cassettes, fail when one is missing; once: record "
            "missing cassettes against real Gemini (needs GEMINI_API_KEY); all: re-record "
            "every cassette used."
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cassette(name, **options): the cassette fake_gemini_server replays"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


class CassetteNotFound(Exception):
    """The cassette named by the marker does not exist (and record mode is ``none``)."""


@pytest.fixture
def cassette_record_mode(request: pytest.FixtureRequest) -> str:
    """``none``, ``once`` or ``all`` (from ``--cassette-record-mode``)."""
    return str(request.config.getoption("--cassette-record-mode", default="none"))


def resolve_cassette(
    name: str, test_dir: Path, shipped_dir: Path | None = None
) -> tuple[Path | None, list[Path]]:
    """Where the cassette ``name`` is, plus every place looked at (for error messages).

    A name with a ``/`` or ending in ``.jsonl`` is a path (relative to the test's
    directory); a bare name is looked up as ``<test dir>/cassettes/<name>.jsonl``, then
    among the cassettes shipped with realtalk-testing (``shipped_dir``, the Gemini ones by
    default).
    """
    from .cassette import SHIPPED_DIR

    shipped_dir = SHIPPED_DIR if shipped_dir is None else shipped_dir
    if "/" in name or name.endswith(".jsonl"):
        path = Path(name) if Path(name).is_absolute() else test_dir / name
        candidates = [path]
    else:
        candidates = [test_dir / "cassettes" / f"{name}.jsonl", shipped_dir / f"{name}.jsonl"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate, candidates
    return None, candidates


def _record_target(name: str, test_dir: Path) -> Path:
    if "/" in name or name.endswith(".jsonl"):
        return Path(name) if Path(name).is_absolute() else test_dir / name
    return test_dir / "cassettes" / f"{name}.jsonl"


async def _cassette_server(
    request: pytest.FixtureRequest, record_mode: str, provider: str
) -> AsyncIterator[Any]:
    """Replay (or record) the cassette named by the test's ``cassette`` marker."""
    fixture = f"fake_{provider}_server"
    marker = request.node.get_closest_marker("cassette")
    if marker is None or not marker.args:
        pytest.fail(f'{fixture} needs @pytest.mark.cassette("name")', pytrace=False)
    name = str(marker.args[0])
    options = dict(marker.kwargs)
    test_dir = Path(str(request.node.path)).parent
    if provider == "gemini":
        from .cassette import SHIPPED_DIR as shipped_dir

        key_env, service = _API_KEY_ENV, "real Gemini"
    else:
        shipped_dir = Path(__file__).parent / "cassettes" / "openai"
        key_env, service = _OPENAI_KEY_ENV, "the real OpenAI Realtime API"
    path, looked = resolve_cassette(name, test_dir, shipped_dir)
    record = record_mode == "all" or (record_mode == "once" and path is None)
    if record:
        key = os.environ.get(key_env)
        if not key:
            pytest.fail(
                f"recording cassette {name!r} needs {key_env} in the environment",
                pytrace=False,
            )
        target = _record_target(name, test_dir)
        recorder: Any
        if provider == "gemini":
            from .recorder import CassetteRecorder

            recorder = CassetteRecorder(
                target, api_key=key, max_audio_bytes=options.get("max_audio_bytes")
            )
        else:
            from .openai_recorder import OpenAICassetteRecorder

            recorder = OpenAICassetteRecorder(
                target, api_key=key, max_audio_bytes=options.get("max_audio_bytes")
            )
        async with recorder:
            yield recorder
        return
    if path is None:
        where = ", ".join(str(p) for p in looked)
        raise CassetteNotFound(
            f"cassette {name!r} not found (looked in: {where}). Record it once against "
            f"{service} with: {key_env}=... pytest --cassette-record-mode=once "
            f"{request.node.nodeid}  (it is written to {_record_target(name, test_dir)})"
        )
    server_options = {k: v for k, v in options.items() if k in ("strict", "exit_timeout")}
    server: Any
    if provider == "gemini":
        from .gemini_server import FakeGeminiServer

        server = FakeGeminiServer(path, **server_options)
    else:
        from .openai_server import FakeOpenAIServer

        server = FakeOpenAIServer(path, **server_options)
    async with server:
        yield server


@pytest_asyncio.fixture
async def fake_gemini_server(
    request: pytest.FixtureRequest, cassette_record_mode: str
) -> AsyncIterator[Any]:
    """A FakeGeminiServer for ``@pytest.mark.cassette(name, **options)``.

    ``options`` go to FakeGeminiServer (``strict``, ``exit_timeout``) or, when
    recording, ``max_audio_bytes`` goes to the recorder. Pass ``server.http_options``
    to ``google.genai.Client`` or ``RealtimeConfig(provider_options={"http_options":
    ...})``.
    """
    async for server in _cassette_server(request, cassette_record_mode, "gemini"):
        yield server


@pytest_asyncio.fixture
async def fake_openai_server(
    request: pytest.FixtureRequest, cassette_record_mode: str
) -> AsyncIterator[Any]:
    """A FakeOpenAIServer for ``@pytest.mark.cassette(name, **options)``.

    Bare names are looked up in the test's ``cassettes/`` directory, then among the
    shipped OpenAI cassettes; recording uses ``OPENAI_API_KEY``. Point the OpenAI
    provider at it with ``server.provider_options``.
    """
    async for server in _cassette_server(request, cassette_record_mode, "openai"):
        yield server


@pytest.fixture
def fake_provider(request: pytest.FixtureRequest) -> Iterator[Callable[..., FakeProvider]]:
    """Factory: ``fake_provider(script, **options)`` returns a FakeProvider.

    When the test passed, every provider made here must have played its whole script
    (``assert_done``); pass ``check=False`` to skip that for one provider.
    """
    made: list[FakeProvider] = []

    def make(script: Any = None, *, check: bool = True, **options: Any) -> FakeProvider:
        from .fake_provider import FakeProvider

        provider = FakeProvider(script, **options)
        if check:
            made.append(provider)
        return provider

    yield make
    if request.node.stash.get(_CALL_FAILED, False):
        return
    for provider in made:
        provider.assert_done()
