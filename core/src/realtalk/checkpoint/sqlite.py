"""A durable checkpointer in one SQLite file: the embedded default, no server needed.

All database work runs on one dedicated worker thread per checkpointer (stdlib ``sqlite3``
blocks), so the event loop never waits on disk. The file uses WAL journaling and a busy
timeout, and every write is one ``BEGIN IMMEDIATE`` transaction, so several processes can
share a file: writers queue for the lock instead of failing, readers never block.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..messages import Message, ThreadInfo
from ._codec import (
    check_paging,
    check_thread_matches,
    dumps,
    loads,
    message_from_json,
    message_to_json,
    to_json_value,
)
from .base import CheckpointerError, LedgerEntry, thread_id_of

SCHEMA_VERSION = 1
"""Version of the table layout this code writes; newer files are refused, not damaged."""

_T = TypeVar("_T")

_SCHEMA_V1 = (
    """CREATE TABLE IF NOT EXISTS threads (
        thread_id TEXT PRIMARY KEY,
        user_id TEXT,
        metadata TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (thread_id, message_id))""",
    "CREATE INDEX IF NOT EXISTS messages_thread_seq ON messages (thread_id, seq)",
    """CREATE TABLE IF NOT EXISTS ledger (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        name TEXT NOT NULL,
        args TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        error TEXT,
        delivered INTEGER NOT NULL DEFAULT 0,
        UNIQUE (thread_id, call_id))""",
)

_LEDGER_COLUMNS = "call_id, name, args, status, result, error, delivered"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ledger_entry(row: tuple[Any, ...]) -> LedgerEntry:
    call_id, name, args, status, result, error, delivered = row
    return LedgerEntry(
        call_id=call_id,
        name=name,
        args=loads(args),
        status=status,
        result=loads(result),
        error=error,
        delivered=bool(delivered),
    )


def _thread_info(row: tuple[Any, ...]) -> ThreadInfo:
    thread_id, user_id, metadata, created_at, updated_at = row
    return ThreadInfo(
        thread_id=thread_id,
        user_id=user_id,
        metadata=loads(metadata),
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
    )


def _write(conn: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    """Run ``work`` in one IMMEDIATE transaction (takes the write lock up front)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class _Worker:
    """One thread owning one connection: every call on it runs there, one at a time."""

    def __init__(self, opener: Callable[[], sqlite3.Connection]) -> None:
        self._opener = opener
        self._conn: sqlite3.Connection | None = None  # touched only on the worker thread
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="realtalk-sqlite")

    async def run(self, work: Callable[[sqlite3.Connection], _T], path: str) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work, path)

    def _call(self, work: Callable[[sqlite3.Connection], _T], path: str) -> _T:
        try:
            if self._conn is None:
                self._conn = self._opener()
            return work(self._conn)
        except sqlite3.Error as exc:
            raise CheckpointerError(f"SQLite checkpointer {path!r}: {exc}") from exc

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def aclose(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=False)


