"""What a tool returns is what the model gets: non-JSON values, binary data above all."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from realtalk import LiveInputQueue
from realtalk.checkpoint import Checkpointer, InMemoryCheckpointer, SqliteCheckpointer
from realtalk.messages import ToolResultBlock
from realtalk_testing import FakeProvider, emit, expect

from ._support import app_for, collect, of_type

RAW = b"\x00\xff\xfe\x80 binary \xc3"
ENCODED = base64.b64encode(RAW).decode("ascii")  # standard alphabet, padded


class Blob(BaseModel):
    name: str
    data: bytes


@dataclasses.dataclass
class Signed:
    digest: bytes
    blob: Blob


BINARY_RESULTS: list[tuple[str, Any, Any]] = [
    ("bytes", {"digest": RAW}, {"digest": ENCODED}),
    ("bytes-alone", RAW, ENCODED),
    ("bytearray", [bytearray(RAW)], [ENCODED]),
    ("memoryview", {"view": memoryview(RAW)}, {"view": ENCODED}),
    ("nested", {"a": [{"b": (RAW, 1)}]}, {"a": [{"b": [ENCODED, 1]}]}),
    ("pydantic", Blob(name="x", data=RAW), {"name": "x", "data": ENCODED}),
    (
        "dataclass",
        Signed(RAW, Blob(name="y", data=RAW)),
        {"digest": ENCODED, "blob": {"name": "y", "data": ENCODED}},
    ),
    ("key", {RAW: "value"}, {ENCODED: "value"}),
    ("utf8-bytes-too", {"text": b"plain"}, {"text": base64.b64encode(b"plain").decode()}),
    ("non-finite", [float("nan"), float("inf"), -float("inf")], ["nan", "inf", "-inf"]),
]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@pytest.mark.parametrize(
    ("returned", "expected"),
    [(r, e) for _, r, e in BINARY_RESULTS],
    ids=[i for i, _, _ in BINARY_RESULTS],
)
async def test_binary_data_in_a_result_is_sent_and_stored_as_base64(
    backend: str, returned: Any, expected: Any, tmp_path: Path
) -> None:
    def sign() -> Any:
        """Returns binary data."""
        return returned

    fake = FakeProvider(
        [
            emit.tool_call("c1", "sign"),
            expect.tool_result("c1", result=expected, error=None),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    checkpointer: Checkpointer = (
        InMemoryCheckpointer() if backend == "memory" else SqliteCheckpointer(tmp_path / "t.db")
    )
    config = {"thread_id": "binary"}
    try:
        events = await collect(
            app_for(fake, tools=[sign], checkpointer=checkpointer),
            LiveInputQueue(),
            config,
            close_on="turn_complete",
        )
        [result] = of_type(events, "tool_result")
        assert (result.result, result.error) == (expected, None)
        stored = [
            block
            for message in await checkpointer.alist_messages(config)
            for block in message.content
            if isinstance(block, ToolResultBlock)
        ]
        assert [(b.result, b.error) for b in stored] == [(expected, None)]
        entry = await checkpointer.aledger_get(config, "c1")  # type: ignore[attr-defined]
        assert entry is not None and entry.result == expected and entry.error is None
    finally:
        await checkpointer.aclose()
    fake.assert_done()


async def test_a_result_that_contains_itself_is_an_error_result_not_a_crash() -> None:
    def loop() -> Any:
        """Returns a list holding itself."""
        items: list[Any] = []
        items.append(items)
        return items

    fake = FakeProvider(
        [
            emit.tool_call("c1", "loop"),
            expect.tool_result("c1", error="circular reference"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    events = await collect(
        app_for(fake, tools=[loop]), LiveInputQueue(), {"thread_id": "t"}, close_on="turn_complete"
    )
    assert of_type(events, "session_ended")[0].reason == "closed"
    fake.assert_done()
