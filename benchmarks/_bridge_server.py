"""The bridge under load, for ``capacity.py``: ``create_app`` + uvicorn in its own process.

The agent runs on a FakeProvider whose every connection answers each 100 ms of 16 kHz
input with 100 ms of 24 kHz model audio, so output is paced by the client's real-time
input and a round trip crosses bridge -> runtime -> provider -> runtime -> bridge.

Usage: ``python _bridge_server.py PORT SESSIONS CHUNKS``.
"""

from __future__ import annotations

import gc
import os
import sys


def build(sessions: int, chunks: int) -> object:
    from realtalk import AudioAgent, RealtimeConfig
    from realtalk.bridge.app import create_app
    from realtalk.bridge.config import BridgeConfig
    from realtalk.bridge.limits import LimitsConfig
    from realtalk_testing import FakeProvider
    from realtalk_testing.script import emit, expect

    out = bytes(4800)  # 100 ms of 24 kHz PCM16
    steps: list[object] = []
    for _ in range(chunks):
        steps += [expect.audio(min_bytes=3200), emit.audio(data=out)]
    steps.append(expect.close())
    provider = FakeProvider([steps] * sessions, record=False)  # counters only, as a real one
    app = AudioAgent(
        "fake-model", realtime_config=RealtimeConfig(model="fake-model"), provider=provider
    ).compile()
    config = BridgeConfig(limits=LimitsConfig(max_sessions=sessions + 10, idle_timeout=600))
    return create_app(config, app=app)


def main() -> None:
    import uvicorn

    port, sessions, chunks = (int(x) for x in sys.argv[1:4])
    app = build(sessions, chunks)
    if os.environ.get("BENCH_NO_GC"):  # diagnosis: are latency spikes collector pauses?
        gc.disable()
    elif os.environ.get("BENCH_GC_FREEZE"):  # measured: startup objects out of full passes
        gc.collect()
        gc.freeze()
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets",
        ws_max_size=1 << 20,
        ws_ping_interval=None,
        backlog=4096,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
