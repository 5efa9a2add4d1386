"""FakeOpenAIServer and the OpenAI cassette format: validation with line numbers, matching
modes, streaming input, mismatch reports, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtalk_testing.cassette import CassetteFormatError
from realtalk_testing.openai_server import FakeOpenAIServer
from realtalk_testing.openai_wire import (
    load_openai_cassette,
    loads_openai_cassette,
    match_frame,
    normalize_frame,
    openai_cassette_from_dicts,
    openai_cassette_names,
    parse_match,
)
from realtalk_testing.report import CassetteMismatchError


def _c(**action: Any) -> dict[str, Any]:
    return {"conn": 1, **action}


def test_shipped_cassettes_load_and_say_openai() -> None:
    names = openai_cassette_names()
    assert names == [
        "barge_in",
        "drop_reconnect",
        "error_event",
        "spoken_question",
        "text_turn",
        "tool_call",
    ]
    for name in names:
        cassette = load_openai_cassette(name)
        assert cassette.header["provider"] == "openai"
        assert "not captured from OpenAI" in cassette.header["authored"]


def test_format_errors_name_their_lines() -> None:
    text = "\n".join(
        json.dumps(obj)
        for obj in [
            {"cassette": 1, "provider": "gemini"},
            {"conn": 1, "send": "no.such.event"},
            {"conn": 1, "recv": {"delta": "x"}},
            {"conn": 1, "send": "response.create", "min_bytes": 3},
            {"conn": 1, "connect": {"handle": "h"}},
            {"conn": 3, "drop": True},
            {"conn": 1, "close": {"code": 1006}},
        ]
    )
    with pytest.raises(CassetteFormatError) as info:
        loads_openai_cassette(text, source="bad.jsonl")
    lines = [n for n, _ in info.value.errors]
    assert lines == [1, 2, 3, 4, 5, 6, 7]
    assert "provider" in info.value.errors[0][1]
    assert "bad.jsonl:2" in str(info.value)


def test_matching_modes() -> None:
    frame = normalize_frame(
        {"type": "conversation.item.create", "event_id": "e1", "item": {"role": "user", "x": 1}}
    )
    assert "event_id" not in frame
    assert match_frame(None, "conversation.item.create", parse_match("key"), frame) is None
    assert match_frame(None, "response.create", parse_match("key"), frame) is not None
    sub = parse_match({"subset": {"item": {"role": "user"}}})
    assert match_frame(None, "conversation.item.create", sub, frame) is None
    exact = {"type": "conversation.item.create", "item": {"role": "user", "x": 2}}
    assert match_frame(exact, "conversation.item.create", parse_match("exact"), frame)
    ignore = parse_match({"ignore": ["item.x"]})
    assert match_frame(exact, "conversation.item.create", ignore, frame) is None
    with pytest.raises(ValueError, match="match must be"):
        parse_match("fuzzy")


async def _client(server: FakeOpenAIServer, **headers: str) -> Any:
    return await connect(
        f"{server.base_url}/realtime?model=m",
        ssl=server.ssl_context,
        additional_headers=headers or {"Authorization": "Bearer k"},
    )


async def test_a_mismatch_closes_1008_and_is_reported() -> None:
    cassette = openai_cassette_from_dicts(
        {}, [_c(send="session.update"), _c(send="response.create")]
    )
    server = FakeOpenAIServer(cassette)
    with pytest.raises(CassetteMismatchError) as info:
        async with server:
            ws = await _client(server)
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(json.dumps({"type": "session.update", "session": {}}))
            assert json.loads(await ws.recv())["type"] == "session.updated"
            await ws.send(json.dumps({"type": "response.cancel"}))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    report = info.value.report
    assert report.mismatches[0].line == 3
    assert "expected response.create, got response.cancel" in report.mismatches[0].reason


async def test_streaming_audio_is_counted_unless_strict() -> None:
    audio = {"type": "input_audio_buffer.append", "audio": "AAAA"}
    lines = [_c(send="session.update"), _c(send="response.create")]
    async with FakeOpenAIServer(openai_cassette_from_dicts({}, lines)) as server:
        ws = await _client(server)
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "session": {}}))
        await ws.recv()
        await ws.send(json.dumps(audio))
        await ws.send(json.dumps({"type": "response.create"}))
        await server.wait_done()
        await ws.close()
    assert server.connection(1).unlisted_frames == 1
    assert server.connection(1).audio_bytes == 3
    strict = openai_cassette_from_dicts({"strict": True}, lines)
    with pytest.raises(CassetteMismatchError, match="unlisted"):
        async with FakeOpenAIServer(strict) as server:
            ws = await _client(server)
            await ws.recv()
            await ws.send(json.dumps({"type": "session.update", "session": {}}))
            await ws.recv()
            await ws.send(json.dumps(audio))
            await server.wait_done()


async def test_unplayed_lines_fail_at_exit() -> None:
    cassette = openai_cassette_from_dicts({}, [_c(send="session.update")])
    with pytest.raises(CassetteMismatchError, match="unplayed"):
        async with FakeOpenAIServer(cassette):
            pass


async def test_no_key_is_401_and_wrong_path_404() -> None:
    cassette = openai_cassette_from_dicts({}, [_c(send="session.update")])
    async with FakeOpenAIServer(cassette, strict=False) as server:
        with pytest.raises(InvalidStatus) as info:
            await connect(f"{server.base_url}/realtime", ssl=server.ssl_context)
        assert info.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as info:
            await _client_path(server, "/v1/other")
        assert info.value.response.status_code == 404
        assert server.connections == 0


async def _client_path(server: FakeOpenAIServer, path: str) -> Any:
    return await connect(
        f"wss://127.0.0.1:{server.port}{path}",
        ssl=server.ssl_context,
        additional_headers={"api-key": "k"},
    )


def test_openai_loader_reports_deeply_nested_lines_like_the_gemini_loader() -> None:
    """Both loaders share one JSONL reader: a line nested too deeply is a line error."""
    from realtalk_testing.openai_wire import loads_openai_cassette

    deep = "[" * 100_000 + "]" * 100_000
    text = '{"cassette": 1, "provider": "openai"}\n' + deep + "\n"
    with pytest.raises(CassetteFormatError) as info:
        loads_openai_cassette(text, source="deep.jsonl")
    assert info.value.errors == [(2, "not valid JSON: nested too deeply")]
