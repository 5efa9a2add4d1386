"""The same application code runs against Gemini and OpenAI by changing only the model
name, and yields the same neutral event stream shape."""

from __future__ import annotations

import pytest

from realtalk_testing.conformance import event_shape, gemini_target, openai_target, run_session
from realtalk_testing.conformance.scenarios import until_turns

TARGETS = {"gemini": gemini_target(), "openai": openai_target()}


@pytest.mark.parametrize("cassette", ["tool_call", "spoken_question"])
async def test_same_app_same_shape(cassette: str) -> None:
    shapes = {}
    for name, target in TARGETS.items():
        run = await run_session(target, cassette, until_turns(1), thread_id=name)
        shapes[name] = event_shape(run.events)
    assert shapes["gemini"] == shapes["openai"]
    expected_tool = [
        'tool_call get_weather {"city": "Paris"}',
        'tool_result get_weather {"sky": "sunny", "temp_c": 20}',
    ]
    assert shapes["openai"] == [
        "session_started",
        "user: What's the weather in Paris?",
        *(expected_tool if cassette == "tool_call" else []),
        "agent: It is sunny and twenty degrees in Paris.",
        "audio",
        "turn_complete",
        "session_ended",
    ]


def test_only_the_model_name_differs() -> None:
    gemini, openai = TARGETS["gemini"], TARGETS["openai"]
    assert gemini.provider is None and openai.provider is None  # routed by model name alone
    assert gemini.model.startswith("gemini-") and openai.model.startswith("gpt-realtime")
