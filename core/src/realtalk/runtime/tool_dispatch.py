"""Tool dispatch: every call id runs at most once, and every call gets an answer.

The provider asks for a call; dispatch claims its id in the thread store's ledger
(exactly once, across reconnects and processes), starts it on the
`ToolRunner` (which runs it through the session's
`ToolExecutor` with its timeout), and when it ends
records, persists, announces and delivers the outcome. A result that could not be sent
(the connection dropped) stays in the ledger and goes out on the next connection. A call
id the provider sends again (a resumed session that never saw the answer) is answered
again from the ledger, never run again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..events import ToolCallEvent, ToolResultEvent
from ..messages import Message, ToolCallBlock, ToolResultBlock
from ..provider import ProviderSession
from .link import Link, as_disconnect
from .reporter import Reporter
from .store import ThreadStore
from .tool_runner import ToolOutcome, ToolRunner
from .turns import TurnState

log = logging.getLogger("realtalk.runtime.tools")

CANCELLED = "cancelled by the provider"
INTERRUPTED = "this call was interrupted before it finished and is not run twice"
LEDGER_DOWN = "the tool ledger is unavailable; not run"


class ToolDispatcher:
    """The tool calls of one session, from the provider's request to its answer."""

    def __init__(
        self,
        runner: ToolRunner,
        *,
        store: ThreadStore,
        link: Link,
        turns: TurnState,
        reporter: Reporter,
        thread_id: str,
    ) -> None:
        self.runner = runner
        self.store = store
        self.link = link
        self.turns = turns
        self.reporter = reporter
        self.thread_id = thread_id
        # answered in this session: call id -> the connection generation the answer was
        # sent on (None: answered without a send, by a reseed or a provider cancel)
        self._answered: dict[str, int | None] = {}
        self._names: dict[str, str] = {}

    def message_id(self, kind: str, call_id: str) -> str:
        return f"{self.thread_id}:{kind}:{call_id}"

    async def on_call(self, event: ToolCallEvent) -> None:
        """The provider asks for a call: claim it, run it (once), or answer it again."""
        call_id, name, args = event.id, event.name, dict(event.args)
        self._names.setdefault(call_id, name)
        if self.runner.has(call_id):
            if self._answered_elsewhere(call_id):
                # Its answer went out on an earlier connection and its report is still
                # being finished (a slow "delivered" write): answer this connection too.
                await self._on_repeated(call_id, name)
            # else asked again while it runs (its answer comes here), or answered here
            return
        await self._claim(event, call_id, name, args)

    def _answered_elsewhere(self, call_id: str) -> bool:
        """True when the call's outcome was delivered, but not on the current connection."""
        return (
            call_id not in self.runner.running
            and call_id in self._answered
            and self._answered[call_id] != self.link.gen
        )

    async def _claim(self, event: ToolCallEvent, call_id: str, name: str, args: Any) -> None:
        """A call not running now: run it if the ledger has never seen it."""
        try:
            fresh = await self.store.ledger_start(call_id, name, args)
        except Exception as exc:
            await self.reporter.report("checkpointer_error", f"tool ledger unavailable: {exc}")
            self.reporter.emit(event)
            await self.finish(ToolOutcome(call_id, name, error=LEDGER_DOWN), record=False)
            return
        if not fresh:
            await self._on_repeated(call_id, name)
            return
        self.reporter.emit(event)
        call = ToolCallBlock(id=call_id, name=name, args=args)
        await self.reporter.persist(
            [Message(role="assistant", content=[call], id=self.message_id("tool_call", call_id))]
        )
        await self.reporter.fire("tool_call", call_id=call_id, name=name, args=args)
        spec = self.runner.spec(name)
        if spec is None:
            available = ", ".join(sorted(self.runner.specs)) or "none"
            error = f"unknown tool {name!r}: this session offers {available}"
            await self.finish(ToolOutcome(call_id, name, error=error))
            return
        self.runner.start(call_id, spec, args, self.finish)

    async def _on_repeated(self, call_id: str, name: str) -> None:
        """A call id already in the ledger: answer it from there, never run it again."""
        try:
            entry = await self.store.ledger_get(call_id)
        except Exception as exc:
            await self.reporter.report("checkpointer_error", f"tool ledger unavailable: {exc}")
            await self.deliver(call_id, name, None, LEDGER_DOWN, again=True)
            return
        if entry is not None and entry.status == "finished":
            log.info("tool call %s seen again: its stored outcome is sent again", call_id)
            await self.deliver(call_id, entry.name, entry.result, entry.error, again=True)
            self.turns.check_drain()
            return
        # claimed but never finished (another process died running it): not run twice
        await self.finish(ToolOutcome(call_id, name, error=INTERRUPTED), again=True)

    async def finish(
        self, outcome: ToolOutcome, *, record: bool = True, again: bool = False
    ) -> None:
        """Record, persist, announce and deliver one tool outcome."""
        if record:
            try:
                await self.store.ledger_finish(
                    outcome.call_id, result=outcome.result, error=outcome.error
                )
            except Exception as exc:
                await self.reporter.report(
                    "checkpointer_error", f"could not record a tool result: {exc}"
                )
        block = ToolResultBlock(
            id=outcome.call_id, name=outcome.name, result=outcome.result, error=outcome.error
        )
        await self.reporter.persist(
            [
                Message(
                    role="tool",
                    content=[block],
                    id=self.message_id("tool_result", outcome.call_id),
                )
            ]
        )
        self.reporter.emit(
            ToolResultEvent(
                id=outcome.call_id, name=outcome.name, result=outcome.result, error=outcome.error
            )
        )
        await self.reporter.fire(
            "tool_result",
            call_id=outcome.call_id,
            name=outcome.name,
            result=outcome.result,
            error=outcome.error,
        )
        await self.deliver(
            outcome.call_id, outcome.name, outcome.result, outcome.error, again=again
        )
        self.turns.check_drain()

    async def deliver(
        self, call_id: str, name: str, result: Any, error: str | None, *, again: bool = False
    ) -> None:
        """Send an outcome now, or leave it in the ledger for the next connection.

        ``again``: send even if this session delivered it before (the provider asked anew),
        but only once per connection: a repeat that crossed the re-delivery to a resumed
        connection is already answered there.
        """
        link = self.link
        async with link.send_lock:
            conn = link.conn
            if conn is None:
                return
            if call_id in self._answered and (not again or self._answered[call_id] == link.gen):
                return
            # set before sending: the reply may arrive (and complete) while we send
            self.turns.awaiting_reply = True
            try:
                await conn.send_tool_result(call_id, name, result, error)
            except Exception as exc:  # stays in the ledger for the next connection
                link.note_disconnect(link.gen, as_disconnect(exc))
                return
            self._answered[call_id] = link.gen
        await self._mark_delivered(call_id)

    async def redeliver(self, conn: ProviderSession, gen: int, *, resumed: bool) -> None:
        """Hand a new connection the outcomes the last one never got (under the send lock).

        A resumed connection is sent them; a fresh one was reseeded with them as history.
        """
        try:
            pending = await self.store.ledger_undelivered()
        except Exception as exc:
            pending = []
            await self.reporter.report(
                "checkpointer_error", f"could not read the tool ledger: {exc}"
            )
        for entry in pending:
            if entry.call_id in self._answered:
                continue
            sent_on = None
            if resumed:
                self.turns.awaiting_reply = True
                try:
                    await conn.send_tool_result(
                        entry.call_id, entry.name, entry.result, entry.error
                    )
                except Exception as exc:
                    self.link.note_disconnect(gen, as_disconnect(exc))
                    break
                sent_on = gen
            self._answered[entry.call_id] = sent_on
            await self._mark_delivered(entry.call_id)

    async def _mark_delivered(self, call_id: str) -> None:
        try:
            await self.store.ledger_mark_delivered(call_id)
        except Exception as exc:
            await self.reporter.report(
                "checkpointer_error", f"could not mark a result delivered: {exc}"
            )

    async def on_cancel(self, ids: Sequence[str]) -> None:
        """The provider withdrew calls: stop them; nothing may be sent for them."""
        for call_id in self.runner.cancel(ids):
            name = self._names.get(call_id, "")
            try:
                await self.store.ledger_finish(call_id, result=None, error=CANCELLED)
                await self.store.ledger_mark_delivered(call_id)
            except Exception as exc:
                await self.reporter.report(
                    "checkpointer_error", f"could not record a cancel: {exc}"
                )
            self._answered[call_id] = None
            block = ToolResultBlock(id=call_id, name=name, error=CANCELLED)
            await self.reporter.persist(
                [
                    Message(
                        role="tool",
                        content=[block],
                        id=self.message_id("tool_result", call_id),
                    )
                ]
            )
            self.reporter.emit(ToolResultEvent(id=call_id, name=name, error=CANCELLED))
            await self.reporter.fire(
                "tool_result", call_id=call_id, name=name, result=None, error=CANCELLED
            )


__all__ = ["CANCELLED", "INTERRUPTED", "LEDGER_DOWN", "ToolDispatcher"]
