"""The benchmark clients, one coroutine each: a session against ``_stream_server.py``
until the server's ``turnComplete``, appending every received chunk's latency (ns) to
``lat`` and streaming stamped 100 ms input chunks when ``send`` is true; returns chunks.

* ``floor``: no SDK, no runtime: what every client must do (a TLS WebSocket from
  ``websockets``, ``json.loads`` and base64 per received frame, the same JSON text per
  sent chunk as google-genai writes). The floor of Python itself.
* ``raw``: the idiomatic google-genai loop (``live.connect``, ``session.receive()``,
  ``send_realtime_input``).
* ``realtalk``: ``AudioAgent(...).compile().arealtime(queue, ...)`` on default settings.
* ``realtalk_sdk_path``: the same with ``audio_fast_path=False``.
* ``realtalk_sink``: ``realtalk`` taking audio with ``arealtime(..., event_sink=...)``,
  in the session's receive task, as a server forwarding audio to a socket does.

Imports happen inside the clients so a script (or a peer's virtual environment) that
lacks one package can still run the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import _harness as h

MODEL = "gemini-live-2.5-flash-preview"
IN_MIME = f"audio/pcm;rate={h.IN_RATE}"
FLOOR_SETUP = (
    '{"setup": {"model": "models/' + MODEL + '", '
    '"generationConfig": {"responseModalities": ["AUDIO"]}}}'
)
"""The bare clients' first frame: ``json.dumps`` of the setup google-genai sends for audio."""


async def ticks() -> AsyncIterator[None]:
    """Every 100 ms on a fixed schedule, as a microphone produces chunks: a loop that lags
    sends the chunks it owes back to back instead of sending fewer (``sleep(0.1)`` after
    each send would let a slow client do less work and look cheaper)."""
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while True:
        next_at += h.CHUNK_SECONDS
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield


# --------------------------------------------------------------------------- floor


def live_uri(http_options: dict[str, Any]) -> str:
    """The Gemini Live WebSocket address google-genai derives from ``http_options``."""
    base = http_options["base_url"].rstrip("/").replace("https://", "wss://", 1)
    version = http_options.get("api_version", "v1beta")
    return f"{base}/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"


async def floor_session(http_options: dict[str, Any], *, send: bool, lat: list[int]) -> int:
    """The bare client: TLS frame in, ``json.loads``, base64-decode; JSON text out."""
    import base64
    import json

    from websockets.asyncio.client import connect

    setup = FLOOR_SETUP
    ssl = http_options["async_client_args"]["ssl"]
    chunks = 0
    headers = {"x-goog-api-key": "bench"}
    async with connect(live_uri(http_options), additional_headers=headers, ssl=ssl) as ws:
        await ws.send(setup)
        json.loads(await ws.recv(decode=False))  # setupComplete

        async def sender() -> None:
            async for _ in ticks():
                data = base64.urlsafe_b64encode(h.stamped(h.IN_CHUNK)).decode("ascii")
                audio = {"data": data, "mime_type": IN_MIME}
                await ws.send(json.dumps({"realtime_input": {"audio": audio}}))

        task = asyncio.create_task(sender()) if send else None
        try:
            while True:
                content = json.loads(await ws.recv(decode=False)).get("serverContent")
                if content is None:
                    continue
                turn = content.get("modelTurn")
                if turn is not None:
                    for part in turn.get("parts", ()):
                        blob = part.get("inlineData")
                        if blob is not None:
                            pcm = base64.b64decode(blob["data"])
                            lat.append(time.monotonic_ns() - h.stamp_of(pcm))
                            chunks += 1
                if content.get("turnComplete"):
                    break
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return chunks


# --------------------------------------------------------------------------- raw SDK

_RAW_CLIENTS: dict[str, Any] = {}


def raw_client(http_options: dict[str, Any]) -> Any:
    """One client per server, as an idiomatic google-genai program (and realtalk) does."""
    from google import genai

    key = http_options["base_url"]
    if key not in _RAW_CLIENTS:
        _RAW_CLIENTS[key] = genai.Client(api_key="bench", http_options=http_options)
    return _RAW_CLIENTS[key]