class SqliteCheckpointer:
    """Threads, transcripts and the tool ledger in the SQLite file ``path``.

    ``path`` may be ``":memory:"`` for a private database that lives as long as the
    checkpointer. ``busy_timeout`` (seconds) bounds how long a write waits for another
    process holding the lock. The file is opened on first use; `aclose()` closes it
    (a later call opens it again).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        if not self._path:
            raise CheckpointerError("SqliteCheckpointer needs a file path (or ':memory:')")
        self._busy_timeout = busy_timeout
        self._worker: _Worker | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._path

    def __repr__(self) -> str:
        return f"SqliteCheckpointer({self._path!r})"

    # -- plumbing -------------------------------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(self._open)
            worker = self._worker
        return await worker.run(work, self._path)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,  # autocommit; writes use explicit transactions
            check_same_thread=False,
        )
        try:
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        if self._path != ":memory:":
            conn.execute("PRAGMA busy_timeout = 0")  # the switch waits in _enable_wal
            mode = self._enable_wal(conn)
            if str(mode).lower() != "wal":
                raise CheckpointerError(f"SQLite checkpointer {self._path!r}: WAL unavailable")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")

        def create() -> None:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            if version is None:
                for statement in _SCHEMA_V1:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise CheckpointerError(
                    f"SQLite checkpointer {self._path!r} has schema version {version}, newer "
                    f"than this realtalk understands ({SCHEMA_VERSION}); upgrade realtalk"
                )

        _write(conn, create)

    _sleep: Callable[[float], None] = staticmethod(time.sleep)
    """How the worker thread waits between WAL attempts (a seam for tests)."""

    def _enable_wal(self, conn: sqlite3.Connection) -> Any:
        """Switch the file to WAL, waiting up to ``busy_timeout`` for other connections.

        The switch needs the file to itself. When other connections hold it (several
        processes opening a new file together), SQLite may report "database is locked"
        at once, without its busy handler, to avoid a deadlock. So the busy handler is
        off for the switch and this loop retries with a short backoff instead; a file
        already in WAL answers at once.
        """
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.002
        while True:
            try:
                return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                    raise
            self._sleep(delay)
            delay = min(delay * 2, 0.1)

    async def asetup(self) -> None:
        """Open the file and create or check the schema now (else it happens on first use)."""
        await self._run(lambda conn: None)

    # -- messages -------------------------------------------------------------------------

    async def aput_messages(self, config: dict[str, Any], messages: Sequence[Message]) -> None:
        thread_id = thread_id_of(config)
        rows = [(thread_id, m.id, body) for m in messages for body in (message_to_json(m),)]
        if not rows:
            return

        def work(conn: sqlite3.Connection) -> None:
            _write(
                conn,
                lambda: conn.executemany(
                    "INSERT OR IGNORE INTO messages (thread_id, message_id, body) VALUES (?, ?, ?)",
                    rows,
                ),
            )

        await self._run(work)

    async def alist_messages(
        self, config: dict[str, Any], *, offset: int = 0, limit: int | None = None
    ) -> list[Message]:
        thread_id = thread_id_of(config)
        check_paging(offset, limit)
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT body FROM messages WHERE thread_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (thread_id, -1 if limit is None else limit, offset),
            ).fetchall()
        )
        return [message_from_json(body) for (body,) in rows]

    # -- threads --------------------------------------------------------------------------

    async def aget_thread(self, config: dict[str, Any]) -> ThreadInfo | None:
        thread_id = thread_id_of(config)
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT thread_id, user_id, metadata, created_at, updated_at FROM threads "
                "WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
        )
        return None if row is None else _thread_info(row)

    async def aput_thread(self, config: dict[str, Any], thread: ThreadInfo) -> None:
        thread_id = check_thread_matches(config, thread)
        row = (
            thread_id,
            thread.user_id,
            dumps(thread.metadata, "thread metadata"),
            thread.created_at.isoformat(),
            thread.updated_at.isoformat(),
        )

        def work(conn: sqlite3.Connection) -> None:
            _write(
                conn,
                lambda: conn.execute(
                    "INSERT OR REPLACE INTO threads "
                    "(thread_id, user_id, metadata, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    row,
                ),
            )

        await self._run(work)

    async def aensure_thread(self, config: dict[str, Any], thread: ThreadInfo) -> ThreadInfo:
        """Store ``thread`` unless the thread exists; return the stored record (atomic).

        Unlike ``aget_thread`` then ``aput_thread``, two processes claiming a new thread
        at once cannot both win: the first record stays and both get it back.
        """
        thread_id = check_thread_matches(config, thread)
        row = (
            thread_id,
            thread.user_id,
            dumps(thread.metadata, "thread metadata"),
            thread.created_at.isoformat(),
            thread.updated_at.isoformat(),
        )

        def ensure(conn: sqlite3.Connection) -> tuple[Any, ...]:
            conn.execute(
                "INSERT OR IGNORE INTO threads "
                "(thread_id, user_id, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                row,
            )
            stored: tuple[Any, ...] = conn.execute(
                "SELECT thread_id, user_id, metadata, created_at, updated_at FROM threads "
                "WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
            return stored

        return _thread_info(await self._run(lambda conn: _write(conn, lambda: ensure(conn))))

    async def aupdate_thread_metadata(self, config: dict[str, Any], **values: Any) -> ThreadInfo:
        thread_id = thread_id_of(config)
        patch = to_json_value(values, "thread metadata")

        def merge(conn: sqlite3.Connection) -> tuple[Any, ...]:
            # Read-modify-write is safe: BEGIN IMMEDIATE holds the write lock throughout.
            now = _now()
            old = conn.execute(
                "SELECT metadata FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            merged = {**(loads(old[0]) if old else {}), **patch}
            row: tuple[Any, ...] = conn.execute(
                "INSERT INTO threads (thread_id, user_id, metadata, created_at, updated_at) "
                "VALUES (?, NULL, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
                "metadata = excluded.metadata, updated_at = excluded.updated_at "
                "RETURNING thread_id, user_id, metadata, created_at, updated_at",
                (thread_id, dumps(merged, "thread metadata"), now, now),
            ).fetchone()
            return row

        row = await self._run(lambda conn: _write(conn, lambda: merge(conn)))
        return _thread_info(row)

    async def adelete_thread(self, config: dict[str, Any]) -> None:
        thread_id = thread_id_of(config)

        def delete(conn: sqlite3.Connection) -> None:
            for table in ("messages", "ledger", "threads"):
                conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,))

        await self._run(lambda conn: _write(conn, lambda: delete(conn)))

    # -- ledger ---------------------------------------------------------------------------

    async def aledger_start(
        self, config: dict[str, Any], call_id: str, name: str, args: dict[str, Any]
    ) -> bool:
        thread_id = thread_id_of(config)
        row = (thread_id, call_id, name, dumps(args, "tool arguments"))

        def start(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO ledger (thread_id, call_id, name, args, status) "
                "VALUES (?, ?, ?, ?, 'started')",
                row,
            )
            return cursor.rowcount == 1

        return await self._run(start)

    async def aledger_finish(
        self, config: dict[str, Any], call_id: str, *, result: Any = None, error: str | None = None
    ) -> None:
        thread_id = thread_id_of(config)
        row = (thread_id, call_id, dumps(result, "tool result"), error)
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO ledger (thread_id, call_id, name, args, status, result, error) "
                "VALUES (?, ?, '', '{}', 'finished', ?, ?) ON CONFLICT (thread_id, call_id) "
                "DO UPDATE SET status = 'finished', result = excluded.result, "
                "error = excluded.error",
                row,
            )
        )

    async def aledger_mark_delivered(self, config: dict[str, Any], call_id: str) -> None:
        thread_id = thread_id_of(config)
        await self._run(
            lambda conn: conn.execute(
                "UPDATE ledger SET delivered = 1 WHERE thread_id = ? AND call_id = ?",
                (thread_id, call_id),
            )
        )

    async def aledger_get(self, config: dict[str, Any], call_id: str) -> LedgerEntry | None:
        thread_id = thread_id_of(config)
        row = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE thread_id = ? AND call_id = ?",
                (thread_id, call_id),
            ).fetchone()
        )
        return None if row is None else _ledger_entry(row)

    async def aledger_undelivered(self, config: dict[str, Any]) -> list[LedgerEntry]:
        thread_id = thread_id_of(config)
        rows = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE thread_id = ? "
                "AND status = 'finished' AND delivered = 0 ORDER BY seq",
                (thread_id,),
            ).fetchall()
        )
        return [_ledger_entry(row) for row in rows]

    # -- lifecycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the file and stop the worker thread (idempotent; later calls reopen)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            await worker.aclose()


__all__ = ["SCHEMA_VERSION", "SqliteCheckpointer"]
