"""Two ``realtalk api`` processes on one PostgreSQL: a session on the first, the first
process killed, the client reconnects to the second with the same thread_id and the
conversation continues with its full transcript history."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from realtalk.checkpoint import PgCheckpointer
from realtalk.checkpoint.url import postgres_url_and_schema

from ._support import connect, live_url, realtalk_api, recv_json, recv_until

pytestmark = pytest.mark.postgres

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

AGENT_MODULE = textwrap.dedent(
    '''
    """The agent both bridge processes serve; REALTALK_TEST_NODE picks the provider script."""
    import os

    from realtalk import AudioAgent
    from realtalk_testing import FakeProvider, emit, expect

    FIRST = [
        expect.connect(history=False),
        expect.text("my name is Ada"),
        emit.speech("nice to meet you, Ada", seconds=0.1, partial=False),
        emit.turn_complete(),
        expect.text("this never arrives"),
    ]

    def reseeded(setup):
        said = [(m.role, m.text_content) for m in setup.history]
        return said == [("user", "my name is Ada"), ("assistant", "nice to meet you, Ada")]

    SECOND = [
        expect.connect(handle=None, check=reseeded),
        expect.text("what is my name?"),
        emit.speech("your name is Ada", seconds=0.1, partial=False),
        emit.turn_complete(),
        expect.close(),
    ]

    script = FIRST if os.environ["REALTALK_TEST_NODE"] == "1" else SECOND
    app = AudioAgent("fake-live-model", provider=FakeProvider([script]))
    '''
)


@pytest.fixture
def pg_url() -> AsyncIterator[str]:
    import psycopg

    base = os.environ.get("REALTALK_TEST_PG_URL") or DEFAULT_PG_URL
    try:
        conn = psycopg.connect(base, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        message = f"PostgreSQL at REALTALK_TEST_PG_URL is unreachable ({type(exc).__name__})"
        if os.environ.get("REALTALK_REQUIRE_PG") == "1":
            pytest.fail(f"{message}; REALTALK_REQUIRE_PG=1 requires it", pytrace=False)
        pytest.skip(message)
    schema = f"rt_bridge_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    cleaned, _ = postgres_url_and_schema(base)
    try:
        yield f"{cleaned}{'&' if '?' in cleaned else '?'}schema={schema}"
    finally:
        with conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_session_moves_to_a_second_process_after_the_first_dies(
    tmp_path: Path, pg_url: str
) -> None:
    (tmp_path / "bridge_agent.py").write_text(AGENT_MODULE)
    (tmp_path / "realtalk.json").write_text(
        json.dumps({"agent": "bridge_agent:app", "checkpointer": pg_url})
    )
    thread = f"multi-{uuid.uuid4().hex[:8]}"

    async with realtalk_api(tmp_path, node="1") as (first, proc1, _):
        async with connect(live_url(first)) as ws:
            await ws.send(json.dumps({"thread_id": thread}))
            assert await recv_json(ws) == {"type": "session_started", "thread_id": thread}
            await ws.send(json.dumps({"type": "text", "text": "my name is Ada"}))
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            assert sum(map(len, audio)) == 4800
            proc1.send_signal(signal.SIGKILL)  # the node dies mid-session
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
        assert await proc1.wait() == -signal.SIGKILL

    async with realtalk_api(tmp_path, node="2") as (second, _, _):
        async with connect(live_url(second)) as ws:
            await ws.send(json.dumps({"thread_id": thread}))
            assert await recv_json(ws) == {"type": "session_started", "thread_id": thread}
            await ws.send(json.dumps({"type": "text", "text": "what is my name?"}))
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            errors = [e for e in events if e["type"] == "error"]
            assert not errors, errors  # the provider saw the reseeded history (script check)
            said = [e["text"] for e in events if e["type"] == "output_transcript"]
            assert said == ["your name is Ada"] and sum(map(len, audio)) == 4800
            await ws.send(json.dumps({"type": "close"}))
            await recv_until(ws, lambda e: e["type"] == "session_ended")
            await ws.wait_closed()
            assert ws.close_code == 1000

    store = PgCheckpointer(pg_url)
    try:
        messages = await store.alist_messages({"thread_id": thread})
        info = await store.aget_thread({"thread_id": thread})
    finally:
        await store.aclose()
    assert [(m.role, m.text_content) for m in messages] == [
        ("user", "my name is Ada"),
        ("assistant", "nice to meet you, Ada"),
        ("user", "what is my name?"),
        ("assistant", "your name is Ada"),
    ]
    assert info is not None and info.user_id is None  # loopback without auth: no owner


async def test_sigterm_drains_sessions_and_closes_1012(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "bridge_agent.py").write_text(AGENT_MODULE)
    (tmp_path / "realtalk.json").write_text(
        json.dumps({"agent": "bridge_agent:app", "checkpointer": pg_url})
    )
    async with realtalk_api(tmp_path, node="1") as (addr, proc, _):
        async with connect(live_url(addr)) as ws:
            await ws.send(json.dumps({"thread_id": "drained"}))
            await recv_json(ws)
            await ws.send(json.dumps({"type": "text", "text": "my name is Ada"}))
            await recv_until(ws, lambda e: e["type"] == "turn_complete")
            proc.send_signal(signal.SIGTERM)
            await recv_until(ws, lambda e: e["type"] == "session_ended")
            await ws.wait_closed()
            assert ws.close_code == 1012  # "service restart": reconnect elsewhere
        # uvicorn re-raises the captured signal once its graceful shutdown is done
        assert await proc.wait() in (0, -signal.SIGTERM)