async def raw_session(http_options: dict[str, Any], *, send: bool, lat: list[int]) -> int:
    """One plain google-genai session until the server's turnComplete; returns chunks."""
    from google.genai import types

    client = raw_client(http_options)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    chunks = 0
    async with client.aio.live.connect(model=MODEL, config=config) as session:

        async def sender() -> None:
            async for _ in ticks():
                blob = types.Blob(data=h.stamped(h.IN_CHUNK), mime_type=IN_MIME)
                await session.send_realtime_input(audio=blob)

        task = asyncio.create_task(sender()) if send else None
        done = False
        while not done:
            async for message in session.receive():
                content = message.server_content
                if content is None:
                    continue
                if content.model_turn is not None and content.model_turn.parts:
                    for part in content.model_turn.parts:
                        blob = part.inline_data
                        if blob is not None and blob.data:
                            lat.append(time.monotonic_ns() - h.stamp_of(blob.data))
                            chunks += 1
                if content.turn_complete:
                    done = True
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return chunks


# --------------------------------------------------------------------------- realtalk

_APPS: dict[str, Any] = {}


def realtalk_app(http_options: dict[str, Any], *, fast: bool = True) -> Any:
    """One compiled app per server and path (an app serves any number of sessions)."""
    key = f"{http_options['base_url']} fast={fast}"
    if key not in _APPS:
        from realtalk import AudioAgent, RealtimeConfig

        options = {"api_key": "bench", "http_options": http_options, "audio_fast_path": fast}
        config = RealtimeConfig(model=MODEL, session_resumption=False, provider_options=options)
        _APPS[key] = AudioAgent(MODEL, realtime_config=config).compile()
    return _APPS[key]


async def realtalk_session(
    http_options: dict[str, Any],
    *,
    send: bool,
    lat: list[int],
    thread: str = "bench",
    fast: bool = True,
    sink: bool = False,
) -> int:
    """One realtalk session until the server's turn completes; returns chunks."""
    from realtalk import LiveInputQueue
    from realtalk.events import AudioDeltaEvent, TurnCompleteEvent

    app = realtalk_app(http_options, fast=fast)
    queue = LiveInputQueue()
    chunks = 0

    async def sender() -> None:
        async for _ in ticks():
            queue.send_audio(h.stamped(h.IN_CHUNK), h.IN_RATE)

    options: dict[str, Any] = {}
    if sink:  # defined only when used: a closure is objects every session keeps

        def take(event: Any) -> bool:  # from the receive task, while the loop below waits
            nonlocal chunks
            if type(event) is not AudioDeltaEvent:
                return False
            lat.append(time.monotonic_ns() - h.stamp_of(event.data))
            chunks += 1
            return True

        options["event_sink"] = take
    task = asyncio.create_task(sender()) if send else None
    async for event in app.arealtime(queue, {"thread_id": thread}, **options):
        if isinstance(event, AudioDeltaEvent):
            lat.append(time.monotonic_ns() - h.stamp_of(event.data))
            chunks += 1
        elif isinstance(event, TurnCompleteEvent):
            if task is not None:
                task.cancel()
            queue.close()
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return chunks


async def realtalk_sdk_path_session(http_options: dict[str, Any], **kwargs: Any) -> int:
    """realtalk with ``audio_fast_path=False``: every frame through google-genai's models."""
    return await realtalk_session(http_options, fast=False, **kwargs)


async def realtalk_sink_session(http_options: dict[str, Any], **kwargs: Any) -> int:
    """realtalk reading audio through ``event_sink`` (no task hop per received chunk)."""
    return await realtalk_session(http_options, sink=True, **kwargs)


Runner = Callable[..., Coroutine[Any, Any, int]]
CLIENTS: dict[str, Runner] = {
    "floor": floor_session,
    "raw": raw_session,
    "realtalk": realtalk_session,
    "realtalk_sdk_path": realtalk_sdk_path_session,
    "realtalk_sink": realtalk_sink_session,
}


def session_kwargs(name: str, index: int) -> dict[str, Any]:
    """Per-session arguments for concurrent runs (realtalk sessions need their own thread)."""
    return {"thread": f"bench-{index}"} if name.startswith("realtalk") else {}
