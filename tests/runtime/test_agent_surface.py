"""The AudioAgent / compiled app surface (ARCHITECTURE section 2)."""

from __future__ import annotations

import asyncio

import pytest

from realtalk import (
    AudioAgent,
    LiveAgent,
    LiveInputQueue,
    RealtimeConfig,
    VADConfig,
    tool,
)
from realtalk.runtime.prompt import PromptError
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type, types


def test_both_agent_classes_are_exported() -> None:
    assert issubclass(AudioAgent, LiveAgent)
    agent = LiveAgent(RealtimeConfig(model=MODEL), provider=FakeProvider([]))
    assert agent.model == MODEL


@pytest.mark.parametrize("name", ["media_store", "interrupt_before", "interrupt_after"])
def test_compile_rejects_graph_only_arguments(name: str) -> None:
    agent = AudioAgent(MODEL, provider=FakeProvider([]))
    with pytest.raises(TypeError, match=name):
        agent.compile(**{name: object()})


def test_compile_rejects_unknown_arguments() -> None:
    with pytest.raises(TypeError, match="bogus"):
        AudioAgent(MODEL, provider=FakeProvider([])).compile(bogus=1)


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_turn_based_methods_refuse(method: str) -> None:
    app = AudioAgent(MODEL, provider=FakeProvider([])).compile()
    with pytest.raises(RuntimeError, match="arealtime"):
        getattr(app, method)({"messages": []})


async def test_async_turn_based_methods_refuse() -> None:
    app = AudioAgent(MODEL, provider=FakeProvider([])).compile()
    with pytest.raises(RuntimeError, match="arealtime"):
        await app.ainvoke({})
    with pytest.raises(RuntimeError, match="arealtime"):
        app.astream({})


def test_model_must_agree_with_realtime_config() -> None:
    with pytest.raises(ValueError, match="differs"):
        AudioAgent("fake-a", realtime_config=RealtimeConfig(model="fake-b"))


def test_provider_name_goes_into_the_config() -> None:
    agent = AudioAgent(MODEL, provider="fake")
    assert agent.realtime_config.provider == "fake"
    with pytest.raises(TypeError, match="provider"):
        AudioAgent(MODEL, provider=42)  # type: ignore[arg-type]


async def test_first_event_names_a_generated_thread_and_last_ends_the_session() -> None:
    fake = FakeProvider([expect.close()])
    app = app_for(fake)
    queue = LiveInputQueue()
    queue.close()
    events = await collect(app, queue, {})
    assert types(events) == ["session_started", "session_ended"]
    thread_id = events[0].thread_id
    assert len(thread_id) == 32 and int(thread_id, 16) >= 0
    assert fake.connections[0].setup.thread_id == thread_id
    fake.assert_done()


async def test_realtime_raises_inside_a_running_loop() -> None:
    app = app_for(FakeProvider([]))
    with pytest.raises(RuntimeError, match="running event loop"):
        app.realtime(LiveInputQueue(), {"thread_id": "t"})


def test_realtime_runs_a_session_synchronously() -> None:
    fake = FakeProvider(
        [expect.text("hi"), *emit.speech("hello").steps, emit.turn_complete(), expect.close()]
    )
    app = app_for(fake)
    queue = LiveInputQueue()
    queue.send_text("hi")
    seen = []
    for event in app.realtime(queue, {"thread_id": "sync"}):
        seen.append(event.type)
        if event.type == "turn_complete":
            queue.close()
    assert seen[0] == "session_started" and seen[-1] == "session_ended"
    assert "turn_complete" in seen
    fake.assert_done()


async def test_session_overrides_reach_the_provider() -> None:
    fake = FakeProvider([expect.connect(check=lambda s: s.config.voice == "Kore"), expect.close()])
    app = app_for(fake, config=RealtimeConfig(model=MODEL, voice="Puck"))
    queue = LiveInputQueue()
    queue.close()
    await collect(app, queue, {"thread_id": "t", "voice": "Kore", "vad": {"enabled": False}})
    setup = fake.connections[0].setup
    assert setup.config.voice == "Kore" and setup.config.vad.enabled is False
    assert app.agent.realtime_config.voice == "Puck"  # the agent is untouched
    fake.assert_done()


async def test_bad_overrides_are_clear_errors_before_the_session_starts() -> None:
    app = app_for(FakeProvider([]))
    with pytest.raises(ValueError, match="voise"):
        await collect(app, LiveInputQueue(), {"thread_id": "t", "voise": "Kore"})
    with pytest.raises(ValueError, match="response_modalities"):
        await collect(app, LiveInputQueue(), {"response_modalities": ["AUDIO", "TEXT"]})
    with pytest.raises(ValueError, match="thread_id"):
        await collect(app, LiveInputQueue(), {"thread_id": ""})
    with pytest.raises(TypeError, match="LiveInputQueue"):
        await collect(app, [], {})  # type: ignore[arg-type]


def get_weather(city: str) -> str:
    """Weather of a city."""
    return f"sunny in {city}"


def get_time(city: str) -> str:
    """Time in a city."""
    return "noon"


