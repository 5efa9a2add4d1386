"""Link: the current connection's generation rules and the supervisor's signal."""

from __future__ import annotations

import asyncio

from realtalk.provider import DisconnectKind, ProviderDisconnected
from realtalk.runtime.clock import ManualClock
from realtalk.runtime.link import Link, as_disconnect

DROP = ProviderDisconnected(DisconnectKind.TRANSIENT, reason="reset")


async def test_news_about_an_old_connection_is_ignored() -> None:
    link = Link()
    old = link.next_generation()
    new = link.next_generation()
    link.note_disconnect(old, DROP)
    link.rotate(old)
    assert not link.disconnected(old) and not link.disconnected(new)
    link.note_disconnect(new, DROP)
    assert link.disconnected(new)
    assert await link.serve(new) == "disconnected"
    assert link.take_disconnect() is DROP


async def test_the_first_disconnect_wins_and_finish_beats_everything() -> None:
    link = Link()
    gen = link.next_generation()
    first = ProviderDisconnected(DisconnectKind.ROTATION)
    link.note_disconnect(gen, first)
    link.note_disconnect(gen, DROP)
    assert link.take_disconnect() is first
    link.rotate(gen)
    link.request_finish("closed")
    link.request_finish("error")
    assert link.finish_reason == "closed"
    assert await link.serve(gen) == "finish"


async def test_serve_waits_for_a_rotation_of_its_own_generation() -> None:
    link = Link()
    gen = link.next_generation()
    served = asyncio.ensure_future(link.serve(gen))
    await asyncio.sleep(0)
    assert not served.done()
    link.rotate(gen)
    assert await served == "rotate"
    assert link.next_generation() == gen + 1  # a new generation forgets the rotation
    assert link.go_away_gen is None


async def test_wait_or_finish_sleeps_on_the_clock_or_stops_at_the_finish() -> None:
    link = Link()
    clock = ManualClock()
    slept = asyncio.ensure_future(link.wait_or_finish(clock, 2.0))
    await clock.wait_for_sleepers()
    await clock.advance(2.0)
    assert await slept is True
    waiting = asyncio.ensure_future(link.wait_or_finish(clock, 5.0))
    await clock.wait_for_sleepers()
    link.request_finish("closed")
    assert await waiting is False
    assert clock.pending == 0


def test_unclassified_send_failures_are_transient() -> None:
    exc = as_disconnect(OSError("broken pipe"))
    assert exc.kind is DisconnectKind.TRANSIENT and "broken pipe" in exc.reason
    assert as_disconnect(DROP) is DROP
