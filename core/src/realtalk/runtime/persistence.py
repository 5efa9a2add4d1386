"""What a session remembers per thread: transcripts, the resumption handle, the tool ledger.

`CheckpointerStore` is the default `ThreadStore`: it
puts one thread of an optional checkpointer behind the store's small API. With a
checkpointer everything survives the process (the same ``thread_id`` resumes later);
without one the same rules hold for the lifetime of the session, in memory, so a session
behaves identically either way. Writes are serialised so messages land in the order the
session produced them.

An Agentflow-style checkpointer (only ``aput_messages``, ``alist_messages``,
``aget_thread``, ``aput_thread``) works too: thread metadata is then merged through
``aget_thread``/``aput_thread``, and the tool ledger lives in memory for the session.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..checkpoint.base import Checkpointer, LedgerEntry
from ..messages import Message, ThreadInfo

HANDLE_KEY = "resumption_handle"
"""Thread metadata key holding the newest resumable handle."""

REQUIRED_METHODS = ("aput_messages", "alist_messages", "aget_thread", "aput_thread")
"""What any checkpointer must have (the Agentflow names)."""

LEDGER_METHODS = (
    "aledger_start",
    "aledger_finish",
    "aledger_mark_delivered",
    "aledger_get",
    "aledger_undelivered",
)
"""realtalk's tool ledger; without it, exactly-once holds within a session only."""


def missing_methods(checkpointer: Any) -> list[str]:
    """The required checkpointer methods ``checkpointer`` lacks."""
    return [m for m in REQUIRED_METHODS if not callable(getattr(checkpointer, m, None))]


class CheckpointerStore:
    """One thread's persistence over an optional checkpointer, for one session."""

    def __init__(
        self,
        checkpointer: Checkpointer | None,
        config: dict[str, Any],
    ) -> None:
        self.checkpointer = checkpointer
        self.config = config
        self._durable_ledger = checkpointer is not None and all(
            callable(getattr(checkpointer, m, None)) for m in LEDGER_METHODS
        )
        self._merge_metadata = checkpointer is not None and callable(
            getattr(checkpointer, "aupdate_thread_metadata", None)
        )
        self._lock = asyncio.Lock()
        self._messages: list[Message] = []  # this session's messages (no checkpointer)
        self._ledger: dict[str, LedgerEntry] = {}  # in-memory ledger (no checkpointer)

    @property
    def durable(self) -> bool:
        return self.checkpointer is not None

    async def ensure_thread(self, user_id: str | None) -> ThreadInfo | None:
        """The thread record, created (owned by ``user_id``) if it does not exist yet."""
        if self.checkpointer is None:
            return None
        thread = await self.checkpointer.aget_thread(self.config)
        if thread is None:
            thread = ThreadInfo(thread_id=self.config["thread_id"], user_id=user_id)
            await self.checkpointer.aput_thread(self.config, thread)
        return thread

    async def load_handle(self) -> str | None:
        if self.checkpointer is None:
            return None
        thread = await self.checkpointer.aget_thread(self.config)
        handle = thread.metadata.get(HANDLE_KEY) if thread else None
        return handle if isinstance(handle, str) and handle else None

    async def save_handle(self, handle: str | None) -> None:
        """Store the newest resumable handle (``None`` forgets a stale one)."""
        if self.checkpointer is None:
            return
        async with self._lock:
            if self._merge_metadata:
                await self.checkpointer.aupdate_thread_metadata(self.config, **{HANDLE_KEY: handle})
                return
            thread = await self.checkpointer.aget_thread(self.config)
            if thread is None:
                thread = ThreadInfo(thread_id=self.config["thread_id"])
            metadata = {**thread.metadata, HANDLE_KEY: handle}
            await self.checkpointer.aput_thread(
                self.config, thread.model_copy(update={"metadata": metadata})
            )

    async def put(self, messages: list[Message]) -> None:
        """Append messages in order (ids already stored are skipped by the checkpointer)."""
        if not messages:
            return
        async with self._lock:
            if self.checkpointer is None:
                known = {m.id for m in self._messages}
                self._messages.extend(m for m in messages if m.id not in known)
            else:
                await self.checkpointer.aput_messages(self.config, messages)

    async def history(self) -> list[Message]:
        """All persisted messages of the thread, oldest first."""
        if self.checkpointer is None:
            return list(self._messages)
        return await self.checkpointer.alist_messages(self.config)

    # -- tool ledger ---------------------------------------------------------------------

    async def ledger_start(self, call_id: str, name: str, args: dict[str, Any]) -> bool:
        if self._durable_ledger:
            assert self.checkpointer is not None
            return await self.checkpointer.aledger_start(self.config, call_id, name, args)
        if call_id in self._ledger:
            return False
        self._ledger[call_id] = LedgerEntry(
            call_id=call_id, name=name, args=dict(args), status="started"
        )
        return True

    async def ledger_finish(self, call_id: str, *, result: Any, error: str | None) -> None:
        if self._durable_ledger:
            assert self.checkpointer is not None
            await self.checkpointer.aledger_finish(self.config, call_id, result=result, error=error)
            return
        entry = self._ledger[call_id]
        self._ledger[call_id] = entry.model_copy(
            update={"status": "finished", "result": result, "error": error}
        )

    async def ledger_mark_delivered(self, call_id: str) -> None:
        if self._durable_ledger:
            assert self.checkpointer is not None
            await self.checkpointer.aledger_mark_delivered(self.config, call_id)
            return
        entry = self._ledger.get(call_id)
        if entry is not None:
            self._ledger[call_id] = entry.model_copy(update={"delivered": True})

    async def ledger_get(self, call_id: str) -> LedgerEntry | None:
        if self._durable_ledger:
            assert self.checkpointer is not None
            return await self.checkpointer.aledger_get(self.config, call_id)
        return self._ledger.get(call_id)

    async def ledger_undelivered(self) -> list[LedgerEntry]:
        if self._durable_ledger:
            assert self.checkpointer is not None
            return await self.checkpointer.aledger_undelivered(self.config)
        return [e for e in self._ledger.values() if e.status == "finished" and not e.delivered]


__all__ = [
    "HANDLE_KEY",
    "LEDGER_METHODS",
    "REQUIRED_METHODS",
    "CheckpointerStore",
    "missing_methods",
]
