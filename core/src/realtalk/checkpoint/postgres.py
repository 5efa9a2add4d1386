"""A checkpointer on PostgreSQL: what production runs, shared by every server of a thread.

psycopg 3 (async) with a connection pool; psycopg is imported only when a checkpointer
first touches the database, so ``import realtalk.checkpoint`` works without the
``realtalk[postgres]`` extra. Tables live in their own schema (default ``realtalk``),
created on first use under an advisory lock (several processes may start at once) and
versioned in ``<schema>.schema_version``.

A connection can die under the pool (a server restart, a failover, an idle timeout, an
operator's ``pg_terminate_backend``). When a call finds its connection lost, the pool's
idle connections are checked at once (the dead ones replaced: they usually die
together) and the call is retried on a fresh connection. Every write is idempotent
(messages are keyed by id, the rest are upserts) except claiming a tool call, whose
retry first asks the server whether the lost attempt committed (``txid_status``): a
claim is never made twice nor refused to the caller that made it. Only what could not
be stored after that is reported.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..messages import Message, ThreadInfo
from ._codec import (
    check_paging,
    check_thread_matches,
    dumps,
    message_from_json,
    message_to_json,
)
from .base import CheckpointerError, LedgerEntry, thread_id_of
from .url import postgres_url_and_schema, redact_url, scrub

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("realtalk.checkpoint.postgres")
T = TypeVar("T")

ATTEMPTS = 3
"""Connections one call may use when each is lost under it (the pool replaces dead ones)."""

DEFAULT_SCHEMA = "realtalk"
SCHEMA_VERSION = 1
"""Version of the table layout this code writes; newer schemas are refused, not damaged."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_LOCK_SCHEMA = 0x5254_0001  # advisory-lock namespaces (first key of the two-key form)
_LOCK_THREAD = 0x5254_0002

_LEDGER_COLUMNS = "call_id, name, args, status, result, error, delivered"
_THREAD_COLUMNS = "thread_id, user_id, metadata, created_at, updated_at"


