"""``realtalk api`` with no key and no realtalk.json serves the demo agent offline.

Through the real CLI subprocess and a WebSocket client: a spoken question (the demo's
bundled one, streamed as a microphone would) and then a typed one each get the recorded
answer back, audio and transcripts, with the tool call and the planned rotation. The
offline app's turn taking is checked directly, on its own input queue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from realtalk.config import INPUT_SAMPLE_RATE
from realtalk.demo.main import BUNDLED_QUESTION, _data_file
from realtalk.demo.playground import OfflineDemoApp
from realtalk.demo.wavfile import read_wav
from realtalk.queue import LiveInputQueue

from ._support import (
    ClientConnection,
    connect,
    live_url,
    offline_env,
    realtalk_api,
    recv_json,
    recv_until,
)

CHUNK = INPUT_SAMPLE_RATE * 2 // 10  # 100 ms of PCM16


async def recv_answer(ws: ClientConnection) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Frames up to the turn_complete that ends a spoken answer."""
    events: list[dict[str, Any]] = []
    audio: list[bytes] = []
    while not (events and events[-1]["type"] == "turn_complete" and audio):
        async with asyncio.timeout(60):
            more, chunks = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        events += more
        audio += chunks
    return events, audio


async def test_realtalk_api_without_key_or_config_serves_the_offline_demo(
    tmp_path: Path,
) -> None:
    question, _ = read_wav(_data_file(BUNDLED_QUESTION), INPUT_SAMPLE_RATE)
    silence = b"\x00\x00" * INPUT_SAMPLE_RATE  # a pause: the demo's turn detector ends it
    async with realtalk_api(tmp_path, config=False, env=offline_env()) as (addr, _, lines):
        async with httpx.AsyncClient() as client:
            page = (await client.get(f"http://{addr}/")).text
            icon = await client.get(f"http://{addr}/favicon.ico")
        async with connect(live_url(addr), subprotocols=["realtalk.v1"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"thread_id": "offline-1"}))
            assert await recv_json(ws) == {"type": "session_started", "thread_id": "offline-1"}
            pcm = question + silence
            for start in range(0, len(pcm), CHUNK):
                await ws.send(pcm[start : start + CHUNK])
            # Typed before the spoken answer arrived: the next question, answered next.
            await ws.send(json.dumps({"type": "text", "text": "and tomorrow?"}))
            spoken, spoken_audio = await recv_answer(ws)
            typed, typed_audio = await recv_answer(ws)
            await ws.send(json.dumps({"type": "close"}))
            ended, _ = await recv_until(ws, lambda e: e["type"] == "session_ended")
            await ws.wait_closed()
            close_code = ws.close_code
    log = "".join(lines)
    assert "offline demo" in log and "GEMINI_API_KEY" in log, log
    assert 'id="badge"' in page and "offline demo" in page
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
    for events, audio in ((spoken, spoken_audio), (typed, typed_audio)):
        kinds = [e["type"] for e in events]
        heard = [e["text"] for e in events if e["type"] == "input_transcript" and e["finished"]]
        said = [e["text"] for e in events if e["type"] == "output_transcript" and e["finished"]]
        assert heard == ["What's the weather like in Paris right now?"]
        assert said and "Paris" in said[-1]
        call = next(e for e in events if e["type"] == "tool_call")
        assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
        assert "tool_result" in kinds and "go_away" in kinds
        reconnected = next(e for e in events if e["type"] == "reconnected")
        assert reconnected["resumed"] is True
        assert sum(len(a) for a in audio) > 24000 * 2  # over a second of 24 kHz speech
        assert "error" not in kinds, events
    assert close_code == 1000 and ended[-1]["type"] == "session_ended"


async def collect(app: OfflineDemoApp, queue: LiveInputQueue) -> list[Any]:
    async with asyncio.timeout(60):
        return [event async for event in app.arealtime(queue, {"thread_id": "t"})]


async def test_an_open_microphone_in_a_quiet_room_asks_nothing() -> None:
    queue = LiveInputQueue()
    for _ in range(100):  # two seconds of near-silence
        queue.send_audio(b"\x10\x00" * 320, INPUT_SAMPLE_RATE)
    queue.close()
    events = await collect(OfflineDemoApp(), queue)
    assert [e.type for e in events] == ["session_started", "session_ended"]


async def test_a_microphone_stopped_early_still_gets_the_answer() -> None:
    question, _ = read_wav(_data_file(BUNDLED_QUESTION), INPUT_SAMPLE_RATE)
    queue = LiveInputQueue(maxsize=10_000)
    queue.send_audio(question[:INPUT_SAMPLE_RATE], INPUT_SAMPLE_RATE)  # half a second
    queue.send_audio_stream_end()  # "Stop microphone", then hang up
    queue.close()
    events = await collect(OfflineDemoApp(), queue)
    kinds = [e.type for e in events]
    assert kinds[0] == "session_started" and kinds[-1] == "session_ended"
    assert "turn_complete" in kinds and "audio_delta" in kinds and "error" not in kinds
