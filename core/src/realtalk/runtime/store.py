"""The thread-store seam: the one interface a session persists through.

A session never talks to a checkpointer directly. It asks its `ThreadStore` to
create the thread, keep the newest resumption handle, append finished messages, give the
history back for reseeding, and keep the tool ledger that makes every call id run once.
realtalk's own implementation (`CheckpointerStore`)
sits over any realtalk or Agentflow-style checkpointer; an integration with another
framework's storage is one class implementing this protocol, handed to
``compile(thread_store=...)`` as a factory of the session config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ..checkpoint.base import LedgerEntry
from ..messages import Message, ThreadInfo


@runtime_checkable
class ThreadStore(Protocol):
    """One thread's persistence, for one session.

    Every method may raise; the session reports the failure as a ``checkpointer_error``
    event and goes on (a session never dies of a storage hiccup, except while loading the
    thread at start). ``durable`` says whether what is stored outlives the process.
    """

    @property
    def durable(self) -> bool: ...

    async def ensure_thread(self, user_id: str | None) -> ThreadInfo | None:
        """The thread record, created (owned by ``user_id``) if it does not exist yet."""
        ...

    async def load_handle(self) -> str | None:
        """The newest resumable handle kept for the thread, or None."""
        ...

    async def save_handle(self, handle: str | None) -> None:
        """Keep ``handle`` as the newest resumable one (``None`` forgets a stale one)."""
        ...

    async def put(self, messages: list[Message]) -> None:
        """Append messages in order; a message id already stored is skipped."""
        ...

    async def history(self) -> list[Message]:
        """Every persisted message of the thread, oldest first (for reseeding)."""
        ...

    async def ledger_start(self, call_id: str, name: str, args: dict[str, Any]) -> bool:
        """Claim ``call_id``: True the first time ever, False if it was seen before."""
        ...

    async def ledger_finish(self, call_id: str, *, result: Any, error: str | None) -> None:
        """Record how the call ended (a JSON-safe result or an error message)."""
        ...

    async def ledger_mark_delivered(self, call_id: str) -> None:
        """Record that the outcome reached a provider connection."""
        ...

    async def ledger_get(self, call_id: str) -> LedgerEntry | None:
        """The ledger entry of ``call_id``, or None."""
        ...

    async def ledger_undelivered(self) -> list[LedgerEntry]:
        """Finished calls whose outcome has not reached a connection yet."""
        ...


ThreadStoreFactory = Callable[[dict[str, Any]], ThreadStore]
"""Builds the store of one session from its resolved config (which carries ``thread_id``)."""


__all__ = ["ThreadStore", "ThreadStoreFactory"]
