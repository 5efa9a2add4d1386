"""The conformance suite is not a rubber stamp: wrong behaviour fails, gaps are skipped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from realtalk_testing.conformance import (
    SCENARIOS,
    ConformanceFailure,
    ConformanceTarget,
    conformance_tests,
    event_shape,
    openai_target,
    run_conformance,
    run_scenario,
)
from realtalk_testing.openai_wire import openai_cassette_from_dicts, openai_cassette_path


def _with(**cassettes: str) -> ConformanceTarget:
    target = openai_target()
    swapped = {**target.cassettes, **{k: openai_cassette_path(v) for k, v in cassettes.items()}}
    return dataclasses.replace(target, name="broken", cassettes=swapped)


async def test_a_provider_that_never_calls_the_tool_fails() -> None:
    target = _with(tool_call="spoken_question")
    with pytest.raises(ConformanceFailure, match="expected one tool_call, got 0"):
        await run_scenario(target, "tool_round_trip")


async def test_a_provider_that_never_interrupts_fails() -> None:
    target = _with(barge_in="spoken_question")
    with pytest.raises(ConformanceFailure, match="no interrupted event") as info:
        await run_scenario(target, "barge_in")
    assert "stream shape" in str(info.value)  # the failure shows what happened


async def test_a_cassette_the_client_does_not_follow_fails() -> None:
    # The text cassette expects a TEXT session and typed text; the basic turn sends audio.
    target = _with(spoken_question="text_turn")
    with pytest.raises(ConformanceFailure):
        await run_scenario(target, "basic_turn")


async def test_missing_cassettes_skip_and_failures_are_collected() -> None:
    target = openai_target()
    partial = dataclasses.replace(
        target,
        name="partial",
        cassettes={
            "spoken_question": target.cassettes["spoken_question"],
            "tool_call": openai_cassette_path("spoken_question"),
        },
        skip={"bad_input": "not today"},
    )
    outcomes = await run_conformance(partial)
    status = {o.scenario: o.status for o in outcomes}
    assert status == {
        "basic_turn": "passed",
        "tool_round_trip": "failed",
        "barge_in": "skipped",
        "drop_and_recover": "skipped",
        "close_drains_reply": "passed",
        "text_modality": "skipped",
        "bad_input": "skipped",
    }
    details = {o.scenario: o.detail for o in outcomes}
    assert details["bad_input"] == "not today"
    assert "no 'barge_in' cassette" in details["barge_in"]


async def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no conformance scenario 'nope'"):
        await run_scenario(openai_target(), "nope")
    with pytest.raises(KeyError, match="unknown conformance scenario"):
        conformance_tests(openai_target(), scenarios=["nope"])


def test_conformance_tests_parametrises_target_by_scenario() -> None:
    test = conformance_tests(openai_target(), scenarios=["basic_turn", "bad_input"])
    marks = {m.name: m for m in test.pytestmark}  # type: ignore[attr-defined]
    ids = [p.id for p in marks["parametrize"].args[1]]
    assert ids == ["openai-basic_turn", "openai-bad_input"]
    assert list(SCENARIOS) == [
        "basic_turn",
        "tool_round_trip",
        "barge_in",
        "drop_and_recover",
        "close_drains_reply",
        "text_modality",
        "bad_input",
    ]


def test_event_shape_keeps_milestones_only() -> None:
    from realtalk.events import (
        AudioDeltaEvent,
        OutputTranscriptEvent,
        SessionStartedEvent,
        TextDeltaEvent,
        TurnCompleteEvent,
        UsageEvent,
    )

    events = [
        SessionStartedEvent(thread_id="t"),
        AudioDeltaEvent(data=b"\x00\x00"),
        OutputTranscriptEvent(text="Hi", finished=False),
        AudioDeltaEvent(data=b"\x00\x00"),
        OutputTranscriptEvent(text="Hi", finished=True),
        TurnCompleteEvent(),
        UsageEvent(total_tokens=3),
        TextDeltaEvent(text="a"),
        TextDeltaEvent(text="b"),
    ]
    assert event_shape(events) == [
        "session_started",
        "agent: Hi",
        "audio",
        "turn_complete",
        "text: ab",
    ]


async def test_a_provider_that_speaks_unprompted_after_a_fresh_reconnect_fails(
    tmp_path: Path,
) -> None:
    audio = {"type": "response.output_audio.delta", "item_id": "a", "delta": "AAAAAA=="}
    question = {"type": "conversation.item.input_audio_transcription.completed",
                "transcript": "What's the weather in Paris?"}  # fmt: skip
    lines = [
        {"conn": 1, "send": "session.update"},
        {"conn": 1, "send": "input_audio_buffer.append", "min_seconds": 0.5},
        {"conn": 1, "recv": question},
        {"conn": 1, "drop": True},
        {"conn": 2, "send": "session.update"},
        {"conn": 2, "send": "conversation.item.create"},
        {"conn": 2, "recv": {"type": "response.created", "response": {"id": "r"}}},
        {"conn": 2, "recv": audio},  # nobody asked
        {
            "conn": 2,
            "recv": {"type": "response.output_audio_transcript.done", "transcript": "Hello again!"},
        },
        {"conn": 2, "recv": {"type": "response.done", "response": {"status": "completed"}}},
    ]
    path = openai_cassette_from_dicts({}, lines).dump(tmp_path / "chatty.jsonl")
    target = dataclasses.replace(
        openai_target(), cassettes={**openai_target().cassettes, "drop_reconnect": path}
    )
    with pytest.raises(ConformanceFailure, match="spoke after a fresh reconnect"):
        await run_scenario(target, "drop_and_recover")


async def test_a_stalled_session_is_a_failure_not_a_hang() -> None:
    from realtalk_testing.conformance import run_session, until_turns

    # The text cassette waits for typed text that a spoken turn never sends.
    with pytest.raises(ConformanceFailure, match=r"did not end within 0\.5s"):
        await run_session(openai_target(), "text_turn", until_turns(1), limit=0.5,
                          response_modalities=["TEXT"])  # fmt: skip
