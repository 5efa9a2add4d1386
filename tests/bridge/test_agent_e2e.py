"""End to end: a real AudioAgent with a scripted FakeProvider behind the bridge."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig, create_app
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk_testing import FakeProvider, emit, expect

from ._support import connect, live_url, recv_json, recv_until, serve

MODEL = "fake-live-model"


def conversation() -> list[Any]:
    """One connection: a typed question, a spoken one, a tool call, then the client closes."""
    return [
        expect.text("hi"),
        emit.speech("hello there", seconds=0.2, chunks=2),
        emit.turn_complete(),
        expect.audio(min_seconds=0.1),
        emit.input_transcript("what time is it"),
        emit.tool_call("call-1", "clock", {}),
        expect.tool_result("call-1", result="noon"),
        emit.speech("it is noon", seconds=0.1),
        emit.turn_complete(),
        expect.close(),
    ]


def clock() -> str:
    """What time it is."""
    return "noon"


async def test_session_with_audio_transcripts_tools_and_persistence() -> None:
    provider = FakeProvider([conversation()])
    checkpointer = InMemoryCheckpointer()
    app = AudioAgent(MODEL, provider=provider, tools=[clock]).compile(checkpointer=checkpointer)
    async with serve(create_app(BridgeConfig(), app=app)) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send(json.dumps({"thread_id": "e2e"}))
            assert await recv_json(ws) == {"type": "session_started", "thread_id": "e2e"}
            await ws.send(json.dumps({"type": "text", "text": "hi"}))
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            assert sum(map(len, audio)) == 9600  # 0.2 s at 24 kHz PCM16
            assert {"type": "audio_format", "sample_rate": 24000, "encoding": "pcm16"} in events
            finished = [
                e["text"] for e in events if e["type"] == "output_transcript" and e["finished"]
            ]
            assert finished == ["hello there"]
            await ws.send(b"\x00\x10" * 1600)  # 0.1 s at 16 kHz
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            kinds = [e["type"] for e in events]
            assert kinds.index("input_transcript") < kinds.index("tool_call")
            assert kinds.index("tool_call") < kinds.index("tool_result")
            result = next(e for e in events if e["type"] == "tool_result")
            assert result["result"] == "noon" and result["error"] is None
            assert sum(map(len, audio)) == 4800
            await ws.send(json.dumps({"type": "close"}))
            events, _ = await recv_until(ws, lambda e: e["type"] == "session_ended")
            await ws.wait_closed()
            assert ws.close_code == 1000
    provider.assert_done()
    messages = await checkpointer.alist_messages({"thread_id": "e2e"})
    texts = [(m.role, m.text_content) for m in messages if m.text_content]
    assert texts[0] == ("user", "hi") and ("assistant", "hello there") in texts
    assert ("user", "what time is it") in texts and texts[-1] == ("assistant", "it is noon")


async def test_fifty_concurrent_sessions() -> None:
    sessions = 50
    script = [
        [
            expect.text(pattern=r"hello \d+"),
            emit.speech("hi back", seconds=0.1, chunks=2, partial=False),
            emit.turn_complete(),
            expect.close(),
        ]
        for _ in range(sessions)
    ]
    provider = FakeProvider(script)
    checkpointer = InMemoryCheckpointer()
    app = AudioAgent(MODEL, provider=provider).compile(checkpointer=checkpointer)
    asgi = create_app(BridgeConfig(), app=app)

    async def client(addr: str, n: int) -> tuple[str, int, list[str]]:
        async with connect(live_url(addr)) as ws:
            await ws.send(json.dumps({"thread_id": f"t{n}"}))
            started = await recv_json(ws)
            await ws.send(json.dumps({"type": "text", "text": f"hello {n}"}))
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
            await ws.send(json.dumps({"type": "close"}))
            await recv_until(ws, lambda e: e["type"] == "session_ended")
            await ws.wait_closed()
            texts = [e["text"] for e in events if e["type"] == "output_transcript"]
            return started["thread_id"], sum(map(len, audio)), texts

    async with serve(asgi) as addr:
        results = await asyncio.gather(*(client(addr, n) for n in range(sessions)))
        assert asgi.state.bridge.slots.total == sessions
    assert sorted(r[0] for r in results) == sorted(f"t{n}" for n in range(sessions))
    assert all(r[1] == 4800 and r[2] == ["hi back"] for r in results)
    provider.assert_done()
    for n in range(sessions):  # every thread holds its own user's words, nobody else's
        messages = await checkpointer.alist_messages({"thread_id": f"t{n}"})
        assert [m.text_content for m in messages if m.role == "user"] == [f"hello {n}"]
