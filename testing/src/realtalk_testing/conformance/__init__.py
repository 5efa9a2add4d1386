"""The provider conformance suite: behavioural scenarios every provider plugin passes.

Run it for a provider with its own cassettes, through the real runtime::

    from realtalk_testing.conformance import ConformanceTarget, conformance_tests

    test_conformance = conformance_tests(ConformanceTarget(
        name="echo", model="echo-1", cassettes={...}, replay=my_replay_factory))

Built-in targets: `gemini_target()`, `openai_target()`. See docs/conformance.md.
"""

from __future__ import annotations

from .pytest_support import conformance_tests
from .scenarios import (
    QUESTION,
    SCENARIOS,
    WEATHER,
    ConformanceFailure,
    Scenario,
    ScenarioOutcome,
    SessionRun,
    run_conformance,
    run_scenario,
    run_session,
    speak,
    until_turns,
)
from .shape import event_shape
from .target import (
    CASSETTE_KEYS,
    FEATURES,
    ConformanceTarget,
    Replay,
    ReplayFactory,
    gemini_target,
    openai_target,
)

__all__ = [
    "CASSETTE_KEYS",
    "FEATURES",
    "QUESTION",
    "SCENARIOS",
    "WEATHER",
    "ConformanceFailure",
    "ConformanceTarget",
    "Replay",
    "ReplayFactory",
    "Scenario",
    "ScenarioOutcome",
    "SessionRun",
    "conformance_tests",
    "event_shape",
    "gemini_target",
    "openai_target",
    "run_conformance",
    "run_scenario",
    "run_session",
    "speak",
    "until_turns",
]
