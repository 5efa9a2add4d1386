"""Supervisor: connect, resume after a rotation, reseed after a rejected handle, give up."""

from __future__ import annotations

import asyncio
from typing import Any

from realtalk.events import SessionUpdateEvent
from realtalk.provider import DisconnectKind, ProviderDisconnected, SessionSetup

from ._build import Parts, RecordingConnection


class ScriptedProvider:
    """Connects with the next scripted outcome: a connection or an exception."""

    name = "scripted"

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.setups: list[SessionSetup] = []

    async def connect(self, setup: SessionSetup) -> Any:
        self.setups.append(setup)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def supervised(parts: Parts, provider: ScriptedProvider) -> Any:
    supervisor = parts.session.supervisor
    supervisor.provider = provider  # type: ignore[assignment]
    return supervisor


async def until(predicate: Any) -> None:
    for _ in range(10_000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_a_rotation_resumes_with_the_newest_handle_and_says_so() -> None:
    parts = Parts()
    first, second = RecordingConnection(), RecordingConnection()
    provider = ScriptedProvider(first, second)
    supervisor = supervised(parts, provider)
    running = asyncio.ensure_future(supervisor.run())
    await until(lambda: parts.link.conn is first)
    await parts.resumption.keep(SessionUpdateEvent(resumption_handle="h1", resumable=True))
    parts.link.rotate(parts.link.gen)
    await until(lambda: parts.link.conn is second)
    assert first.closed.is_set()
    assert [s.resumption_handle for s in provider.setups] == [None, "h1"]
    reconnected = [e for e in parts.drain() if e.type == "reconnected"]
    assert [(e.attempt, e.resumed) for e in reconnected] == [(1, True)]
    parts.link.request_finish("closed")
    assert await running == "closed"


async def test_a_rejected_handle_is_forgotten_and_the_next_connect_is_fresh() -> None:
    parts = Parts()
    await parts.store.ensure_thread(None)
    await parts.resumption.keep(SessionUpdateEvent(resumption_handle="stale", resumable=True))
    fresh = RecordingConnection()
    rejected = ProviderDisconnected(DisconnectKind.REJECTED_HANDLE, code=1008)
    provider = ScriptedProvider(rejected, fresh)
    supervisor = supervised(parts, provider)
    running = asyncio.ensure_future(supervisor.run())
    await until(lambda: parts.link.conn is fresh)
    assert [s.resumption_handle for s in provider.setups] == ["stale", None]
    assert await parts.store.load_handle() is None
    parts.link.request_finish("closed")
    assert await running == "closed"


async def test_it_gives_up_after_the_allowed_attempts_with_the_last_cause() -> None:
    from realtalk.runtime.errors import Fatal

    parts = Parts()
    busy = ProviderDisconnected(DisconnectKind.TRANSIENT, code=1011, reason="overloaded")
    supervisor = supervised(parts, ScriptedProvider(*[busy] * 10))
    parts.clock.auto_advance = True
    try:
        await supervisor.run()
    except Fatal as fatal:
        assert fatal.code == "reconnect_failed"
        assert fatal.message == "could not connect after 5 attempt(s): overloaded (code=1011)"
    else:
        raise AssertionError("the supervisor never gave up")
