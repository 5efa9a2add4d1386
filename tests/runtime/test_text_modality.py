"""Section 3.8: TEXT response modality end to end."""

from __future__ import annotations

from realtalk import LiveInputQueue, RealtimeConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk_testing import FakeProvider, emit, expect

from ._support import MODEL, app_for, collect, of_type

CONFIG = {"thread_id": "t"}


async def test_text_replies_stream_as_deltas_and_are_persisted() -> None:
    checkpointer = InMemoryCheckpointer()
    fake = FakeProvider(
        [
            expect.connect(check=lambda s: s.config.response_modalities == ["TEXT"]),
            expect.text("capital of France?"),
            emit.text("The capital"),
            emit.text(" is Paris."),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    app = app_for(
        fake,
        config=RealtimeConfig(model=MODEL, response_modalities=["TEXT"]),
        checkpointer=checkpointer,
    )
    queue = LiveInputQueue()
    queue.send_text("capital of France?")
    events = await collect(app, queue, CONFIG, close_on="turn_complete")
    assert [e.text for e in of_type(events, "text_delta")] == ["The capital", " is Paris."]
    messages = await checkpointer.alist_messages(CONFIG)
    assert [(m.role, m.metadata["modality"], m.text_content) for m in messages] == [
        ("user", "text", "capital of France?"),
        ("assistant", "text", "The capital is Paris."),
    ]
    fake.assert_done()


async def test_text_modality_can_be_chosen_per_session() -> None:
    fake = FakeProvider(
        [
            expect.connect(check=lambda s: s.config.response_modality == "TEXT"),
            emit.text("ok"),
            emit.turn_complete(),
            expect.close(),
        ]
    )
    events = await collect(
        app_for(fake),
        LiveInputQueue(),
        {**CONFIG, "response_modalities": ["TEXT"]},
        close_on="turn_complete",
    )
    assert of_type(events, "text_delta")[0].text == "ok"
    fake.assert_done()
