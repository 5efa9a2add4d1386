"""Resumption: the newest resumable handle is kept, never erased, forgotten when stale."""

from __future__ import annotations

from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import SessionUpdateEvent
from realtalk.runtime.callbacks import CallbackManager
from realtalk.runtime.output import OutputStream
from realtalk.runtime.persistence import CheckpointerStore
from realtalk.runtime.reporter import Reporter
from realtalk.runtime.resumption import Resumption

CONFIG = {"thread_id": "t"}


def parts(*, enabled: bool = True) -> tuple[Resumption, CheckpointerStore, OutputStream]:
    store = CheckpointerStore(InMemoryCheckpointer(), CONFIG)
    out = OutputStream()
    reporter = Reporter(out, CallbackManager(), store, "t")
    return Resumption(store, reporter, enabled=enabled, stored=True), store, out


async def test_only_resumable_non_empty_handles_are_kept_and_stored() -> None:
    resumption, store, _ = parts()
    await store.ensure_thread(None)
    await resumption.keep(SessionUpdateEvent(resumption_handle="h1", resumable=True))
    await resumption.keep(SessionUpdateEvent(resumption_handle="h2", resumable=False))
    await resumption.keep(SessionUpdateEvent(resumption_handle="", resumable=True))
    await resumption.keep(SessionUpdateEvent(resumption_handle=None, resumable=True))
    assert resumption.handle == "h1" and resumption.for_connect() == "h1"
    assert await store.load_handle() == "h1"
    again, _, _ = parts()
    again.store = store
    await again.load()
    assert again.handle == "h1"


async def test_forget_clears_memory_and_storage() -> None:
    resumption, store, _ = parts()
    await store.ensure_thread(None)
    await resumption.keep(SessionUpdateEvent(resumption_handle="h1", resumable=True))
    await resumption.forget()
    assert resumption.for_connect() is None and await store.load_handle() is None


async def test_disabled_resumption_never_offers_a_handle() -> None:
    resumption, store, _ = parts(enabled=False)
    await store.ensure_thread(None)
    await store.save_handle("old")
    await resumption.load()
    assert resumption.handle is None
    await resumption.keep(SessionUpdateEvent(resumption_handle="h1", resumable=True))
    assert resumption.for_connect() is None


async def test_a_store_failure_is_reported_not_raised() -> None:
    resumption, store, out = parts()

    async def broken(handle: str | None) -> None:
        raise OSError("disk full")

    store.save_handle = broken  # type: ignore[method-assign]
    await resumption.keep(SessionUpdateEvent(resumption_handle="h1", resumable=True))
    error = out.next_ready()
    assert error is not None and error.type == "error"
    assert error.code == "checkpointer_error" and "disk full" in error.message
    assert resumption.handle == "h1"  # kept in memory all the same
