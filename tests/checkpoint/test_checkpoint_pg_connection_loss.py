"""PostgreSQL: a lost connection loses nothing (real server, real terminations).

Two ways to lose a connection, both real: ``pg_terminate_backend`` on every connection
the checkpointer's pool holds (a failover or an operator would do the same), and a TCP
relay that cuts one connection at an exact protocol moment (before a statement reaches
the server, or after a commit ran but before its reply arrives) to reach the cases a
timer could only hit by luck.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from realtalk.checkpoint import PgCheckpointer
from realtalk.messages import Message

from .conftest import pg_base_url


def _with_params(url: str, **params: str) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + "&".join(f"{k}={v}" for k, v in params.items())


class Terminator:
    """Terminates every backend of one application_name, waiting until each is gone."""

    def __init__(self, admin: Any, application_name: str) -> None:
        self.admin = admin
        self.name = application_name

    async def __call__(self) -> int:
        cur = await self.admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
            "FROM pg_stat_activity WHERE application_name = %s",
            (self.name,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


@pytest.fixture
async def killable(pg_url: str) -> AsyncIterator[tuple[PgCheckpointer, Terminator]]:
    """A checkpointer whose connections carry a unique application_name, and its killer."""
    import psycopg

    name = f"rt_loss_{uuid.uuid4().hex[:10]}"
    cp = PgCheckpointer(_with_params(pg_url, application_name=name), min_size=2, max_size=4)
    await cp.asetup()
    async with await psycopg.AsyncConnection.connect(pg_base_url(), autocommit=True) as admin:
        yield cp, Terminator(admin, name)
    await cp.aclose()


def _texts(messages: list[Message]) -> list[str]:
    return [m.text_content for m in messages]


async def test_every_write_survives_terminated_connections(
    killable: tuple[PgCheckpointer, Terminator],
) -> None:
    cp, terminate = killable
    config: dict[str, Any] = {"thread_id": f"t-{uuid.uuid4().hex}"}
    killed = 0
    first = [Message.text("user", "before")]
    await cp.aput_messages(config, first)

    killed += await terminate()
    await cp.aput_messages(config, [Message.text("assistant", "between turns")])
    killed += await terminate()
    await cp.aupdate_thread_metadata(config, resumption_handle="h-2")
    killed += await terminate()
    assert await cp.aledger_start(config, "call-1", "transfer", {"amount": 3}) is True
    killed += await terminate()
    await cp.aledger_finish(config, "call-1", result={"moved": 3})
    killed += await terminate()
    await cp.aledger_mark_delivered(config, "call-1")
    killed += await terminate()
    # several connections at once, each of them dead in the pool
    batch = [Message.text("user", f"parallel-{i}") for i in range(8)]
    await asyncio.gather(*(cp.aput_messages(config, [m]) for m in batch))
    killed += await terminate()
    assert await cp.aledger_start(config, "call-1", "transfer", {"amount": 3}) is False
    killed += await terminate()

    stored = await cp.alist_messages(config)
    assert _texts(stored)[:2] == ["before", "between turns"]
    assert sorted(_texts(stored)[2:]) == sorted(m.text_content for m in batch)
    thread = await cp.aget_thread(config)
    assert thread is not None and thread.metadata == {"resumption_handle": "h-2"}
    entry = await cp.aledger_get(config, "call-1")
    assert entry is not None
    assert (entry.status, entry.result, entry.delivered) == ("finished", {"moved": 3}, True)
    assert await cp.aledger_undelivered(config) == []
    assert killed >= 8  # every step above really ran against terminated connections


class CuttingRelay:
    """A TCP relay to the test server that can cut the next connection sending ``marker``.

    ``forward=False``: the chunk never reaches the server (the statement never runs).
    ``forward=True``: the server gets it and answers, the answer is lost (for a COMMIT:
    committed, but the client cannot know).
    """

    def __init__(self) -> None:
        parts = urlsplit(pg_base_url())
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.rule: tuple[bytes, bool] | None = None
        self.cuts = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def cut_at(self, marker: bytes, *, forward: bool) -> None:
        self.rule = (marker, forward)

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        lose_reply = asyncio.Event()

        def cut() -> None:
            self.cuts += 1
            client_w.close()
            server_w.close()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                rule = self.rule
                if rule is not None and rule[0] in data:
                    self.rule = None
                    if not rule[1]:
                        cut()
                        return
                    lose_reply.set()  # before writing: the reply must not slip through
                server_w.write(data)
                await server_w.drain()
            server_w.close()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if lose_reply.is_set():
                    cut()
                    return
                client_w.write(data)
                await client_w.drain()
            client_w.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


@pytest.fixture
async def relayed(pg_url: str) -> AsyncIterator[tuple[PgCheckpointer, CuttingRelay]]:
    relay = CuttingRelay()
    port = await relay.start()
    parts = urlsplit(pg_url)
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{port}"
    cp = PgCheckpointer(parts._replace(netloc=netloc).geturl(), min_size=1, max_size=2)
    await cp.asetup()
    yield cp, relay
    await cp.aclose()
    await relay.aclose()


@pytest.mark.parametrize("commit_reached_the_server", [True, False])
async def test_a_claim_whose_commit_reply_is_lost_is_the_callers_not_refused_nor_doubled(
    relayed: tuple[PgCheckpointer, CuttingRelay], commit_reached_the_server: bool
) -> None:
    cp, relay = relayed
    config: dict[str, Any] = {"thread_id": f"t-{uuid.uuid4().hex}"}
    relay.cut_at(b"COMMIT", forward=commit_reached_the_server)
    assert await cp.aledger_start(config, "call-1", "transfer", {"amount": 5}) is True
    assert relay.cuts == 1
    # claimed exactly once: the next claim of the same id (another server's) loses
    assert await cp.aledger_start(config, "call-1", "transfer", {"amount": 5}) is False
    entry = await cp.aledger_get(config, "call-1")
    assert entry is not None and (entry.status, entry.args) == ("started", {"amount": 5})


async def test_messages_whose_commit_reply_is_lost_are_stored_once(
    relayed: tuple[PgCheckpointer, CuttingRelay],
) -> None:
    cp, relay = relayed
    config: dict[str, Any] = {"thread_id": f"t-{uuid.uuid4().hex}"}
    messages = [Message.text("user", "one"), Message.text("assistant", "two")]
    relay.cut_at(b"COMMIT", forward=True)
    await cp.aput_messages(config, messages)
    assert relay.cuts == 1
    assert await cp.alist_messages(config) == messages


async def test_a_statement_that_never_reached_the_server_is_sent_again(
    relayed: tuple[PgCheckpointer, CuttingRelay],
) -> None:
    cp, relay = relayed
    config: dict[str, Any] = {"thread_id": f"t-{uuid.uuid4().hex}"}
    assert await cp.aledger_start(config, "call-1", "lookup", {})
    relay.cut_at(b"INSERT INTO", forward=False)
    await cp.aledger_finish(config, "call-1", result="found")
    relay.cut_at(b"UPDATE", forward=False)
    await cp.aledger_mark_delivered(config, "call-1")
    relay.cut_at(b"SELECT", forward=False)
    entry = await cp.aledger_get(config, "call-1")
    assert relay.cuts == 3
    assert entry is not None and (entry.result, entry.delivered) == ("found", True)


async def test_a_session_keeps_its_transcript_and_runs_its_tool_across_terminations(
    killable: tuple[PgCheckpointer, Terminator],
) -> None:
    """The failure users saw: between turns the pool's connections die; the next turn's
    transcript and tool call must be stored and run, with no checkpointer error."""
    from realtalk import AudioAgent, LiveInputQueue
    from realtalk_testing import FakeProvider, emit, expect

    cp, terminate = killable
    ran: list[int] = []

    def transfer(amount: int) -> str:
        """Moves money."""
        ran.append(amount)
        return f"moved {amount}"

    fake = FakeProvider(
        [
            emit.session_update("h-1"),
            expect.text("first"),
            *emit.speech("one").steps,
            emit.turn_complete(),
            expect.text("second"),
            emit.tool_call("call-9", "transfer", {"amount": 9}),
            expect.tool_result("call-9", result="moved 9", error=None),
            *emit.speech("two").steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = AudioAgent("fake-live", provider=fake, tools=[transfer]).compile(checkpointer=cp)
    queue = LiveInputQueue()
    queue.send_text("first")
    config = {"thread_id": f"t-{uuid.uuid4().hex}"}
    events = []
    turns = 0
    async with asyncio.timeout(30):
        async for event in app.arealtime(queue, config):
            events.append(event)
            if event.type == "turn_complete":
                turns += 1
                await terminate()
                if turns == 1:
                    queue.send_text("second")
                else:
                    queue.close()
    errors = [(e.code, e.message) for e in events if e.type == "error"]
    assert errors == [] and ran == [9]
    fake.assert_done()
    roles = [(m.role, m.text_content) for m in await cp.alist_messages(config)]
    assert ("user", "first") in roles and ("user", "second") in roles
    assert roles.index(("user", "first")) < roles.index(("user", "second"))
    entry = await cp.aledger_get(config, "call-9")
    assert entry is not None and entry.status == "finished" and entry.delivered
