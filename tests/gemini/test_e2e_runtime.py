"""Every shipped Gemini cassette through the real SDK, this plugin and the runtime.

``AudioAgent(...).compile(...).arealtime(...)`` with the provider found through the
``realtalk`` entry point, against FakeGeminiServer (TLS on 127.0.0.1). Each test asserts
the exact neutral event stream, what the client sent (the server also checks every frame
against the cassette and fails on leftovers), and what was persisted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.messages import Message, ThreadInfo
from realtalk.tools import tool

from ._e2e import SHIPPED, THREAD, Run, run_session, until_turns

pytestmark = pytest.mark.skipif(
    not (SHIPPED / "spoken_question.jsonl").exists(), reason="shipped cassettes not present"
)

HERE = Path(__file__).parent / "cassettes"
USAGE = (
    "usage {'prompt_tokens': 60, 'response_tokens': 40, 'total_tokens': 100, 'details': "
    "{'prompt_tokens_details': [{'modality': 'AUDIO', 'token_count': 60}], "
    "'response_tokens_details': [{'modality': 'AUDIO', 'token_count': 40}]}}"
)
STARTED = "session_started {'thread_id': 't1'}"
ENDED = "session_ended {'reason': 'closed'}"
QUESTION = ["in:What's the weather", "in: in Paris?", "IN:What's the weather in Paris?"]
TURN_END = ["generation_complete", "turn_complete", USAGE]
AUDIO = {"modality": "audio"}


def handle(h: str | None, resumable: bool = True) -> str:
    return f"session_update {{'resumption_handle': {h!r}, 'resumable': {resumable}}}"


def reconnected(resumed: bool = True) -> str:
    return f"reconnected {{'attempt': 1, 'resumed': {resumed}}}"


def spoken(*fragments: str) -> list[str]:
    """Audio before each transcript fragment, the whole utterance, then trailing audio."""
    out: list[str] = []
    for fragment in fragments:
        out += ["audio", f"out:{fragment}"]
    return [*out, "OUT:" + "".join(fragments), "audio"]


PARIS = spoken("It", " is", " sunny", " and", " twenty", " degrees", " in Paris.")


def get_weather(city: str) -> dict[str, Any]:
    """Weather for a city."""
    return {"sky": "sunny", "temp_c": 20}


def setup_of(run: Run, conn: int) -> dict[str, Any]:
    frame = run.sent[conn - 1][0]
    assert set(frame) == {"setup"}
    setup: dict[str, Any] = frame["setup"]
    return setup


async def test_spoken_question() -> None:
    run = await run_session(SHIPPED / "spoken_question.jsonl", until_turns(1))
    assert run.stream() == [STARTED, handle("handle-1"), *QUESTION, *PARIS, *TURN_END, ENDED]
    assert run.persisted() == [
        ("user", "What's the weather in Paris?", AUDIO),
        ("assistant", "It is sunny and twenty degrees in Paris.", AUDIO),
    ]
    assert run.thread is not None and run.thread.metadata == {"resumption_handle": "handle-1"}
    setup = setup_of(run, 1)
    assert setup["model"] == "models/gemini-live-2.5-flash-preview"
    assert setup["generationConfig"] == {"responseModalities": ["AUDIO"]}
    assert setup["inputAudioTranscription"] == setup["outputAudioTranscription"] == {}
    assert setup["sessionResumption"] == {}
    assert setup["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": False}}
    assert [next(iter(f)) for f in run.sent[0]] == ["setup", "realtimeInput"]
    assert run.sent[0][1]["realtimeInput"]["audio"]["mimeType"] == "audio/pcm;rate=16000"
    assert run.audio_bytes > 0


async def test_tool_call_round_trip_with_id() -> None:
    run = await run_session(SHIPPED / "tool_call.jsonl", until_turns(1), tools=[get_weather])
    call = "tool_call {'id': 'call-1', 'name': 'get_weather', 'args': {'city': 'Paris'}}"
    result = (
        "tool_result {'id': 'call-1', 'name': 'get_weather', "
        "'result': {'sky': 'sunny', 'temp_c': 20}, 'error': None}"
    )
    assert run.stream() == [STARTED, *QUESTION, call, result, *PARIS, *TURN_END, ENDED]
    assert run.sent[0][-1] == {
        "toolResponse": {
            "functionResponses": [
                {"id": "call-1", "name": "get_weather", "response": {"sky": "sunny", "temp_c": 20}}
            ]
        }
    }
    (declaration,) = setup_of(run, 1)["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "get_weather"
    assert declaration["parametersJsonSchema"]["properties"] == {"city": {"type": "string"}}
    roles = [(role, text) for role, text, _ in run.persisted()]
    assert roles == [
        ("user", "What's the weather in Paris?"),
        (
            "assistant",
            "tool_call {'id': 'call-1', 'name': 'get_weather', 'args': {'city': 'Paris'}}",
        ),
        (
            "tool",
            "tool_result {'id': 'call-1', 'name': 'get_weather', "
            "'result': {'sky': 'sunny', 'temp_c': 20}, 'error': None}",
        ),
        ("assistant", "It is sunny and twenty degrees in Paris."),
    ]


async def test_tool_cancellation_cancels_the_running_call() -> None:
    started = asyncio.Event()

    @tool(name="get_weather")
    async def never_finishes(city: str) -> str:
        """Weather for a city (too slow: the user changes their mind)."""
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    run = await run_session(
        SHIPPED / "tool_cancellation.jsonl",
        until_turns(1, audio_after=("tool_call",)),
        tools=[never_finishes],
    )
    assert started.is_set()
    assert run.stream() == [
        STARTED,
        *QUESTION,
        "tool_call {'id': 'call-1', 'name': 'get_weather', 'args': {'city': 'Paris'}}",
        "tool_call_cancelled {'ids': ['call-1']}",
        "tool_result {'id': 'call-1', 'name': 'get_weather', 'result': None, "
        "'error': 'cancelled by the provider'}",
        "in:Never mind.",
        "IN:Never mind.",
        *spoken("Okay,", " I", " stopped", " looking."),
        *TURN_END,
        ENDED,
    ]
    # No tool response ever went out for the cancelled call.
    assert all("toolResponse" not in frame for frame in run.sent[0])


async def test_go_away_is_one_stream_across_two_connections() -> None:
    run = await run_session(
        SHIPPED / "goaway_resume.jsonl", until_turns(2, audio_after=("reconnected",))
    )
    assert run.stream() == [
        STARTED,
        handle("handle-1"),
        *QUESTION,
        *PARIS,
        *TURN_END,
        handle("handle-2"),
        "go_away {'time_left': 10.0}",
        reconnected(),
        handle("handle-3"),
        "in:Thanks!",
        "IN:Thanks!",
        *spoken("You're", " welcome."),
        *TURN_END,
        ENDED,
    ]
    assert setup_of(run, 1)["sessionResumption"] == {}
    assert setup_of(run, 2)["sessionResumption"] == {"handle": "handle-2"}
    assert run.thread is not None and run.thread.metadata["resumption_handle"] == "handle-3"
    assert [text for _, text, _ in run.persisted()] == [
        "What's the weather in Paris?",
        "It is sunny and twenty degrees in Paris.",
        "Thanks!",
        "You're welcome.",
    ]


async def test_close_1011_then_abort_then_resume() -> None:
    run = await run_session(
        SHIPPED / "drop_and_abort.jsonl", until_turns(1, audio_after=("reconnected",))
    )
    assert run.stream() == [
        STARTED,
        handle("handle-1"),
        *QUESTION,
        "audio",
        "out:It is sunny and twenty degrees in Paris.",
        "audio",
        "OUT:It is sunny and twenty degrees in Paris.",  # kept as heard (interrupted)
        reconnected(),  # after 1011 (transient): resumed with handle-1
        handle("handle-2"),
        "in:What's the weather in Paris?",
        "IN:What's the weather in Paris?",
        reconnected(),  # after the abort (1006, transient): resumed with handle-2
        handle("handle-3"),
        *spoken("Sunny,", " twenty", " degrees."),
        *TURN_END,
        ENDED,
    ]
    assert [setup_of(run, n).get("sessionResumption") for n in (1, 2, 3)] == [
        {},
        {"handle": "handle-1"},
        {"handle": "handle-2"},
    ]
    # The server transcribed the question again on the resumed connection.
    assert [text for _, text, _ in run.persisted()] == [
        "What's the weather in Paris?",
        "It is sunny and twenty degrees in Paris.",
        "What's the weather in Paris?",
        "Sunny, twenty degrees.",
    ]
    assert run.persisted()[1][2] == {"modality": "audio", "interrupted": True}


async def test_non_resumable_update_keeps_the_last_resumable_handle() -> None:
    run = await run_session(
        SHIPPED / "non_resumable_update.jsonl", until_turns(1, audio_after=("reconnected",))
    )
    assert run.stream() == [
        STARTED,
        handle("handle-1"),
        *QUESTION,
        "audio",
        "out:It",
        "audio",
        "out: is",
        "audio",
        "out: sunny",
        "audio",
        handle(None, resumable=False),
        "audio",
        "out: and",
        "audio",
        "out: twenty",
        "audio",
        "out: degrees",
        "audio",
        "OUT:It is sunny and twenty degrees",  # kept as heard when the connection dropped
        reconnected(),
        handle("handle-2"),
        "in:Please repeat that.",
        "IN:Please repeat that.",
        *spoken("Sunny,", " twenty", " degrees."),
        *TURN_END,
        ENDED,
    ]
    assert setup_of(run, 2)["sessionResumption"] == {"handle": "handle-1"}


async def test_stale_handle_falls_back_to_a_fresh_reseeded_session() -> None:
    history = [
        Message.text("user", "My name is Ada.", modality="audio"),
        Message.text("assistant", "Hello Ada.", modality="audio"),
    ]

    async def stale(checkpointer: InMemoryCheckpointer) -> None:
        await checkpointer.aput_thread(
            THREAD, ThreadInfo(thread_id="t1", metadata={"resumption_handle": "stale-handle"})
        )
        await checkpointer.aput_messages(THREAD, history)

    run = await run_session(SHIPPED / "stale_handle.jsonl", until_turns(1), prepare=stale)
    assert run.stream() == [STARTED, handle("handle-1"), *QUESTION, *PARIS, *TURN_END, ENDED]
    assert setup_of(run, 1)["sessionResumption"] == {"handle": "stale-handle"}
    assert setup_of(run, 2)["sessionResumption"] == {}
    # The fresh session got the history as context, without a request to reply.
    assert run.sent[1][1] == {
        "clientContent": {
            "turns": [
                {"role": "user", "parts": [{"text": "My name is Ada."}]},
                {"role": "model", "parts": [{"text": "Hello Ada."}]},
            ],
            "turnComplete": False,
        }
    }
    assert [next(iter(f)) for f in run.sent[1]] == ["setup", "clientContent", "realtimeInput"]
    assert run.thread is not None and run.thread.metadata["resumption_handle"] == "handle-1"
    assert [text for _, text, _ in run.persisted()] == [
        "My name is Ada.",
        "Hello Ada.",
        "What's the weather in Paris?",
        "It is sunny and twenty degrees in Paris.",
    ]


async def test_barge_in() -> None:
    run = await run_session(
        SHIPPED / "barge_in.jsonl", until_turns(1, audio_after=("output_transcript",))
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
        "in:Wait, stop.",
        "IN:Wait, stop.",
        "audio",
        "out:Okay.",
        "OUT:Okay.",
        "audio",
        *TURN_END,
        ENDED,
    ]
    assert run.persisted() == [
        ("user", "What's the weather in Paris?", AUDIO),
        ("assistant", "Let me tell you all about the weather", {**AUDIO, "interrupted": True}),
        ("user", "Wait, stop.", AUDIO),
        ("assistant", "Okay.", AUDIO),
    ]


async def test_text_modality_end_to_end() -> None:
    run = await run_session(
        HERE / "text_modality.jsonl",
        until_turns(1),
        first_input=lambda queue: queue.send_text("Say hi"),
        response_modalities=["TEXT"],
    )
    assert run.stream() == [
        STARTED,
        "text_delta {'text': 'Hi'}",
        "text_delta {'text': ' there!'}",
        "generation_complete",
        "turn_complete",
        ENDED,
    ]
    assert setup_of(run, 1)["generationConfig"] == {"responseModalities": ["TEXT"]}
    assert run.persisted() == [
        ("user", "Say hi", {"modality": "text"}),
        ("assistant", "Hi there!", {"modality": "text"}),
    ]


async def test_push_to_talk_with_an_image() -> None:
    from realtalk.config import VADConfig

    png = bytes.fromhex("89504e470d0a1a0a")

    def push_to_talk(queue: Any) -> None:
        queue.send_activity_start()
        queue.send_image(png, mime_type="image/png")
        queue.send_audio(b"\x01\x00" * 16000, 16000)
        queue.send_activity_end()

    run = await run_session(
        HERE / "push_to_talk_image.jsonl",
        until_turns(1),
        first_input=push_to_talk,
        vad=VADConfig(enabled=False),
    )
    assert run.stream() == [
        STARTED,
        "in:What is in this picture?",
        "IN:What is in this picture?",
        "out:A red square.",
        "OUT:A red square.",
        "turn_complete",
        ENDED,
    ]
    kinds = [next(iter(frame["realtimeInput"])) for frame in run.sent[0][1:]]
    assert kinds == ["activityStart", "video", "audio", "activityEnd"]
    assert setup_of(run, 1)["realtimeInputConfig"] == {
        "automaticActivityDetection": {"disabled": True}
    }
    # Images are streamed, never persisted.
    assert [text for _, text, _ in run.persisted()] == [
        "What is in this picture?",
        "A red square.",
    ]


COVERED = {
    "barge_in",
    "drop_and_abort",
    "goaway_resume",
    "non_resumable_update",
    "spoken_question",
    "stale_handle",
    "tool_call",
    "tool_cancellation",
}


def test_every_shipped_cassette_has_an_end_to_end_test() -> None:
    from realtalk_testing.cassette import shipped_cassette_names

    assert set(shipped_cassette_names()) == COVERED