async def test_tools_can_be_narrowed_per_session_but_never_widened() -> None:
    fake = FakeProvider([expect.connect(tools={"get_time"}), expect.close()])
    app = app_for(fake, tools=[get_weather, get_time])
    queue = LiveInputQueue()
    queue.close()
    await collect(app, queue, {"thread_id": "t", "tools": ["get_time"]})
    fake.assert_done()
    with pytest.raises(ValueError, match="only narrow"):
        await collect(app, LiveInputQueue(), {"tools": ["get_time", "launch_rocket"]})


async def test_system_prompt_skills_and_memory_are_one_instruction_with_state_fields() -> None:
    fake = FakeProvider([expect.connect(system_contains="assistant for Ada"), expect.close()])
    agent = AudioAgent(
        MODEL,
        realtime_config=RealtimeConfig(model=MODEL, system_instruction="Be brief, {user_name}."),
        system_prompt=[
            {"role": "system", "content": "You are a helpful assistant for {user_name}."}
        ],
        skills=[
            {
                "name": "weather",
                "description": "answers weather questions",
                "instructions": "Use {braces} verbatim",
            }
        ],
        memory=lambda state: [f"{state['user_name']} likes tea"],
        provider=fake,
    )
    queue = LiveInputQueue()
    queue.close()
    await collect(agent.compile(), queue, {"thread_id": "t"}, state={"user_name": "Ada"})
    instruction = fake.connections[0].setup.system_instruction
    assert instruction is not None
    assert instruction.index("Be brief, Ada.") < instruction.index("assistant for Ada")
    assert "weather: answers weather questions" in instruction
    assert "Use {braces} verbatim" in instruction  # skills are data, not templates
    assert "Ada likes tea" in instruction
    fake.assert_done()


async def test_a_missing_prompt_field_is_a_clear_error() -> None:
    agent = AudioAgent(MODEL, system_prompt="Hello {user_name}", provider=FakeProvider([]))
    with pytest.raises(PromptError, match="user_name"):
        await collect(agent.compile(), LiveInputQueue(), {"thread_id": "t"}, state={"name": "x"})


def test_a_malformed_prompt_fails_at_build_time() -> None:
    with pytest.raises(PromptError):
        AudioAgent(MODEL, system_prompt="unbalanced {", provider=FakeProvider([]))
    with pytest.raises(PromptError, match="role"):
        AudioAgent(
            MODEL, system_prompt=[{"role": "user", "content": "x"}], provider=FakeProvider([])
        )


async def test_the_guide_event_loop_pattern_runs() -> None:
    """The guide's ``match event.type`` loop, breaking on a fatal error."""
    fake = FakeProvider(
        [
            expect.text("hello"),
            emit.tool_call("c1", "get_weather", {"city": "Oslo"}),
            expect.tool_result("c1"),
            *emit.speech("Sunny").steps,
            emit.interrupted(),
            emit.error("quota", "out of quota", fatal=True),
        ]
    )
    app = app_for(fake, tools=[tool(get_weather)])
    queue = LiveInputQueue()
    queue.send_text("hello")
    seen: list[str] = []
    async with asyncio.timeout(10):
        async for event in app.arealtime(queue, config={"thread_id": "my-thread"}, state=None):
            match event.type:
                case "audio_delta":
                    seen.append("audio")
                case "input_transcript":
                    pass
                case "output_transcript":
                    if event.finished:
                        seen.append(f"agent: {event.text}")
                case "tool_call":
                    seen.append(f"calling {event.name}({event.args})")
                case "turn_complete":
                    pass
                case "interrupted":
                    seen.append("interrupted")
                case "error":
                    seen.append(f"error ({event.code}): {event.message}")
                    if event.fatal:
                        break
    queue.close()
    await app.aclose()
    assert seen == [
        "calling get_weather({'city': 'Oslo'})",
        "audio",
        "agent: Sunny",
        "interrupted",
        "error (quota): out of quota",
    ]
    assert app.active_sessions == 0
    fake.assert_done()


def test_vad_config_import_is_available() -> None:
    assert VADConfig(enabled=False).enabled is False
    assert of_type([], "x") == []


async def test_memory_is_evaluated_at_each_connect_and_may_use_the_store() -> None:
    from realtalk.runtime.clock import ManualClock

    facts = ["likes tea"]
    store = {"vip": True}

    def memory(state: object, store: dict[str, bool]) -> list[str]:
        return [*facts, f"vip={store['vip']}"]

    fake = FakeProvider(
        [
            [
                expect.connect(system_contains="- likes tea\n- vip=True"),
                emit.session_update("h"),
                end.drop(),
            ],
            [
                expect.connect(system_contains="- likes coffee"),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    agent = AudioAgent(MODEL, memory=memory, provider=fake)
    app = agent.compile(store=store, clock=ManualClock(auto_advance=True))

    def on_event(event: object) -> None:
        if getattr(event, "type", "") == "session_update":
            facts[0] = "likes coffee"  # learned mid-session: the next connection knows it

    await collect(
        app, LiveInputQueue(), {"thread_id": "t"}, on_event=on_event, close_on="turn_complete"
    )
    fake.assert_done()
