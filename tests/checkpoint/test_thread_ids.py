"""One thread-id rule (length and charset) for the runtime and every checkpointer.

The runtime checks the id before anything is stored, so an id that works on one backend
works on all of them, and one refused is refused by all of them, with a short error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from realtalk import AudioAgent, LiveInputQueue
from realtalk.checkpoint import Checkpointer
from realtalk.messages import Message
from realtalk.thread_ids import THREAD_ID_MAX_LENGTH, check_thread_id, is_valid_thread_id
from realtalk_testing import FakeProvider, emit, expect

BACKENDS = ["memory", "sqlite", "postgres"]
BASE = "alice-private-1"
BAD_CHARACTERS = [
    *map(chr, range(0x00, 0x20)),  # C0 controls: NUL, TAB, LF, CR, ESC, ...
    "\x7f",
    *map(chr, range(0x80, 0xA0)),  # C1 controls, NEL (U+0085) among them
    "\u00a0",  # no-break space
    "\u200b",  # zero-width space
    "\u2028",  # line separator
    "\u2029",  # paragraph separator
    "\ufeff",  # byte-order mark
    " ",
    "/",
    "é",
]
WITH_A_BAD_CHARACTER = [
    BASE[:i] + bad + BASE[i:] for bad in BAD_CHARACTERS for i in range(len(BASE) + 1)
]
VALID = ["a", "7", "t-1", "user@example.com:call.42_x", "A" * THREAD_ID_MAX_LENGTH]
INVALID = ["", "-leading-dash", ".hidden", "a" * (THREAD_ID_MAX_LENGTH + 1), "x" * 3000]


def test_the_rule_is_a_full_match_at_every_position() -> None:
    assert all(is_valid_thread_id(value) for value in VALID)
    accepted = [v for v in [*WITH_A_BAD_CHARACTER, *INVALID] if is_valid_thread_id(v)]
    assert accepted == []
    assert not is_valid_thread_id(b"bytes-id") and not is_valid_thread_id(42)


def test_errors_never_echo_a_long_id_whole() -> None:
    huge = "x" * 3000
    with pytest.raises(ValueError) as info:
        check_thread_id(huge)
    message = str(info.value)
    assert len(message) < 200 and "3000 characters" in message and huge not in message
    with pytest.raises(ValueError, match=r"ASCII letters, digits and \. _ : @ -"):
        check_thread_id("alice-private-1\n")


def _app(checkpointer: Checkpointer, provider: Any) -> Any:
    return AudioAgent("fake-live", provider=provider).compile(checkpointer=checkpointer)


async def _refused(app: Any, thread_id: object) -> str:
    with pytest.raises(ValueError) as info:
        async for _event in app.arealtime(LiveInputQueue(), {"thread_id": thread_id}):
            raise AssertionError("a session started with an invalid thread id")
    return str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_every_backend_stores_the_longest_id_and_refuses_one_more(
    backend: str, make_checkpointer: Callable[[str], Checkpointer]
) -> None:
    checkpointer = make_checkpointer(backend)
    longest = "L" * (THREAD_ID_MAX_LENGTH - 8) + "-" + "9" * 7
    assert len(longest) == THREAD_ID_MAX_LENGTH
    fake = FakeProvider(
        [
            expect.text("hi"),
            emit.tool_call("call-" + "c" * 60, "echo", {"text": "x"}),
            expect.tool_result("call-" + "c" * 60, result="x"),
            *emit.speech("hello").steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )

    def echo(text: str) -> str:
        """Echoes."""
        return text

    app = AudioAgent("fake-live", provider=fake, tools=[echo]).compile(checkpointer=checkpointer)
    queue = LiveInputQueue()
    queue.send_text("hi")
    events = []
    async for event in app.arealtime(queue, {"thread_id": longest}):
        events.append(event)
        if event.type == "turn_complete":
            queue.close()
    assert [e for e in events if e.type == "error"] == []
    stored = await checkpointer.alist_messages({"thread_id": longest})
    assert [m.role for m in stored][:1] == ["user"] and len(stored) >= 3
    fake.assert_done()

    for too_long in ("a" * (THREAD_ID_MAX_LENGTH + 1), "y" * 3000):
        message = await _refused(_app(checkpointer, FakeProvider([])), too_long)
        assert f"{len(too_long)} characters" in message and len(message) < 200
        with pytest.raises(ValueError, match="characters long"):
            await checkpointer.aput_messages({"thread_id": too_long}, [Message.text("user", "x")])


@pytest.mark.parametrize("backend", BACKENDS)
async def test_every_backend_refuses_control_characters_anywhere_before_storing(
    backend: str, make_checkpointer: Callable[[str], Checkpointer]
) -> None:
    checkpointer = make_checkpointer(backend)
    app = _app(checkpointer, FakeProvider([]))  # never connects: refused before that
    message = [Message.text("user", "x")]
    refused: list[object] = [*WITH_A_BAD_CHARACTER, *INVALID, 7]
    for thread_id in refused:
        text = await _refused(app, thread_id)
        assert "config['thread_id']" in text and len(text) < 300
        with pytest.raises(ValueError, match="thread_id"):
            await checkpointer.aput_messages({"thread_id": thread_id}, message)
        with pytest.raises(ValueError, match="thread_id"):
            await checkpointer.aupdate_thread_metadata({"thread_id": thread_id}, k=1)
        with pytest.raises(ValueError, match="thread_id"):
            await checkpointer.aledger_start({"thread_id": thread_id}, "c", "t", {})  # type: ignore[attr-defined]
    # nothing of the refused ids reached the store: the base id is still empty
    assert await checkpointer.alist_messages({"thread_id": BASE}) == []
