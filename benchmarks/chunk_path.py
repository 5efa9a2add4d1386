"""CPU per audio chunk, both ways, through the real Gemini plugin and runtime, no sockets.

The many-session benchmark measures realtalk end to end, where TLS, the kernel and a
shared machine move CPU readings by 10-20% from run to run: more than one change to the
per-chunk path is worth. This one keeps exactly the per-chunk work of a real-time session
and nothing else, so a paired A/B (``ab.py``) can see a few percent:

* a fake WebSocket hands the client one raw Gemini Live audio frame (4.8 KB of 24 kHz
  PCM16, base64 in JSON, as the server sends it) per loop wakeup (a future resolved by
  ``call_soon``, as a socket read is) and records what is sent;
* ``floor``: what every client must do with it: ``json.loads``, base64-decode, and for
  each received chunk one 100 ms 16 kHz chunk sent back as google-genai's JSON text;
* ``realtalk``: ``AudioAgent(...).compile().arealtime(queue, ...)`` on a real
  ``GeminiSession`` (the plugin's audio fast path, its decoder, the runtime's receive
  loop, output stream, input pump and send lock) over that fake socket; the user's loop
  answers each audio event with ``queue.send_audio``.

Runs alternate (the order flips every run); figures are microseconds of CPU per chunk (one
received plus one sent): the medians with the median of paired ratios, and the best run
of each (noise only ever adds CPU, so the best is the least disturbed) with their ratio.

``uv run python benchmarks/chunk_path.py`` (full) or ``--quick`` (CI).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from types import SimpleNamespace
from typing import Any

import _harness as h

MODEL = "gemini-live-2.5-flash-preview"
IN_MIME = f"audio/pcm;rate={h.IN_RATE}"
FRAME = json.dumps(
    {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": f"audio/pcm;rate={h.OUT_RATE}",
                            "data": base64.b64encode(bytes(h.OUT_CHUNK)).decode(),
                        }
                    }
                ]
            }
        }
    }
).encode()
END = json.dumps({"serverContent": {"turnComplete": True}}).encode()
IN_CHUNK = bytes(h.IN_CHUNK)


class FakeWire:
    """The socket: ``count`` audio frames then a turn end, one per loop wakeup."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.sent = 0
        self.closed = asyncio.Event()

    async def recv(self, decode: bool | None = None) -> bytes:
        if self.left < 0:
            await self.closed.wait()
        loop = asyncio.get_running_loop()
        arrived = loop.create_future()
        loop.call_soon(arrived.set_result, None)
        await arrived
        self.left -= 1
        return FRAME if self.left >= 0 else END

    async def send(self, text: str) -> None:
        self.sent += 1


async def floor(count: int) -> float:
    """Microseconds of CPU per chunk both ways for the bare client."""
    wire = FakeWire(count)
    got = 0
    cpu0 = time.process_time()
    while True:
        content = json.loads(await wire.recv(decode=False)).get("serverContent")
        turn = content.get("modelTurn")
        if turn is None:
            break
        for part in turn.get("parts", ()):
            blob = part.get("inlineData")
            if blob is not None:
                base64.b64decode(blob["data"])
                got += 1
                data = base64.urlsafe_b64encode(IN_CHUNK).decode("ascii")
                audio = {"data": data, "mime_type": IN_MIME}
                await wire.send(json.dumps({"realtime_input": {"audio": audio}}))
    return (time.process_time() - cpu0) / got * 1e6


class _Provider:
    """The Gemini provider's capabilities, connecting to a `FakeWire`."""

    name = "gemini"

    def __init__(self, count: int) -> None:
        from realtalk_gemini import GeminiProvider

        self.capabilities = GeminiProvider().capabilities
        self.count = count
        self.wire: FakeWire | None = None

    async def connect(self, setup: Any) -> Any:
        from realtalk_gemini.transport import GeminiSession

        self.wire = FakeWire(self.count)
        sdk_session = SimpleNamespace(_ws=self.wire, _api_client=SimpleNamespace(vertexai=False))
        live = GeminiSession(
            None,  # type: ignore[arg-type]  # the client is only kept, never called
            contextlib.nullcontext(),  # type: ignore[arg-type]
            sdk_session,
            presented_handle=False,
        )
        assert live._wire is self.wire, "the plugin did not take the audio fast path"
        return live


async def realtalk(count: int) -> float:
    """Microseconds of CPU per chunk both ways through ``arealtime`` (start/end left out)."""
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
    from realtalk.events import AudioDeltaEvent, TurnCompleteEvent

    provider = _Provider(count)
    config = RealtimeConfig(model=MODEL, session_resumption=False)
    app = AudioAgent(MODEL, realtime_config=config, provider=provider).compile()
    queue = LiveInputQueue()
    got = 0
    cpu0 = cpu1 = 0.0
    async for event in app.arealtime(queue, {"thread_id": "bench"}):
        if type(event) is AudioDeltaEvent:
            if got == 0:
                cpu0 = time.process_time()  # from the first audio event on
            got += 1
            queue.send_audio(IN_CHUNK, h.IN_RATE)
        elif type(event) is TurnCompleteEvent:
            cpu1 = time.process_time()
            queue.close()
    assert provider.wire is not None and provider.wire.sent >= got - 1
    return (cpu1 - cpu0) / (got - 1) * 1e6


async def main(quick: bool) -> None:
    h.header("chunk path: CPU per audio chunk both ways, Gemini plugin + runtime", quick)
    if hasattr(os, "sched_setaffinity"):  # one core: no migrations between runs
        core = max(os.sched_getaffinity(0))
        h.pin_self(core)
        print(f"pinning: this process on core {core}")
    count = 500 if quick else 20_000
    runs = 2 if quick else 9
    measures = {"floor": lambda: floor(count), "realtalk": lambda: realtalk(count)}
    results = await h.alternating(runs, measures, "us_per_chunk")
    f, r = h.median(results["floor"]), h.median(results["realtalk"])
    pairs = zip(results["realtalk"], results["floor"], strict=True)
    paired = h.median([h.ratio(a, b) for a, b in pairs])
    print(f"\n## medians of {runs} alternating runs ({count} chunks each way)")
    h.row("us per chunk", floor=f, realtalk=r, realtalk_cost=r - f)
    h.row("ratio realtalk/floor", cpu=paired)
    best_f, best_r = min(results["floor"]), min(results["realtalk"])
    h.row("best us per chunk", floor=best_f, realtalk=best_r, realtalk_cost=best_r - best_f)
    h.row("ratio best realtalk/floor", cpu=h.ratio(best_r, best_f))
    print("\ndone")


if __name__ == "__main__":
    args = h.parser(__doc__ or "").parse_args()
    asyncio.run(main(args.quick))
