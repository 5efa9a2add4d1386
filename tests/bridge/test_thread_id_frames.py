"""The bridge applies the runtime's thread-id rule to a client's first frame, exactly."""

from __future__ import annotations

import json

from realtalk.thread_ids import THREAD_ID_MAX_LENGTH

from ._support import EchoApp, bridge_server, connect, live_url, recv_json

REFUSED = [
    "alice-private-1\n",  # a `$` regex lets a final newline through
    "\nalice-private-1",
    "alice\x00private-1",
    "alice-private-1\r",
    "alice-priv\u2028ate-1",
    "a" * (THREAD_ID_MAX_LENGTH + 1),
    "z" * 3000,
]


async def test_first_frames_with_a_bad_thread_id_are_refused_and_never_echoed_whole(
    echo_app: EchoApp,
) -> None:
    longest = "b" * THREAD_ID_MAX_LENGTH
    async with bridge_server(echo_app) as addr, connect(live_url(addr)) as ws:
        for thread_id in REFUSED:
            await ws.send(json.dumps({"thread_id": thread_id}))
            error = await recv_json(ws)
            assert error["type"] == "error" and error["code"] == "bad_override", error
            assert "'thread_id'" in error["message"] and len(error["message"]) < 300
        await ws.send(json.dumps({"thread_id": longest}))
        assert await recv_json(ws) == {"type": "session_started", "thread_id": longest}
    assert echo_app.configs == [{"thread_id": longest}]
