"""Fixtures: one checkpointer per backend (memory, SQLite, PostgreSQL) behind one contract.

PostgreSQL comes from ``REALTALK_TEST_PG_URL`` (default: the local trust-auth server). Each
test run works in its own schema, dropped at the end, so parallel runs never collide. If
the server is unreachable the PostgreSQL cases skip, or fail when ``REALTALK_REQUIRE_PG=1``
(CI sets it, so a missing database can never pass silently).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from realtalk.checkpoint import (
    Checkpointer,
    InMemoryCheckpointer,
    PgCheckpointer,
    SqliteCheckpointer,
)
from realtalk.checkpoint.url import postgres_url_and_schema

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["memory", "sqlite", "postgres"]
PERSISTENT = ["sqlite", "postgres"]


def pg_base_url() -> str:
    return os.environ.get("REALTALK_TEST_PG_URL") or DEFAULT_PG_URL


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A fresh schema name for this run on the test server (dropped afterwards)."""
    import psycopg

    url = pg_base_url()
    try:
        conn = psycopg.connect(url, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        message = f"PostgreSQL at REALTALK_TEST_PG_URL is unreachable ({type(exc).__name__})"
        if os.environ.get("REALTALK_REQUIRE_PG") == "1":
            pytest.fail(f"{message}; REALTALK_REQUIRE_PG=1 requires it", pytrace=False)
        pytest.skip(message)
    schema = f"rt_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield schema
    finally:
        with conn:
            for (name,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (schema,)
            ).fetchall():
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """The test server's URL naming this run's schema (``?schema=...``)."""
    base, _ = postgres_url_and_schema(pg_base_url())  # drop any schema the env URL names
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema={pg_schema}"


@pytest.fixture
async def make_checkpointer(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[str], Checkpointer]]:
    """Build checkpointers of a backend; all made in one test share one store.

    Every checkpointer made here is closed when the test ends.
    """
    made: list[Checkpointer] = []
    memory = InMemoryCheckpointer()

    def make(backend: str) -> Checkpointer:
        cp: Checkpointer
        if backend == "memory":
            cp = memory
        elif backend == "sqlite":
            cp = SqliteCheckpointer(tmp_path / "threads.db")
        elif backend == "postgres":
            cp = PgCheckpointer(request.getfixturevalue("pg_url"))
        else:
            raise AssertionError(backend)
        made.append(cp)
        return cp

    yield make
    for cp in made:
        await cp.aclose()


@pytest.fixture(params=BACKENDS)
def checkpointer(
    request: pytest.FixtureRequest, make_checkpointer: Callable[[str], Checkpointer]
) -> Checkpointer:
    """One checkpointer of each backend (the contract suite runs against all three)."""
    return make_checkpointer(request.param)


@pytest.fixture(params=PERSISTENT)
def durable_backend(request: pytest.FixtureRequest) -> str:
    """The backends whose data outlives the checkpointer object."""
    return str(request.param)


@pytest.fixture
def config() -> dict[str, Any]:
    """A session config naming a fresh thread."""
    return {"thread_id": f"thread-{uuid.uuid4().hex}"}
