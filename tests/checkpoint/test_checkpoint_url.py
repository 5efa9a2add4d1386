"""Checkpointer URLs: parsing, the builtin plugin, and passwords kept out of errors."""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pluggy
import pytest

from realtalk.checkpoint import (
    CheckpointerError,
    InMemoryCheckpointer,
    PgCheckpointer,
    SqliteCheckpointer,
    checkpointer_from_url,
    plugin,
)
from realtalk.checkpoint.url import redact_url, scrub, sqlite_path_from_url
from realtalk.hookspecs import PROJECT, CheckpointerRecord, RealtalkSpecs
from realtalk.messages import Message


def registered_records() -> dict[str, CheckpointerRecord]:
    """What the builtin plugin module registers through the real pluggy hook."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(RealtalkSpecs)
    pm.register(plugin, name="realtalk.checkpoint.plugin")
    records: list[CheckpointerRecord] = []
    pm.hook.realtalk_register_checkpointers(register=records.append)
    return {r.scheme: r for r in records}


def via_registry(url: str) -> Any:
    scheme = url.split(":", 1)[0].lower()
    return registered_records()[scheme].factory(url)


BUILD_PATHS = [
    pytest.param(checkpointer_from_url, id="direct"),
    pytest.param(via_registry, id="plugin"),
]


# -- redaction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:se@cret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://:secret@h/db", "postgresql://:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        (
            "postgresql://h/db?password=secret&sslmode=require",
            "postgresql://h/db?password=***&sslmode=require",
        ),
        ("host=h password='se cret' dbname=x", "host=h password=*** dbname=x"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_scrub_removes_raw_and_percent_decoded_passwords() -> None:
    url = "postgresql://u:p%40ss@h/db"
    assert scrub("auth p@ss and p%40ss failed", url) == "auth *** and *** failed"


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///threads.db", "threads.db"),
        ("sqlite:///data/threads.db", "data/threads.db"),
        ("sqlite:////var/lib/rt/threads.db", "/var/lib/rt/threads.db"),
        ("sqlite:///with%20space.db", "with space.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
        ("SQLITE:///x.db", "x.db"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    assert sqlite_path_from_url(url) == path


@pytest.mark.parametrize("build", BUILD_PATHS)
def test_builtin_schemes_build_the_right_checkpointer(build: Any, tmp_path: Path) -> None:
    assert isinstance(build("memory://"), InMemoryCheckpointer)
    assert isinstance(build("memory:"), InMemoryCheckpointer)
    sqlite = build(f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(sqlite, SqliteCheckpointer) and sqlite.path == str(tmp_path / "a.db")
    pg = build("postgresql://u:secret@127.0.0.1:5432/db?schema=tenant_1&sslmode=disable")
    assert isinstance(pg, PgCheckpointer) and pg.schema == "tenant_1"
    assert pg.url == "postgresql://u:***@127.0.0.1:5432/db?schema=tenant_1&sslmode=disable"
    assert "secret" not in repr(pg)
    alias = build("postgres://u@127.0.0.1/db")
    assert isinstance(alias, PgCheckpointer) and alias.schema == "realtalk"


def test_plugin_registers_every_builtin_scheme() -> None:
    records = registered_records()
    assert set(records) == {"memory", "sqlite", "postgresql", "postgres"}
    assert all(r.description for r in records.values())


def test_registry_of_realtalk_plugins_opens_builtin_urls(tmp_path: Path) -> None:
    """Once ``realtalk.plugins`` exists, its registry reaches the same factories."""
    plugins = pytest.importorskip("realtalk.plugins")
    assert isinstance(plugins.open_checkpointer("memory://"), InMemoryCheckpointer)
    cp = plugins.open_checkpointer(f"sqlite:///{tmp_path / 'b.db'}")
    assert isinstance(cp, SqliteCheckpointer)
    assert isinstance(plugins.open_checkpointer("postgresql://u@127.0.0.1/db"), PgCheckpointer)


@pytest.mark.parametrize("build", BUILD_PATHS)
async def test_direct_and_registry_checkpointers_share_a_file(build: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    config = {"thread_id": "t"}
    writer, reader = checkpointer_from_url(url), build(url)
    try:
        await writer.aput_messages(config, [Message.text("user", "hi")])
        assert [m.text_content for m in await reader.alist_messages(config)] == ["hi"]
    finally:
        await writer.aclose()
        await reader.aclose()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("", "non-empty"),
        ("nonsense", "scheme"),
        ("redis://:secret@127.0.0.1/0", "unknown checkpointer URL scheme 'redis'"),
        ("memory://somewhere", "memory"),
        ("sqlite://host/x.db", "host part"),
        ("sqlite:///x.db?mode=ro", "no query"),
        ("postgresql://u:secret@h/db?schema=a&schema=b", "more than once"),
        ("postgresql://u:secret@h/db?schema=bad-name", "invalid PostgreSQL schema"),
    ],
)
@pytest.mark.parametrize("build", BUILD_PATHS[:1])
def test_bad_urls_get_clear_errors_without_passwords(build: Any, url: str, match: str) -> None:
    with pytest.raises(CheckpointerError, match=match) as info:
        build(url)
    assert "secret" not in str(info.value)


def test_non_string_url_is_refused() -> None:
    with pytest.raises(CheckpointerError, match="non-empty string"):
        checkpointer_from_url(None)  # type: ignore[arg-type]


def test_pg_schema_argument_conflicting_with_url_is_refused() -> None:
    with pytest.raises(CheckpointerError, match="conflicts") as info:
        PgCheckpointer("postgresql://u:secret@h/db?schema=a", schema="b")
    assert "secret" not in str(info.value)
    assert PgCheckpointer("postgresql://h/db?schema=a", schema="a").schema == "a"


# -- unreachable databases --------------------------------------------------------------


def assert_clean(exc: BaseException, *needles: str) -> None:
    rendered = "".join(traceback.format_exception(exc))
    assert "secret" not in rendered
    for needle in needles:
        assert needle in str(exc)


@pytest.mark.parametrize("build", BUILD_PATHS)
async def test_unreachable_postgres_names_the_url_without_password(build: Any) -> None:
    cp = build("postgresql://u:secret@127.0.0.1:1/x")
    with pytest.raises(CheckpointerError) as info:
        await cp.asetup()
    assert_clean(info.value, "postgresql://u:***@127.0.0.1:1/x", "cannot connect")
    with pytest.raises(CheckpointerError) as info:  # the first real call fails the same way
        await cp.alist_messages({"thread_id": "t"})
    assert_clean(info.value, "postgresql://u:***@127.0.0.1:1/x")
    await cp.aclose()


async def test_missing_database_error_hides_the_password(pg_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(pg_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{parts.username or 'postgres'}:secret@{host}:{parts.port or 5432}"
    url = urlunsplit((parts.scheme, netloc, "/realtalk_no_such_database", "", ""))
    cp = PgCheckpointer(url)
    with pytest.raises(CheckpointerError) as info:
        await cp.asetup()
    assert_clean(info.value, ":***@", "realtalk_no_such_database")
    await cp.aclose()


async def test_unopenable_sqlite_file_names_the_path(tmp_path: Path) -> None:
    cp = checkpointer_from_url(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    with pytest.raises(CheckpointerError, match="missing-dir"):
        await cp.alist_messages({"thread_id": "t"})
    await cp.aclose()


def test_importing_checkpoint_does_not_import_psycopg() -> None:
    code = (
        "import sys, realtalk.checkpoint as c; c.PgCheckpointer('postgresql://h/db'); "
        "c.checkpointer_from_url('postgresql://h/db'); "
        "assert 'psycopg' not in sys.modules, 'psycopg imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
