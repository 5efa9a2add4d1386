"""Schema creation and versioning of the durable checkpointers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from realtalk.checkpoint import CheckpointerError, PgCheckpointer, SqliteCheckpointer
from realtalk.checkpoint import postgres as pg_module
from realtalk.checkpoint import sqlite as sqlite_module

from .conftest import pg_base_url


async def test_sqlite_concurrent_first_open_creates_one_schema(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    cps = [SqliteCheckpointer(path) for _ in range(6)]  # six connections, six threads
    try:
        await asyncio.gather(*(cp.asetup() for cp in cps))
    finally:
        await asyncio.gather(*(cp.aclose() for cp in cps))
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [
            (sqlite_module.SCHEMA_VERSION,)
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    cp = SqliteCheckpointer(path)
    await cp.asetup()
    await cp.aclose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    later = SqliteCheckpointer(path)
    with pytest.raises(CheckpointerError, match="version 99"):
        await later.alist_messages({"thread_id": "t"})
    await later.aclose()


async def test_sqlite_in_memory_database_works(tmp_path: Path) -> None:
    cp = SqliteCheckpointer(":memory:")
    await cp.aupdate_thread_metadata({"thread_id": "t"}, a=1)
    info = await cp.aget_thread({"thread_id": "t"})
    assert info is not None and info.metadata == {"a": 1}
    await cp.aclose()


async def test_postgres_concurrent_first_use_creates_one_schema(pg_schema: str) -> None:
    import psycopg

    schema = f"{pg_schema}_c"
    cps = [PgCheckpointer(pg_base_url(), schema=schema, max_size=2) for _ in range(6)]
    try:
        await asyncio.gather(*(cp.asetup() for cp in cps))
        assert await cps[0].aledger_start({"thread_id": "t"}, "c", "t", {}) is True
        assert await cps[5].aledger_start({"thread_id": "t"}, "c", "t", {}) is False
    finally:
        await asyncio.gather(*(cp.aclose() for cp in cps))
    async with await psycopg.AsyncConnection.connect(pg_base_url()) as conn:
        cur = await conn.execute(f'SELECT version FROM "{schema}".schema_version')
        assert await cur.fetchall() == [(pg_module.SCHEMA_VERSION,)]


async def test_postgres_refuses_a_newer_schema(pg_schema: str) -> None:
    import psycopg

    schema = f"{pg_schema}_v"
    cp = PgCheckpointer(pg_base_url(), schema=schema)
    await cp.asetup()
    await cp.aclose()
    async with await psycopg.AsyncConnection.connect(pg_base_url(), autocommit=True) as conn:
        await conn.execute(f'UPDATE "{schema}".schema_version SET version = 99')
    later = PgCheckpointer(pg_base_url(), schema=schema)
    with pytest.raises(CheckpointerError, match="version 99"):
        await later.asetup()
    await later.aclose()


async def test_postgres_pool_follows_a_new_event_loop(pg_url: str) -> None:
    """A checkpointer used from a second event loop (e.g. sync ``realtime()``) still works."""
    cp = PgCheckpointer(pg_url)
    await cp.aupdate_thread_metadata({"thread_id": "loop"}, a=1)

    def in_another_loop() -> dict[str, object]:
        async def read() -> dict[str, object]:
            info = await cp.aget_thread({"thread_id": "loop"})
            await cp.aclose()
            return dict(info.metadata) if info else {}

        return asyncio.run(read())

    assert await asyncio.to_thread(in_another_loop) == {"a": 1}
    await cp.aclose()


def _lock_holder(path: Path) -> sqlite3.Connection:
    """A connection in a read transaction on a rollback-journal file: the WAL switch
    cannot proceed while it is open (another process opening the same new file)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS other (x)")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM other").fetchall()
    return holder


async def test_sqlite_waits_for_the_wal_switch_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (a CI run): four checkpointers opening one new file at once failed with
    "database is locked", which SQLite returns without waiting for a journal-mode switch."""
    path = tmp_path / "busy.db"
    holder = _lock_holder(path)
    waits: list[float] = []

    def release_on_first_wait(seconds: float) -> None:
        waits.append(seconds)
        if holder.in_transaction:
            holder.execute("COMMIT")  # the other process finishes

    monkeypatch.setattr(SqliteCheckpointer, "_sleep", staticmethod(release_on_first_wait))
    cp = SqliteCheckpointer(path)
    try:
        await cp.asetup()
    finally:
        await cp.aclose()
        holder.close()
    assert waits, "the switch never met the lock: the test would prove nothing"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_wal_switch_gives_up_after_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stuck.db"
    holder = _lock_holder(path)
    clock = [0.0]

    def advance(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(SqliteCheckpointer, "_sleep", staticmethod(advance))
    monkeypatch.setattr(sqlite_module.time, "monotonic", lambda: clock[0])
    cp = SqliteCheckpointer(path, busy_timeout=0.5)
    try:
        with pytest.raises(CheckpointerError, match="locked"):
            await cp.asetup()
    finally:
        await cp.aclose()
        holder.close()
    assert clock[0] >= 0.5
