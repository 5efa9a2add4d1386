"""Section 3.5: the newest resumable handle is kept, stored, presented, and a stale one
falls back to a fresh session reseeded from persisted transcripts."""

from __future__ import annotations

from pathlib import Path

from realtalk import LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer, SqliteCheckpointer
from realtalk.messages import Message
from realtalk.provider import SessionSetup
from realtalk.runtime.clock import ManualClock
from realtalk_testing import FakeProvider, emit, end, expect

from ._support import MODEL, app_for, collect, of_type, types

FAST = RealtimeConfig(model=MODEL, reconnect=ReconnectConfig(base_delay=0.1, jitter=0.0))
CONFIG = {"thread_id": "t"}


async def test_a_non_resumable_update_never_erases_the_newest_resumable_handle() -> None:
    checkpointer = InMemoryCheckpointer()
    fake = FakeProvider(
        [
            [
                emit.session_update("old"),
                emit.session_update("h1"),
                emit.session_update("h2", resumable=False),
                emit.session_update(None),
                emit.session_update(""),
                end.drop(),
            ],
            [expect.connect(handle="h1"), emit.turn_complete(), expect.close()],
        ]
    )
    app = app_for(
        fake, config=FAST, checkpointer=checkpointer, clock=ManualClock(auto_advance=True)
    )
    events = await collect(app, LiveInputQueue(), CONFIG, close_on="turn_complete")
    assert len(of_type(events, "session_update")) == 5  # all passed through to the user
    thread = await checkpointer.aget_thread(CONFIG)
    assert thread is not None and thread.metadata["resumption_handle"] == "h1"
    fake.assert_done()


async def test_a_new_arealtime_call_on_the_thread_presents_the_stored_handle() -> None:
    checkpointer = InMemoryCheckpointer()
    first = FakeProvider([emit.session_update("h7"), emit.turn_complete(), expect.close()])
    await collect(
        app_for(first, checkpointer=checkpointer),
        LiveInputQueue(),
        CONFIG,
        close_on="turn_complete",
    )
    second = FakeProvider(
        [expect.connect(handle="h7", history=False), emit.turn_complete(), expect.close()]
    )
    await collect(
        app_for(second, checkpointer=checkpointer),
        LiveInputQueue(),
        CONFIG,
        close_on="turn_complete",
    )
    second.assert_done()
    # another thread does not see it
    other = FakeProvider([expect.connect(handle=None), expect.close()])
    queue = LiveInputQueue()
    queue.close()
    await collect(app_for(other, checkpointer=checkpointer), queue, {"thread_id": "other"})
    other.assert_done()


async def test_resumption_off_presents_no_handle_and_reseeds_instead() -> None:
    checkpointer = InMemoryCheckpointer()
    await checkpointer.aupdate_thread_metadata(CONFIG, resumption_handle="h1")
    await checkpointer.aput_messages(CONFIG, [Message.text("user", "hi", modality="audio")])
    fake = FakeProvider([expect.connect(handle=None, history=1), expect.close()])
    queue = LiveInputQueue()
    queue.close()
    await collect(
        app_for(fake, checkpointer=checkpointer), queue, {**CONFIG, "session_resumption": False}
    )
    fake.assert_done()


async def test_a_rejected_handle_falls_back_to_a_fresh_session_reseeded_without_a_reply() -> None:
    checkpointer = InMemoryCheckpointer()
    first = FakeProvider(
        [
            emit.session_update("stale"),
            expect.text("my name is Ada"),
            emit.output_transcript("Hello Ada", finished=True),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    queue = LiveInputQueue()
    queue.send_text("my name is Ada")
    await collect(
        app_for(first, checkpointer=checkpointer), queue, CONFIG, close_on="turn_complete"
    )

    def reseeded(setup: SessionSetup) -> bool:
        texts = [(m.role, m.text_content) for m in setup.history]
        return texts == [("user", "my name is Ada"), ("assistant", "Hello Ada")]

    second = FakeProvider(
        [
            [expect.connect(handle="stale"), end.refuse()],
            # the fresh session: history given as context, and the client sends nothing,
            # so the model has no reason to speak (any send would fail the script)
            [expect.connect(handle=None, check=reseeded), expect.close()],
        ],
        strict=True,
    )
    queue = LiveInputQueue()
    queue.close()
    events = await collect(app_for(second, checkpointer=checkpointer), queue, CONFIG)
    assert [(r.attempt, r.resumed) for r in of_type(events, "reconnected")] == []
    assert of_type(events, "error") == []
    assert second.connections[1].items == [] and second.connections[1].tool_results == []
    thread = await checkpointer.aget_thread(CONFIG)
    assert thread is not None and thread.metadata.get("resumption_handle") is None
    second.assert_done()


async def test_a_handle_rejected_on_reconnect_reseeds_the_fresh_connection() -> None:
    checkpointer = InMemoryCheckpointer()
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.input_transcript("book a table"),
                emit.output_transcript("Done", finished=True),
                emit.turn_complete(),
                end.drop(),
            ],
            [expect.connect(handle="h1"), end.refuse()],
            [expect.connect(handle=None, history=2), emit.turn_complete(), expect.close()],
        ]
    )
    turns = 0
    queue = LiveInputQueue()

    def on_event(event: object) -> None:
        nonlocal turns
        if getattr(event, "type", "") == "turn_complete":
            turns += 1
            if turns == 2:
                queue.close()

    events = await collect(
        app_for(fake, config=FAST, checkpointer=checkpointer, clock=ManualClock(auto_advance=True)),
        queue,
        CONFIG,
        on_event=on_event,
    )
    assert [(r.resumed) for r in of_type(events, "reconnected")] == [False]
    fake.assert_done()


