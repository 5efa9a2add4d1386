"""CassetteRecorder: record a session served by FakeGeminiServer, replay it, compare."""

from __future__ import annotations

import base64
import json
import wave
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types
from websockets.asyncio.server import ServerConnection, serve

from realtalk_testing.cassette import (
    QUESTION_WAV,
    Cassette,
    RecvLine,
    SendLine,
    shipped_cassette_names,
)
from realtalk_testing.gemini_server import FakeGeminiServer
from realtalk_testing.recorder import CassetteRecorder
from realtalk_testing.tls import local_tls

from ._sdk_driver import MODEL, drive


def question_pcm() -> bytes:
    with wave.open(str(QUESTION_WAV), "rb") as wav:
        return wav.readframes(wav.getnframes())


def recv_frames(c: Cassette, conn: int) -> list[dict[str, object]]:
    return [dict(ln.frame) for ln in c.lines_for(conn) if isinstance(ln, RecvLine)]


@pytest.mark.parametrize("name", shipped_cassette_names())
async def test_record_then_replay_gives_the_same_event_stream(name: str, tmp_path: Path) -> None:
    original = Cassette.shipped(name)
    path = tmp_path / f"{name}.jsonl"
    async with FakeGeminiServer(original) as upstream:
        async with CassetteRecorder(path, upstream=upstream.http_options) as recorder:
            live = await drive(original, recorder.http_options, audio=question_pcm())
    assert upstream.report.ok
    assert recorder.errors == []
    recorded = Cassette.load(path)
    assert recorded.conns == original.conns
    for conn in original.conns:
        assert recv_frames(recorded, conn) == recv_frames(original, conn)
    async with FakeGeminiServer(recorded) as replay:
        again = await drive(recorded, replay.http_options, audio=question_pcm())
    assert replay.report.ok, replay.report.summary()
    assert again.messages == live.messages
    assert again.ends == live.ends


async def test_recording_redacts_keys_and_keeps_no_client_audio(tmp_path: Path) -> None:
    original = Cassette.shipped("spoken_question")
    path = tmp_path / "redacted.jsonl"
    secret = "AIzaSy-very-secret-key"
    async with FakeGeminiServer(original, strict=False) as upstream:
        async with CassetteRecorder(
            path, upstream=upstream.http_options, max_audio_bytes=100
        ) as recorder:
            client = genai.Client(api_key=secret, http_options=recorder.http_options)
            async with client.aio.live.connect(model=MODEL) as session:
                pcm = question_pcm()
                for i in range(0, len(pcm), 3200):
                    await session.send_realtime_input(
                        audio=types.Blob(data=pcm[i : i + 3200], mime_type="audio/pcm;rate=16000")
                    )
                async for _ in session.receive():
                    pass
                await session.send_realtime_input(text=f"my key is {secret}")
    assert upstream.connection(1).headers["x-goog-api-key"] == "<redacted>"
    text = path.read_text()
    assert secret not in text
    assert "my key is <redacted>" in text
    recorded = Cassette.load(path)
    [audio_line] = [
        ln
        for ln in recorded.lines
        if isinstance(ln, SendLine) and ln.kind == "realtime_input.audio"
    ]
    assert audio_line.min_bytes == len(pcm)
    assert "data" not in str(audio_line.frame)
    assert recorded.model == MODEL
    for line in recorded.lines:
        if isinstance(line, RecvLine):
            for part in line.frame.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
                assert len(base64.b64decode(part["inlineData"]["data"])) <= 100


async def test_recorder_api_key_replaces_client_key_and_close_is_recorded(
    tmp_path: Path,
) -> None:
    seen: dict[str, str] = {}
    tls = local_tls()

    async def upstream_handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.update({k.lower(): v for k, v in ws.request.headers.raw_items()})
        await ws.recv()
        await ws.send(json.dumps({"setupComplete": {}}))
        await ws.close(1000, "done")

    async with serve(upstream_handler, "127.0.0.1", 0, ssl=tls.server_context) as upstream:
        port = next(iter(upstream.sockets)).getsockname()[1]
        options = {
            "base_url": f"https://127.0.0.1:{port}",
            "async_client_args": {"ssl": tls.client_context},
        }
        path = tmp_path / "k.jsonl"
        async with CassetteRecorder(path, upstream=options, api_key="real-key") as recorder:
            client = genai.Client(api_key="dummy-key", http_options=recorder.http_options)
            async with client.aio.live.connect(model=MODEL) as session:
                with pytest.raises(errors.APIError) as info:
                    async for _ in session.receive():
                        pass
                assert info.value.code == 1000
    assert seen["x-goog-api-key"] == "real-key"
    text = path.read_text()
    assert "real-key" not in text and "dummy-key" not in text
    assert '"close":{"code":1000,"reason":"done"}' in text


async def test_unreachable_upstream_closes_client_with_1011(tmp_path: Path) -> None:
    async with CassetteRecorder(
        tmp_path / "none.jsonl", upstream="https://127.0.0.1:9"
    ) as recorder:
        client = genai.Client(api_key="k", http_options=recorder.http_options)
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL):
                pass
        assert info.value.code == 1011
    assert recorder.errors and "upstream connect failed" in recorder.errors[0]
