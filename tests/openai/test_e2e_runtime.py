"""The shipped OpenAI cassettes replayed through the whole runtime: exact neutral event
streams, persisted transcripts, and the client events the server saw."""

from __future__ import annotations

from typing import Any

from realtalk import VADConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.messages import Message
from realtalk_testing.openai_server import FAKE_API_KEY
from realtalk_testing.openai_wire import (
    openai_cassette_from_dicts,
    openai_cassette_names,
    openai_cassette_path,
)

from ._e2e import THREAD, run_session, until_turns

AUDIO = {"modality": "audio"}
STARTED = "session_started {'thread_id': 't1'}"
ENDED = "session_ended {'reason': 'closed'}"
QUESTION = [
    "in:What's the weather",
    "in: in Paris?",
    "IN:What's the weather in Paris?",
]
PARIS = [
    "audio",
    "out:It",
    "audio",
    "out: is sunny",
    "audio",
    "out: and",
    "audio",
    "out: twenty degrees",
    "audio",
    "out: in Paris.",
    "audio",
    "OUT:It is sunny and twenty degrees in Paris.",
    "turn_complete",
]
ANSWER = "It is sunny and twenty degrees in Paris."
TESTED = {"spoken_question", "tool_call", "barge_in", "drop_reconnect", "error_event", "text_turn"}


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"sky": "sunny", "temp_c": 20}


async def test_spoken_question() -> None:
    run = await run_session(openai_cassette_path("spoken_question"), until_turns(1))
    assert run.stream() == [STARTED, *QUESTION, *PARIS, ENDED]
    assert run.persisted() == [
        ("user", "What's the weather in Paris?", AUDIO),
        ("assistant", ANSWER, AUDIO),
    ]
    record = run.server.connection(1)
    # 16 kHz microphone audio reached the server resampled to 24 kHz
    assert record.audio_bytes >= 24000
    update = record.frames[0]["session"]
    assert update["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    # the key travelled only in the header, which the server's records redact
    assert record.headers["authorization"] == "<redacted>"
    assert FAKE_API_KEY not in repr(record)


async def test_tool_round_trip() -> None:
    run = await run_session(openai_cassette_path("tool_call"), until_turns(1), tools=[get_weather])
    assert run.stream() == [
        STARTED,
        *QUESTION,
        "tool_call {'id': 'call_001', 'name': 'get_weather', 'args': {'city': 'Paris'}}",
        "tool_result {'id': 'call_001', 'name': 'get_weather', "
        "'result': {'sky': 'sunny', 'temp_c': 20}, 'error': None}",
        *PARIS,
        ENDED,
    ]
    kinds = run.server.connection(1).kinds
    i = kinds.index("conversation.item.create")
    assert kinds[i : i + 2] == ["conversation.item.create", "response.create"]
    [update] = [f for f in run.server.received(1) if f["type"] == "session.update"]
    [tool] = update["session"]["tools"]
    assert tool["name"] == "get_weather" and tool["type"] == "function"
    assert [role for role, _, _ in run.persisted()] == ["user", "assistant", "tool", "assistant"]


async def test_barge_in_truncates_the_delivered_audio() -> None:
    run = await run_session(
        openai_cassette_path("barge_in"), until_turns(1, audio_after=("output_transcript",))
    )
    assert run.stream() == [
        STARTED,
        *QUESTION,
        "audio",
        "out:Let me tell you",
        "audio",
        "out: all about the weather",
        "audio",
        "OUT:Let me tell you all about the weather",
        "interrupted",
        "IN:Wait, stop.",
        "audio",
        "out:Okay.",
        "audio",
        "OUT:Okay.",
        "turn_complete",
        ENDED,
    ]
    [truncate] = [f for f in run.server.received(1) if f["type"] == "conversation.item.truncate"]
    assert truncate == {
        "type": "conversation.item.truncate",
        "item_id": "item_asst_013",
        "content_index": 0,
        "audio_end_ms": 800,  # four 200 ms deltas were delivered before the barge-in
    }
    assert run.persisted() == [
        ("user", "What's the weather in Paris?", AUDIO),
        ("assistant", "Let me tell you all about the weather", {**AUDIO, "interrupted": True}),
        ("user", "Wait, stop.", AUDIO),
        ("assistant", "Okay.", AUDIO),
    ]


async def test_drop_then_fresh_session_reseeded_without_a_reply() -> None:
    run = await run_session(
        openai_cassette_path("drop_reconnect"), until_turns(1, audio_after=("reconnected",))
    )
    stream = run.stream()
    assert "reconnected {'attempt': 1, 'resumed': False}" in stream
    assert stream[-3:] == ["OUT:Sunny, twenty degrees.", "turn_complete", ENDED]
    second = run.server.received(2)
    assert second[0]["type"] == "session.update"
    reseed = second[1]
    assert reseed == {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What's the weather in Paris?"}],
        },
    }
    # no reply was asked for: the next client event after the history is audio
    kinds = run.server.connection(2).kinds
    first_audio = kinds.index("input_audio_buffer.append")
    assert "response.create" not in kinds
    assert set(kinds[1:first_audio]) == {"conversation.item.create"}
    texts = [text for _, text, _ in run.persisted()]
    assert texts[0] == "What's the weather in Paris?"
    assert texts[-2:] == ["Please repeat that.", "Sunny, twenty degrees."]


