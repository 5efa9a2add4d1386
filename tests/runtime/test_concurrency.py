"""Section 3.1: one compiled app, many sessions, nothing shared between them."""

from __future__ import annotations

import asyncio

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import RealtimeEvent
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, RoutingProvider, app_for, collect, of_type


def conversation(name: str, audio: bytes) -> list[list[object]]:
    return [
        [
            emit.session_update(f"handle-{name}-1"),
            expect.audio(exact=audio),
            emit.input_transcript(f"I am {name}"),
            emit.audio(data=audio[:480]),
            emit.output_transcript(f"Hello {name}", finished=True),
            emit.session_update(f"handle-{name}-2"),
            emit.turn_complete(),
            end.drop(),
        ],
        [expect.connect(handle=f"handle-{name}-2"), emit.turn_complete(), expect.close()],
    ]


async def test_two_concurrent_sessions_share_no_audio_handles_or_transcripts() -> None:
    audio_a = bytes([1, 0]) * 1600
    audio_b = bytes([2, 0]) * 1600
    fakes = {
        "a": FakeProvider(conversation("a", audio_a), strict=True),
        "b": FakeProvider(conversation("b", audio_b), strict=True),
    }
    checkpointer = InMemoryCheckpointer()
    app = app_for(
        RoutingProvider(fakes),
        config=RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(jitter=0)),
        checkpointer=checkpointer,
        clock=ManualClock(auto_advance=True),
    )
    both_started = asyncio.Event()
    started = 0

    def starter(queue: LiveInputQueue, audio: bytes):  # type: ignore[no-untyped-def]
        turns = 0

        async def on_event(event: RealtimeEvent) -> None:
            nonlocal started, turns
            if event.type == "session_started":
                started += 1
                if started == 2:
                    both_started.set()
                await both_started.wait()  # interleave the two sessions
                queue.send_audio(audio)
            if event.type == "turn_complete":
                turns += 1
                if turns == 2:
                    queue.close()

        return on_event

    qa, qb = LiveInputQueue(), LiveInputQueue()
    events_a, events_b = await asyncio.gather(
        collect(app, qa, {"thread_id": "a"}, on_event=starter(qa, audio_a)),
        collect(app, qb, {"thread_id": "b"}, on_event=starter(qb, audio_b)),
    )
    for name, events, own_audio in (("a", events_a, audio_a), ("b", events_b, audio_b)):
        other = "b" if name == "a" else "a"
        texts = [e.text for e in events if e.type in ("input_transcript", "output_transcript")]
        assert texts == [f"I am {name}", f"Hello {name}"]
        assert [e.data for e in of_type(events, "audio_delta")] == [own_audio[:480]]
        handles = [e.resumption_handle for e in of_type(events, "session_update")]
        assert handles == [f"handle-{name}-1", f"handle-{name}-2"]
        assert events[0].thread_id == name
        assert not any(f"handle-{other}" in str(e) for e in events)
        thread = await checkpointer.aget_thread({"thread_id": name})
        assert thread is not None and thread.metadata["resumption_handle"] == f"handle-{name}-2"
        messages = await checkpointer.alist_messages({"thread_id": name})
        assert [m.text_content for m in messages] == [f"I am {name}", f"Hello {name}"]
        fakes[name].assert_done()
    assert app.active_sessions == 0


async def test_one_app_runs_sessions_one_after_another() -> None:
    fake = FakeProvider(
        [[emit.turn_complete(), expect.close()], [emit.turn_complete(), expect.close()]]
    )
    app = app_for(fake)
    for thread in ("x", "y"):
        events = await collect(
            app, LiveInputQueue(), {"thread_id": thread}, close_on="turn_complete"
        )
        assert events[0].thread_id == thread
    fake.assert_done()
