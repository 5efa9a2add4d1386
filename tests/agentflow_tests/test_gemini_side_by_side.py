"""The quick start through ``realtalk_agentflow.AudioAgent`` and, side by side with
Agentflow's own ``AudioAgent``, the same cassettes: a goAway mid-turn, a drop with a
re-sent call id, two concurrent sessions of one compiled app. Real google-genai SDK,
FakeGeminiServer (TLS on 127.0.0.1). docs/agentflow.md records the findings.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tenxgraph.core.realtime import LiveInputQueue
from tenxgraph.core.realtime import base as af_events
from tenxgraph.core.state import AgentState
from tenxgraph.storage.checkpointer import InMemoryCheckpointer

import realtalk_testing
from realtalk_testing import FakeGeminiServer

from ._gemini import agentflow_graph, drive, realtalk_graph
from ._support import thread_config

HERE = Path(__file__).parent / "cassettes"
SHIPPED = Path(realtalk_testing.__file__).parent / "cassettes"
SECOND = b"\x00\x00" * 16000

BOOKINGS: list[str] = []


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "sky": "sunny"}


def book_table(city: str, tool_call_id: str) -> str:
    """Book a table in a city."""
    BOOKINGS.append(tool_call_id)
    return f"booked in {city}"


def _queue(text: str | None = None, audio: bytes | None = None) -> LiveInputQueue:
    queue = LiveInputQueue()
    if audio is not None:
        queue.send_audio(audio, 16000)
    if text is not None:
        queue.send_text(text)
    return queue


async def test_quick_start_through_realtalk_agentflow_with_the_real_sdk() -> None:
    checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()
    async with FakeGeminiServer(SHIPPED / "tool_call.jsonl") as server:
        graph = realtalk_graph(server, tools=[get_weather], checkpointer=checkpointer)
        out = await drive(graph, _queue(audio=SECOND), {"thread_id": "quick"})
    assert not out.timed_out
    assert server.report.ok, server.report.summary()
    assert all(isinstance(e, af_events.BaseModel) for e in out.events)
    calls = [e for e in out.events if e.type == "tool_call"]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    results = [e for e in out.events if e.type == "tool_result"]
    # Agentflow's ToolNode reports a dict result as a one-item list, in text mode too
    assert results[0].result == {"result": [{"city": "Paris", "sky": "sunny"}]}
    assert "audio_delta" in out.types and out.types[-1] == "turn_complete"
    messages = await checkpointer.alist_messages(thread_config("quick"))
    spoken = [(m.role, m.text()) for m in messages if m.metadata.get("modality") == "audio"]
    assert spoken and spoken[0][0] == "user" and spoken[-1][0] == "assistant"


async def test_go_away_mid_turn_realtalk_finishes_the_turn() -> None:
    async with FakeGeminiServer(HERE / "go_away_mid_turn.jsonl", strict=False) as server:
        graph = realtalk_graph(server)
        out = await drive(
            graph, _queue("Tell me a story"), {"thread_id": "g"}, close_on=["go_away"]
        )
    assert not out.timed_out
    assert out.finished() == ["Once upon a time."]
    assert out.types[-1] == "turn_complete"


async def test_go_away_mid_turn_agentflow_abandons_the_turn() -> None:
    async with FakeGeminiServer(HERE / "go_away_mid_turn.jsonl", strict=False) as server:
        graph = agentflow_graph(server)
        out = await drive(
            graph, _queue("Tell me a story"), {"thread_id": "g"}, close_on=["go_away"]
        )
    assert not out.timed_out
    # " a time.", the finished transcript and turnComplete never reach the caller
    assert out.texts() == ["Once upon"] and out.finished() == []
    assert "turn_complete" not in out.types
    assert server.connections == 2  # it rotated at once, mid-answer


async def test_drop_with_a_re_sent_call_id_realtalk_runs_the_tool_once_and_answers() -> None:
    BOOKINGS.clear()
    async with FakeGeminiServer(HERE / "drop_resent_call.jsonl", strict=False) as server:
        graph = realtalk_graph(server, tools=[book_table], checkpointer=InMemoryCheckpointer())
        out = await drive(graph, _queue("Book a table in Paris"), {"thread_id": "d"}, limit=2.0)
        report = server.report
    assert BOOKINGS == ["fc-1"]
    assert not out.timed_out and report.ok, report.summary()
    assert out.texts()[-1] == "Your table is booked."


async def test_drop_with_a_re_sent_call_id_realtalk_never_runs_the_tool_twice() -> None:
    BOOKINGS.clear()
    async with FakeGeminiServer(HERE / "drop_resent_call.jsonl", strict=False) as server:
        graph = realtalk_graph(server, tools=[book_table], checkpointer=InMemoryCheckpointer())
        await drive(graph, _queue("Book a table in Paris"), {"thread_id": "d"}, limit=2.0)
    assert BOOKINGS == ["fc-1"]
    assert server.connections == 2  # resumed with the handle


async def test_drop_with_a_re_sent_call_id_agentflow_runs_the_tool_twice() -> None:
    BOOKINGS.clear()
    async with FakeGeminiServer(HERE / "drop_resent_call.jsonl", strict=False) as server:
        graph = agentflow_graph(server, tools=[book_table])
        out = await drive(graph, _queue("Book a table in Paris"), {"thread_id": "d"})
    assert not out.timed_out
    assert BOOKINGS == ["fc-1", "fc-1"]
    assert out.texts()[-1] == "Your table is booked."


async def _two_sessions(graph: Any) -> tuple[Any, Any]:
    qa, qb = LiveInputQueue(), LiveInputQueue()
    started_b = asyncio.Event()
    b_task: list[asyncio.Task[Any]] = []

    def on_a(event: Any) -> None:
        if event.type == "session_update" and not b_task:
            b_task.append(
                asyncio.ensure_future(
                    drive(graph, qb, {"thread_id": "B"}, on_event=on_b, limit=2.0)
                )
            )

    def on_b(event: Any) -> None:
        if event.type == "session_update" and not started_b.is_set():
            started_b.set()  # both connected: now each user speaks
            qa.send_text("alpha")
            qb.send_text("beta")

    a = await drive(graph, qa, {"thread_id": "A"}, on_event=on_a, limit=2.0)
    b = await b_task[0] if b_task else None
    return a, b


async def test_two_concurrent_sessions_realtalk_keeps_them_apart() -> None:
    async with FakeGeminiServer(HERE / "two_sessions.jsonl") as server:
        a, b = await _two_sessions(realtalk_graph(server))
    assert a.finished() == ["Alpha here."] and b.finished() == ["Beta here."]
    assert server.report.ok, server.report.summary()


async def test_two_concurrent_sessions_agentflow_crosses_them() -> None:
    async with FakeGeminiServer(HERE / "two_sessions.jsonl", strict=False) as server:
        a, _b = await _two_sessions(agentflow_graph(server))
        report = server.report
    # the agent holds one active client: both users' text went out on B's connection,
    # A never got an answer, B's connection failed on the unexpected turn
    on_b = [f["realtimeInput"]["text"] for f in server.received(2) if "realtimeInput" in f]
    assert "alpha" in on_b  # (B's own text may be cut off by the server's mismatch close)
    assert not [f for f in server.received(1) if "realtimeInput" in f]
    assert a.finished() == [] and not report.ok


async def test_stale_handle_reseeds_from_a_thread_an_agentflow_text_graph_wrote() -> None:
    from tenxgraph.core.state import Message
    from tenxgraph.utils.thread_info import ThreadInfo

    checkpointer: InMemoryCheckpointer[AgentState] = InMemoryCheckpointer()
    config = thread_config("shared")
    await checkpointer.aput_thread(
        config,
        ThreadInfo(
            thread_id="shared", user_id="anonymous", metadata={"resumption_handle": "stale-handle"}
        ),
    )
    await checkpointer.aput_messages(
        config,
        [
            Message.text_message("My name is Ada."),
            Message.text_message("Hello Ada.", role="assistant"),
        ],
    )
    async with FakeGeminiServer(SHIPPED / "stale_handle.jsonl") as server:
        graph = realtalk_graph(server, checkpointer=checkpointer)
        out = await drive(graph, _queue(audio=SECOND), {"thread_id": "shared"})
        sent = server.received(2)
    assert not out.timed_out
    # the fresh session got the text turns as context, without a request to reply
    assert sent[1] == {
        "clientContent": {
            "turns": [
                {"role": "user", "parts": [{"text": "My name is Ada."}]},
                {"role": "model", "parts": [{"text": "Hello Ada."}]},
            ],
            "turnComplete": False,
        }
    }
    thread = await checkpointer.aget_thread(config)
    assert thread is not None and (thread.metadata or {})["resumption_handle"] == "handle-1"


async def test_the_same_graph_code_on_openai_realtime_through_the_real_sdk(
    tmp_path: Path,
) -> None:
    """Not Gemini only: OpenAI Realtime through realtalk's plugin (the real openai SDK,
    FakeOpenAIServer on 127.0.0.1) behind the same Agentflow graph and event classes."""
    from realtalk_agentflow import AudioAgent
    from realtalk_testing.openai_server import FakeOpenAIServer

    def get_weather(city: str) -> dict[str, Any]:
        """Weather for a city."""
        return {"sky": "sunny", "temp_c": 20}

    # Agentflow's ToolNode hands a dict result on as a one-item list (as in text mode):
    # the shipped cassette expects the plain object, this copy the ToolNode's shape
    shipped = (SHIPPED / "openai" / "tool_call.jsonl").read_text(encoding="utf-8")
    plain = json.dumps(json.dumps({"sky": "sunny", "temp_c": 20}))[1:-1]
    listed = json.dumps(json.dumps([{"sky": "sunny", "temp_c": 20}]))[1:-1]
    assert plain in shipped
    cassette = tmp_path / "tool_call.jsonl"
    cassette.write_text(shipped.replace(plain, listed), encoding="utf-8")
    async with FakeOpenAIServer(cassette) as server:
        graph = AudioAgent(
            "gpt-realtime", tools=[get_weather], provider_options=server.provider_options
        ).compile()
        out = await drive(graph, _queue(audio=SECOND), {"thread_id": "oa"})
    assert not out.timed_out
    assert all(isinstance(e, af_events.BaseModel) for e in out.events)
    calls = [(e.name, e.args) for e in out.events if e.type == "tool_call"]
    assert calls == [("get_weather", {"city": "Paris"})]
    assert out.types[-1] == "turn_complete"
