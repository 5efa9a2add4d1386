"""Connection supervision: connect, resume or reseed, rotate, back off, give up.

The supervisor owns the provider connection for the whole session. It connects (resuming
with the newest handle, or fresh and reseeded from the stored transcript), makes the
connection current (pending tool results first, then buffered input), waits for a reason
to stop serving it (a drop, a planned rotation, the end of the session) and replaces it
following ``RealtimeConfig.reconnect``: a rotation or a rejected handle reconnects at
once, a transient drop with exponential backoff and jitter up to ``max_attempts``. Closes
are classified by the provider's `DisconnectKind`, never by
exception class. Section 3.4 of ARCHITECTURE.md is the contract.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from ..config import RealtimeConfig
from ..events import ReconnectedEvent
from ..messages import Message
from ..provider import (
    DisconnectKind,
    Provider,
    ProviderDisconnected,
    ProviderError,
    ProviderSession,
    SessionSetup,
)
from ..tools import ToolSpec
from .clock import Clock
from .errors import Fatal
from .input_pump import InputPump
from .link import Link, close_connection
from .pipeline import EventPipeline
from .reconnect import ReconnectPolicy
from .reporter import Reporter
from .resumption import Resumption
from .store import ThreadStore
from .tool_dispatch import ToolDispatcher
from .turns import TurnState

log = logging.getLogger("realtalk.runtime.session")


class Supervisor:
    """Keeps one session connected to its provider, from the first connect to the end."""

    def __init__(
        self,
        *,
        provider: Provider,
        realtime_config: RealtimeConfig,
        tools: Sequence[ToolSpec],
        system_instruction: str | None,
        instruction_factory: Callable[[], str | None] | None,
        thread_id: str,
        store: ThreadStore,
        link: Link,
        turns: TurnState,
        reporter: Reporter,
        resumption: Resumption,
        pump: InputPump,
        dispatcher: ToolDispatcher,
        pipeline: EventPipeline,
        policy: ReconnectPolicy,
        clock: Clock,
    ) -> None:
        self.provider = provider
        self.realtime_config = realtime_config
        self.tools = tuple(tools)
        self.system_instruction = system_instruction
        self.instruction_factory = instruction_factory
        self.thread_id = thread_id
        self.store = store
        self.link = link
        self.turns = turns
        self.reporter = reporter
        self.resumption = resumption
        self.pump = pump
        self.dispatcher = dispatcher
        self.pipeline = pipeline
        self.policy = policy
        self.clock = clock
        self.receive_task: asyncio.Task[None] | None = None
        self.connected_once = False
        self._connects = 0
        self._last_failure = ""

    async def run(self) -> str:
        """Serve connections until the session finishes; returns the finish reason."""
        link = self.link
        conn = await self._establish(initial=True, kind=None)
        while conn is not None:
            outcome = await link.serve(link.gen)
            if outcome != "finish":
                self.reporter.note_connection_lost()  # metrics: the reconnect gap starts
            await self._detach(conn)
            if outcome == "finish":
                break
            # What was heard on the lost connection is kept as it was heard, before any
            # reconnect (so a fresh connection is reseeded with it): the next connection's
            # transcripts cannot be joined to it (its provider may continue the utterance
            # or start it over, and only knows its own fragments).
            await self.pipeline.close_transcripts()
            if outcome == "rotate":
                conn = await self._establish(initial=False, kind=DisconnectKind.ROTATION)
            else:
                conn = await self._after_disconnect(link.take_disconnect())
        return link.finish_reason or "closed"

    async def _after_disconnect(self, exc: ProviderDisconnected) -> ProviderSession | None:
        kind = exc.kind
        log.info("session %s: connection ended: %s", self.thread_id, exc)
        self._last_failure = _cause(exc)
        if kind is DisconnectKind.CLOSED:
            if self.turns.input_closed and self.turns.idle():
                return None
            # the server ended a live conversation "normally": treat it as a hiccup
            kind = DisconnectKind.TRANSIENT
        if kind is DisconnectKind.FATAL:
            raise Fatal(
                "connection_closed",
                f"the provider closed the connection and reconnecting cannot help "
                f"(code={exc.code}): {exc.reason or 'no reason given'}",
            )
        if kind is DisconnectKind.REJECTED_HANDLE:
            await self.resumption.forget()
            kind = DisconnectKind.ROTATION  # reconnect at once, fresh
        return await self._establish(initial=False, kind=kind)

    def _give_up(self, failures: int) -> Fatal:
        """The fatal error once the policy allows no more attempts, with the last cause."""
        cause = f": {self._last_failure}" if self._last_failure else ""
        if not self.policy.max_attempts:
            what = "the connection dropped" if self.connected_once else "could not connect"
            return Fatal(
                "reconnect_failed",
                f"{what} and reconnecting is disabled "
                f"(reconnect.enabled=False or max_attempts=0){cause}",
            )
        verb = "reconnect" if self.connected_once else "connect"
        return Fatal("reconnect_failed", f"could not {verb} after {failures - 1} attempt(s){cause}")

    async def _establish(
        self, *, initial: bool, kind: DisconnectKind | None
    ) -> ProviderSession | None:
        """Connect (retrying per policy); None when the session finished meanwhile."""
        link = self.link
        immediate = kind is not DisconnectKind.TRANSIENT
        if kind is DisconnectKind.TRANSIENT:
            link.failures += 1
        attempt = 0
        while True:
            attempt += 1
            if not immediate:
                failures = max(1, link.failures)
                if not self.policy.allows(failures):
                    raise self._give_up(failures)
                if not await link.wait_or_finish(self.clock, self.policy.delay(failures)):
                    return None
            elif link.finish_reason is not None and not initial:
                return None
            immediate = False
            try:
                conn, resumed = await self._connect_once()
            except ProviderDisconnected as exc:
                if exc.kind is DisconnectKind.FATAL:
                    raise Fatal(
                        "connect_failed",
                        f"the provider refused the connection (code={exc.code}): "
                        f"{exc.reason or 'no reason given'}",
                    ) from None
                if exc.kind is DisconnectKind.REJECTED_HANDLE and attempt == 1:
                    immediate = True  # the handle was forgotten: retry fresh at once
                    continue
                link.failures += 1
                self._last_failure = _cause(exc)
                log.info("session %s: connect attempt failed: %s", self.thread_id, exc)
                continue
            except ProviderError as exc:
                raise Fatal("provider_error", str(exc)) from None
            except Exception as exc:  # e.g. a network error the provider did not classify
                link.failures += 1
                self._last_failure = f"{type(exc).__name__}: {exc}"
                log.info("session %s: connect attempt failed: %r", self.thread_id, exc)
                continue
            await self._attach(conn, resumed=resumed, initial=initial)
            self.connected_once = True
            if not initial:
                self.reporter.emit(ReconnectedEvent(attempt=attempt, resumed=resumed))
                await self.reporter.fire("reconnect", attempt=attempt, resumed=resumed)
            self.turns.check_drain()
            return conn

    async def _connect_once(self) -> tuple[ProviderSession, bool]:
        """One connect: resume with the handle if there is one, else fresh and reseeded."""
        handle = self.resumption.for_connect()
        history: list[Message] = []
        if handle is None:
            try:
                history = await self.store.history()
            except Exception as exc:
                await self.reporter.report("checkpointer_error", f"could not load history: {exc}")
        self._connects += 1
        if self._connects > 1 and self.instruction_factory is not None:
            # memory callables run at each connect: later connections see fresh facts
            try:
                self.system_instruction = self.instruction_factory()
            except Exception as exc:
                await self.reporter.report(
                    "prompt_error", f"kept the previous system instruction: {exc}"
                )
        setup = SessionSetup(
            config=self.realtime_config,
            system_instruction=self.system_instruction,
            tools=self.tools,
            resumption_handle=handle,
            history=tuple(history),
            thread_id=self.thread_id,
        )
        try:
            conn = await self.provider.connect(setup)
        except ProviderDisconnected as exc:
            if exc.kind is DisconnectKind.REJECTED_HANDLE and handle is not None:
                log.info("session %s: resumption handle rejected", self.thread_id)
                await self.resumption.forget()
            raise
        return conn, handle is not None

    async def _attach(self, conn: ProviderSession, *, resumed: bool, initial: bool) -> None:
        """Make ``conn`` current: redeliver pending tool results, flush buffered input."""
        turns = self.turns
        if not resumed and not initial:
            # a fresh connection does not continue the turn that was in flight
            turns.turn_active = False
            turns.awaiting_reply = self.pump.buffer.ends_a_turn()
        link = self.link
        async with link.send_lock:
            gen = link.next_generation()
            await self.dispatcher.redeliver(conn, gen, resumed=resumed)
            await self.pump.flush_to(conn, gen)
            link.conn = conn
        self.pump.report_buffer_drops()
        self.receive_task = asyncio.create_task(
            self.pipeline.receive(conn, gen), name=f"realtalk-receive-{gen}"
        )

    async def _detach(self, conn: ProviderSession) -> None:
        """Stop using ``conn``: input buffers from now on; the connection is closed."""
        link = self.link
        async with link.send_lock:
            if link.conn is conn:
                link.conn = None
        recv, self.receive_task = self.receive_task, None
        if recv is not None and recv is not asyncio.current_task():
            recv.cancel()
            await asyncio.gather(recv, return_exceptions=True)
        await close_connection(conn)


def _cause(exc: ProviderDisconnected) -> str:
    """What a user can act on from a lost or refused connection."""
    detail = exc.reason or str(exc) or exc.kind.value
    return f"{detail} (code={exc.code})" if exc.code is not None else detail


__all__ = ["Supervisor"]
