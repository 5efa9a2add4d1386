"""Limits over a real server: frame size, floods, session cap, idle timeout, slow readers,
graceful drain; plus the pure limiters with an injected clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.auth import Principal
from realtalk.bridge.limits import (
    InputRateLimiter,
    LimitsConfig,
    SendQueue,
    TokenBucket,
)
from realtalk.bridge.protocol import DEFAULT_OVERRIDES
from realtalk.bridge.session import LiveSession
from realtalk.events import (
    AudioDeltaEvent,
    OutputTranscriptEvent,
    SessionEndedEvent,
    SessionStartedEvent,
    TurnCompleteEvent,
)
from realtalk.queue import LiveInputQueue

from ._support import (
    EchoApp,
    bridge_server,
    connect,
    live_url,
    recv_json,
    recv_until,
    serve,
)


def limits(**values: Any) -> BridgeConfig:
    return BridgeConfig.model_validate({"limits": values})


async def expect_close(ws: Any, code: int, error: str) -> dict[str, Any]:
    events, _ = await recv_until(ws, lambda e: e["type"] == "error" and e["fatal"])
    assert events[-1]["code"] == error, events[-1]
    await ws.wait_closed()
    assert ws.close_code == code
    return events[-1]


# ---------------------------------------------------------------- pure limiters


def test_token_bucket_with_injected_clock() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, capacity=20, clock=lambda: now[0])
    assert bucket.take(20) and not bucket.take(1)
    now[0] += 0.5
    assert bucket.take(5) and not bucket.take(1)
    now[0] += 100
    assert bucket.take(20) and not bucket.take(1)  # refills only up to capacity


def test_input_rate_limiter_counts_bytes_and_frames() -> None:
    now = [0.0]
    cfg = LimitsConfig(
        max_input_bytes_per_second=1024,
        max_frames_per_second=2,
        burst_seconds=1,
        max_frame_bytes=1024,
    )
    limiter = InputRateLimiter(cfg, clock=lambda: now[0])
    assert limiter.allow(100) and limiter.allow(100)
    assert not limiter.allow(1)  # third frame within the burst
    now[0] += 1
    assert limiter.allow(1024) and not limiter.allow(1)  # bytes exhausted, a frame left


async def test_send_queue_drops_oldest_audio_never_events() -> None:
    queue = SendQueue(max_frames=3)
    queue.put("a")
    queue.put(b"1")
    queue.put(b"22")
    queue.put(b"333")  # full: b"1" goes
    queue.put("b")  # full: b"22" goes
    assert queue.dropped_chunks == 2 and queue.dropped_bytes == 3
    report = queue.take_drop_report()
    assert report is not None and (report.chunks, report.nbytes) == (2, 3)
    assert queue.take_drop_report() is None
    queue.put("c")  # full of events except b"333": it goes
    assert queue.events_waiting == 3
    queue.put(b"4")  # no audio left to drop: the new chunk is dropped instead
    assert queue.dropped_chunks == 4
    room = asyncio.create_task(queue.wait_for_room())
    await asyncio.sleep(0)
    assert not room.done()  # the producer waits for the reader
    assert await queue.get() == "a"
    await room
    queue.put("d")
    queue.close()
    assert [await queue.get() for _ in range(4)] == ["b", "c", "d", None]


# ---------------------------------------------------------------- over the wire


async def test_oversized_frame_closes_1009(echo_app: EchoApp) -> None:
    # uvicorn's own protocol: the frame reaches the bridge's check, which knows its size
    config = limits(max_frame_bytes=4096)
    async with bridge_server(echo_app, config, stock_protocol=True) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send(b"\x00" * 4098)
            error = await expect_close(ws, 1009, "frame_too_big")
            assert "4098 bytes" in error["message"]
    assert echo_app.items == []


async def test_byte_flood_closes_4429(echo_app: EchoApp) -> None:
    config = limits(max_frame_bytes=4096, max_input_bytes_per_second=1024, burst_seconds=1)
    async with bridge_server(echo_app, config) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        for _ in range(20):
            await ws.send(b"\x00" * 2000)
        await expect_close(ws, 4429, "rate_limited")
    assert len(echo_app.items) <= 3  # the flood never reached the session


async def test_frame_flood_closes_4429(echo_app: EchoApp) -> None:
    config = limits(max_frames_per_second=5, burst_seconds=1)
    async with bridge_server(echo_app, config) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        for _ in range(50):
            await ws.send('{"type": "audio_stream_end"}')
        await expect_close(ws, 4429, "rate_limited")


async def test_max_sessions_closes_1013_and_frees_the_slot(echo_app: EchoApp) -> None:
    asgi = create_app(limits(max_sessions=2), app=echo_app)
    bridge = asgi.state.bridge
    async with serve(asgi) as addr:
        async with connect(live_url(addr)) as one, connect(live_url(addr)) as two:
            for ws in (one, two):
                await ws.send("{}")
                await recv_json(ws)
            async with connect(live_url(addr)) as three:
                await expect_close(three, 1013, "server_busy")
            await one.send('{"type": "close"}')
            await one.wait_closed()
            for _ in range(1000):  # yield to the server until it released the slot
                if bridge.slots.active < 2:
                    break
                await asyncio.sleep(0)
            async with connect(live_url(addr)) as four:
                await four.send("{}")
                assert (await recv_json(four))["type"] == "session_started"
    assert bridge.slots.refused == 1 and bridge.slots.total == 3


async def test_idle_timeout_closes_4408(echo_app: EchoApp) -> None:
    config = limits(idle_timeout=0.2, first_frame_timeout=0.2)
    async with bridge_server(echo_app, config) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await expect_close(ws, 4408, "idle_timeout")
        async with connect(live_url(addr)) as ws:  # never sends its first frame
            await expect_close(ws, 4408, "idle_timeout")
    assert len(echo_app.configs) == 1


class BurstApp:
    """Emits ``count`` one-second audio chunks at once, then signals and ends the turn."""

    def __init__(self, count: int, *, text: bool = False) -> None:
        self.count = count
        self.text = text
        self.emitted = asyncio.Event()
        self.closed = asyncio.Event()

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        try:
            yield SessionStartedEvent(thread_id=config["thread_id"])
            await queue.get()  # the client's cue
            for index in range(self.count):
                if self.text:
                    yield OutputTranscriptEvent(text=f"{index:05d}" + "x" * 10_000)
                else:
                    yield AudioDeltaEvent(data=index.to_bytes(4, "little") * 12_000)
            self.emitted.set()
            yield TurnCompleteEvent()
            async for _ in queue:
                pass
            yield SessionEndedEvent()
        finally:
            self.closed.set()


class StallingSocket:
    """A stand-in for Starlette's WebSocket whose client reads only while ``flowing`` is set.

    A real client library buffers megabytes before the server feels it stop reading;
    this double makes "the client stopped reading" exact and instant.
    """

    def __init__(self, *texts: str) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for text in texts:
            self.push(text)
        self.flowing = asyncio.Event()
        self.sent: list[str | bytes] = []
        self.closed_with: tuple[int, str | None] | None = None

    def push(self, text: str) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, data: str) -> None:
        await self.flowing.wait()
        self.sent.append(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.flowing.wait()
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = (code, reason)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(f) for f in self.sent if isinstance(f, str)]


def stalled_session(app: Any, ws: StallingSocket, **limit_values: Any) -> LiveSession:
    return LiveSession(
        ws,  # type: ignore[arg-type]
        app=app,
        principal=Principal(user_id=None, method="none"),
        limits=LimitsConfig(**limit_values),
        allowed_overrides=frozenset(DEFAULT_OVERRIDES),
        queue_factory=LiveInputQueue,
    )


async def test_slow_reader_loses_oldest_audio_counted_and_reported() -> None:
    app = BurstApp(400)  # 400 one-second chunks while the client reads nothing
    ws = StallingSocket("{}", '{"type": "text", "text": "go"}')
    bridge = create_app(limits(send_queue_frames=8), app=app).state.bridge
    run = asyncio.create_task(bridge._run(ws, Principal(user_id=None, method="none")))
    await app.emitted.wait()
    ws.flowing.set()  # the client reads again
    ws.push('{"type": "close"}')
    await run
    assert ws.closed_with == (1000, "session ended")
    events = ws.events()
    reports = [e for e in events if e["type"] == "error"]
    assert len(reports) == 1 and reports[0]["code"] == "output_audio_dropped"
    assert not reports[0]["fatal"]
    dropped = int(reports[0]["message"].split("dropped ")[1].split()[0])
    audio = [f for f in ws.sent if isinstance(f, bytes)]
    assert dropped > 300 and len(audio) + dropped == 400  # counted exactly, memory bounded
    indices = [int.from_bytes(chunk[:4], "little") for chunk in audio]
    assert indices == sorted(indices) and indices[-1] == 399  # the oldest went, the newest kept
    assert [e["type"] for e in events][-2:] == ["turn_complete", "session_ended"]
    health = json.loads((await bridge.healthz(None)).body)
    assert health["dropped_audio_frames"] == dropped  # operators see it too


async def test_reader_that_never_reads_is_closed_4410() -> None:
    app = BurstApp(100, text=True)  # events, which are never dropped
    ws = StallingSocket("{}", '{"type": "text", "text": "go"}')
    run = asyncio.create_task(
        stalled_session(app, ws, send_queue_frames=8, slow_consumer_timeout=0.1).run()
    )
    await app.closed.wait()  # the bridge gave up waiting and ended the session
    assert not app.emitted.is_set()  # the session was held back, not buffered without end
    ws.flowing.set()
    await run
    assert ws.closed_with == (4410, "client not reading")
    last = ws.events()[-1]
    assert last["code"] == "slow_consumer" and last["fatal"] and "0.1 s" in last["message"]


async def test_a_burst_of_audio_reaches_a_reading_client_whole() -> None:
    app = BurstApp(300)  # 300 s of audio at once, 14.4 MB
    async with serve(create_app(limits(send_queue_frames=8), app=app)) as addr:
        async with connect(live_url(addr), max_size=None) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send('{"type": "text", "text": "go"}')
            events, audio = await recv_until(ws, lambda e: e["type"] == "turn_complete")
    assert [e["type"] for e in events] == ["audio_format", "turn_complete"]
    assert [int.from_bytes(a[:4], "little") for a in audio] == list(range(300))


async def test_a_burst_of_events_waits_for_a_reader_that_keeps_up() -> None:
    app = BurstApp(600, text=True)  # 6 MB of events in one burst, far over the queue
    async with serve(create_app(limits(send_queue_frames=8), app=app)) as addr:
        async with connect(live_url(addr), max_size=None) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send('{"type": "text", "text": "go"}')
            events, _ = await recv_until(ws, lambda e: e["type"] == "turn_complete")
    texts = [e["text"][:5] for e in events if e["type"] == "output_transcript"]
    assert texts == [f"{i:05d}" for i in range(600)]  # every event, in order


class ReplyApp:
    """Answers a text turn in two halves; the second waits for ``release``."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.first_half = asyncio.Event()

    async def arealtime(self, queue: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        yield SessionStartedEvent(thread_id=config["thread_id"])
        await queue.get()
        yield OutputTranscriptEvent(text="first half")
        self.first_half.set()
        await self.release.wait()
        yield OutputTranscriptEvent(text="second half", finished=True)
        yield TurnCompleteEvent()
        async for _ in queue:
            pass
        yield SessionEndedEvent(reason="input closed")


async def test_graceful_drain_finishes_the_reply_then_closes_1012() -> None:
    app = ReplyApp()
    asgi = create_app(limits(shutdown_grace=30), app=app)
    bridge = asgi.state.bridge
    async with serve(asgi) as addr, httpx.AsyncClient() as client:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send('{"type": "text", "text": "tell me"}')
            assert (await recv_json(ws))["text"] == "first half"
            drain = asyncio.create_task(bridge.drain())
            health = await client.get(f"http://{addr}/healthz")
            assert health.status_code == 503 and health.json()["status"] == "draining"
            async with connect(live_url(addr)) as late:
                await expect_close(late, 1012, "shutting_down")
            assert not drain.done()
            app.release.set()
            events, _ = await recv_until(ws, lambda e: e["type"] == "session_ended")
            assert [e["type"] for e in events] == [
                "output_transcript",
                "turn_complete",
                "session_ended",
            ]
            await ws.wait_closed()
            assert ws.close_code == 1012
            await drain


async def test_drain_grace_expiry_closes_1012() -> None:
    app = ReplyApp()  # never released: the reply cannot finish
    asgi = create_app(limits(shutdown_grace=0.1, drain_timeout=30), app=app)
    async with serve(asgi) as addr, connect(live_url(addr)) as ws:
        await ws.send("{}")
        await recv_json(ws)
        await ws.send('{"type": "text", "text": "tell me"}')
        await recv_json(ws)
        await asgi.state.bridge.drain()
        await ws.wait_closed()
        assert ws.close_code == 1012


def test_limits_validate() -> None:
    with pytest.raises(ValueError):
        LimitsConfig(max_sessions=0)
    with pytest.raises(ValueError, match="unknown fields"):
        BridgeConfig(overrides=["provider_options"])
    assert json.loads(LimitsConfig().model_dump_json())["send_queue_frames"] == 256


async def test_reply_keeps_flowing_into_the_runtime_after_the_client_left() -> None:
    app = BurstApp(600, text=True)  # far more than the send queue holds
    config = limits(send_queue_frames=8, drain_timeout=60, slow_consumer_timeout=60)
    async with serve(create_app(config, app=app)) as addr:
        async with connect(live_url(addr)) as ws:
            await ws.send("{}")
            await recv_json(ws)
            await ws.send('{"type": "text", "text": "go"}')
        # Gone without reading: the session still runs to its end (so the runtime can
        # persist the reply) instead of waiting for room that will never come.
        await app.emitted.wait()
        await app.closed.wait()
