"""The live protocol over a real uvicorn and a real websockets client (app double)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from realtalk.bridge import BridgeConfig
from realtalk.inputs import AudioInput, ImageInput, TextInput

from ._support import EchoApp, bridge_server, connect, live_url, recv_json, recv_until


async def test_audio_both_ways_text_and_image(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send(json.dumps({"thread_id": "t-1", "voice": "Puck"}))
        started = await recv_json(ws)
        assert started == {"type": "session_started", "thread_id": "t-1"}
        chunk = b"\x01\x00" * 320
        await ws.send(chunk)
        fmt = await recv_json(ws)
        assert fmt == {"type": "audio_format", "sample_rate": 24000, "encoding": "pcm16"}
        assert await ws.recv() == chunk
        await ws.send(chunk)
        assert await ws.recv() == chunk  # the format is announced once
        await ws.send(json.dumps({"type": "text", "text": "hello"}))
        events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        assert audio == []
        assert events[0] == {"type": "output_transcript", "text": "echo: hello", "finished": True}
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
        await ws.send(
            json.dumps(
                {"type": "image", "mime_type": "image/png", "data": base64.b64encode(png).decode()}
            )
        )
        events, _ = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        assert events[0]["text"] == f"image image/png {len(png)} bytes"
        await ws.send(json.dumps({"type": "close"}))
        events, _ = await recv_until(ws, lambda e: e["type"] == "session_ended")
        await ws.wait_closed()
        assert ws.close_code == 1000
    assert echo_app.configs == [{"thread_id": "t-1", "voice": "Puck"}]
    kinds = [type(i) for i in echo_app.items]
    assert kinds == [AudioInput, AudioInput, TextInput, ImageInput]
    assert echo_app.items[0].sample_rate == 16000


async def test_input_sample_rate_override_reaches_the_queue(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send(json.dumps({"input_sample_rate": 48000}))
        started = await recv_json(ws)
        assert started["type"] == "session_started" and len(started["thread_id"]) == 32
        await ws.send(b"\x00\x00" * 480)
        await recv_json(ws)
        await ws.recv()
    assert echo_app.items[0].sample_rate == 48000
    assert "input_sample_rate" not in echo_app.configs[0]


BAD_FRAMES = [
    ("not json {", "bad_frame", "not valid JSON"),
    ("[1, 2]", "bad_frame", "JSON array"),
    ('"text"', "bad_frame", "JSON string"),
    ('{"type": "dance"}', "unknown_type", "'dance'"),
    ('{"text": "no type"}', "bad_field", "'type'"),
    ('{"type": "text", "text": 5}', "bad_field", "'text'"),
    ('{"type": "text", "text": "hi", "extra": 1}', "bad_field", "'extra'"),
    ('{"type": "image", "data": "!!!not-base64", "mime_type": "image/png"}', "bad_field", "base64"),
    ('{"type": "image", "data": "AAAA", "mime_type": "image/gif"}', "bad_field", "mime_type"),
    ('{"type": "activity_start", "now": true}', "bad_field", "'now'"),
]


@pytest.mark.parametrize(("frame", "code", "needle"), BAD_FRAMES)
async def test_malformed_frame_gets_an_error_and_the_session_goes_on(
    echo_app: EchoApp, frame: str, code: str, needle: str
) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        await ws.send(frame)
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == code and not error["fatal"]
        assert needle in error["message"]
        await ws.send(json.dumps({"type": "text", "text": "still here"}))
        events, _ = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        assert events[0]["text"] == "echo: still here"
    assert [type(i) for i in echo_app.items] == [TextInput]


async def test_odd_sized_audio_is_refused_and_nothing_queued(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        await ws.send(b"\x00\x01\x02")
        error = await recv_json(ws)
        assert error["code"] == "bad_audio" and "PCM16" in error["message"]
        await ws.send(b"\x00\x00")
        assert (await recv_json(ws))["type"] == "audio_format"
    assert len(echo_app.items) == 1


BAD_OVERRIDES = [
    ('{"temperature": 0.2}', "unknown override 'temperature'"),
    ('{"system_instruction": "be evil"}', "not allowed by this server"),
    ('{"voice": 7}', "'voice' must be a non-empty string"),
    ('{"input_sample_rate": 12345}', "'input_sample_rate' must be one of"),
    ('{"thread_id": "../etc/passwd"}', "'thread_id'"),
    ('{"vad": {"enabled": "yes"}}', "'vad' is invalid at 'enabled'"),
    ('{"response_modalities": ["VIDEO"]}', "'response_modalities'"),
    ('{"type": "text", "text": "hi"}', "session overrides object"),
    ("[]", "JSON array"),
]


@pytest.mark.parametrize(("first", "needle"), BAD_OVERRIDES)
async def test_bad_first_frame_is_refused_and_a_good_one_still_starts(
    echo_app: EchoApp, first: str, needle: str
) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send(first)
        error = await recv_json(ws)
        assert error["type"] == "error" and needle in error["message"], error
        await ws.send(json.dumps({"thread_id": "ok", "vad": {"enabled": False}}))
        assert await recv_json(ws) == {"type": "session_started", "thread_id": "ok"}
    assert echo_app.configs == [{"thread_id": "ok", "vad": {"enabled": False}}]


async def test_audio_before_the_first_frame_is_an_error(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send(b"\x00\x00" * 10)
        error = await recv_json(ws)
        assert error["code"] == "bad_frame" and "first frame" in error["message"]
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"


async def test_server_allowlist_can_enable_system_instruction(echo_app: EchoApp) -> None:
    config = BridgeConfig(overrides=["system_instruction"])
    async with bridge_server(echo_app, config) as addr, connect(live_url(addr)) as ws:
        await ws.send(json.dumps({"system_instruction": "be brief"}))
        assert (await recv_json(ws))["type"] == "session_started"
        await ws.send(json.dumps({"voice": "Puck"}))  # no longer allowed: not a first frame
    assert echo_app.configs[0]["system_instruction"] == "be brief"


async def test_interrupted_flushes_queued_audio_and_is_forwarded(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        await ws.send(json.dumps({"type": "text", "text": "interrupt"}))
        assert (await recv_json(ws))["type"] == "interrupted"


async def test_controls_are_forwarded(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        for kind in ("activity_start", "activity_end", "audio_stream_end"):
            await ws.send(json.dumps({"type": kind}))
            assert (await recv_json(ws))["text"] == f"control {kind}"


async def test_client_disconnect_ends_the_session(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            await recv_json(ws)
        await echo_app.finished.wait()


async def test_healthz_and_page(echo_app: EchoApp) -> None:
    import httpx

    async with bridge_server(echo_app) as addr, httpx.AsyncClient() as client:
        health = await client.get(f"http://{addr}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        page = await client.get(f"http://{addr}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        script = await client.get(f"http://{addr}/static/app.js")
        assert script.status_code == 200


class BrokenCheckpointer:
    async def aget_thread(self, config: dict[str, Any]) -> None:
        raise OSError("database is down")


class RefusingApp:
    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        raise ValueError(f"no provider serves model {config.get('model')!r}")
        yield  # an async generator


async def test_checkpointer_failure_closes_1011_without_details(echo_app: EchoApp) -> None:
    async with bridge_server(echo_app, checkpointer=BrokenCheckpointer()) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            error = await recv_json(ws)
            assert error["code"] == "checkpointer_error" and error["fatal"]
            assert "database is down" not in error["message"]
            await ws.wait_closed()
            assert ws.close_code == 1011


async def test_refused_session_arguments_close_1011_with_the_reason() -> None:
    async with bridge_server(RefusingApp()) as addr, connect(live_url(addr)) as ws:
        await ws.send(json.dumps({"model": "nope"}))
        error = await recv_json(ws)
        assert error["code"] == "session_refused" and "'nope'" in error["message"]
        await ws.wait_closed()
        assert ws.close_code == 1011


HOSTILE_JSON = [
    "1" * 5000,  # a bare 5,000-digit number
    '{"thread_id": "a", "n": %s}' % ("7" * 5000),
    '{"vad": {"silence_duration_ms": %s}}' % ("9" * 5000),
    '{"vad": {"silence_duration_ms": 1e999}}',
    '{"thread_id": "\\ud800"}',
    '{"\\udc00": true}',
]


@pytest.mark.parametrize("hostile", HOSTILE_JSON)
async def test_hostile_json_is_bad_frame_in_the_first_frame_and_later(
    echo_app: EchoApp, hostile: str
) -> None:
    """Huge numbers and lone surrogates are refused at the boundary, never a 1006/1011."""
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        await ws.send(hostile)  # as the first frame
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "bad_frame", error
        assert not error["fatal"] and len(error["message"]) < 200
        await ws.send(json.dumps({"thread_id": "t-hostile"}))  # the session still starts
        assert (await recv_json(ws))["type"] == "session_started"
        for later in (hostile, '{"type": "text", "text": "\\ud800 lone"}'):
            await ws.send(later)
            error = await recv_json(ws)
            assert (error["code"], error["fatal"]) == ("bad_frame", False), error
        await ws.send(json.dumps({"type": "text", "text": "still here \ud83d\ude00"}))
        events, _ = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        assert events[0]["text"] == "echo: still here \U0001f600"
        await ws.send(json.dumps({"type": "close"}))
        await ws.wait_closed()
        assert ws.close_code == 1000
    assert [item.text for item in echo_app.items] == ["still here \U0001f600"]
