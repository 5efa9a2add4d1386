"""Regression tests for the bugs the soak found, each named after its bug.

Each one reproduces the failure in isolation (the soak seed that found it is named too),
so the fix stays covered even if the generator changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from realtalk.events import InputTranscriptEvent
from realtalk.messages import Message
from realtalk.runtime.transcripts import TranscriptTracker


def _texts(outputs: list[object]) -> list[tuple[str, str]]:
    return [(m.role, m.text_content) for m in outputs if isinstance(m, Message)]


async def test_bug_utterance_split_by_a_resumed_reconnect_lost_its_start() -> None:
    """Soak seeds 1, 3, 4 (and many more): a connection dropped mid-utterance and the
    session resumed; the new connection's decoder only knew the fragments sent after the
    reconnect, and its whole-utterance text replaced everything heard before it, so the
    persisted transcript lost its start (only "weather" of "what is the weather").
    Now what was heard on the old connection is closed and kept when the new one
    attaches (the new provider may continue the utterance or start it over)."""
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
    from realtalk.checkpoint import InMemoryCheckpointer
    from realtalk_testing import FakeProvider, emit, end, expect

    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.input_transcript("what is the", finished=False),
                end.drop(),
            ],
            [
                expect.connect(handle="h1"),
                emit.input_transcript(" weather", finished=False),
                emit.input_transcript(" weather"),  # the decoder's whole: its own part only
                emit.output_transcript("it is", finished=False),
                end.drop(),
            ],
            [
                expect.connect(handle="h1"),
                emit.output_transcript(" sunny", finished=False),
                emit.output_transcript(" sunny"),
                emit.turn_complete(),
            ],
        ]
    )
    store = InMemoryCheckpointer()
    model = "fake-live"
    config = RealtimeConfig(model=model, reconnect=ReconnectConfig(base_delay=0, jitter=0))
    app = AudioAgent(model, realtime_config=config, provider=fake).compile(checkpointer=store)
    queue = LiveInputQueue()
    async with asyncio.timeout(10):  # a guard, never a wait
        async for event in app.arealtime(queue, {"thread_id": "t"}):
            if event.type == "turn_complete":
                queue.close()
    messages = await store.alist_messages({"thread_id": "t"})
    assert [(m.role, m.text_content, m.metadata.get("interrupted", False)) for m in messages] == [
        ("user", "what is the", False),
        ("user", "weather", False),
        ("assistant", "it is", True),
        ("assistant", "sunny", False),
    ]


def test_bug_utterance_split_by_a_resumed_reconnect_keeps_a_providers_correction() -> None:
    """The fix only keeps the start when the provider's text is the tail of what was
    heard; a whole text that differs (a corrected transcript) still wins."""
    tracker = TranscriptTracker()
    out: list[object] = []
    out += tracker.on_event(InputTranscriptEvent(text="wat is the", finished=False))
    out += tracker.on_event(InputTranscriptEvent(text="what is the weather", finished=True))
    assert _texts(out) == [("user", "what is the weather")]


async def test_bug_buffered_audio_lost_at_reconnect_failed_was_not_reported() -> None:
    """Soak seeds 0, 7, 10 (and more): audio buffered while reconnecting was thrown away
    without an ``input_dropped`` event when the session ended with ``reconnect_failed``,
    so input was lost silently."""
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
    from realtalk.provider import DisconnectKind
    from realtalk_testing import FakeProvider, end

    from .harness import SoakClock

    fake = FakeProvider([[end.drop()], [end.refuse(DisconnectKind.TRANSIENT, code=1011)]])
    queue = LiveInputQueue()
    clock = SoakClock(queue, [6400])  # the user speaks 0.2 s during the backoff
    model = "fake-live"
    config = RealtimeConfig(model=model, reconnect=ReconnectConfig(max_attempts=1, jitter=0))
    app = AudioAgent(model, realtime_config=config, provider=fake).compile(clock=clock)
    async with asyncio.timeout(10):  # a guard, never a wait
        events = [event async for event in app.arealtime(queue, {"thread_id": "t"})]
    assert [e.code for e in events if e.type == "error"] == ["reconnect_failed"]
    dropped = [e for e in events if e.type == "input_dropped"]
    assert [(e.audio_chunks, e.audio_bytes) for e in dropped] == [(2, 6400)]
    assert events[-1].type == "session_ended"


async def test_bug_finished_transcript_was_shown_before_it_was_persisted() -> None:
    """Found by the crash test (PostgreSQL): the finished-transcript event reached the
    user before its message was stored, so a process killed in between lost a transcript
    the user had already seen as finished. Now every event waits for the messages of
    its step."""
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
    from realtalk.checkpoint import InMemoryCheckpointer
    from realtalk_testing import FakeProvider, emit

    class SlowStore(InMemoryCheckpointer):
        async def aput_messages(self, config: Any, messages: Any) -> Any:
            for _ in range(20):  # a store that takes a while (a database round trip)
                await asyncio.sleep(0)
            return await super().aput_messages(config, messages)

    store = SlowStore()
    fake = FakeProvider(
        [
            emit.input_transcript("what is the weather"),
            emit.output_transcript("it is sunny"),
            emit.turn_complete(),
        ]
    )
    model = "fake-live"
    app = AudioAgent(model, realtime_config=RealtimeConfig(model=model), provider=fake).compile(
        checkpointer=store
    )
    queue = LiveInputQueue()
    shown_but_not_stored = []
    async with asyncio.timeout(10):  # a guard, never a wait
        async for event in app.arealtime(queue, {"thread_id": "t"}):
            if event.type in ("input_transcript", "output_transcript") and event.finished:
                stored = [m.text_content for m in await store.alist_messages({"thread_id": "t"})]
                if event.text not in stored:
                    shown_but_not_stored.append(event.text)
            if event.type == "turn_complete":
                queue.close()
    assert shown_but_not_stored == []


async def test_bug_fresh_connection_was_reseeded_without_the_utterance_heard_before_the_drop() -> (
    None
):
    """Found by the soak (seed 68, once it injected rejected handles): the utterance in
    flight when a connection dropped was closed only when the next connection attached,
    after a fresh connection had already been reseeded, so the model's context lacked
    what the user had just said. It is now closed as soon as the connection is lost."""
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
    from realtalk.checkpoint import InMemoryCheckpointer
    from realtalk.provider import DisconnectKind
    from realtalk_testing import FakeProvider, emit, end, expect

    reseeded: list[list[str]] = []

    def history(setup: Any) -> bool:
        reseeded.append([m.text_content for m in setup.history])
        return True

    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.input_transcript("what is the", finished=False),
                end.drop(),
            ],
            [expect.connect(handle="h1"), end.refuse(DisconnectKind.REJECTED_HANDLE)],
            [
                expect.connect(handle=None, check=history),
                emit.output_transcript("it is sunny"),
                emit.turn_complete(),
            ],
        ]
    )
    model = "fake-live"
    config = RealtimeConfig(model=model, reconnect=ReconnectConfig(base_delay=0, jitter=0))
    store = InMemoryCheckpointer()
    app = AudioAgent(model, realtime_config=config, provider=fake).compile(checkpointer=store)
    queue = LiveInputQueue()
    async with asyncio.timeout(10):  # a guard, never a wait
        async for event in app.arealtime(queue, {"thread_id": "t"}):
            if event.type == "turn_complete":
                queue.close()
    fake.assert_done()
    assert reseeded == [["what is the"]]
