"""The checkpointer contract, run against memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from realtalk.checkpoint import Checkpointer, CheckpointerError, LedgerEntry
from realtalk.messages import Message, TextBlock, ThreadInfo, ToolCallBlock, ToolResultBlock


def texts(messages: list[Message]) -> list[str]:
    return [m.text_content for m in messages]


def numbered(n: int, prefix: str = "m") -> list[Message]:
    return [Message.text("user", f"{prefix}{i}") for i in range(n)]


async def test_every_backend_satisfies_the_protocol_and_sets_up(checkpointer: Checkpointer) -> None:
    assert isinstance(checkpointer, Checkpointer)
    await checkpointer.asetup()  # type: ignore[attr-defined]  # builtin extra: fail fast
    await checkpointer.asetup()  # type: ignore[attr-defined]  # and idempotent


# -- messages ---------------------------------------------------------------------------


async def test_messages_round_trip_exactly(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    messages = [
        Message.text("user", "hello there", modality="audio"),
        Message(
            role="assistant",
            content=[ToolCallBlock(id="call-1", name="lookup", args={"q": "x", "n": [1, 2]})],
            metadata={"modality": "text", "nested": {"a": None}},
            created_at=stamp,
            id="fixed-id",
        ),
        Message(
            role="tool",
            content=[ToolResultBlock(id="call-1", name="lookup", result={"ok": True}, error=None)],
        ),
        Message(role="assistant", content=[TextBlock(text="ünïcødé ✓"), TextBlock(text="!")]),
    ]
    await checkpointer.aput_messages(config, messages)
    stored = await checkpointer.alist_messages(config)
    assert stored == messages
    assert stored[0].metadata == {"modality": "audio"}
    assert stored[1].created_at == stamp and stored[1].id == "fixed-id"


async def test_messages_append_in_order_across_calls(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    await checkpointer.aput_messages(config, numbered(3, "a"))
    await checkpointer.aput_messages(config, [])
    await checkpointer.aput_messages(config, numbered(2, "b"))
    assert texts(await checkpointer.alist_messages(config)) == ["a0", "a1", "a2", "b0", "b1"]


async def test_order_is_insertion_not_timestamp(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    late = Message(
        role="user", content=[TextBlock(text="late")], created_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    early = Message(
        role="user", content=[TextBlock(text="early")], created_at=datetime(2000, 1, 1, tzinfo=UTC)
    )
    await checkpointer.aput_messages(config, [late, early])
    assert texts(await checkpointer.alist_messages(config)) == ["late", "early"]


async def test_message_ids_are_deduplicated_per_thread(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    first, second = numbered(2)
    await checkpointer.aput_messages(config, [first, second, first])  # duplicate in one batch
    await checkpointer.aput_messages(config, [second, first])  # a retried write
    changed = first.model_copy(update={"content": [TextBlock(text="changed")]})
    await checkpointer.aput_messages(config, [changed])  # same id: skipped, not replaced
    assert texts(await checkpointer.alist_messages(config)) == ["m0", "m1"]

    other = {"thread_id": config["thread_id"] + "-other"}
    await checkpointer.aput_messages(other, [first])  # the same id in another thread is kept
    assert texts(await checkpointer.alist_messages(other)) == ["m0"]


async def test_paging(checkpointer: Checkpointer, config: dict[str, Any]) -> None:
    await checkpointer.aput_messages(config, numbered(10))
    assert texts(await checkpointer.alist_messages(config, limit=3)) == ["m0", "m1", "m2"]
    assert texts(await checkpointer.alist_messages(config, offset=3, limit=3)) == ["m3", "m4", "m5"]
    assert texts(await checkpointer.alist_messages(config, offset=8)) == ["m8", "m9"]
    assert texts(await checkpointer.alist_messages(config, offset=8, limit=50)) == ["m8", "m9"]
    assert await checkpointer.alist_messages(config, offset=10) == []
    assert await checkpointer.alist_messages(config, limit=0) == []
    pages = []
    for offset in range(0, 10, 4):
        pages += texts(await checkpointer.alist_messages(config, offset=offset, limit=4))
    assert pages == [f"m{i}" for i in range(10)]


@pytest.mark.parametrize("kwargs", [{"offset": -1}, {"limit": -1}])
async def test_negative_paging_is_refused(
    checkpointer: Checkpointer, config: dict[str, Any], kwargs: dict[str, int]
) -> None:
    with pytest.raises(ValueError, match=r"offset|limit"):
        await checkpointer.alist_messages(config, **kwargs)


async def test_unknown_thread_reads_empty(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    assert await checkpointer.alist_messages(config) == []
    assert await checkpointer.aget_thread(config) is None
    assert await checkpointer.aledger_get(config, "nope") is None
    assert await checkpointer.aledger_undelivered(config) == []


async def test_bad_input_is_refused_and_stores_nothing(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="thread_id"):
        await checkpointer.alist_messages({})
    with pytest.raises(ValueError, match="thread_id"):
        await checkpointer.aput_messages({"thread_id": ""}, numbered(1))
    with pytest.raises(CheckpointerError, match="Message"):
        await checkpointer.aput_messages(config, [Message.text("user", "ok"), {"role": "user"}])  # type: ignore[list-item]
    assert await checkpointer.alist_messages(config) == []
    with pytest.raises(ValueError, match="does not match"):
        await checkpointer.aput_thread(config, ThreadInfo(thread_id="someone-else"))
    with pytest.raises(CheckpointerError, match="JSON"):
        await checkpointer.aupdate_thread_metadata(config, handle=object())
    assert await checkpointer.aget_thread(config) is None


# -- threads ----------------------------------------------------------------------------


async def test_put_and_get_thread(checkpointer: Checkpointer, config: dict[str, Any]) -> None:
    tid = config["thread_id"]
    stamp = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    info = ThreadInfo(
        thread_id=tid, user_id="alice", metadata={"k": [1, "x"]}, created_at=stamp, updated_at=stamp
    )
    await checkpointer.aput_thread(config, info)
    assert await checkpointer.aget_thread(config) == info

    replaced = ThreadInfo(
        thread_id=tid, user_id="bob", metadata={"only": True}, created_at=stamp, updated_at=stamp
    )
    await checkpointer.aput_thread(config, replaced)  # put replaces the whole record
    assert await checkpointer.aget_thread(config) == replaced


async def test_ensure_thread_creates_once_and_never_replaces(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    """The builtin ``aensure_thread`` lets exactly one of racing claimants own a new thread."""
    tid = config["thread_id"]
    ensure = checkpointer.aensure_thread  # type: ignore[attr-defined]
    claims = await asyncio.gather(
        *(ensure(config, ThreadInfo(thread_id=tid, user_id=f"user{i}")) for i in range(20))
    )
    owners = {c.user_id for c in claims}
    assert len(owners) == 1
    stored = await checkpointer.aget_thread(config)
    assert stored is not None and {stored.user_id} == owners

    await checkpointer.aupdate_thread_metadata(config, handle="h")
    again = await ensure(config, ThreadInfo(thread_id=tid, user_id="intruder"))
    assert again.user_id in owners and again.metadata == {"handle": "h"}
    with pytest.raises(ValueError, match="does not match"):
        await ensure(config, ThreadInfo(thread_id="other"))


async def test_metadata_update_merges_and_keeps_the_resumption_handle(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    created = await checkpointer.aupdate_thread_metadata(config, resumption_handle="h-1")
    assert created.thread_id == config["thread_id"]
    assert created.metadata == {"resumption_handle": "h-1"}
    assert created.user_id is None

    merged = await checkpointer.aupdate_thread_metadata(config, turns=3, nested={"a": 1})
    assert merged.metadata == {"resumption_handle": "h-1", "turns": 3, "nested": {"a": 1}}
    assert merged.created_at == created.created_at
    assert merged.updated_at >= created.updated_at

    again = await checkpointer.aupdate_thread_metadata(config, turns=4)
    assert again.metadata == {"resumption_handle": "h-1", "turns": 4, "nested": {"a": 1}}
    assert await checkpointer.aget_thread(config) == again

    await checkpointer.aupdate_thread_metadata(config)  # nothing to merge: nothing erased
    stored = await checkpointer.aget_thread(config)
    assert stored is not None and stored.metadata["resumption_handle"] == "h-1"


async def test_metadata_merge_is_by_top_level_key(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    await checkpointer.aupdate_thread_metadata(config, nested={"a": 1}, handle="h")
    info = await checkpointer.aupdate_thread_metadata(config, nested={"b": 2}, cleared=None)
    assert info.metadata == {"nested": {"b": 2}, "handle": "h", "cleared": None}


async def test_metadata_update_keeps_owner_and_other_fields(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    tid = config["thread_id"]
    await checkpointer.aput_thread(
        config, ThreadInfo(thread_id=tid, user_id="alice", metadata={"a": 1})
    )
    updated = await checkpointer.aupdate_thread_metadata(config, b=2)
    assert updated.user_id == "alice"
    assert updated.metadata == {"a": 1, "b": 2}


async def test_concurrent_metadata_writers_never_erase_each_other(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    await checkpointer.aupdate_thread_metadata(config, resumption_handle="keep-me")
    await asyncio.gather(
        *(checkpointer.aupdate_thread_metadata(config, **{f"k{i}": i}) for i in range(20))
    )
    info = await checkpointer.aget_thread(config)
    assert info is not None
    assert info.metadata == {"resumption_handle": "keep-me", **{f"k{i}": i for i in range(20)}}


async def test_delete_thread_removes_everything_of_that_thread_only(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    other = {"thread_id": config["thread_id"] + "-other"}
    for cfg in (config, other):
        await checkpointer.aput_messages(cfg, numbered(3))
        await checkpointer.aupdate_thread_metadata(cfg, handle="h")
        await checkpointer.aledger_start(cfg, "c1", "tool", {})
        await checkpointer.aledger_finish(cfg, "c1", result=1)

    await checkpointer.adelete_thread(config)
    assert await checkpointer.alist_messages(config) == []
    assert await checkpointer.aget_thread(config) is None
    assert await checkpointer.aledger_get(config, "c1") is None
    assert await checkpointer.aledger_undelivered(config) == []
    # a deleted thread starts afresh: its old call id may run again
    assert await checkpointer.aledger_start(config, "c1", "tool", {}) is True

    assert len(await checkpointer.alist_messages(other)) == 3
    assert await checkpointer.aget_thread(other) is not None
    assert await checkpointer.aledger_get(other, "c1") is not None

    await checkpointer.adelete_thread({"thread_id": "never-existed-" + uuid.uuid4().hex})


# -- ledger -----------------------------------------------------------------------------


async def test_ledger_lifecycle(checkpointer: Checkpointer, config: dict[str, Any]) -> None:
    assert await checkpointer.aledger_start(config, "c1", "weather", {"city": "Oslo"}) is True
    assert await checkpointer.aledger_start(config, "c1", "weather", {"city": "Oslo"}) is False
    assert await checkpointer.aledger_get(config, "c1") == LedgerEntry(
        call_id="c1", name="weather", args={"city": "Oslo"}, status="started"
    )
    assert await checkpointer.aledger_undelivered(config) == []  # started is not finished

    result = {"temp": 3.5, "tags": ["cold", None], "ok": True}
    await checkpointer.aledger_finish(config, "c1", result=result)
    finished = LedgerEntry(
        call_id="c1", name="weather", args={"city": "Oslo"}, status="finished", result=result
    )
    assert await checkpointer.aledger_get(config, "c1") == finished
    assert await checkpointer.aledger_undelivered(config) == [finished]
    assert await checkpointer.aledger_start(config, "c1", "weather", {}) is False  # still known

    await checkpointer.aledger_mark_delivered(config, "c1")
    delivered = await checkpointer.aledger_get(config, "c1")
    assert delivered is not None and delivered.delivered is True
    assert await checkpointer.aledger_undelivered(config) == []


async def test_ledger_errors_and_plain_results(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    await checkpointer.aledger_start(config, "bad", "explode", {})
    await checkpointer.aledger_finish(config, "bad", error="ValueError: boom")
    entry = await checkpointer.aledger_get(config, "bad")
    assert entry is not None
    assert (entry.status, entry.result, entry.error) == ("finished", None, "ValueError: boom")

    for call_id, value in [("s", "text"), ("n", 42), ("l", [1, "two"]), ("t", (1, 2))]:
        await checkpointer.aledger_start(config, call_id, "echo", {})
        await checkpointer.aledger_finish(config, call_id, result=value)
        got = await checkpointer.aledger_get(config, call_id)
        assert got is not None and got.result == (
            list(value) if isinstance(value, tuple) else value
        )


async def test_ledger_undelivered_is_oldest_first(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    for i in range(5):
        await checkpointer.aledger_start(config, f"c{i}", "t", {"i": i})
    for i in (3, 0, 4, 1):  # finished out of order; c2 never finishes
        await checkpointer.aledger_finish(config, f"c{i}", result=i)
    await checkpointer.aledger_mark_delivered(config, "c4")
    pending = await checkpointer.aledger_undelivered(config)
    assert [e.call_id for e in pending] == ["c0", "c1", "c3"]
    assert [e.result for e in pending] == [0, 1, 3]


async def test_ledger_is_per_thread(checkpointer: Checkpointer, config: dict[str, Any]) -> None:
    other = {"thread_id": config["thread_id"] + "-other"}
    assert await checkpointer.aledger_start(config, "same", "t", {}) is True
    assert await checkpointer.aledger_start(other, "same", "t", {}) is True


async def test_ledger_finish_without_start_keeps_the_outcome(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    await checkpointer.aledger_finish(config, "orphan", result={"r": 1})
    entry = await checkpointer.aledger_get(config, "orphan")
    assert entry is not None and entry.status == "finished" and entry.result == {"r": 1}
    assert await checkpointer.aledger_start(config, "orphan", "t", {}) is False
    await checkpointer.aledger_mark_delivered(config, "unknown-id")  # a no-op, not an error
    assert await checkpointer.aledger_get(config, "unknown-id") is None


async def test_ledger_refuses_non_json_without_losing_state(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    with pytest.raises(CheckpointerError, match="tool arguments"):
        await checkpointer.aledger_start(config, "c1", "t", {"x": object()})
    assert await checkpointer.aledger_get(config, "c1") is None
    assert await checkpointer.aledger_start(config, "c1", "t", {}) is True
    with pytest.raises(CheckpointerError, match="tool result"):
        await checkpointer.aledger_finish(config, "c1", result=object())
    entry = await checkpointer.aledger_get(config, "c1")
    assert entry is not None and entry.status == "started"


async def test_concurrent_ledger_start_has_exactly_one_winner(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    results = await asyncio.gather(
        *(checkpointer.aledger_start(config, "race", "t", {"who": i}) for i in range(20))
    )
    assert sorted(results) == [False] * 19 + [True]
    entry = await checkpointer.aledger_get(config, "race")
    assert entry is not None and entry.args == {"who": results.index(True)}


async def test_concurrent_ledger_start_across_checkpointer_objects(
    make_checkpointer: Callable[[str], Checkpointer], config: dict[str, Any], durable_backend: str
) -> None:
    """Separate objects (separate connections/files handles) still agree on one winner."""
    cps = [make_checkpointer(durable_backend) for _ in range(4)]
    results = await asyncio.gather(
        *(cps[i % 4].aledger_start(config, "race", "t", {}) for i in range(20))
    )
    assert results.count(True) == 1


# -- concurrency ------------------------------------------------------------------------


async def test_100_concurrent_writers_on_20_threads_lose_nothing_and_keep_order(
    checkpointer: Checkpointer,
) -> None:
    run = uuid.uuid4().hex
    threads = [{"thread_id": f"{run}-t{t}"} for t in range(20)]
    per_writer = 5

    async def writer(w: int) -> None:
        cfg = threads[w % 20]
        for i in range(per_writer):
            await checkpointer.aput_messages(cfg, [Message.text("user", f"w{w}:{i}")])

    await asyncio.gather(*(writer(w) for w in range(100)))

    total = 0
    for t, cfg in enumerate(threads):
        stored = texts(await checkpointer.alist_messages(cfg))
        total += len(stored)
        writers = [w for w in range(100) if w % 20 == t]
        assert sorted(stored) == sorted(f"w{w}:{i}" for w in writers for i in range(per_writer))
        for w in writers:  # each writer's messages appear in the order it wrote them
            mine = [s for s in stored if s.startswith(f"w{w}:")]
            assert mine == [f"w{w}:{i}" for i in range(per_writer)]
    assert total == 100 * per_writer


async def test_concurrent_batches_stay_contiguous(
    checkpointer: Checkpointer, config: dict[str, Any]
) -> None:
    size = 25
    batches = [[Message.text("user", f"b{b}:{i}") for i in range(size)] for b in range(10)]
    await asyncio.gather(*(checkpointer.aput_messages(config, batch) for batch in batches))
    stored = texts(await checkpointer.alist_messages(config))
    assert len(stored) == 10 * size
    for start in range(0, 10 * size, size):
        prefix = stored[start].split(":")[0]
        assert stored[start : start + size] == [f"{prefix}:{i}" for i in range(size)]


# -- durability -------------------------------------------------------------------------


async def test_data_survives_close_and_a_new_object(
    make_checkpointer: Callable[[str], Checkpointer], config: dict[str, Any], durable_backend: str
) -> None:
    first = make_checkpointer(durable_backend)
    await first.aput_messages(config, numbered(2))
    await first.aupdate_thread_metadata(config, resumption_handle="h")
    await first.aledger_start(config, "c", "t", {})
    await first.aclose()

    second = make_checkpointer(durable_backend)
    assert texts(await second.alist_messages(config)) == ["m0", "m1"]
    info = await second.aget_thread(config)
    assert info is not None and info.metadata == {"resumption_handle": "h"}
    assert await second.aledger_start(config, "c", "t", {}) is False

    # a closed checkpointer reopens on its next call
    await first.aput_messages(config, [Message.text("user", "again")])
    assert texts(await second.alist_messages(config))[-1] == "again"


async def test_close_is_idempotent(checkpointer: Checkpointer, config: dict[str, Any]) -> None:
    await checkpointer.aclose()
    await checkpointer.aclose()
    await checkpointer.aput_messages(config, numbered(1))
    assert len(await checkpointer.alist_messages(config)) == 1
