"""The checkpointer contract: where transcripts, thread metadata and the tool ledger live.

The method names follow Agentflow's checkpointers so existing objects keep working; any
object with these methods is a checkpointer. ``config`` is the session config dict and
must carry ``thread_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ..messages import Message, ThreadInfo
from ..thread_ids import check_thread_id


class LedgerEntry(BaseModel):
    """One tool call as recorded in a thread's ledger (exactly-once execution)."""

    model_config = ConfigDict(extra="forbid")

    call_id: str
    name: str
    args: dict[str, Any] = {}
    status: Literal["started", "finished"]
    result: Any = None
    error: str | None = None
    delivered: bool = False


class CheckpointerError(Exception):
    """A checkpointer cannot be opened or used (bad URL, unreachable database, ...)."""


def thread_id_of(config: dict[str, Any]) -> str:
    """The thread id a session config names, or a clear error.

    Every builtin checkpointer applies the same rule as the runtime
    (`realtalk.thread_ids`), so an id that one backend stores, all of them store.
    """
    if not isinstance(config, dict) or "thread_id" not in config:
        raise ValueError("config must carry a non-empty 'thread_id' string")
    return check_thread_id(config["thread_id"], where="config['thread_id']")


@runtime_checkable
class Checkpointer(Protocol):
    """What the runtime needs from a store of threads."""

    async def aput_messages(self, config: dict[str, Any], messages: Sequence[Message]) -> None:
        """Append messages to the thread, in order (a message id already stored is skipped)."""

    async def alist_messages(
        self, config: dict[str, Any], *, offset: int = 0, limit: int | None = None
    ) -> list[Message]:
        """The thread's messages, oldest first."""
        ...

    async def aget_thread(self, config: dict[str, Any]) -> ThreadInfo | None:
        """The thread, or None if it does not exist."""
        ...

    async def aput_thread(self, config: dict[str, Any], thread: ThreadInfo) -> None:
        """Create or replace the thread record."""

    async def aupdate_thread_metadata(self, config: dict[str, Any], **values: Any) -> ThreadInfo:
        """Merge ``values`` into the thread's metadata (creating the thread if needed)."""
        ...

    async def aledger_start(
        self, config: dict[str, Any], call_id: str, name: str, args: dict[str, Any]
    ) -> bool:
        """Record a tool call as started; False if the id was already recorded."""
        ...

    async def aledger_finish(
        self, config: dict[str, Any], call_id: str, *, result: Any = None, error: str | None = None
    ) -> None:
        """Record the outcome of a started call."""

    async def aledger_mark_delivered(self, config: dict[str, Any], call_id: str) -> None:
        """Record that the result reached the provider."""

    async def aledger_get(self, config: dict[str, Any], call_id: str) -> LedgerEntry | None:
        """The ledger entry for ``call_id``, or None."""
        ...

    async def aledger_undelivered(self, config: dict[str, Any]) -> list[LedgerEntry]:
        """Finished calls whose results never reached the provider, oldest first."""
        ...

    async def adelete_thread(self, config: dict[str, Any]) -> None:
        """Delete the thread, its messages and its ledger."""

    async def aclose(self) -> None:
        """Release connections and files."""


__all__ = ["Checkpointer", "CheckpointerError", "LedgerEntry", "thread_id_of"]