async def test_error_event_is_not_fatal() -> None:
    run = await run_session(openai_cassette_path("error_event"), until_turns(1))
    stream = run.stream()
    assert stream[:5] == [
        STARTED,
        *QUESTION,
        "error {'code': 'conversation_already_has_active_response', 'message': "
        "'Conversation already has an active response in progress.', 'fatal': False}",
    ]
    assert stream[-2:] == ["turn_complete", ENDED]
    assert [text for _, text, _ in run.persisted()] == ["What's the weather in Paris?", ANSWER]


async def test_text_modality() -> None:
    run = await run_session(
        openai_cassette_path("text_turn"),
        until_turns(1),
        first_input=lambda q: q.send_text("Say hi"),
        response_modalities=["TEXT"],
    )
    assert run.stream() == [
        STARTED,
        "text_delta {'text': 'Hi'}",
        "text_delta {'text': ' there!'}",
        "turn_complete",
        ENDED,
    ]
    assert run.persisted() == [
        ("user", "Say hi", {"modality": "text"}),
        ("assistant", "Hi there!", {"modality": "text"}),
    ]


async def test_push_to_talk_with_an_image() -> None:
    cassette = openai_cassette_from_dicts(
        {},
        [
            {"conn": 1, "connect": {"subset": {"audio": {"input": {"turn_detection": None}}}}},
            {"conn": 1, "send": "session.update"},
            {"conn": 1, "send": "input_audio_buffer.clear"},
            {"conn": 1, "send": "conversation.item.create",
             "match": {"subset": {"item": {"content": [
                 {"type": "input_image", "image_url": "data:image/png;base64,iVBORw=="}]}}}},
            {"conn": 1, "send": "input_audio_buffer.append", "min_seconds": 0.5},
            {"conn": 1, "send": "input_audio_buffer.commit"},
            {"conn": 1, "send": "response.create"},
            {"conn": 1, "recv": {"type": "response.created", "response": {"id": "r1"}}},
            {"conn": 1, "recv": {"type": "response.output_audio_transcript.done",
                                 "transcript": "A picture."}},
            {"conn": 1, "recv": {"type": "response.done", "response": {"status": "completed"}}},
        ],
    )  # fmt: skip

    def push_to_talk(queue: Any) -> None:
        queue.send_activity_start()
        queue.send_image(b"\x89PNG", "image/png")
        queue.send_audio(b"\x01\x00" * 16000, 16000)
        queue.send_activity_end()

    run = await run_session(
        cassette, until_turns(1), first_input=push_to_talk, vad=VADConfig(enabled=False)
    )
    assert run.stream() == [STARTED, "OUT:A picture.", "turn_complete", ENDED]


