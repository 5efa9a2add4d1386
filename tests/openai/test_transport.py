"""The OpenAI transport against FakeOpenAIServer: handshake, sends, closes classified by
code, refusals, reseeding, tool-result and push-to-talk rules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from realtalk.config import RealtimeConfig, VADConfig
from realtalk.events import RealtimeEvent
from realtalk.inputs import ActivityEnd, ActivityStart, AudioInput, TextInput
from realtalk.messages import Message
from realtalk.provider import DisconnectKind, ProviderDisconnected, ProviderError, SessionSetup
from realtalk_openai.transport import OpenAISession, open_session
from realtalk_testing.openai_server import FAKE_API_KEY, FakeOpenAIServer
from realtalk_testing.openai_wire import openai_cassette_from_dicts


def _cassette(*lines: dict[str, Any]) -> Any:
    return openai_cassette_from_dicts({}, lines)


def _c(**action: Any) -> dict[str, Any]:
    return {"conn": 1, **action}


async def _open(server: FakeOpenAIServer, history: Sequence[Message] = (), **config: Any) -> Any:
    setup = SessionSetup(
        config=RealtimeConfig(
            model="gpt-realtime", provider_options=server.provider_options, **config
        ),
        history=tuple(history),
    )
    return await open_session(setup, environ={})


async def _drain(session: OpenAISession) -> tuple[list[RealtimeEvent], ProviderDisconnected]:
    events: list[RealtimeEvent] = []
    with pytest.raises(ProviderDisconnected) as info:
        async with asyncio.timeout(5):
            async for event in session.events():
                events.append(event)
    return events, info.value


async def test_client_close_ends_events_with_closed() -> None:
    cassette = _cassette(
        _c(send="session.update"),
        _c(send="response.create"),
        _c(recv={"type": "response.created", "response": {"id": "r1"}}),
        _c(recv={"type": "response.output_text.delta", "delta": "Hello"}),
        _c(recv={"type": "response.done", "response": {"status": "completed"}}),
    )
    async with FakeOpenAIServer(cassette) as server:
        session = await _open(server, response_modalities=["TEXT"])
        await session._send({"type": "response.create"})
        seen: list[str] = []
        with pytest.raises(ProviderDisconnected) as info:
            async for event in session.events():
                seen.append(event.type)
                if event.type == "turn_complete":
                    await session.close()
        assert info.value.kind is DisconnectKind.CLOSED
        assert seen == ["text_delta", "turn_complete"]
        await session.close()  # idempotent
        with pytest.raises(ProviderDisconnected):
            await session.send(TextInput("again"))
        record = server.connection(1)
        assert record.headers["authorization"] == "<redacted>"
        assert FAKE_API_KEY not in str(server.report.summary())
        assert record.path == "/v1/realtime?model=gpt-realtime"
        update = server.received(1)[0]
        assert update["session"]["output_modalities"] == ["text"]


@pytest.mark.parametrize(
    ("end", "kind", "code"),
    [
        ({"close": {"code": 1011, "reason": "server error"}}, DisconnectKind.TRANSIENT, 1011),
        ({"close": {"code": 1008, "reason": "policy"}}, DisconnectKind.FATAL, 1008),
        ({"close": {"code": 1000, "reason": "bye"}}, DisconnectKind.TRANSIENT, 1000),
        ({"drop": True}, DisconnectKind.TRANSIENT, 1006),
    ],
)
async def test_server_ends_are_classified_by_code(
    end: dict[str, Any], kind: DisconnectKind, code: int
) -> None:
    cassette = _cassette(
        _c(send="session.update"), _c(recv={"type": "session.updated", "session": {}}), _c(**end)
    )
    async with FakeOpenAIServer(cassette) as server:
        session = await _open(server)
        _, ended = await _drain(session)
        assert (ended.kind, ended.code) == (kind, code)
        with pytest.raises(ProviderDisconnected) as again:
            await session.send(AudioInput(b"\x00\x00", 24000))
        assert again.value is ended  # later calls agree
        await session.close()


async def test_session_expired_error_then_close_is_a_rotation() -> None:
    cassette = _cassette(
        _c(send="session.update"),
        _c(recv={"type": "session.updated", "session": {}}),
        _c(recv={"type": "error", "error": {"type": "invalid_request_error",
                                            "code": "session_expired", "message": "60 min"}}),
        _c(close={"code": 1000, "reason": "expired"}),
    )  # fmt: skip
    async with FakeOpenAIServer(cassette) as server:
        session = await _open(server)
        events, ended = await _drain(session)
        assert [e.type for e in events] == ["error"]
        assert ended.kind is DisconnectKind.ROTATION


async def test_a_refused_session_update_is_a_provider_error() -> None:
    cassette = _cassette(
        _c(send="session.update"),
        _c(recv={"type": "error", "error": {"type": "invalid_request_error",
                                            "code": "invalid_value", "message": "bad voice"}}),
    )  # fmt: skip
    async with FakeOpenAIServer(cassette) as server:
        refused = r"refused the session \(invalid_value\): bad voice"
        with pytest.raises(ProviderError, match=refused):
            await _open(server, voice="nope")


async def test_a_close_right_after_the_update_is_a_refused_connect() -> None:
    cassette = _cassette(_c(send="session.update"), _c(close={"code": 1008, "reason": "no"}))
    async with FakeOpenAIServer(cassette) as server:
        with pytest.raises(ProviderDisconnected) as info:
            await _open(server)
    assert (info.value.kind, info.value.code) == (DisconnectKind.FATAL, 1008)


async def test_refused_upgrade_and_unreachable_server() -> None:
    cassette = _cassette(_c(send="session.update"))
    async with FakeOpenAIServer(cassette, strict=False) as server:
        options = {**server.provider_options, "base_url": server.base_url + "/wrong"}
        setup = SessionSetup(config=RealtimeConfig(model="gpt-realtime", provider_options=options))
        with pytest.raises(ProviderDisconnected) as info:
            await open_session(setup, environ={})
        assert info.value.kind is DisconnectKind.FATAL
        assert "HTTP 404" in info.value.reason
        port = server.port
    setup = SessionSetup(
        config=RealtimeConfig(
            model="gpt-realtime",
            provider_options={"api_key": "k", "base_url": f"ws://127.0.0.1:{port}/v1"},
        )
    )
    with pytest.raises(ProviderDisconnected) as info:
        await open_session(setup, environ={})
    assert info.value.kind is DisconnectKind.TRANSIENT


async def test_missing_key_fails_before_connecting() -> None:
    setup = SessionSetup(config=RealtimeConfig(model="gpt-realtime"))
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        await open_session(setup, environ={})


async def test_reseed_sends_history_without_response_create() -> None:
    cassette = _cassette(
        _c(send="session.update"),
        _c(send="conversation.item.create", match={"subset": {"item": {"role": "user"}}}),
        _c(send="conversation.item.create", match={"subset": {"item": {"role": "assistant"}}}),
        _c(send="input_audio_buffer.append", min_bytes=4),
    )
    history = [Message.text("user", "My name is Ada."), Message.text("assistant", "Hi Ada.")]
    async with FakeOpenAIServer(cassette) as server:
        session = await _open(server, history)
        await session.send(AudioInput(b"\x01\x00\x02\x00", 24000))
        await server.wait_done()
        await session.close()
    assert server.connection(1).kinds == [
        "session.update",
        "conversation.item.create",
        "conversation.item.create",
        "input_audio_buffer.append",
    ]


async def test_push_to_talk_cancels_the_answer_and_commits() -> None:
    cassette = _cassette(
        _c(send="session.update", match={"subset": {"session": {"audio": {"input": {
            "turn_detection": None}}}}}),
        _c(send="input_audio_buffer.clear"),
        _c(send="input_audio_buffer.append"),
        _c(send="input_audio_buffer.commit"),
        _c(send="response.create"),
        _c(recv={"type": "response.created", "response": {"id": "r1"}}),
        _c(recv={"type": "response.output_audio.delta", "item_id": "i1", "delta": "AAA="}),
        _c(send="response.cancel"),
        _c(send="input_audio_buffer.clear"),
        _c(recv={"type": "response.done", "response": {"status": "cancelled"}}),
    )  # fmt: skip
    async with FakeOpenAIServer(cassette) as server:
        session = await _open(server, vad=VADConfig(enabled=False))
        await session.send(ActivityStart())
        await session.send(AudioInput(b"\x01\x00", 24000))
        await session.send(ActivityEnd())
        seen: list[str] = []
        with pytest.raises(ProviderDisconnected) as info:
            async for event in session.events():
                seen.append(event.type)
                if event.type == "audio_delta":  # the answer is playing: push to talk again
                    await session.send(ActivityStart())
                if event.type == "interrupted":
                    await session.close()
        assert info.value.kind is DisconnectKind.CLOSED
        assert seen == ["audio_delta", "interrupted"]


async def test_tool_result_for_a_call_from_before_a_reconnect_is_a_note() -> None:
    cassette = _cassette(
        _c(send="session.update"),
        _c(send={"type": "conversation.item.create", "item": {"type": "message", "role": "user",
              "content": [{"type": "input_text",
                           "text": "[tool get_weather returned {\"sky\": \"sunny\"}]"}]}},
           match="exact"),
        _c(send="response.create"),
    )  # fmt: skip
    async with FakeOpenAIServer(cassette) as server:
        session = await _open(server)
        await session.send_tool_result("old-call", "get_weather", {"sky": "sunny"})
        await server.wait_done()
        await session.close()


async def test_an_unreadable_server_event_ends_the_connection_as_transient() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        await ws.send('{"type": "session.created", "session": {}}')
        await ws.recv()
        await ws.send('{"type": "session.updated", "session": {}}')
        await ws.send("this is not JSON")
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        options = {"api_key": "k", "base_url": f"http://127.0.0.1:{port}/v1"}
        setup = SessionSetup(config=RealtimeConfig(model="gpt-realtime", provider_options=options))
        session = await open_session(setup, environ={})
        events, ended = await _drain(session)
    assert events == []
    assert ended.kind is DisconnectKind.TRANSIENT
    assert "unreadable server event" in ended.reason
