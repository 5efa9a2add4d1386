"""realtalk's thread store over the Agentflow checkpointer the user already has.

One `AgentflowThreadStore` per session implements
`realtalk.runtime.store.ThreadStore` on an Agentflow ``BaseCheckpointer``
(``InMemoryCheckpointer``, ``PgCheckpointer``, ...), with the config Agentflow prepared for
the run (``thread_id``, ``user_id``, ``run_id``, authorisation), so ownership rules hold:

* messages land in the thread as Agentflow ``Message``s, exactly once (a message id already
  in the thread is skipped: ``InMemoryCheckpointer`` appends blindly, ``PgCheckpointer``
  upserts), and join the run's ``state.context`` as Agentflow's live node does;
* the resumption handle lives in the thread's metadata (``resumption_handle``, the key
  Agentflow's live node uses);
* the tool ledger is Agentflow's own idempotency ledger (``aget_tool_result`` /
  ``aput_tool_result``) where the checkpointer implements it: one record when a call
  starts, one when it finishes, one when its result reached the model, under
  ``realtalk:<call id>:<step>`` keys; calls whose result still has to reach the model are
  listed in the thread metadata (``realtalk_undelivered``) so another process finds them.
  Without a ledger the calls are remembered for the session only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tenxgraph.storage.checkpointer.base_checkpointer import BaseCheckpointer
from tenxgraph.utils.thread_info import ThreadInfo as AgentflowThreadInfo

from realtalk.checkpoint.base import LedgerEntry
from realtalk.messages import Message, ThreadInfo

from .messages import to_agentflow_message, to_realtalk_messages

log = logging.getLogger("realtalk_agentflow")

HANDLE_KEY = "resumption_handle"
"""Thread metadata key of the newest resumable handle (the one Agentflow uses)."""

UNDELIVERED_KEY = "realtalk_undelivered"
"""Thread metadata key listing finished calls whose result has not reached the model."""


def has_ledger(checkpointer: Any) -> bool:
    """Whether ``checkpointer`` implements Agentflow's tool ledger (not the no-op default)."""
    get = getattr(type(checkpointer), "aget_tool_result", None)
    put = getattr(type(checkpointer), "aput_tool_result", None)
    return (
        get is not None
        and put is not None
        and get is not BaseCheckpointer.aget_tool_result
        and put is not BaseCheckpointer.aput_tool_result
    )


def _key(call_id: str, step: str) -> str:
    return f"realtalk:{call_id}:{step}"


def _record(value: Any) -> dict[str, Any]:
    """A ledger payload in the shape Agentflow's own ledger readers accept."""
    return {"__kind__": "raw", "value": value}


def _value(record: Any) -> Any:
    return record.get("value") if isinstance(record, dict) else None


