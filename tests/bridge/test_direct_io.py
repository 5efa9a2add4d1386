"""``realtalk api``'s shortcut for audio (`DIRECT_IO`): binary frames taken in the
protocol's callback and audio written by the pump itself, and everything still in order.

The bridge runs under real uvicorn with ``realtalk api``'s protocols and a real agent on
a strict `FakeProvider` (any input out of order fails its script); the client is the
``websockets`` library, whose frames are sometimes written in one TCP write so that the
server parses them in one callback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig
from realtalk.bridge.session import LiveSession
from realtalk.bridge.wsprotocol import DirectIO
from realtalk.inputs import AudioInput, TextInput
from realtalk_testing import FakeProvider, emit, expect

from ._support import ClientConnection, bridge_server, connect, live_url, recv_json, recv_until

CHUNK = bytes(range(256)) * 25  # 6,400 bytes: 200 ms of 16 kHz PCM16, not all zeros
OUT = bytes(4800)  # 100 ms of 24 kHz PCM16


class Counts:
    """How often each shortcut was taken (True) or declined (False)."""

    def __init__(self) -> None:
        self.writes: list[tuple[type, bool]] = []  # (str or bytes, written at once)
        self.takes: list[bool] = []


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    seen = Counts()
    write = DirectIO.write
    take_binary = DirectIO.take_binary

    def counted_write(self: DirectIO, data: str | bytes) -> bool:
        done = write(self, data)
        seen.writes.append((type(data), done))
        return done

    def counted_take(self: DirectIO, handler: Any) -> None:
        if handler is None:
            take_binary(self, None)
            return

        def counted(data: Any) -> bool:
            taken = bool(handler(data))
            seen.takes.append(taken)
            return taken

        take_binary(self, counted)

    monkeypatch.setattr(DirectIO, "write", counted_write)
    monkeypatch.setattr(DirectIO, "take_binary", counted_take)
    yield seen


def agent(script: list[Any], *, strict: bool = True, **options: Any) -> tuple[Any, FakeProvider]:
    fake = FakeProvider(script, strict=strict, yield_on_send=False, **options)
    app = AudioAgent("fake-model", provider=fake).compile()
    return app, fake


def burst(ws: ClientConnection, *frames: str | bytes) -> None:
    """Write ``frames`` in one TCP write: the server parses them in one callback."""
    for frame in frames:
        if isinstance(frame, str):
            ws.protocol.send_text(frame.encode())
        else:
            ws.protocol.send_binary(frame)
    ws.transport.write(b"".join(ws.protocol.data_to_send()))


async def test_audio_skips_the_asgi_queue_and_the_writer_and_arrives_whole_in_order(
    counts: Counts,
) -> None:
    chunks = [CHUNK[i:] + CHUNK[:i] for i in range(0, 40, 2)]  # 20 distinct chunks
    script: list[Any] = []
    for _ in chunks:
        script += [expect.audio(min_bytes=len(CHUNK)), emit.audio(data=OUT), emit.turn_complete()]
    app, fake = agent([*script, expect.close()], record=True)
    async with bridge_server(app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        received: list[bytes] = []
        for chunk in chunks:  # one at a time: the bridge is idle when each arrives
            await ws.send(chunk)
            while True:
                frame = await ws.recv()
                if isinstance(frame, bytes):
                    received.append(frame)
                    break
        await ws.send(json.dumps({"type": "close"}))
        await recv_until(ws, lambda e: e["type"] == "session_ended")
    fake.assert_done()
    sent = [item.data for item in fake.sessions[0].record.items if isinstance(item, AudioInput)]
    assert sent == chunks
    assert received == [OUT] * len(chunks)
    # every chunk took both shortcuts (nothing queued, the socket had room), but the
    # first answer, which waits behind the audio_format frame the writer task sends
    assert counts.takes.count(True) == len(chunks)
    assert [done for kind, done in counts.writes if kind is bytes] == [True] * (len(chunks) - 1)
    # and the events (turn_complete after each answer) were written by the pump itself
    assert [done for kind, done in counts.writes if kind is str].count(True) >= len(chunks)


async def test_a_text_frame_parsed_with_audio_behind_it_keeps_its_place(counts: Counts) -> None:
    script = [
        expect.text("first"),
        expect.audio(min_bytes=2 * len(CHUNK)),
        expect.text("last"),
        emit.audio(data=OUT),
        emit.turn_complete(),
        expect.close(),
    ]
    app, fake = agent(script, record=True)
    async with bridge_server(app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        text = json.dumps({"type": "text", "text": "first"})
        last = json.dumps({"type": "text", "text": "last"})
        burst(ws, text, CHUNK, CHUNK, last)  # queued text: the audio must wait behind it
        _, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        await ws.send(json.dumps({"type": "close"}))
        await recv_until(ws, lambda e: e["type"] == "session_ended")
    fake.assert_done()
    items = fake.sessions[0].record.items
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["TextInput", "AudioInput", "AudioInput", "TextInput"]
    assert [item.text for item in items if isinstance(item, TextInput)] == ["first", "last"]
    assert audio == [OUT]
    assert True not in counts.takes  # behind a queued frame, nothing jumped the queue


async def test_audio_the_shortcut_declines_gets_the_usual_answers(counts: Counts) -> None:
    config = BridgeConfig.model_validate({"limits": {"max_frames_per_second": 1}})
    app, _ = agent([expect.audio(min_bytes=10**9)], strict=False)  # 4 frames, then 1 a second
    async with bridge_server(app, config) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        await ws.send(b"\x00\x01\x02")  # not whole PCM16 samples
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "bad_audio"
        burst(ws, *[CHUNK] * 5)  # past the frame allowance: closed as rate limited
        await recv_until(ws, lambda e: e.get("code") == "rate_limited")
        await ws.wait_closed()
        assert ws.close_code == 4429
    assert False in counts.takes  # the odd frame and the frame over the rate were declined


@pytest.mark.parametrize("stock", [False, True], ids=["realtalk-api", "stock-uvicorn"])
async def test_both_protocols_serve_the_same_session(stock: bool) -> None:
    script = [
        expect.audio(min_bytes=3 * len(CHUNK)),
        emit.audio(data=OUT),
        emit.turn_complete(),  # a reply in flight would hold the close (docs/bridge.md)
        expect.close(),
    ]
    app, fake = agent(script)
    async with bridge_server(app, stock_protocol=stock) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        burst(ws, CHUNK, CHUNK, CHUNK)
        assert await ws.recv() == json.dumps(
            {"type": "audio_format", "sample_rate": 24000, "encoding": "pcm16"}
        )
        assert await ws.recv() == OUT
        await ws.send(json.dumps({"type": "close"}))
        await recv_until(ws, lambda e: e["type"] == "session_ended")
    fake.assert_done()


async def test_a_failing_shortcut_is_turned_off_and_the_frame_still_arrives(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: LiveSession, data: Any) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(LiveSession, "_take_audio", broken)
    script = [
        expect.audio(min_bytes=2 * len(CHUNK)),
        emit.audio(data=OUT),
        emit.turn_complete(),
        expect.close(),
    ]
    app, fake = agent(script)
    async with bridge_server(app) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        await ws.send(CHUNK)
        await ws.send(CHUNK)
        _, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        await ws.send(json.dumps({"type": "close"}))
        await recv_until(ws, lambda e: e["type"] == "session_ended")
    fake.assert_done()
    assert audio == [OUT]
    assert caplog.text.count("the binary frame shortcut failed") == 1  # then it is off


@pytest.mark.parametrize("compression", [False, True], ids=["default", "websocket_compression"])
async def test_permessage_deflate_is_declined_unless_configured(compression: bool) -> None:
    """Browsers offer permessage-deflate on every WebSocket (so does this client)."""
    config = BridgeConfig(websocket_compression=compression)
    script = [expect.audio(min_bytes=len(CHUNK)), emit.audio(data=OUT), emit.turn_complete()]
    app, _ = agent([*script, expect.close()])
    async with bridge_server(app, config) as addr, connect(live_url(addr)) as ws:
        offered = ws.request is not None and ws.request.headers.get("Sec-WebSocket-Extensions")
        assert offered and "permessage-deflate" in offered
        accepted = ws.response is not None and ws.response.headers.get("Sec-WebSocket-Extensions")
        assert bool(accepted) is compression
        await ws.send("{}")
        assert (await recv_json(ws))["type"] == "session_started"
        await ws.send(CHUNK)
        _, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
        assert audio == [OUT]  # the same frames either way
        await ws.send(json.dumps({"type": "close"}))
        await recv_until(ws, lambda e: e["type"] == "session_ended")


def test_realtalk_api_passes_the_compression_setting_to_uvicorn() -> None:
    from realtalk.bridge.cli import _uvicorn_config

    for compression in (False, True):
        config = BridgeConfig(websocket_compression=compression)
        assert _uvicorn_config(object(), config, "warning").ws_per_message_deflate is compression
