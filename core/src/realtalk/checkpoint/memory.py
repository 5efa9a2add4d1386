"""An in-process checkpointer for tests and notebooks: nothing survives the process.

Values go through the same JSON normalisation as the durable checkpointers, so code
tested against memory behaves the same on SQLite and PostgreSQL (and callers can never
mutate stored state through a returned object).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..messages import Message, ThreadInfo
from ._codec import (
    check_paging,
    check_thread_matches,
    dumps,
    loads,
    message_from_json,
    message_to_json,
    thread_to_json,
)
from .base import LedgerEntry, thread_id_of


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Ledger:
    seq: int
    name: str
    args: str
    status: str = "started"
    result: str | None = None
    error: str | None = None
    delivered: bool = False

    def entry(self, call_id: str) -> LedgerEntry:
        return LedgerEntry(
            call_id=call_id,
            name=self.name,
            args=loads(self.args),
            status="finished" if self.status == "finished" else "started",
            result=loads(self.result),
            error=self.error,
            delivered=self.delivered,
        )


@dataclass
class _Thread:
    info: str | None = None  # ThreadInfo JSON, None until put/updated
    messages: list[str] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)
    ledger: dict[str, _Ledger] = field(default_factory=dict)


class InMemoryCheckpointer:
    """Threads kept in a dict; safe to share between tasks and threads of one process."""

    def __init__(self) -> None:
        self._threads: dict[str, _Thread] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def _thread(self, config: dict[str, Any]) -> _Thread:
        """The thread's record, created on first write."""
        return self._threads.setdefault(thread_id_of(config), _Thread())

    def _peek(self, config: dict[str, Any]) -> _Thread:
        """The thread's record for reading (an empty one if absent, never stored)."""
        return self._threads.get(thread_id_of(config)) or _Thread()

    async def aput_messages(self, config: dict[str, Any], messages: Sequence[Message]) -> None:
        encoded = [(text, m.id) for m in messages for text in (message_to_json(m),)]
        with self._lock:
            thread = self._thread(config)
            for text, message_id in encoded:
                if message_id not in thread.message_ids:
                    thread.message_ids.add(message_id)
                    thread.messages.append(text)

    async def alist_messages(
        self, config: dict[str, Any], *, offset: int = 0, limit: int | None = None
    ) -> list[Message]:
        check_paging(offset, limit)
        with self._lock:
            texts = self._peek(config).messages
            end = None if limit is None else offset + limit
            page = texts[offset:end]
        return [message_from_json(t) for t in page]

    async def aget_thread(self, config: dict[str, Any]) -> ThreadInfo | None:
        with self._lock:
            info = self._peek(config).info
        return None if info is None else ThreadInfo.model_validate_json(info)

    async def aput_thread(self, config: dict[str, Any], thread: ThreadInfo) -> None:
        check_thread_matches(config, thread)
        text = thread_to_json(thread)
        with self._lock:
            self._thread(config).info = text

    async def aensure_thread(self, config: dict[str, Any], thread: ThreadInfo) -> ThreadInfo:
        """Store ``thread`` unless the thread exists; return the stored record (atomic)."""
        check_thread_matches(config, thread)
        text = thread_to_json(thread)
        with self._lock:
            record = self._thread(config)
            if record.info is None:
                record.info = text
            stored = record.info
        return ThreadInfo.model_validate_json(stored)

    async def aupdate_thread_metadata(self, config: dict[str, Any], **values: Any) -> ThreadInfo:
        patch = loads(dumps(values, "thread metadata"))
        thread_id = thread_id_of(config)
        with self._lock:
            thread = self._thread(config)
            now = _now()
            if thread.info is None:
                info = ThreadInfo(thread_id=thread_id, created_at=now, updated_at=now)
            else:
                info = ThreadInfo.model_validate_json(thread.info)
            merged = {**info.metadata, **patch}
            text = info.model_copy(update={"metadata": merged, "updated_at": now}).model_dump_json()
            thread.info = text
        return ThreadInfo.model_validate_json(text)

    async def aledger_start(
        self, config: dict[str, Any], call_id: str, name: str, args: dict[str, Any]
    ) -> bool:
        args_text = dumps(args, "tool arguments")
        with self._lock:
            ledger = self._thread(config).ledger
            if call_id in ledger:
                return False
            self._seq += 1
            ledger[call_id] = _Ledger(seq=self._seq, name=name, args=args_text)
            return True

    async def aledger_finish(
        self, config: dict[str, Any], call_id: str, *, result: Any = None, error: str | None = None
    ) -> None:
        result_text = dumps(result, "tool result")
        with self._lock:
            ledger = self._thread(config).ledger
            entry = ledger.get(call_id)
            if entry is None:  # finished without a recorded start: keep the outcome anyway
                self._seq += 1
                entry = ledger[call_id] = _Ledger(seq=self._seq, name="", args="{}")
            entry.status, entry.result, entry.error = "finished", result_text, error

    async def aledger_mark_delivered(self, config: dict[str, Any], call_id: str) -> None:
        with self._lock:
            entry = self._peek(config).ledger.get(call_id)
            if entry is not None:
                entry.delivered = True

    async def aledger_get(self, config: dict[str, Any], call_id: str) -> LedgerEntry | None:
        with self._lock:
            entry = self._peek(config).ledger.get(call_id)
            return None if entry is None else entry.entry(call_id)

    async def aledger_undelivered(self, config: dict[str, Any]) -> list[LedgerEntry]:
        with self._lock:
            ledger = self._peek(config).ledger
            pending = [
                (e.seq, call_id, e)
                for call_id, e in ledger.items()
                if e.status == "finished" and not e.delivered
            ]
            return [e.entry(call_id) for _, call_id, e in sorted(pending, key=lambda p: p[0])]

    async def adelete_thread(self, config: dict[str, Any]) -> None:
        thread_id = thread_id_of(config)
        with self._lock:
            self._threads.pop(thread_id, None)

    async def asetup(self) -> None:
        """Nothing to open (present so every builtin checkpointer can be set up alike)."""

    async def aclose(self) -> None:
        """Nothing to release; the data stays (a closed memory store is still usable)."""


__all__ = ["InMemoryCheckpointer"]