class AgentflowThreadStore:
    """One thread of an Agentflow checkpointer, for one realtalk session."""

    def __init__(
        self,
        checkpointer: Any,
        config: dict[str, Any],
        state: Any = None,
        context_manager: Any = None,
    ) -> None:
        self.checkpointer = checkpointer
        self.config = config
        self.state = state
        self.context_manager = context_manager
        self._durable_ledger = checkpointer is not None and has_ledger(checkpointer)
        self._lock = asyncio.Lock()
        self._known: set[str] | None = None  # message ids already in the thread
        self._messages: list[Message] = []  # no checkpointer: this session's messages
        self._ledger: dict[str, LedgerEntry] = {}  # no ledger: this session's calls

    @property
    def durable(self) -> bool:
        return self.checkpointer is not None

    @property
    def thread_id(self) -> str:
        return str(self.config["thread_id"])

    # -- thread and handle -------------------------------------------------------------

    async def _thread(self) -> Any:
        return await self.checkpointer.aget_thread(self.config)

    async def ensure_thread(self, user_id: str | None) -> ThreadInfo | None:
        if self.checkpointer is None:
            return None
        thread = await self._thread()
        if thread is None:
            owner = self.config.get("user_id", user_id)
            thread = AgentflowThreadInfo(thread_id=self.thread_id, user_id=owner, metadata={})
            await self.checkpointer.aput_thread(self.config, thread)
        owner = thread.user_id
        return ThreadInfo(
            thread_id=self.thread_id,
            user_id=None if owner is None else str(owner),
            metadata=dict(thread.metadata or {}),
        )

    async def load_handle(self) -> str | None:
        if self.checkpointer is None:
            return None
        thread = await self._thread()
        handle = (thread.metadata or {}).get(HANDLE_KEY) if thread is not None else None
        return handle if isinstance(handle, str) and handle else None

    async def _merge_metadata(self, **values: Any) -> None:
        """Read, merge, write the thread's metadata (the caller holds the lock)."""
        thread = await self._thread()
        if thread is None:
            thread = AgentflowThreadInfo(
                thread_id=self.thread_id, user_id=self.config.get("user_id"), metadata={}
            )
        metadata = {**(thread.metadata or {}), **values}
        await self.checkpointer.aput_thread(
            self.config, thread.model_copy(update={"metadata": metadata})
        )

    async def save_handle(self, handle: str | None) -> None:
        if self.checkpointer is None:
            return
        async with self._lock:
            await self._merge_metadata(**{HANDLE_KEY: handle})

    # -- messages ----------------------------------------------------------------------

    async def put(self, messages: list[Message]) -> None:
        if not messages:
            return
        async with self._lock:
            if self._known is None:
                stored = await self.history() if self.checkpointer is not None else []
                self._known = {m.id for m in stored}
            fresh = []
            for message in messages:
                if message.id not in self._known:
                    self._known.add(message.id)
                    fresh.append(message)
            if not fresh:
                return
            converted = [to_agentflow_message(m) for m in fresh]
            if self.checkpointer is None:
                self._messages.extend(fresh)
            else:
                await self.checkpointer.aput_messages(self.config, converted)
            self._add_to_state(converted)

    def _add_to_state(self, messages: list[Any]) -> None:
        """Append to the run's ``state.context``, as Agentflow's live node does."""
        context = getattr(self.state, "context", None)
        if isinstance(context, list):
            from tenxgraph.core.state import add_messages

            self.state.context = add_messages(context, messages)

    async def history(self) -> list[Message]:
        """The thread's messages (voice and text turns), trimmed by the graph's context
        manager when it has one, as Agentflow's live node trims before reseeding."""
        if self.checkpointer is None:
            return list(self._messages)
        messages = list(await self.checkpointer.alist_messages(self.config))
        if self.context_manager is not None and messages:
            from tenxgraph.core.state import AgentState

            try:
                trimmed = await self.context_manager.atrim_context(AgentState(context=messages))
                messages = list(trimmed.context)
            except Exception:
                log.warning("the context manager failed to trim the history; using all of it")
        return to_realtalk_messages(messages)

    # -- tool ledger -------------------------------------------------------------------

    async def _get(self, call_id: str, step: str) -> Any:
        return await self.checkpointer.aget_tool_result(self.config, _key(call_id, step))

    async def _put(self, call_id: str, step: str, value: Any) -> None:
        await self.checkpointer.aput_tool_result(self.config, _key(call_id, step), _record(value))

    async def ledger_start(self, call_id: str, name: str, args: dict[str, Any]) -> bool:
        if not self._durable_ledger:
            if call_id in self._ledger:
                return False
            self._ledger[call_id] = LedgerEntry(
                call_id=call_id, name=name, args=dict(args), status="started"
            )
            return True
        async with self._lock:
            if await self._get(call_id, "started") is not None:
                return False
            await self._put(call_id, "started", {"name": name, "args": dict(args)})
            return True

    async def ledger_finish(self, call_id: str, *, result: Any, error: str | None) -> None:
        if not self._durable_ledger:
            entry = self._ledger[call_id]
            self._ledger[call_id] = entry.model_copy(
                update={"status": "finished", "result": result, "error": error}
            )
            return
        async with self._lock:
            await self._put(call_id, "finished", {"result": result, "error": error})
            thread = await self._thread()
            pending = list((thread.metadata or {}).get(UNDELIVERED_KEY) or []) if thread else []
            if call_id not in pending:
                await self._merge_metadata(**{UNDELIVERED_KEY: [*pending, call_id]})

    async def ledger_mark_delivered(self, call_id: str) -> None:
        if not self._durable_ledger:
            entry = self._ledger.get(call_id)
            if entry is not None:
                self._ledger[call_id] = entry.model_copy(update={"delivered": True})
            return
        async with self._lock:
            await self._put(call_id, "delivered", True)
            thread = await self._thread()
            pending = list((thread.metadata or {}).get(UNDELIVERED_KEY) or []) if thread else []
            if call_id in pending:
                pending.remove(call_id)
                await self._merge_metadata(**{UNDELIVERED_KEY: pending})

    async def ledger_get(self, call_id: str) -> LedgerEntry | None:
        if not self._durable_ledger:
            return self._ledger.get(call_id)
        started = _value(await self._get(call_id, "started"))
        if not isinstance(started, dict):
            return None
        finished = _value(await self._get(call_id, "finished"))
        delivered = _value(await self._get(call_id, "delivered")) is True
        entry = LedgerEntry(
            call_id=call_id,
            name=str(started.get("name", "")),
            args=dict(started.get("args") or {}),
            status="finished" if isinstance(finished, dict) else "started",
            delivered=delivered,
        )
        if isinstance(finished, dict):
            entry = entry.model_copy(
                update={"result": finished.get("result"), "error": finished.get("error")}
            )
        return entry

    async def ledger_undelivered(self) -> list[LedgerEntry]:
        if not self._durable_ledger:
            return [e for e in self._ledger.values() if e.status == "finished" and not e.delivered]
        async with self._lock:
            thread = await self._thread()
            listed = (
                [str(c) for c in (thread.metadata or {}).get(UNDELIVERED_KEY) or []]
                if thread
                else []
            )
            entries = []
            for call_id in listed:
                entry = await self.ledger_get(call_id)
                if entry is not None and entry.status == "finished" and not entry.delivered:
                    entries.append(entry)
            still = [e.call_id for e in entries]
            if still != listed:  # a process died between two ledger writes: tidy the list
                await self._merge_metadata(**{UNDELIVERED_KEY: still})
            return entries


__all__ = ["HANDLE_KEY", "UNDELIVERED_KEY", "AgentflowThreadStore", "has_ledger"]
