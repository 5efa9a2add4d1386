"""The thread's newest resumable handle: loaded at start, kept as updates arrive.

Rules (ARCHITECTURE.md section 3.5): an update that is not resumable, or has an empty
handle, never erases the newest resumable one; the handle is stored in the thread's
metadata so another process can resume; a handle the provider rejected is forgotten in
memory and in storage, so the next connect starts fresh (and is reseeded).
"""

from __future__ import annotations

from ..events import SessionUpdateEvent
from .reporter import Reporter
from .store import ThreadStore


class Resumption:
    """One session's view of its thread's resumption handle."""

    def __init__(
        self, store: ThreadStore, reporter: Reporter, *, enabled: bool, stored: bool
    ) -> None:
        self.store = store
        self.reporter = reporter
        self.enabled = enabled
        """Resume at all: the config asks for it and the provider supports it."""
        self.stored = stored
        """Keep handles in the thread store (``RealtimeConfig.session_resumption``)."""
        self.handle: str | None = None

    async def load(self) -> None:
        """Take the handle an earlier session stored (raises what the store raised)."""
        if self.enabled:
            self.handle = await self.store.load_handle()

    def for_connect(self) -> str | None:
        """The handle to resume with, or None for a fresh (reseeded) connection."""
        return self.handle if self.enabled else None

    async def keep(self, event: SessionUpdateEvent) -> None:
        """Keep a newer resumable handle; anything else changes nothing."""
        handle = event.resumption_handle
        if not (event.resumable and handle):
            return
        self.handle = handle
        if self.stored:
            try:
                await self.store.save_handle(handle)
            except Exception as exc:
                await self.reporter.report(
                    "checkpointer_error", f"could not store the handle: {exc}"
                )

    async def forget(self) -> None:
        """The provider rejected the handle: never offer it again."""
        self.handle = None
        try:
            await self.store.save_handle(None)
        except Exception as exc:
            await self.reporter.report(
                "checkpointer_error", f"could not clear the stale handle: {exc}"
            )


__all__ = ["Resumption"]
