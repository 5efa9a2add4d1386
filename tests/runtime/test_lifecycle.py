"""Callbacks and plugin lifecycle hooks: fired in the documented order, failures reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig, plugins
from realtalk.hookspecs import hookimpl
from realtalk.runtime.callbacks import CallbackManager
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type

CONFIG = {"thread_id": "t"}


def lookup(q: str) -> str:
    """Looks up."""
    return q.upper()


def script() -> list[list[Any]]:
    return [
        [
            emit.session_update("h1"),
            expect.text("hi"),
            emit.tool_call("c1", "lookup", {"q": "x"}),
            expect.tool_result("c1", result="X"),
            *emit.speech("X it is").steps,
            emit.usage(prompt_tokens=10, response_tokens=5, total_tokens=15),
            emit.turn_complete(),
            end.drop(),
        ],
        [
            expect.connect(handle="h1"),
            emit.error("minor", "something small"),
            emit.interrupted(),
            expect.close(),
        ],
    ]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("on_"):
            raise AttributeError(name)

        def record(**kwargs: Any) -> None:
            self.calls.append((name[3:], kwargs))

        return record


class PluginRecorder:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    @hookimpl
    def realtalk_session_start(self, thread_id: str, config: dict[str, Any]) -> None:
        self.log.append(f"plugin:session_start:{thread_id}")

    @hookimpl
    def realtalk_tool_call(
        self, thread_id: str, call_id: str, name: str, args: dict[str, Any]
    ) -> None:
        self.log.append(f"plugin:tool_call:{name}")

    @hookimpl
    def realtalk_session_end(self, thread_id: str, reason: str) -> None:
        self.log.append(f"plugin:session_end:{reason}")


@pytest.fixture
def plugin_log() -> Iterator[list[str]]:
    log: list[str] = []
    plugins.register_plugin(PluginRecorder(log), "runtime-test-recorder")
    try:
        yield log
    finally:
        plugins.reset_plugins()


async def test_callbacks_fire_in_the_documented_order() -> None:
    recorder = Recorder()
    queue = LiveInputQueue()
    queue.send_text("hi")
    app = app_for(
        FakeProvider(script()),
        tools=[lookup],
        config=RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(jitter=0)),
        clock=ManualClock(auto_advance=True),
        # an auto-advancing clock ends every sleep at once, a tool timeout included: a
        # sync tool in its thread would race it, so this test sets no timeout
        tool_timeout=None,
        callback_manager=recorder,
    )
    events = await collect(app, queue, CONFIG, close_on="interrupted")
    names = [name for name, _ in recorder.calls]
    assert names == [
        "session_start",
        "turn_start",
        "tool_call",
        "tool_result",
        "turn_end",
        "reconnect",
        "error",
        "session_end",
    ]
    calls = dict(recorder.calls)
    assert calls["session_start"]["thread_id"] == "t"
    assert calls["tool_call"] == {
        "thread_id": "t",
        "call_id": "c1",
        "name": "lookup",
        "args": {"q": "x"},
    }
    assert calls["tool_result"]["result"] == "X" and calls["tool_result"]["error"] is None
    assert calls["reconnect"] == {"thread_id": "t", "attempt": 1, "resumed": True}
    assert calls["error"] == {
        "thread_id": "t",
        "code": "minor",
        "message": "something small",
        "fatal": False,
    }
    assert calls["session_end"] == {"thread_id": "t", "reason": "closed"}
    usage = of_type(events, "usage")[0]
    assert (usage.prompt_tokens, usage.response_tokens, usage.total_tokens) == (10, 5, 15)


async def test_plugin_hooks_fire_before_user_callbacks(plugin_log: list[str]) -> None:
    class User:
        def on_session_start(self, thread_id: str, config: dict[str, Any]) -> None:
            plugin_log.append("user:session_start")

        async def on_tool_call(self, thread_id: str, call_id: str, name: str, args: Any) -> None:
            plugin_log.append("user:tool_call")

    fake = FakeProvider(
        [
            emit.tool_call("c1", "lookup", {"q": "y"}),
            expect.tool_result("c1"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(fake, tools=[lookup], callback_manager=CallbackManager([User()]))
    await collect(app, LiveInputQueue(), CONFIG, close_on="turn_complete")
    assert plugin_log == [
        "plugin:session_start:t",
        "user:session_start",
        "plugin:tool_call:lookup",
        "user:tool_call",
        "plugin:session_end:closed",
    ]


async def test_a_raising_callback_is_reported_and_not_fatal() -> None:
    class Broken:
        def on_turn_start(self, thread_id: str) -> None:
            raise RuntimeError("callback bug")

    fake = FakeProvider([*emit.speech("hello").steps, emit.turn_complete(), expect.close()])
    app = app_for(fake, callback_manager=Broken())
    events = await collect(app, LiveInputQueue(), CONFIG, close_on="turn_complete")
    error = of_type(events, "error")[0]
    assert error.code == "callback_error" and not error.fatal
    assert "Broken.on_turn_start" in error.message and "callback bug" in error.message
    assert of_type(events, "session_ended")[0].reason == "closed"
    fake.assert_done()


def test_callback_manager_rejects_objects_without_callbacks() -> None:
    with pytest.raises(TypeError, match="on_"):
        CallbackManager.of(object())
    manager = CallbackManager()
    handler = manager.add(Recorder())
    assert manager.handlers == [handler]
    manager.remove(handler)
    assert manager.handlers == []


async def test_callbacks_never_see_provider_secrets() -> None:
    recorder = Recorder()
    fake = FakeProvider([expect.close()])
    queue = LiveInputQueue()
    queue.close()
    config = {
        "thread_id": "t",
        "provider_options": {"api_key": "sk-secret"},
        "realtime_config": {"provider_options": {"api_key": "sk-secret"}},
    }
    app = app_for(fake, callback_manager=recorder)
    await collect(app, queue, config)
    seen = dict(recorder.calls)["session_start"]["config"]
    assert "sk-secret" not in repr(seen)
    assert seen["provider_options"] == {"api_key": "<redacted>"}
    # the provider itself still gets the key
    assert fake.connections[0].setup.config.provider_options["api_key"] == "sk-secret"
    fake.assert_done()
