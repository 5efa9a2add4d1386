"""Section 3.6: transcripts, typed text, tool calls and results persisted once, in order."""

from __future__ import annotations

from typing import Any

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import RealtimeEvent
from realtalk.messages import Message, TextBlock, ToolCallBlock, ToolResultBlock
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type, pcm

CONFIG = {"thread_id": "t"}


def summary(messages: list[Message]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for m in messages:
        block = m.content[0]
        if isinstance(block, TextBlock):
            out.append((m.role, m.metadata.get("modality"), block.text))
        elif isinstance(block, ToolCallBlock):
            out.append((m.role, "call", block.name, block.args))
        elif isinstance(block, ToolResultBlock):
            out.append((m.role, "result", block.name, block.result, block.error))
    return out


def get_weather(city: str) -> str:
    """Weather."""
    return f"sunny in {city}"


async def test_a_conversation_is_persisted_once_in_order() -> None:
    checkpointer = InMemoryCheckpointer()
    fake = FakeProvider(
        [
            expect.text("weather in Oslo?"),
            emit.tool_call("c1", "get_weather", {"city": "Oslo"}),
            expect.tool_result("c1"),
            *emit.speech("It is sunny in Oslo").steps,
            emit.turn_complete(),
            expect.audio(min_seconds=0.2),
            emit.input_transcript("thanks", finished=False),
            emit.input_transcript(" a lot", finished=False),
            emit.audio(seconds=0.1),
            emit.output_transcript("You're", finished=False),
            emit.output_transcript(" welcome", finished=False),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("weather in Oslo?")
    turns = 0

    def on_event(event: RealtimeEvent) -> None:
        nonlocal turns
        if event.type == "turn_complete":
            turns += 1
            if turns == 1:
                queue.send_audio(pcm(0.2))
            else:
                queue.close()

    events = await collect(
        app_for(fake, tools=[get_weather], checkpointer=checkpointer),
        queue,
        CONFIG,
        on_event=on_event,
    )
    messages = await checkpointer.alist_messages(CONFIG)
    assert summary(messages) == [
        ("user", "text", "weather in Oslo?"),
        ("assistant", "call", "get_weather", {"city": "Oslo"}),
        ("tool", "result", "get_weather", "sunny in Oslo", None),
        ("assistant", "audio", "It is sunny in Oslo"),
        ("user", "audio", "thanks a lot"),
        ("assistant", "audio", "You're welcome"),
    ]
    assert len({m.id for m in messages}) == len(messages)
    # fragments accumulated into finished events carrying the whole utterance
    finished_in = [e.text for e in of_type(events, "input_transcript") if e.finished]
    finished_out = [e.text for e in of_type(events, "output_transcript") if e.finished]
    assert finished_in == ["thanks a lot"]
    assert finished_out == ["It is sunny in Oslo", "You're welcome"]
    # raw audio is never stored: every block is text or a tool call/result
    assert all(
        isinstance(b, TextBlock | ToolCallBlock | ToolResultBlock)
        for m in messages
        for b in m.content
    )
    assert all(len(m.model_dump_json()) < 500 for m in messages)
    fake.assert_done()


async def test_nothing_is_persisted_twice_across_a_reconnect() -> None:
    checkpointer = InMemoryCheckpointer()
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.input_transcript("order pizza"),
                emit.tool_call("c1", "get_weather", {"city": "Rome"}),
                expect.tool_result("c1"),
                end.drop(),
            ],
            [
                expect.connect(handle="h1"),
                emit.tool_call("c1", "get_weather", {"city": "Rome"}),
                expect.tool_result("c1", result="sunny in Rome"),  # answered again, not run
                emit.output_transcript("Ordered", finished=True),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    app = app_for(
        fake,
        tools=[get_weather],
        config=RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(jitter=0)),
        checkpointer=checkpointer,
        clock=ManualClock(auto_advance=True),
    )
    await collect(app, LiveInputQueue(), CONFIG, close_on="turn_complete")
    messages = await checkpointer.alist_messages(CONFIG)
    assert summary(messages) == [
        ("user", "audio", "order pizza"),
        ("assistant", "call", "get_weather", {"city": "Rome"}),
        ("tool", "result", "get_weather", "sunny in Rome", None),
        ("assistant", "audio", "Ordered"),
    ]
    fake.assert_done()


async def test_an_interrupted_reply_is_persisted_as_far_as_it_went() -> None:
    checkpointer = InMemoryCheckpointer()
    fake = FakeProvider(
        [
            emit.input_transcript("tell me everything"),
            emit.output_transcript("Well, first", finished=False),
            emit.interrupted(),
            emit.input_transcript("stop"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    await collect(
        app_for(fake, checkpointer=checkpointer), LiveInputQueue(), CONFIG, close_on="turn_complete"
    )
    messages = await checkpointer.alist_messages(CONFIG)
    assert summary(messages) == [
        ("user", "audio", "tell me everything"),
        ("assistant", "audio", "Well, first"),
        ("user", "audio", "stop"),
    ]
    assert messages[1].metadata.get("interrupted") is True
    fake.assert_done()


async def test_without_a_checkpointer_the_session_still_runs() -> None:
    fake = FakeProvider([emit.input_transcript("hi"), emit.turn_complete(), expect.close()])
    events = await collect(app_for(fake), LiveInputQueue(), CONFIG, close_on="turn_complete")
    assert of_type(events, "session_ended")[0].reason == "closed"


class BrokenCheckpointer(InMemoryCheckpointer):
    async def aput_messages(self, config: dict[str, Any], messages: Any) -> None:
        raise OSError("disk full")


async def test_a_failing_checkpointer_write_is_reported_not_fatal() -> None:
    fake = FakeProvider(
        [
            emit.input_transcript("hi"),
            *emit.speech("hello").steps,
            emit.turn_complete(),
            expect.close(),
        ]
    )
    events = await collect(
        app_for(fake, checkpointer=BrokenCheckpointer()),
        LiveInputQueue(),
        CONFIG,
        close_on="turn_complete",
    )
    errors = of_type(events, "error")
    assert errors and all(e.code == "checkpointer_error" and not e.fatal for e in errors)
    assert "disk full" in errors[0].message
    assert of_type(events, "session_ended")[0].reason == "closed"
    fake.assert_done()


class AgentflowStyleCheckpointer:
    """Only the four method names Agentflow checkpointers have."""

    def __init__(self) -> None:
        from realtalk.messages import ThreadInfo

        self.messages: list[Message] = []
        self.threads: dict[str, ThreadInfo] = {}

    async def aput_messages(self, config: dict[str, Any], messages: Any) -> None:
        known = {m.id for m in self.messages}
        self.messages.extend(m for m in messages if m.id not in known)

    async def alist_messages(
        self, config: dict[str, Any], *, offset: int = 0, limit: int | None = None
    ) -> list[Message]:
        return self.messages[offset:][:limit]

    async def aget_thread(self, config: dict[str, Any]) -> Any:
        return self.threads.get(config["thread_id"])

    async def aput_thread(self, config: dict[str, Any], thread: Any) -> None:
        self.threads[config["thread_id"]] = thread


async def test_an_agentflow_style_checkpointer_works() -> None:
    checkpointer = AgentflowStyleCheckpointer()
    fake = FakeProvider(
        [
            emit.session_update("h1"),
            emit.tool_call("c1", "get_weather", {"city": "Oslo"}),
            expect.tool_result("c1"),
            emit.tool_call("c1", "get_weather", {"city": "Oslo"}),  # repeated: not run again
            emit.output_transcript("Sunny", finished=True),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(fake, tools=[get_weather], checkpointer=checkpointer)
    await collect(
        app, LiveInputQueue(), {"thread_id": "t", "user_id": "u1"}, close_on="turn_complete"
    )
    assert checkpointer.threads["t"].metadata == {"resumption_handle": "h1"}
    assert checkpointer.threads["t"].user_id == "u1"
    assert [m.role for m in checkpointer.messages] == ["assistant", "tool", "assistant"]
    fake.assert_done()
    import pytest

    with pytest.raises(TypeError, match="aput_thread"):
        app_for(fake, checkpointer=object())