async def test_the_same_thread_resumes_across_processes_with_a_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "threads.db"
    first = FakeProvider(
        [
            emit.session_update("h-process-1"),
            emit.input_transcript("remember the number 7"),
            emit.output_transcript("I will", finished=True),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    cp1 = SqliteCheckpointer(db)
    await collect(
        app_for(first, checkpointer=cp1), LiveInputQueue(), CONFIG, close_on="turn_complete"
    )
    await cp1.aclose()

    second = FakeProvider(
        [expect.connect(handle="h-process-1"), emit.turn_complete(), expect.close()]
    )
    cp2 = SqliteCheckpointer(db)
    try:
        await collect(
            app_for(second, checkpointer=cp2), LiveInputQueue(), CONFIG, close_on="turn_complete"
        )
        history = await cp2.alist_messages(CONFIG)
        assert [m.text_content for m in history] == ["remember the number 7", "I will"]
    finally:
        await cp2.aclose()
    second.assert_done()


async def test_a_provider_without_resumption_is_never_offered_a_handle() -> None:
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.input_transcript("hi"),
                emit.turn_complete(),
                end.drop(),
            ],
            [expect.connect(handle=None, history=1), emit.turn_complete(), expect.close()],
        ],
        capabilities={"resumption": False},
    )
    turns = 0
    queue = LiveInputQueue()

    def on_event(event: object) -> None:
        nonlocal turns
        if getattr(event, "type", "") == "turn_complete":
            turns += 1
            if turns == 2:
                queue.close()

    await collect(
        app_for(fake, config=FAST, clock=ManualClock(auto_advance=True)),
        queue,
        CONFIG,
        on_event=on_event,
    )
    fake.assert_done()


async def test_a_rejected_handle_signalled_by_a_close_reconnects_fresh_at_once() -> None:
    from realtalk.provider import DisconnectKind

    clock = ManualClock(auto_advance=True)
    fake = FakeProvider(
        [
            [
                emit.session_update("h1"),
                emit.input_transcript("hello"),
                emit.turn_complete(),
                end.drop(),
            ],
            [
                expect.connect(handle="h1"),
                end.close(1008, "handle expired", kind=DisconnectKind.REJECTED_HANDLE),
            ],
            [expect.connect(handle=None, history=1), emit.turn_complete(), expect.close()],
        ]
    )
    turns = 0
    queue = LiveInputQueue()

    def on_event(event: object) -> None:
        nonlocal turns
        if getattr(event, "type", "") == "turn_complete":
            turns += 1
            if turns == 2:
                queue.close()

    events = await collect(
        app_for(fake, config=FAST, clock=clock), queue, CONFIG, on_event=on_event
    )
    assert [(r.attempt, r.resumed) for r in of_type(events, "reconnected")] == [
        (1, True),
        (1, False),
    ]
    assert clock.sleeps == [0.1]  # the drop backs off; the rejection reconnects at once
    fake.assert_done()


async def test_a_fatal_provider_error_event_ends_the_session() -> None:
    fake = FakeProvider([emit.error("quota_exceeded", "out of quota", fatal=True), expect.close()])
    events = await collect(app_for(fake), LiveInputQueue(), CONFIG)
    assert types(events)[-2:] == ["error", "session_ended"]
    assert of_type(events, "session_ended")[0].reason == "error"
    fake.assert_done()