def _schema_v1(s: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {s}.threads (
            thread_id text PRIMARY KEY,
            user_id text,
            metadata jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now())""",
        f"CREATE INDEX IF NOT EXISTS threads_user_id ON {s}.threads (user_id)",
        f"""CREATE TABLE IF NOT EXISTS {s}.messages (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            thread_id text NOT NULL,
            message_id text NOT NULL,
            body jsonb NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (thread_id, message_id))""",
        f"CREATE INDEX IF NOT EXISTS messages_thread_seq ON {s}.messages (thread_id, seq)",
        f"""CREATE TABLE IF NOT EXISTS {s}.ledger (
            seq bigint GENERATED ALWAYS AS IDENTITY,
            thread_id text NOT NULL,
            call_id text NOT NULL,
            name text NOT NULL,
            args jsonb NOT NULL,
            status text NOT NULL CHECK (status IN ('started', 'finished')),
            result jsonb,
            error text,
            delivered boolean NOT NULL DEFAULT false,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            PRIMARY KEY (thread_id, call_id))""",
        f"""CREATE INDEX IF NOT EXISTS ledger_undelivered ON {s}.ledger (thread_id, seq)
            WHERE status = 'finished' AND NOT delivered""",
    ]


def _ledger_entry(row: Sequence[Any]) -> LedgerEntry:
    call_id, name, args, status, result, error, delivered = row
    return LedgerEntry(
        call_id=call_id,
        name=name,
        args=args,
        status=status,
        result=result,
        error=error,
        delivered=delivered,
    )


def _thread_info(row: Sequence[Any]) -> ThreadInfo:
    thread_id, user_id, metadata, created_at, updated_at = row
    return ThreadInfo(
        thread_id=thread_id,
        user_id=user_id,
        metadata=metadata,
        created_at=created_at,
        updated_at=updated_at,
    )


class PgCheckpointer:
    """Threads, transcripts and the tool ledger in PostgreSQL.

    ``database_url`` is a libpq URL (``postgresql://user:pw@host:5432/db``); a
    ``?schema=name`` query parameter or the ``schema`` argument picks the schema (default
    ``realtalk``). The pool opens on first use (or `asetup()`) in the running event
    loop; `aclose()` closes it and a later call opens a new one.
    """

    def __init__(
        self,
        database_url: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = database_url
        self._conninfo, url_schema = postgres_url_and_schema(database_url)
        if schema is not None and url_schema is not None and schema != url_schema:
            raise CheckpointerError(
                f"schema {schema!r} conflicts with ?schema={url_schema} in "
                f"{redact_url(database_url)!r}"
            )
        name = schema or url_schema or DEFAULT_SCHEMA
        if not _IDENTIFIER.match(name):
            raise CheckpointerError(
                f"invalid PostgreSQL schema name {name!r} (letters, digits and _, max 63)"
            )
        if not 1 <= min_size <= max_size:
            raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
        self._schema = name
        self._min_size, self._max_size = min_size, max_size
        self._connect_timeout = connect_timeout
        self._schema_ready = False
        self._pool: AsyncConnectionPool[Any] | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._open_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        s = f'"{name}"'
        self._t = {"threads": f"{s}.threads", "messages": f"{s}.messages", "ledger": f"{s}.ledger"}

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding this checkpointer's tables."""
        return self._schema

    @property
    def url(self) -> str:
        """The database URL with its password replaced by ``***``."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"PgCheckpointer({self.url!r}, schema={self._schema!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _error(self, action: str, exc: BaseException) -> CheckpointerError:
        detail = scrub(str(exc).strip() or type(exc).__name__, self._url)
        return CheckpointerError(f"PostgreSQL checkpointer {self.url!r}: {action}: {detail}")

    def _connect_kwargs(self) -> dict[str, Any]:
        from psycopg.conninfo import conninfo_to_dict

        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in conninfo_to_dict(self._conninfo):
            kwargs["connect_timeout"] = max(1, round(self._connect_timeout))
        return kwargs

    async def asetup(self) -> None:
        """Connect, create or check the schema and open the pool now (else on first use)."""
        await self._get_pool()

    async def _get_pool(self) -> AsyncConnectionPool[Any]:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool_loop is loop:
            return self._pool
        if self._open_lock is None or self._open_lock[0] is not loop:
            self._open_lock = (loop, asyncio.Lock())
        async with self._open_lock[1]:
            if self._pool is not None and self._pool_loop is loop:
                return self._pool
            self._release_foreign_pool()
            try:
                import psycopg  # noqa: F401  (fail early and clearly without the extra)
                from psycopg_pool import AsyncConnectionPool
            except ImportError as exc:
                raise CheckpointerError(
                    "PgCheckpointer needs psycopg: pip install 'realtalk[postgres]'"
                ) from exc
            if not self._schema_ready:
                await self._create_schema()
                self._schema_ready = True
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                self._conninfo,
                min_size=self._min_size,
                max_size=self._max_size,
                kwargs=self._connect_kwargs(),
                open=False,
                timeout=self._connect_timeout,
                name=f"realtalk-{self._schema}",
            )
            try:
                await pool.open(wait=True, timeout=self._connect_timeout)
            except Exception as exc:
                await pool.close()
                raise self._error("cannot open the connection pool", exc) from None
            self._pool, self._pool_loop = pool, loop
            return pool

    def _release_foreign_pool(self) -> None:
        """Drop a pool made in another event loop, closing it there if that loop still runs.

        A pool only works in the loop that opened it; ``asyncio.run`` twice (the sync API)
        or a checkpointer shared between threads would otherwise hit a dead pool.
        """
        pool, loop = self._pool, self._pool_loop
        self._pool = self._pool_loop = None
        if pool is not None and loop is not None and loop.is_running() and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(pool.close(), loop)

    async def _create_schema(self) -> None:
        import psycopg

        s = f'"{self._schema}"'
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, **self._connect_kwargs())
        except (psycopg.Error, OSError) as exc:
            raise self._error("cannot connect", exc) from None
        try:
            async with conn, conn.transaction():
                # Serialise schema creation between processes starting at the same time.
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SCHEMA, self._schema)
                )
                cur = await conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)
                )
                if await cur.fetchone() is None:
                    await conn.execute(f"CREATE SCHEMA {s}")
                # Check before creating: a role without CREATE rights on a schema its DBA
                # prepared can still use it.
                cur = await conn.execute("SELECT to_regclass(%s) IS NULL", (f"{s}.schema_version",))
                missing = await cur.fetchone()
                if missing is None or missing[0]:
                    await conn.execute(
                        f"CREATE TABLE {s}.schema_version (version integer NOT NULL, "
                        "applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                cur = await conn.execute(f"SELECT max(version) FROM {s}.schema_version")
                row = await cur.fetchone()
                version = None if row is None else row[0]
                if version is None:
                    for statement in _schema_v1(s):
                        await conn.execute(statement)
                    await conn.execute(
                        f"INSERT INTO {s}.schema_version (version) VALUES (%s)", (SCHEMA_VERSION,)
                    )
                elif version > SCHEMA_VERSION:
                    raise CheckpointerError(
                        f"PostgreSQL checkpointer {self.url!r}: schema {self._schema!r} has "
                        f"version {version}, newer than this realtalk understands "
                        f"({SCHEMA_VERSION}); upgrade realtalk"
                    )
        except psycopg.Error as exc:
            raise self._error(f"cannot create schema {self._schema!r}", exc) from None

    async def _run(self, action: str, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        """``work`` on a pooled connection, again on a fresh one if the connection is lost.

        Only for idempotent work: a lost connection leaves its outcome unknown.
        """
        import psycopg

        pool = await self._get_pool()
        for attempt in range(1, ATTEMPTS + 1):
            used: AsyncConnection[Any] | None = None
            try:
                async with pool.connection() as conn:
                    used = conn
                    return await work(conn)
            except psycopg.Error as exc:
                if used is None or not used.closed or attempt == ATTEMPTS:
                    raise self._error(f"{action} failed", exc) from None
                await self._after_loss(pool, action, exc, attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _after_loss(
        self, pool: AsyncConnectionPool[Any], action: str, exc: BaseException, attempt: int
    ) -> None:
        """A connection was lost: log it, and replace the pool's other dead connections.

        Checking the idle connections (one round trip each) now is cheaper than finding
        each dead one with a failed statement, and cheaper than a check before every use.
        """
        detail = scrub(str(exc).strip() or type(exc).__name__, self._url)
        log.warning(
            "PostgreSQL checkpointer %r: connection lost during %s (%s); retrying on a new "
            "connection (attempt %d of %d)",
            self.url,
            action,
            detail,
            attempt + 1,
            ATTEMPTS,
        )
        try:
            await pool.check()
        except Exception as check_exc:  # the retry reports what still fails
            log.debug("checking the pool after a lost connection failed: %s", check_exc)

    async def _fetchall(
        self, action: str, query: str, params: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        async def work(conn: AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

        return await self._run(action, work)

    async def _fetchone(
        self, action: str, query: str, params: Sequence[Any]
    ) -> tuple[Any, ...] | None:
        async def work(conn: AsyncConnection[Any]) -> tuple[Any, ...] | None:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

        return await self._run(action, work)

    async def _execute(self, action: str, query: str, params: Sequence[Any]) -> None:
        async def work(conn: AsyncConnection[Any]) -> None:
            await conn.execute(query, params)

        await self._run(action, work)

    # -- messages -------------------------------------------------------------------------

    async def aput_messages(self, config: dict[str, Any], messages: Sequence[Message]) -> None:
        thread_id = thread_id_of(config)
        rows = [(thread_id, m.id, body) for m in messages for body in (message_to_json(m),)]
        if not rows:
            return

        async def work(conn: AsyncConnection[Any]) -> None:
            async with conn.transaction():
                # One writer per thread at a time: a batch stays contiguous, and sequence
                # numbers become visible in order (paging never skips a late commit).
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    (_LOCK_THREAD, f"{self._schema}:{thread_id}"),
                )
                async with conn.cursor() as cur:
                    await cur.executemany(
                        f"INSERT INTO {self._t['messages']} (thread_id, message_id, body) "
                        "VALUES (%s, %s, %s::jsonb) "
                        "ON CONFLICT (thread_id, message_id) DO NOTHING",
                        rows,
                    )

        # A retry after a lost commit skips the ids already stored: never a duplicate.
        await self._run("storing messages", work)

    async def alist_messages(
        self, config: dict[str, Any], *, offset: int = 0, limit: int | None = None
    ) -> list[Message]:
        thread_id = thread_id_of(config)
        check_paging(offset, limit)
        rows = await self._fetchall(
            "reading messages",
            f"SELECT body FROM {self._t['messages']} WHERE thread_id = %s "
            "ORDER BY seq LIMIT %s OFFSET %s",
            (thread_id, limit, offset),
        )
        return [message_from_json(body) for (body,) in rows]

    # -- threads --------------------------------------------------------------------------

    async def aget_thread(self, config: dict[str, Any]) -> ThreadInfo | None:
        thread_id = thread_id_of(config)
        row = await self._fetchone(
            "reading the thread",
            f"SELECT {_THREAD_COLUMNS} FROM {self._t['threads']} WHERE thread_id = %s",
            (thread_id,),
        )
        return None if row is None else _thread_info(row)

    async def aput_thread(self, config: dict[str, Any], thread: ThreadInfo) -> None:
        thread_id = check_thread_matches(config, thread)
        metadata = dumps(thread.metadata, "thread metadata")
        await self._execute(
            "storing the thread",
            f"INSERT INTO {self._t['threads']} ({_THREAD_COLUMNS}) "
            "VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (thread_id) DO UPDATE SET "
            "user_id = EXCLUDED.user_id, metadata = EXCLUDED.metadata, "
            "created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at",
            (thread_id, thread.user_id, metadata, thread.created_at, thread.updated_at),
        )

    async def aensure_thread(self, config: dict[str, Any], thread: ThreadInfo) -> ThreadInfo:
        """Store ``thread`` unless the thread exists; return the stored record (atomic).

        Unlike ``aget_thread`` then ``aput_thread``, two servers claiming a new thread at
        once cannot both win: the first record stays and both get it back.
        """
        thread_id = check_thread_matches(config, thread)
        metadata = dumps(thread.metadata, "thread metadata")

        async def work(conn: AsyncConnection[Any]) -> tuple[Any, ...] | None:
            async with conn.transaction():
                # ON CONFLICT waits for a concurrent insert to commit; the SELECT (a new
                # snapshot under READ COMMITTED) then sees whichever record won.
                await conn.execute(
                    f"INSERT INTO {self._t['threads']} ({_THREAD_COLUMNS}) "
                    "VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (thread_id) DO NOTHING",
                    (thread_id, thread.user_id, metadata, thread.created_at, thread.updated_at),
                )
                cur = await conn.execute(
                    f"SELECT {_THREAD_COLUMNS} FROM {self._t['threads']} WHERE thread_id = %s",
                    (thread_id,),
                )
                return await cur.fetchone()

        row = await self._run("creating the thread", work)
        if row is None:  # deleted between the two statements: report what we tried
            return thread
        return _thread_info(row)

    async def aupdate_thread_metadata(self, config: dict[str, Any], **values: Any) -> ThreadInfo:
        thread_id = thread_id_of(config)
        patch = dumps(values, "thread metadata")
        t = self._t["threads"]
        # One statement: the merge (jsonb ||) happens inside the row lock, so concurrent
        # writers of different keys never erase each other.
        row = await self._fetchone(
            "updating thread metadata",
            f"INSERT INTO {t} AS t (thread_id, metadata) VALUES (%s, %s::jsonb) "
            "ON CONFLICT (thread_id) DO UPDATE SET metadata = t.metadata || EXCLUDED.metadata, "
            f"updated_at = now() RETURNING {_THREAD_COLUMNS}",
            (thread_id, patch),
        )
        assert row is not None  # INSERT ... RETURNING always yields the row
        return _thread_info(row)

    async def adelete_thread(self, config: dict[str, Any]) -> None:
        thread_id = thread_id_of(config)

        async def work(conn: AsyncConnection[Any]) -> None:
            async with conn.transaction():
                for table in ("messages", "ledger", "threads"):
                    await conn.execute(
                        f"DELETE FROM {self._t[table]} WHERE thread_id = %s", (thread_id,)
                    )

        await self._run("deleting the thread", work)

    # -- ledger ---------------------------------------------------------------------------

    async def aledger_start(
        self, config: dict[str, Any], call_id: str, name: str, args: dict[str, Any]
    ) -> bool:
        """Claim ``call_id`` (True) unless it was claimed before (False).

        A claim is not idempotent: retried blindly after a connection lost around its
        commit, it would find its own row and answer False, refusing the caller's own
        call. So the claim runs in a transaction whose id it learns first; when the
        connection is lost after that, the server says whether the claim committed
        (True), or aborted (claim again on a new connection).
        """
        import psycopg

        thread_id = thread_id_of(config)
        params = (thread_id, call_id, name, dumps(args, "tool arguments"))
        action = "claiming a tool call in the ledger"
        pool = await self._get_pool()
        for attempt in range(1, ATTEMPTS + 1):
            used: AsyncConnection[Any] | None = None
            xid: int | None = None
            try:
                async with pool.connection() as conn:
                    used = conn
                    async with conn.transaction():
                        cur = await conn.execute(
                            f"INSERT INTO {self._t['ledger']} "
                            "(thread_id, call_id, name, args, status) "
                            "VALUES (%s, %s, %s, %s::jsonb, 'started') "
                            "ON CONFLICT (thread_id, call_id) DO NOTHING "
                            "RETURNING txid_current()",
                            params,
                        )
                        row = await cur.fetchone()
                        if row is None:
                            return False  # claimed before (by a committed transaction)
                        xid = int(row[0])
                return True
            except psycopg.Error as exc:
                if used is None or not used.closed:
                    raise self._error(f"{action} failed", exc) from None
                if xid is not None and await self._committed(xid, action):
                    return True  # the reply was lost, not the claim
                if attempt == ATTEMPTS:
                    raise self._error(f"{action} failed", exc) from None
                await self._after_loss(pool, action, exc, attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _committed(self, xid: int, action: str) -> bool:
        """Whether transaction ``xid``, whose connection was lost, committed.

        A transaction still "in progress" belongs to a backend that has not yet noticed
        its client is gone; it ends (aborts) as soon as it does, so wait for that.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_timeout
        delay = 0.005
        while True:
            row = await self._fetchone(
                f"{action}: checking the outcome of a lost commit",
                "SELECT txid_status(%s)",
                (xid,),
            )
            status = None if row is None else row[0]
            if status == "committed":
                return True
            if status == "aborted":
                return False
            if status is None or loop.time() >= deadline:
                raise CheckpointerError(
                    f"PostgreSQL checkpointer {self.url!r}: {action}: the connection was "
                    f"lost during the commit and the outcome of transaction {xid} is "
                    f"unknown ({status or 'no longer recorded'})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def aledger_finish(
        self, config: dict[str, Any], call_id: str, *, result: Any = None, error: str | None = None
    ) -> None:
        thread_id = thread_id_of(config)
        await self._execute(
            "recording a tool result in the ledger",
            f"INSERT INTO {self._t['ledger']} AS l "
            "(thread_id, call_id, name, args, status, result, error, finished_at) "
            "VALUES (%s, %s, '', '{}'::jsonb, 'finished', %s::jsonb, %s, now()) "
            "ON CONFLICT (thread_id, call_id) DO UPDATE SET status = 'finished', "
            "result = EXCLUDED.result, error = EXCLUDED.error, finished_at = now()",
            (thread_id, call_id, dumps(result, "tool result"), error),
        )

    async def aledger_mark_delivered(self, config: dict[str, Any], call_id: str) -> None:
        thread_id = thread_id_of(config)
        await self._execute(
            "marking a tool result delivered",
            f"UPDATE {self._t['ledger']} SET delivered = true "
            "WHERE thread_id = %s AND call_id = %s",
            (thread_id, call_id),
        )

    async def aledger_get(self, config: dict[str, Any], call_id: str) -> LedgerEntry | None:
        thread_id = thread_id_of(config)
        row = await self._fetchone(
            "reading the ledger",
            f"SELECT {_LEDGER_COLUMNS} FROM {self._t['ledger']} "
            "WHERE thread_id = %s AND call_id = %s",
            (thread_id, call_id),
        )
        return None if row is None else _ledger_entry(row)

    async def aledger_undelivered(self, config: dict[str, Any]) -> list[LedgerEntry]:
        thread_id = thread_id_of(config)
        rows = await self._fetchall(
            "reading the ledger",
            f"SELECT {_LEDGER_COLUMNS} FROM {self._t['ledger']} WHERE thread_id = %s "
            "AND status = 'finished' AND NOT delivered ORDER BY seq",
            (thread_id,),
        )
        return [_ledger_entry(row) for row in rows]

    # -- lifecycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the pool (idempotent; a later call opens a new one)."""
        pool, loop = self._pool, self._pool_loop
        if pool is not None and loop is asyncio.get_running_loop():
            self._pool = self._pool_loop = None
            await pool.close()
        else:
            self._release_foreign_pool()


__all__ = ["DEFAULT_SCHEMA", "SCHEMA_VERSION", "PgCheckpointer"]