async def test_history_of_a_new_process_reseeds_the_first_connection() -> None:
    history = [
        Message.text("user", "My name is Ada.", modality="audio"),
        Message.text("assistant", "Hello Ada.", modality="audio"),
    ]

    async def seed(checkpointer: InMemoryCheckpointer) -> None:
        await checkpointer.aput_messages(THREAD, history)

    cassette = openai_cassette_from_dicts(
        {},
        [
            {"conn": 1, "send": "session.update"},
            {"conn": 1, "send": "conversation.item.create",
             "match": {"subset": {"item": {"role": "user"}}}},
            {"conn": 1, "send": "conversation.item.create",
             "match": {"subset": {"item": {"role": "assistant", "content": [
                 {"type": "output_text", "text": "Hello Ada."}]}}}},
            {"conn": 1, "send": "conversation.item.create",
             "match": {"subset": {"item": {"content": [{"type": "input_text",
                                                        "text": "What's my name?"}]}}}},
            {"conn": 1, "send": "response.create"},
            {"conn": 1, "recv": {"type": "response.created", "response": {"id": "r1"}}},
            {"conn": 1, "recv": {"type": "response.output_text.delta", "delta": "Ada."}},
            {"conn": 1, "recv": {"type": "response.done", "response": {"status": "completed"}}},
        ],
    )  # fmt: skip
    run = await run_session(
        cassette,
        until_turns(1),
        first_input=lambda q: q.send_text("What's my name?"),
        prepare=seed,
        response_modalities=["TEXT"],
    )
    assert run.stream()[-3:] == ["text_delta {'text': 'Ada.'}", "turn_complete", ENDED]


def test_every_shipped_openai_cassette_has_an_end_to_end_test() -> None:
    assert set(openai_cassette_names()) == TESTED


async def test_a_late_input_transcription_is_still_persisted_before_the_answer() -> None:
    # OpenAI transcribes asynchronously: the user's transcript may arrive mid-answer.
    audio = {"type": "response.output_audio.delta", "item_id": "a1", "delta": "AAAAAA=="}
    cassette = openai_cassette_from_dicts(
        {},
        [
            {"conn": 1, "send": "session.update"},
            {"conn": 1, "send": "input_audio_buffer.append", "min_seconds": 0.5},
            {"conn": 1, "recv": {"type": "input_audio_buffer.speech_started"}},
            {"conn": 1, "recv": {"type": "input_audio_buffer.committed", "item_id": "u1"}},
            {"conn": 1, "recv": {"type": "response.created", "response": {"id": "r1"}}},
            {"conn": 1, "recv": audio},
            {"conn": 1, "recv": {"type": "response.output_audio_transcript.delta",
                                 "delta": "Sunny."}},
            {"conn": 1, "recv": {"type": "conversation.item.input_audio_transcription.completed",
                                 "item_id": "u1", "transcript": "Weather?"}},
            {"conn": 1, "recv": audio},
            {"conn": 1, "recv": {"type": "response.output_audio_transcript.done",
                                 "transcript": "Sunny."}},
            {"conn": 1, "recv": {"type": "response.done", "response": {"status": "completed"}}},
        ],
    )  # fmt: skip
    run = await run_session(cassette, until_turns(1))
    assert run.persisted() == [("user", "Weather?", AUDIO), ("assistant", "Sunny.", AUDIO)]
    assert run.stream() == [
        STARTED,
        "audio",
        "out:Sunny.",
        "IN:Weather?",
        "audio",
        "OUT:Sunny.",
        "turn_complete",
        ENDED,
    ]


async def test_a_fatal_close_after_an_error_ends_the_session() -> None:
    cassette = openai_cassette_from_dicts(
        {},
        [
            {"conn": 1, "send": "session.update"},
            {"conn": 1, "send": "input_audio_buffer.append"},
            {"conn": 1, "recv": {"type": "error", "error": {"type": "invalid_request_error",
                                                            "code": "policy_violation",
                                                            "message": "no"}}},
            {"conn": 1, "close": {"code": 1008, "reason": "policy violation"}},
        ],
    )  # fmt: skip
    run = await run_session(cassette, until_turns(1))
    stream = run.stream()
    assert stream[1].startswith("error {'code': 'policy_violation'")
    fatal = [e for e in run.events if e.type == "error" and e.fatal]  # type: ignore[union-attr]
    assert len(fatal) == 1
    assert stream[-1].startswith("session_ended")
    assert run.server.connections == 1  # a fatal close is not retried
