"""Where the conversation stands, and when a session whose input closed may end.

A session ends on its own only when its input is closed and nothing is owed: no model
turn in progress, no reply due to something the user said or a tool result just sent,
no tool still running. `TurnState` keeps those facts (each part sets the one it
observes) and asks the link to finish the moment they all hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from .link import Link


class TurnState:
    """A model turn in progress, a reply owed, input closed; and the drain rule."""

    def __init__(self, link: Link, tools_busy: Callable[[], bool]) -> None:
        self.link = link
        self.tools_busy = tools_busy
        self.turn_active = False
        """The model is producing a turn (from its first output to turn end)."""
        self.awaiting_reply = False
        """The user ended a turn, or a tool result was sent: the model owes a reply."""
        self.input_closed = False
        """The user's queue is closed: no more input will come."""

    def idle(self) -> bool:
        """Nothing in flight: no turn, no reply owed, no tool running."""
        return not (self.turn_active or self.awaiting_reply or self.tools_busy())

    def check_drain(self) -> None:
        """Finish the session once input is closed and nothing is in flight."""
        if self.input_closed and self.idle():
            self.link.request_finish("closed")


class Timers:
    """Background waits of one session (deadlines, the shutdown drain), cancelled together."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] | None = None  # made by the first start()

    def start(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = set()
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def tasks(self) -> list[asyncio.Future[Any]]:
        return list(self._tasks or ())


__all__ = ["Timers", "TurnState"]
