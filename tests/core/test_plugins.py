"""The plugin registry: loading one plugin at a time, failures, blocking, conflicts, lookups."""

from __future__ import annotations

import importlib.metadata
import logging
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from realtalk import plugins
from realtalk.checkpoint import CheckpointerError
from realtalk.hookspecs import CheckpointerRecord, ProviderRecord, hookimpl
from realtalk.plugins import (
    PluginConflictError,
    PluginError,
    call_lifecycle,
    get_registry,
    open_checkpointer,
    register_plugin,
    reset_plugins,
    resolve_provider,
)
from realtalk.provider import ProviderError


def _no_provider() -> Any:
    raise AssertionError("factories are not called while registering")


class ProviderPlugin:
    """An in-memory plugin offering providers (name -> model patterns)."""

    def __init__(self, **providers: tuple[str, ...]) -> None:
        self.providers = providers

    @hookimpl
    def realtalk_register_providers(self, register: Callable[[ProviderRecord], None]) -> None:
        for name, models in self.providers.items():
            register(ProviderRecord(name=name, factory=_no_provider, models=models))


class CheckpointerPlugin:
    def __init__(self, *schemes: str, factory: Callable[[str], Any] | None = None) -> None:
        self.schemes = schemes
        self.factory = factory or (lambda url: ("opened", url))

    @hookimpl
    def realtalk_register_checkpointers(
        self, register: Callable[[CheckpointerRecord], None]
    ) -> None:
        for scheme in self.schemes:
            register(CheckpointerRecord(scheme=scheme, factory=self.factory))


@dataclass
class FakeDist:
    name: str
    version: str = "1.0"


@dataclass
class FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint; records whether it was loaded."""

    name: str
    target: Callable[[], object]
    dist: FakeDist | None = None
    value: str = "fake.module"
    loaded: list[str] = field(default_factory=list)

    def load(self) -> object:
        self.loaded.append(self.name)
        return self.target()


def _raise(exc: BaseException) -> Callable[[], object]:
    def load() -> object:
        raise exc

    return load


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Replace the installed entry points with the list the test fills in."""
    points: list[Any] = []
    monkeypatch.setattr(plugins, "_entry_points", lambda: points)
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    reset_plugins()
    yield points
    reset_plugins()


@pytest.fixture
def no_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "BUILTIN_PLUGINS", {})


@pytest.fixture
def acme(entry_points: list[Any]) -> ProviderPlugin:
    """An in-process plugin registered in a fixture, as a user's test would do."""
    plugin = ProviderPlugin(acme=("acme-*",))
    register_plugin(plugin, "acme")
    return plugin


# ---------------------------------------------------------------- finding plugins


def test_a_plugin_registered_in_a_fixture_is_found(acme: ProviderPlugin) -> None:
    record = resolve_provider("acme-voice-1")
    assert record.name == "acme" and record.plugin == "acme"
    assert resolve_provider("whatever", provider="acme") is record
    names = [info.name for info in get_registry().plugins]
    assert "acme" in names
    assert get_registry().manager.get_plugin("acme") is acme


def test_the_workspace_entry_points_register_gemini() -> None:
    reset_plugins()
    try:
        registry = get_registry()
        info = next(p for p in registry.plugins if p.name == "gemini")
        assert info.distribution == "realtalk-gemini" and info.providers == ("gemini",)
        assert resolve_provider("gemini-live-2.5-flash-preview").name == "gemini"
        assert resolve_provider("models/gemini-2.0-flash-live-001").name == "gemini"
        assert "google.genai" not in registry.providers["gemini"].factory.__module__
    finally:
        reset_plugins()


def test_registry_is_cached_until_reset(entry_points: list[Any]) -> None:
    first = get_registry()
    assert get_registry() is first
    reset_plugins()
    assert get_registry() is not first


# ---------------------------------------------------------------- broken plugins


