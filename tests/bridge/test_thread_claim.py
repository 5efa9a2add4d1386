"""Thread ownership claims are atomic: two users racing for one new thread get one owner."""

import asyncio

import pytest

from realtalk.bridge.session import ThreadForbidden, claim_thread
from realtalk.checkpoint import InMemoryCheckpointer, SqliteCheckpointer


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_racing_claims_for_a_new_thread_leave_exactly_one_owner(kind: str, tmp_path) -> None:
    checkpointer = (
        InMemoryCheckpointer() if kind == "memory" else SqliteCheckpointer(tmp_path / "t.db")
    )
    users = [f"user-{n}" for n in range(10)]
    outcomes = await asyncio.gather(
        *(claim_thread(checkpointer, "shared-thread", user) for user in users),
        return_exceptions=True,
    )
    winners = [u for u, o in zip(users, outcomes, strict=True) if o is None]
    refused = [o for o in outcomes if isinstance(o, ThreadForbidden)]
    assert len(winners) == 1 and len(refused) == len(users) - 1
    thread = await checkpointer.aget_thread({"thread_id": "shared-thread"})
    assert thread is not None and thread.user_id == winners[0]
    # The owner may come back; anyone else is still refused.
    await claim_thread(checkpointer, "shared-thread", winners[0])
    with pytest.raises(ThreadForbidden):
        await claim_thread(checkpointer, "shared-thread", "intruder")
    await checkpointer.aclose()


class _PlainCheckpointer:
    """An Agentflow-style checkpointer without ``aensure_thread``: the fallback path."""

    def __init__(self) -> None:
        self.threads: dict[str, object] = {}

    async def aget_thread(self, config):  # type: ignore[no-untyped-def]
        return self.threads.get(config["thread_id"])

    async def aput_thread(self, config, thread):  # type: ignore[no-untyped-def]
        self.threads[config["thread_id"]] = thread


async def test_checkpointers_without_ensure_still_record_and_enforce_owners() -> None:
    checkpointer = _PlainCheckpointer()
    await claim_thread(checkpointer, "t", "alice")
    await claim_thread(checkpointer, "t", "alice")
    with pytest.raises(ThreadForbidden):
        await claim_thread(checkpointer, "t", "bob")
