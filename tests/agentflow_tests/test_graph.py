"""realtalk_agentflow inside real Agentflow graphs, with realtalk's FakeProvider.

The compiled object is Agentflow's own ``CompiledGraph``; events are Agentflow's classes;
tools run through Agentflow's ``ToolNode`` with its injected parameters; every ``arun`` is
its own session.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tenxgraph.core.graph import StateGraph, ToolNode
from tenxgraph.core.graph.compiled_graph import CompiledGraph
from tenxgraph.core.realtime import LiveInputQueue as AgentflowQueue
from tenxgraph.core.realtime import RealtimeConfig as AgentflowConfig
from tenxgraph.core.realtime import base as af_events
from tenxgraph.core.realtime.live_agent import LiveAgent as AgentflowLiveAgent
from tenxgraph.core.state import AgentState, Message
from tenxgraph.prebuilt.agent import AudioAgent as AgentflowAudioAgent
from tenxgraph.storage.checkpointer import InMemoryCheckpointer
from tenxgraph.utils import CallbackManager
from tenxgraph.utils.callbacks import GraphLifecycleHook
from tenxgraph.utils.constants import END

from realtalk import LiveInputQueue
from realtalk_agentflow import AudioAgent, LiveAgent
from realtalk_testing import FakeProvider, emit, expect

from ._support import MODEL, run, thread_config, types

AGENTFLOW_TYPES = {
    "audio_delta": af_events.AudioDeltaEvent,
    "input_transcript": af_events.InputTranscriptEvent,
    "output_transcript": af_events.OutputTranscriptEvent,
    "tool_call": af_events.ToolCallEvent,
    "tool_result": af_events.ToolResultEvent,
    "turn_complete": af_events.TurnCompleteEvent,
    "interrupted": af_events.InterruptedEvent,
    "session_update": af_events.SessionUpdateEvent,
    "go_away": af_events.GoAwayEvent,
    "error": af_events.ErrorEvent,
}

SEEN: list[tuple[str, str, str]] = []


def book_table(city: str, tool_call_id: str, state: AgentState, config: dict[str, Any]) -> str:
    """Book a table in a city."""
    SEEN.append((city, tool_call_id, config["thread_id"]))
    assert isinstance(state, AgentState)
    return f"booked in {city}"


def tool_turn(call_id: str = "c1") -> list[Any]:
    return [
        expect.text("book Paris"),
        emit.input_transcript("book Paris"),
        emit.tool_call(call_id, "book_table", {"city": "Paris"}),
        expect.tool_result(call_id, result="booked in Paris", error=None),
        emit.session_update("h-1"),
        emit.audio(seconds=0.1, chunks=2),
        emit.output_transcript("Booked.", finished=False),
        emit.output_transcript("Booked.", finished=True),
        emit.turn_complete(),
    ]


async def test_compile_returns_agentflow_compiled_graph_that_refuses_turn_based_calls() -> None:
    agent = AudioAgent(MODEL, provider=FakeProvider([]))
    graph = agent.compile()
    assert isinstance(graph, CompiledGraph)
    assert isinstance(agent, AgentflowAudioAgent)
    assert isinstance(agent.live_agent, AgentflowLiveAgent)
    assert graph.is_realtime()
    with pytest.raises(RuntimeError, match="arealtime"):
        await graph.ainvoke({"messages": []})
    with pytest.raises(RuntimeError, match="arealtime"):
        await graph.astream({"messages": []}).__anext__()


async def test_a_tool_turn_yields_agentflow_events_and_persists_agentflow_messages() -> None:
    SEEN.clear()
    fake = FakeProvider([*tool_turn(), expect.close()])
    checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()
    graph = AudioAgent(MODEL, tools=[book_table], provider=fake).compile(checkpointer=checkpointer)
    queue = AgentflowQueue()
    queue.send_text("book Paris")
    events = await run(graph, queue, {"thread_id": "t-tool"})
    fake.assert_done()
    for event in events:
        assert type(event) is AGENTFLOW_TYPES[event.type]
    assert types(events) == [
        "input_transcript",
        "tool_call",
        "tool_result",
        "session_update",
        "audio_delta",
        "audio_delta",
        "output_transcript",
        "output_transcript",
        "turn_complete",
    ]
    assert events[2].result == {"result": "booked in Paris"}
    assert SEEN == [("Paris", "c1", "t-tool")]  # injected tool_call_id, state, config
    messages = await checkpointer.alist_messages(thread_config("t-tool"))
    assert [(m.role, m.text(), m.metadata.get("modality")) for m in messages] == [
        ("user", "book Paris", "text"),
        ("user", "book Paris", "audio"),
        ("assistant", "", None),
        ("tool", "booked in Paris", None),
        ("assistant", "Booked.", "audio"),
    ]
    assert messages[2].tools_calls and messages[2].tools_calls[0]["id"] == "c1"
    thread = await checkpointer.aget_thread(thread_config("t-tool"))
    assert thread is not None and thread.metadata["resumption_handle"] == "h-1"
    assert await checkpointer.aget_tool_result(thread_config("t-tool"), "realtalk:c1:finished")


async def test_realtalk_queue_works_too_and_richer_events_pass_on_request() -> None:
    fake = FakeProvider([expect.text("hi"), emit.speech("Hello."), emit.turn_complete()])
    graph = AudioAgent(MODEL, provider=fake, extra_events="pass").compile()
    queue = LiveInputQueue()
    queue.send_text("hi")
    events = await run(graph, queue, {"thread_id": "t-rt"})
    assert types(events)[0] == "session_started" and types(events)[-1] == "session_ended"
    again = FakeProvider([expect.text("hi"), emit.speech("Hi"), emit.turn_complete()])
    dropped = await run(
        AudioAgent(MODEL, provider=again).compile(), _queue_with("hi"), {"thread_id": "t-rt2"}
    )
    assert "session_started" not in types(dropped) and "session_ended" not in types(dropped)


def _queue_with(text: str) -> AgentflowQueue:
    queue = AgentflowQueue()
    queue.send_text(text)
    return queue


async def test_two_concurrent_sessions_of_one_graph_stay_apart() -> None:
    def script(word: str) -> list[Any]:
        return [
            expect.text(word),
            emit.input_transcript(word),
            emit.output_transcript(f"{word}-", finished=False),
            expect.text("go"),
            emit.output_transcript(f"{word}!", finished=True),
            emit.session_update(f"handle-{word}"),
            emit.turn_complete(),
        ]

    class PerThread:
        """One fake per session (each ``connect`` call picks the session's own)."""

        name = "fake"
        capabilities = FakeProvider([]).capabilities

        def __init__(self) -> None:
            self.fakes = {"a": FakeProvider(script("alpha")), "b": FakeProvider(script("beta"))}

        async def connect(self, setup: Any) -> Any:
            return await self.fakes[setup.thread_id].connect(setup)

    provider = PerThread()
    checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()
    graph = AudioAgent(MODEL, provider=provider).compile(checkpointer=checkpointer)
    qa, qb = _queue_with("alpha"), _queue_with("beta")
    partials = 0

    def on_event(event: Any) -> None:
        nonlocal partials
        if event.type == "output_transcript" and not event.finished:
            partials += 1
            if partials == 2:  # both sessions are mid-turn at once
                qa.send_text("go")
                qb.send_text("go")

    a, b = await asyncio.gather(
        run(graph, qa, {"thread_id": "a"}, on_event=on_event),
        run(graph, qb, {"thread_id": "b"}, on_event=on_event),
    )
    assert [e.text for e in a if e.type == "output_transcript"] == ["alpha-", "alpha!"]
    assert [e.text for e in b if e.type == "output_transcript"] == ["beta-", "beta!"]
    for thread, word in (("a", "alpha"), ("b", "beta")):
        info = await checkpointer.aget_thread(thread_config(thread))
        assert info is not None and info.metadata["resumption_handle"] == f"handle-{word}"
        texts = [m.text() for m in await checkpointer.alist_messages(thread_config(thread))]
        assert texts == [word, word, "go", f"{word}!"]
    for fake in provider.fakes.values():
        fake.assert_done()


async def test_a_call_id_seen_in_an_earlier_session_of_the_thread_never_runs_again() -> None:
    SEEN.clear()
    checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()
    first = FakeProvider([*tool_turn("c7"), expect.close()])
    graph = AudioAgent(MODEL, tools=[book_table], provider=first).compile(checkpointer=checkpointer)
    await run(graph, _queue_with("book Paris"), {"thread_id": "t-once"})
    second = FakeProvider(
        [
            expect.connect(handle="h-1"),
            expect.text("again"),
            emit.tool_call("c7", "book_table", {"city": "Paris"}),  # the same call id again
            expect.tool_result("c7", result="booked in Paris"),  # answered from the ledger
            emit.output_transcript("Already booked.", finished=True),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    graph2 = AudioAgent(MODEL, tools=[book_table], provider=second).compile(
        checkpointer=checkpointer
    )
    events = await run(graph2, _queue_with("again"), {"thread_id": "t-once"})
    second.assert_done()
    assert SEEN == [("Paris", "c7", "t-once")]
    assert "tool_result" not in types(events)


async def test_user_state_graph_with_our_live_node_tool_node_and_lifecycle_callbacks() -> None:
    fired: list[str] = []

    class Hooks(GraphLifecycleHook):
        async def on_graph_start(self, context: Any, state: Any) -> Any:
            fired.append("graph_start")
            return state

        async def on_turn_start(self, context: Any, state: Any, turn: int) -> Any:
            fired.append(f"turn_start {turn}")
            return state

        async def on_turn_end(self, context: Any, state: Any, turn: int) -> Any:
            fired.append(f"turn_end {turn}")
            return state

        async def on_graph_end(self, context: Any, state: Any, messages: Any, turns: int) -> None:
            fired.append(f"graph_end {turns} {len(messages)}")

    callbacks = CallbackManager()
    callbacks.register_lifecycle_hook(Hooks())
    tools = ToolNode([book_table])
    fake = FakeProvider([*tool_turn("c9"), expect.close()])
    live = LiveAgent(MODEL, tool_node=tools, provider=fake)
    graph: StateGraph[AgentState] = StateGraph()
    graph.add_node("VOICE", live)
    graph.set_entry_point("VOICE")
    graph.add_edge("VOICE", END)
    compiled = graph.compile(checkpointer=InMemoryCheckpointer(), callback_manager=callbacks)
    await run(compiled, _queue_with("book Paris"), {"thread_id": "t-graph"})
    fake.assert_done()
    assert fired == ["graph_start", "turn_start 1", "turn_end 1", "graph_end 1 5"]


def test_any_realtalk_provider_and_model_not_gemini_only() -> None:
    live = LiveAgent("gpt-realtime", provider="openai")
    assert live.realtalk_config.provider == "openai"
    with pytest.raises(ValueError, match="Gemini"):
        AgentflowLiveAgent("gpt-realtime")


async def test_session_overrides_narrow_and_never_move_the_provider() -> None:
    def tagged(city: str) -> str:
        """A tagged tool."""
        return city

    seen: list[Any] = []
    fake = FakeProvider(
        [
            expect.connect(check=lambda setup: seen.append(setup) or True),
            expect.text("hi"),
            emit.turn_complete(),
        ]
    )
    config = AgentflowConfig(model=MODEL, voice="Puck")
    graph = AudioAgent(MODEL, realtime_config=config, provider=fake).compile()
    realtime = {"voice": "Kore", "provider_options": {"api_key": "stolen"}, "tools": ["x"]}
    await run(graph, _queue_with("hi"), {"thread_id": "t-o", "realtime": realtime})
    setup = seen[0]
    assert setup.config.voice == "Kore"
    assert setup.config.provider_options == {}
    named = LiveAgent(MODEL, provider="gemini")
    from realtalk_agentflow.config import narrow_overrides

    cfg, _, refused = narrow_overrides(
        named.realtalk_config, None, {"model": "gpt-realtime"}, fixed_provider=False
    )
    assert cfg.model == MODEL and refused == ["model"]
    cfg, tags, _ = narrow_overrides(
        named.realtalk_config, ["a", "b"], {"tools_tags": ["b", "z"]}, fixed_provider=False
    )
    assert tags == ["b"]


async def test_text_turns_of_an_agentflow_text_graph_reseed_a_voice_session() -> None:
    checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()

    def answer(state: AgentState, config: dict[str, Any]) -> list[Message]:
        return [Message.text_message("Your order 42 ships Monday.", role="assistant")]

    text_graph: StateGraph[AgentState] = StateGraph()
    text_graph.add_node("ANSWER", answer)
    text_graph.set_entry_point("ANSWER")
    text_graph.add_edge("ANSWER", END)
    text_app = text_graph.compile(checkpointer=checkpointer)
    await text_app.ainvoke(
        {"messages": [Message.text_message("Where is my order?")]},
        config={"thread_id": "shared", "user_id": "anonymous"},
    )
    histories: list[Any] = []
    fake = FakeProvider(
        [
            expect.connect(handle=None, check=lambda s: histories.append(s.history) or True),
            expect.text("and the voice?"),
            emit.speech("Monday."),
            emit.turn_complete(),
        ]
    )
    graph = AudioAgent(MODEL, provider=fake).compile(checkpointer=checkpointer)
    await run(graph, _queue_with("and the voice?"), {"thread_id": "shared"})
    seeded = [(m.role, m.text_content) for m in histories[0]]
    assert ("user", "Where is my order?") in seeded
    assert ("assistant", "Your order 42 ships Monday.") in seeded
    texts = [m.text() for m in await checkpointer.alist_messages(thread_config("shared"))]
    assert texts[-2:] == ["and the voice?", "Monday."]


def test_the_agentflow_import_alias_names_the_same_classes() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from agentflow.prebuilt.agent import AudioAgent as AliasAudioAgent
    assert AliasAudioAgent is AgentflowAudioAgent
    assert issubclass(AudioAgent, AliasAudioAgent)


def test_sync_realtime_runs_a_session_outside_an_event_loop() -> None:
    fake = FakeProvider([expect.text("hi"), emit.speech("Hello."), emit.turn_complete()])
    graph = AudioAgent(MODEL, provider=fake).compile()
    queue = _queue_with("hi")
    seen = []
    for event in graph.realtime(queue, {"thread_id": "sync"}):
        seen.append(event.type)
        if event.type == "turn_complete":
            queue.close()
    assert seen[-1] == "turn_complete"
    fake.assert_done()


def test_thread_history_written_by_agentflow_reads_back_for_reseeding() -> None:
    from tenxgraph.core.state.message_block import ImageBlock, MediaRef, ToolResultBlock

    from realtalk_agentflow.messages import to_realtalk_messages

    call = Message(
        role="assistant",
        content=[],
        tools_calls=[{"id": "t1", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}],
    )
    result = Message.tool_message([ToolResultBlock(call_id="t1", output="found")])
    image = Message(role="user", content=[ImageBlock(media=MediaRef(url="https://x/y.png"))])
    read = to_realtalk_messages([Message.text_message("hello"), call, result, image])
    assert [(m.role, [b.type for b in m.content]) for m in read] == [
        ("user", ["text"]),
        ("assistant", ["tool_call"]),
        ("tool", ["tool_result"]),
    ]
    assert read[2].content[0].model_dump()["name"] == "lookup"


async def test_barge_in_reaches_the_caller_as_agentflow_interrupted_and_ends_the_turn() -> None:
    fired: list[str] = []

    class Hooks(GraphLifecycleHook):
        async def on_turn_end(self, context: Any, state: Any, turn: int) -> Any:
            fired.append(f"turn_end {turn}")
            return state

    callbacks = CallbackManager()
    callbacks.register_lifecycle_hook(Hooks())
    fake = FakeProvider(
        [
            expect.text("talk"),
            emit.output_transcript("Well,", finished=False),
            emit.interrupted(),
            emit.turn_complete(),
        ]
    )
    graph = AudioAgent(MODEL, provider=fake).compile(callback_manager=callbacks)
    events = await run(graph, _queue_with("talk"), {"thread_id": "barge"})
    assert [type(e) for e in events] == [
        af_events.OutputTranscriptEvent,
        af_events.OutputTranscriptEvent,  # what was said before the barge-in, finished
        af_events.InterruptedEvent,
        af_events.TurnCompleteEvent,
    ]
    assert (events[1].text, events[1].finished) == ("Well,", True)
    assert fired == ["turn_end 1"]


async def test_tools_tags_narrow_what_a_session_advertises_never_widen() -> None:
    from tenxgraph.utils.decorators import tool as agentflow_tool

    @agentflow_tool(tags={"weather"})
    def forecast(city: str) -> str:
        """Forecast for a city."""
        return city

    @agentflow_tool(tags={"booking"})
    def reserve(city: str) -> str:
        """Reserve in a city."""
        return city

    def session(realtime: dict[str, Any], base: list[str] | None) -> tuple[Any, Any, Any]:
        advertised: list[set[str]] = []
        fake = FakeProvider(
            [
                expect.connect(
                    check=lambda s: advertised.append({t.name for t in s.tools}) or True
                ),
                expect.text("hi"),
                emit.turn_complete(),
            ]
        )
        config = AgentflowConfig(model=MODEL, tools_tags=base)
        graph = AudioAgent(
            MODEL, realtime_config=config, tools=[forecast, reserve], provider=fake
        ).compile()
        return advertised, graph, {"thread_id": "tags", "realtime": realtime}

    advertised, graph, config = session({"tools_tags": ["weather"]}, None)
    await run(graph, _queue_with("hi"), config)
    assert advertised == [{"forecast"}]
    advertised, graph, config = session({"tools_tags": ["booking"]}, ["weather"])
    await run(graph, _queue_with("hi"), config)
    assert advertised == [{"forecast"}]  # a tag outside the agent's filter is not added


async def test_agentflow_tool_callbacks_fire_around_a_live_tool_call() -> None:
    from tenxgraph.utils.callbacks import CallbackContext, InvocationType

    SEEN.clear()
    calls: list[str] = []

    def before(context: CallbackContext, data: Any) -> Any:
        calls.append(f"before {context.function_name}")
        return data

    def after(context: CallbackContext, data: Any, output: Any) -> Any:
        calls.append(f"after {context.function_name}")
        return output

    callbacks = CallbackManager()
    callbacks.register_before_invoke(InvocationType.TOOL, before)
    callbacks.register_after_invoke(InvocationType.TOOL, after)
    fake = FakeProvider([*tool_turn("c3"), expect.close()])
    graph = AudioAgent(MODEL, tools=[book_table], provider=fake).compile(callback_manager=callbacks)
    await run(graph, _queue_with("book Paris"), {"thread_id": "cb"})
    fake.assert_done()
    assert calls == ["before book_table", "after book_table"]