def test_a_plugin_whose_import_raises_is_reported_and_others_still_load(
    entry_points: list[Any], no_builtins: None
) -> None:
    entry_points += [
        FakeEntryPoint(
            "broken",
            _raise(ImportError("no module named 'missing_sdk'")),
            FakeDist("broken-dist", "0.3"),
        ),
        FakeEntryPoint("good", lambda: ProviderPlugin(good=("good-*",)), FakeDist("good-dist")),
    ]
    registry = get_registry()
    [failure] = registry.failures
    assert (failure.name, failure.distribution, failure.version) == ("broken", "broken-dist", "0.3")
    assert "ImportError" in failure.message and "missing_sdk" in failure.message
    assert [p.name for p in registry.plugins] == ["good"]
    assert resolve_provider("good-model").plugin == "good"


def test_a_real_entry_point_to_a_module_that_raises_on_import(
    entry_points: list[Any], no_builtins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rt_plugin_explodes.py").write_text("raise RuntimeError('kaboom at import')\n")
    (tmp_path / "rt_plugin_fine.py").write_text(
        textwrap.dedent(
            """
            from realtalk.hookspecs import ProviderRecord, hookimpl

            @hookimpl
            def realtalk_register_providers(register):
                register(ProviderRecord(name="fine", factory=object, models=("fine-*",)))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    group = plugins.ENTRY_POINT_GROUP
    entry_points += [
        importlib.metadata.EntryPoint("explodes", "rt_plugin_explodes", group),
        importlib.metadata.EntryPoint("fine", "rt_plugin_fine", group),
    ]
    registry = get_registry()
    assert [(f.name, f.distribution) for f in registry.failures] == [("explodes", None)]
    assert "kaboom at import" in registry.failures[0].message
    assert "rt_plugin_explodes" in registry.failures[0].message
    assert registry.providers["fine"].plugin == "fine"


def test_a_plugin_whose_hook_raises_is_skipped_entirely(
    entry_points: list[Any], no_builtins: None
) -> None:
    calls: list[str] = []

    class Raises:
        @hookimpl
        def realtalk_register_providers(self, register: Any) -> None:
            raise RuntimeError("cannot register today")

        @hookimpl
        def realtalk_session_start(self, thread_id: str, config: dict[str, Any]) -> None:
            calls.append(thread_id)

    entry_points += [
        FakeEntryPoint("raises", Raises, FakeDist("raises-dist")),
        FakeEntryPoint("ok", lambda: ProviderPlugin(ok=("ok-*",))),
    ]
    registry = get_registry()
    [failure] = registry.failures
    assert failure.name == "raises"
    assert "realtalk_register_providers raised RuntimeError: cannot register today" in (
        failure.message
    )
    assert not registry.manager.has_plugin("raises")
    call_lifecycle("session_start", thread_id="t1", config={})
    assert calls == []  # a skipped plugin is not called later either
    assert "ok" in registry.providers


def test_records_of_the_wrong_type_and_unknown_hooks_fail_the_plugin(
    entry_points: list[Any], no_builtins: None
) -> None:
    class WrongRecord:
        @hookimpl
        def realtalk_register_providers(self, register: Any) -> None:
            register({"name": "dict"})

    class Typo:
        @hookimpl
        def realtalk_register_provider(self, register: Any) -> None:  # missing "s"
            pass

    entry_points += [FakeEntryPoint("wrong", WrongRecord), FakeEntryPoint("typo", Typo)]
    registry = get_registry()
    messages = {f.name: f.message for f in registry.failures}
    assert "takes a ProviderRecord, got dict" in messages["wrong"]
    assert "unknown hooks realtalk_register_provider" in messages["typo"]
    assert registry.providers == {}


def test_two_entry_points_with_one_name_fail_the_second(
    entry_points: list[Any], no_builtins: None
) -> None:
    entry_points += [
        FakeEntryPoint("twin", lambda: ProviderPlugin(a=("a-*",)), FakeDist("first-dist")),
        FakeEntryPoint("twin", lambda: ProviderPlugin(b=("b-*",)), FakeDist("second-dist")),
    ]
    registry = get_registry()
    assert [f.distribution for f in registry.failures] == ["second-dist"]
    assert "already loaded" in registry.failures[0].message
    assert list(registry.providers) == ["a"]


def test_missing_builtin_module_is_absent_not_a_failure(
    entry_points: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "rt_builtin_broken.py").write_text("import rt_dependency_that_is_missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        plugins,
        "BUILTIN_PLUGINS",
        {"absent": "realtalk._no_such_builtin", "broken": "rt_builtin_broken"},
    )
    registry = get_registry()
    assert [f.name for f in registry.failures] == ["broken"]
    assert "rt_dependency_that_is_missing" in registry.failures[0].message


# ---------------------------------------------------------------- blocking


def test_a_blocked_plugin_is_not_loaded(
    entry_points: list[Any], no_builtins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = FakeEntryPoint("noisy", lambda: ProviderPlugin(noisy=("noisy-*",)))
    kept = FakeEntryPoint("kept", lambda: ProviderPlugin(kept=("kept-*",)))
    entry_points += [blocked, kept]
    monkeypatch.setenv(plugins.DISABLE_ENV, " noisy , other ")
    registry = get_registry()
    assert blocked.loaded == []  # not even imported
    assert kept.loaded == ["kept"]
    assert registry.blocked == ["noisy"]
    assert "noisy" not in registry.providers and "kept" in registry.providers
    with pytest.raises(ProviderError, match="noisy-1"):
        resolve_provider("noisy-1")


def test_builtin_plugins_can_be_blocked_too(
    entry_points: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugins.DISABLE_ENV, "realtalk.checkpoint")
    registry = get_registry()
    assert registry.blocked == ["realtalk.checkpoint"]
    assert registry.checkpointers == {}


# ---------------------------------------------------------------- conflicts


def test_two_plugins_claiming_one_provider_name_fail_with_both_names(
    entry_points: list[Any], no_builtins: None
) -> None:
    entry_points += [
        FakeEntryPoint(
            "gemini",
            lambda: ProviderPlugin(gemini=("gemini-*",)),
            FakeDist("realtalk-gemini", "0.1.0"),
        ),
        FakeEntryPoint(
            "impostor",
            lambda: ProviderPlugin(gemini=("gemini-*",), extra=("x-*",)),
            FakeDist("impostor-dist", "6.6"),
        ),
    ]
    registry = get_registry()
    [failure] = registry.failures
    assert failure.name == "impostor"
    for text in ("'gemini' (realtalk-gemini 0.1.0)", "'impostor' (impostor-dist 6.6)"):
        assert text in failure.message
    assert "REALTALK_DISABLE_PLUGINS=impostor" in failure.message
    assert "extra" not in registry.providers  # the conflicting plugin is skipped entirely

    # Using the contested name is an error naming both, never a silent "first one wins".
    for call in (lambda: resolve_provider("gemini-2.5"), lambda: resolve_provider("m", "gemini")):
        with pytest.raises(PluginConflictError) as info:
            call()
        assert "realtalk-gemini" in str(info.value) and "impostor-dist" in str(info.value)
        assert isinstance(info.value, ProviderError)


def test_registering_a_conflicting_plugin_in_process_raises(acme: ProviderPlugin) -> None:
    with pytest.raises(PluginConflictError, match=r"'acme'.*'acme2'") as info:
        register_plugin(ProviderPlugin(acme=("acme-*",)), "acme2")
    assert info.value.plugins == ("'acme'", "'acme2'")
    assert not get_registry().manager.has_plugin("acme2")
    assert resolve_provider("acme-1").plugin == "acme"  # the registry is unchanged
    with pytest.raises(PluginError, match="already loaded"):
        register_plugin(ProviderPlugin(other=()), "acme")


def test_two_plugins_claiming_one_checkpointer_scheme(
    entry_points: list[Any], no_builtins: None
) -> None:
    entry_points += [
        FakeEntryPoint("store-a", lambda: CheckpointerPlugin("redis"), FakeDist("a-dist")),
        FakeEntryPoint("store-b", lambda: CheckpointerPlugin("REDIS://"), FakeDist("b-dist")),
    ]
    registry = get_registry()
    assert [f.name for f in registry.failures] == ["store-b"]
    with pytest.raises(PluginConflictError, match=r"a-dist.*b-dist") as info:
        open_checkpointer("redis://localhost")
    assert isinstance(info.value, CheckpointerError)


# ---------------------------------------------------------------- provider resolution


def test_model_resolution_by_glob(entry_points: list[Any], no_builtins: None) -> None:
    register_plugin(ProviderPlugin(gemini=("gemini-*", "models/gemini-*")), "gemini")
    register_plugin(ProviderPlugin(fake=("fake-*",), manual=()), "testing")
    assert resolve_provider("gemini-live-2.5-flash-preview").name == "gemini"
    assert resolve_provider("models/gemini-2.0-flash-live-001").name == "gemini"
    assert resolve_provider("fake-model").name == "fake"
    assert resolve_provider("anything", provider="manual").name == "manual"


def test_unknown_model_or_provider_lists_what_is_installed(
    entry_points: list[Any], no_builtins: None
) -> None:
    register_plugin(ProviderPlugin(gemini=("gemini-*",)), "gemini")
    with pytest.raises(ProviderError) as info:
        resolve_provider("gpt-realtime")
    message = str(info.value)
    assert "'gpt-realtime'" in message and "gemini (gemini-*)" in message
    with pytest.raises(ProviderError, match=r"no provider named 'openai'.*gemini \(gemini-\*\)"):
        resolve_provider("gpt-realtime", provider="openai")


def test_no_providers_at_all(entry_points: list[Any], no_builtins: None) -> None:
    with pytest.raises(ProviderError, match="no providers are installed"):
        resolve_provider("gemini-2.5")


def test_a_model_claimed_by_two_providers_is_ambiguous(
    entry_points: list[Any], no_builtins: None
) -> None:
    register_plugin(ProviderPlugin(gemini=("gemini-*",)), "gemini")
    register_plugin(ProviderPlugin(vertex=("gemini-*",)), "vertex")
    with pytest.raises(ProviderError, match=r"several providers.*'gemini'.*'vertex'"):
        resolve_provider("gemini-2.5")
    assert resolve_provider("gemini-2.5", provider="vertex").name == "vertex"


# ---------------------------------------------------------------- checkpointers


def test_open_checkpointer_by_scheme_and_postgres_alias(
    entry_points: list[Any], no_builtins: None
) -> None:
    register_plugin(CheckpointerPlugin("acme", "postgresql"), "stores")
    assert open_checkpointer("acme://x") == ("opened", "acme://x")
    assert open_checkpointer("ACME://x") == ("opened", "ACME://x")
    assert open_checkpointer("postgres://u@h/db") == ("opened", "postgres://u@h/db")
    assert get_registry().checkpointers["acme"].plugin == "stores"


def test_unknown_scheme_names_it_and_never_the_password(
    entry_points: list[Any], no_builtins: None
) -> None:
    register_plugin(CheckpointerPlugin("memory", "sqlite"), "stores")
    with pytest.raises(CheckpointerError) as info:
        open_checkpointer("mysql://admin:hunter2@db.example/prod")
    message = str(info.value)
    assert "'mysql'" in message and "memory://, sqlite://" in message
    assert "hunter2" not in message
    with pytest.raises(CheckpointerError, match="expected scheme://"):
        open_checkpointer("/just/a/path.db")


def test_factory_errors_are_scrubbed_of_passwords(
    entry_points: list[Any], no_builtins: None
) -> None:
    def explode(url: str) -> Any:
        raise OSError(f"could not connect to {url}")

    register_plugin(CheckpointerPlugin("postgresql", factory=explode), "pg")
    with pytest.raises(CheckpointerError) as info:
        open_checkpointer("postgresql://app:s3cr3t@127.0.0.1/db")
    assert "s3cr3t" not in str(info.value) and "OSError" in str(info.value)


def test_builtin_checkpointers_come_from_the_builtin_plugin(entry_points: list[Any]) -> None:
    pytest.importorskip("realtalk.checkpoint.plugin")
    registry = get_registry()
    assert {"memory", "sqlite", "postgresql"} <= set(registry.checkpointers)
    assert registry.checkpointers["memory"].plugin == "realtalk.checkpoint"
    assert registry.plugins[0].distribution == "realtalk"


# ---------------------------------------------------------------- lifecycle


def test_lifecycle_hooks_reach_every_plugin_and_errors_are_logged(
    entry_points: list[Any], no_builtins: None, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, Any]] = []

    class Broken:
        @hookimpl
        def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
            raise RuntimeError("observer bug")

    class Observer:
        @hookimpl
        def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
            seen.append((thread_id, interrupted))

        @hookimpl
        def realtalk_error(self, code: str, message: str) -> None:  # a subset of the args
            seen.append((code, message))

    register_plugin(Broken(), "broken")
    register_plugin(Observer(), "observer")
    with caplog.at_level(logging.ERROR, logger="realtalk.plugins"):
        call_lifecycle("turn_end", thread_id="t", interrupted=True)
        call_lifecycle("realtalk_error", thread_id="t", code="c", message="m", fatal=False)
    assert seen == [("t", True), ("c", "m")]
    assert "'broken'" in caplog.text and "observer bug" in caplog.text
    with pytest.raises(ValueError, match="unknown lifecycle hook"):
        call_lifecycle("audio_chunk", data=b"")
    with pytest.raises(TypeError, match="missing argument 'interrupted'"):
        call_lifecycle("turn_end", thread_id="t")


# ------------------------------------------------- plugins that exit or raise BaseException


class PluginAbort(BaseException):
    """A BaseException that is neither Exception nor SystemExit."""


def _write_distribution(root: Path, dist: str, entry_points: dict[str, str]) -> None:
    """A real installed distribution on ``root`` (dist-info with entry points)."""
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{plugins.ENTRY_POINT_GROUP}]\n{lines}")


def _broken_plugin_modules(root: Path) -> None:
    (root / "rt_exits_at_import.py").write_text("import sys\nsys.exit(3)\n")
    (root / "rt_bare_exit.py").write_text("import sys\nsys.exit()\n")
    (root / "rt_base_exception.py").write_text(
        "class Abort(BaseException):\n    pass\n\nraise Abort('not an Exception')\n"
    )
    (root / "rt_exits_in_hook.py").write_text(
        textwrap.dedent(
            """
            import sys
            from realtalk.hookspecs import hookimpl

            @hookimpl
            def realtalk_register_providers(register):
                sys.exit("bye from the hook")
            """
        )
    )
    (root / "rt_still_fine.py").write_text(
        textwrap.dedent(
            """
            from realtalk.hookspecs import ProviderRecord, hookimpl

            @hookimpl
            def realtalk_register_providers(register):
                register(ProviderRecord(name="still-fine", factory=object, models=("fine-*",)))
            """
        )
    )
    _write_distribution(
        root,
        "rt-broken-plugins",
        {
            "exits": "rt_exits_at_import",
            "bare-exit": "rt_bare_exit",
            "base-exception": "rt_base_exception",
            "exits-in-hook": "rt_exits_in_hook",
            "still-fine": "rt_still_fine",
        },
    )


EXPECTED_FAILURES = {
    "exits": "SystemExit: 3",
    "bare-exit": "SystemExit",
    "base-exception": "Abort: not an Exception",
    "exits-in-hook": "realtalk_register_providers raised SystemExit: bye from the hook",
}


def test_the_plugins_cli_reports_plugins_that_exit_or_raise_base_exceptions(
    tmp_path: Path,
) -> None:
    import json
    import os
    import subprocess
    import sys

    _broken_plugin_modules(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != plugins.DISABLE_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    for argv in (["--json"], []):
        result = subprocess.run(
            [sys.executable, "-m", "realtalk", "plugins", *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        if argv:
            report = json.loads(result.stdout)
            failures = {f["name"]: f for f in report["failures"]}
            assert set(failures) == set(EXPECTED_FAILURES)
            for name, text in EXPECTED_FAILURES.items():
                assert text in failures[name]["message"], failures[name]
                assert failures[name]["distribution"] == "rt-broken-plugins"
            loaded = {p["name"] for p in report["plugins"]}
            assert {"still-fine", "realtalk.checkpoint", "gemini"} <= loaded
        else:
            assert "Load failures:" in result.stdout
            assert "exits  (rt-broken-plugins 1.0): importing 'rt_exits_at_import'" in (
                result.stdout
            )


def test_base_exceptions_in_any_plugin_path_are_contained_but_ctrl_c_is_not(
    entry_points: list[Any], no_builtins: None, caplog: pytest.LogCaptureFixture
) -> None:
    def exit_now(*_args: Any) -> Any:
        raise SystemExit(2)

    class ExitsInLifecycle:
        @hookimpl
        def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
            raise SystemExit("lifecycle exit")

    class AbortsInLifecycle:
        @hookimpl
        def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
            raise PluginAbort("lifecycle abort")

    seen: list[str] = []

    class Observer:
        @hookimpl
        def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
            seen.append(thread_id)

    entry_points += [
        FakeEntryPoint("exits", _raise(SystemExit(1)), FakeDist("d")),
        FakeEntryPoint("aborts", _raise(PluginAbort("abort")), FakeDist("d")),
        FakeEntryPoint("exit-provider", lambda: ProviderPlugin(), FakeDist("d")),
    ]
    registry = get_registry()
    assert [f.name for f in registry.failures] == ["exits", "aborts"]
    assert "SystemExit: 1" in registry.failures[0].message
    assert "PluginAbort: abort" in registry.failures[1].message

    register_plugin(ExitsInLifecycle(), "exits-in-lifecycle")
    register_plugin(AbortsInLifecycle(), "aborts-in-lifecycle")
    register_plugin(Observer(), "observer")
    with caplog.at_level(logging.ERROR, logger="realtalk.plugins"):
        call_lifecycle("turn_end", thread_id="t", interrupted=False)
    assert seen == ["t"]
    assert "lifecycle exit" in caplog.text and "lifecycle abort" in caplog.text

    register_plugin(CheckpointerPlugin("exitdb", factory=exit_now), "exitdb")
    with pytest.raises(CheckpointerError, match="SystemExit: 2"):
        open_checkpointer("exitdb://x")

    record = ProviderRecord(name="exiting", factory=exit_now, plugin="exit-provider")
    with pytest.raises(ProviderError, match=r"'exit-provider' could not create .*SystemExit: 2"):
        plugins.create_provider(record)

    def interrupt(*_args: Any) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        plugins.create_provider(ProviderRecord(name="ctrl-c", factory=interrupt))
    entry_points.append(FakeEntryPoint("ctrl-c", _raise(KeyboardInterrupt())))
    reset_plugins()
    with pytest.raises(KeyboardInterrupt):
        get_registry()


def test_a_plugin_hook_raising_key_error_is_logged_not_a_missing_argument(
    entry_points: list[Any], no_builtins: None, caplog: pytest.LogCaptureFixture
) -> None:
    class KeyErrors:
        @hookimpl
        def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
            raise KeyError("plugin-internal")

    register_plugin(KeyErrors(), "key-errors")
    with caplog.at_level(logging.ERROR, logger="realtalk.plugins"):
        call_lifecycle("turn_end", thread_id="t", interrupted=False)
    assert "plugin-internal" in caplog.text
