"""Two processes sharing one SQLite file or one PostgreSQL schema see each other's writes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from realtalk.checkpoint import checkpointer_from_url
from realtalk.messages import Message

PEER = Path(__file__).with_name("_peer.py")
COUNT = 30


@pytest.fixture
def store_url(durable_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if durable_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"  # absolute path: four slashes
    return str(request.getfixturevalue("pg_url"))


async def run_peer(url: str, thread_id: str, name: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEER),
        url,
        thread_id,
        name,
        str(COUNT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, f"peer {name} failed:\n{err.decode()}"
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return report


async def test_two_processes_share_one_store(store_url: str, config: dict[str, Any]) -> None:
    parent = checkpointer_from_url(store_url)
    try:
        await parent.aput_messages(config, [Message.text("user", "from-parent")])
        await parent.aupdate_thread_metadata(config, resumption_handle="handle-1")

        # Two processes write to one thread at the same time and race for the same call ids.
        reports = await asyncio.gather(
            *(run_peer(store_url, config["thread_id"], name) for name in ("p1", "p2"))
        )

        # Each process saw what this process wrote before it started ...
        for report in reports:
            assert report["seen"][0] == "from-parent"
        # ... and this process sees everything both wrote, nothing lost, each in its order.
        stored = [m.text_content for m in await parent.alist_messages(config)]
        assert stored[0] == "from-parent"
        assert len(stored) == 1 + 2 * COUNT
        for name in ("p1", "p2"):
            assert [s for s in stored if s.startswith(f"{name}:")] == [
                f"{name}:{i}" for i in range(COUNT)
            ]

        # Every call id was won by exactly one process, and its result is the winner's.
        won = [set(r["won"]) for r in reports]
        assert won[0].isdisjoint(won[1])
        assert won[0] | won[1] == {f"call-{i}" for i in range(COUNT)}
        for name, ids in zip(("p1", "p2"), won, strict=True):
            for call_id in ids:
                entry = await parent.aledger_get(config, call_id)
                assert entry is not None and entry.result == name and entry.args == {"by": name}

        # Metadata merged across processes: the resumption handle survived both.
        info = await parent.aget_thread(config)
        assert info is not None
        assert info.metadata["resumption_handle"] == "handle-1"
        assert {"seen_by_p1", "seen_by_p2"} <= set(info.metadata)
    finally:
        await parent.aclose()
