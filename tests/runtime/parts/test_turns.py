"""TurnState: a session whose input closed ends exactly when nothing is in flight."""

from __future__ import annotations

from realtalk.runtime.link import Link
from realtalk.runtime.turns import TurnState


def test_drain_waits_for_the_turn_the_reply_and_the_tools() -> None:
    link = Link()
    busy = [True]
    turns = TurnState(link, lambda: busy[0])
    turns.check_drain()
    assert link.finish_reason is None  # input still open
    turns.input_closed = True
    turns.turn_active = True
    turns.awaiting_reply = True
    for step in ("turn_active", "awaiting_reply"):
        turns.check_drain()
        assert link.finish_reason is None
        setattr(turns, step, False)
    turns.check_drain()
    assert link.finish_reason is None  # a tool still runs
    busy[0] = False
    assert turns.idle()
    turns.check_drain()
    assert link.finish_reason == "closed"
