"""One measured session of one client, run inside that client's own interpreter.

``python _client.py NAME CONFIG`` with CONFIG a JSON object (``port``, ``ca_pem``,
``chunks``): imports the client's library, runs one real-time session against the
benchmark server (``_stream_server.py``: a 100 ms chunk each way every 100 ms), and prints
one JSON line: received-chunk latencies (ns), this process's CPU seconds for the whole
session (imports left out; connect, client setup and first-use costs in) and for its
steady part (from the ``skip``-th received chunk to the end), chunk counts, or ``error``.

``floor``, ``raw`` and ``realtalk`` are ``benchmarks/_clients.py``'s; ``livekit`` drives
LiveKit Agents' Gemini ``RealtimeModel`` session directly (``push_audio``, the
generation's audio stream),
``pipecat`` runs Pipecat's ``GeminiLiveLLMService`` in a pipeline between a paced audio
source and a sink. Both get the same ``http_options`` as the raw client (``base_url`` to
the local server, its CA through ``async_client_args``).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

import _harness as h
from _clients import CLIENTS, MODEL, ticks


def prepare(name: str) -> None:
    """Import the client's library before the CPU clock starts, and set its logging to
    warnings (a deployment's setting; Pipecat logs every frame step at DEBUG otherwise)."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    if name == "floor":
        import websockets.asyncio.client  # noqa: F401
    elif name == "raw":
        import google.genai
    elif name == "realtalk":
        import google.genai  # noqa: F401  (its provider connects through it)

        import realtalk_gemini  # noqa: F401
        from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig  # noqa: F401
    elif name == "livekit":
        import livekit.plugins.google  # noqa: F401
    elif name == "pipecat":
        import pipecat.pipeline.task
        import pipecat.services.google.gemini_live.llm  # noqa: F401
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")


async def livekit_session(http_options: dict[str, Any], *, send: bool, lat: list[int]) -> int:
    """LiveKit Agents' Gemini realtime session, used as an agent's session uses it."""
    from google.genai import types
    from livekit import rtc
    from livekit.plugins import google

    model = google.realtime.RealtimeModel(
        model=MODEL, api_key="bench", http_options=types.HttpOptions(**http_options)
    )
    session = model.session()
    chunks = 0
    done = asyncio.Event()
    streams: asyncio.Queue[Any] = asyncio.Queue()
    session.on("generation_created", streams.put_nowait)

    async def sender() -> None:
        async for _ in ticks():
            pcm = h.stamped(h.IN_CHUNK)
            samples = len(pcm) // 2
            session.push_audio(rtc.AudioFrame(pcm, h.IN_RATE, 1, samples))

    async def receiver() -> None:
        nonlocal chunks
        while True:  # one generation per turn; the server's turn ends after its chunks
            generation = await streams.get()
            async for message in generation.message_stream:
                async for frame in message.audio_stream:
                    data = frame.data.tobytes()
                    lat.append(time.monotonic_ns() - h.stamp_of(data))
                    chunks += 1
            done.set()
            return

    task = asyncio.create_task(sender()) if send else None
    recv = asyncio.create_task(receiver())
    try:
        await done.wait()
    finally:
        for t in (task, recv):
            if t is not None:
                t.cancel()
        await asyncio.gather(*(t for t in (task, recv) if t), return_exceptions=True)
        await session.aclose()
        await model.aclose()
    return chunks


async def pipecat_session(http_options: dict[str, Any], *, send: bool, lat: list[int]) -> int:
    """Pipecat's Gemini Live service in a pipeline: paced source -> service -> sink."""
    from google.genai.types import HttpOptions
    from pipecat.frames.frames import (
        EndFrame,
        Frame,
        InputAudioRawFrame,
        LLMContextFrame,
        StartFrame,
        TTSAudioRawFrame,
        TTSStoppedFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService

    chunks = 0
    state: dict[str, Any] = {}

    class Source(FrameProcessor):  # stands for the transport's input
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)
            if isinstance(frame, StartFrame):
                # what a context aggregator does first: the (empty) conversation, after
                # which the service accepts real-time input
                await self.push_frame(LLMContextFrame(LLMContext()))
                if send:
                    state["sender"] = asyncio.create_task(self._send())

        async def _send(self) -> None:
            async for _ in ticks():
                frame = InputAudioRawFrame(
                    audio=h.stamped(h.IN_CHUNK), sample_rate=h.IN_RATE, num_channels=1
                )
                await self.push_frame(frame)

    class Sink(FrameProcessor):  # stands for the transport's output
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            nonlocal chunks
            await super().process_frame(frame, direction)
            if isinstance(frame, TTSAudioRawFrame):
                lat.append(time.monotonic_ns() - h.stamp_of(frame.audio))
                chunks += 1
            elif isinstance(frame, TTSStoppedFrame) and chunks:
                await task.queue_frame(EndFrame())
            await self.push_frame(frame, direction)

    llm = GeminiLiveLLMService(
        api_key="bench", model=MODEL, http_options=HttpOptions(**http_options)
    )
    task = PipelineTask(
        Pipeline([Source(), llm, Sink()]),
        params=PipelineParams(audio_in_sample_rate=h.IN_RATE, audio_out_sample_rate=h.OUT_RATE),
        enable_rtvi=False,
    )
    try:
        await PipelineRunner(handle_sigint=False).run(task)
    finally:
        sender = state.get("sender")
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    return chunks


RUNNERS = {**CLIENTS, "livekit": livekit_session, "pipecat": pipecat_session}


async def main(name: str, config: dict[str, Any]) -> dict[str, Any]:
    prepare(name)
    context = ssl.create_default_context(cadata=config["ca_pem"])
    http_options = {
        "base_url": f"https://127.0.0.1:{config['port']}",
        "api_version": "v1beta",
        "async_client_args": {"ssl": context},
    }
    lat: list[int] = []
    skip = int(config.get("skip", 10))
    marks: dict[str, float] = {}

    async def steady() -> None:  # CPU from the session's skip-th chunk on
        while len(lat) < skip:  # noqa: ASYNC110 (polled: the client's path stays its own)
            await asyncio.sleep(0.02)
        marks["cpu"], marks["chunks"] = time.process_time(), len(lat)

    cpu0 = time.process_time()
    watch = asyncio.create_task(steady())
    chunks = await asyncio.wait_for(
        RUNNERS[name](http_options, send=True, lat=lat),
        config["chunks"] * h.CHUNK_SECONDS * 3 + 30,
    )
    cpu1 = time.process_time()
    watch.cancel()
    if "cpu" not in marks:
        raise RuntimeError(f"only {chunks} chunks received")
    return {
        "recv_lat_ns": lat,
        "cpu_steady_s": cpu1 - marks["cpu"],
        "steady_chunks": chunks - marks["chunks"],
        "cpu_s": cpu1 - cpu0,
        "chunks": chunks,
    }


if __name__ == "__main__":
    try:
        out = asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
    except Exception as exc:  # reported to the runner as a reason, never a traceback
        out = {"error": f"{type(exc).__name__}: {exc}"[:400]}
    print(json.dumps(out), flush=True)
