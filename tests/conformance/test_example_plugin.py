"""The out-of-tree example plugin (examples/provider_plugin, the ``echo`` provider) runs the
conformance suite in a few lines: an in-process provider needs no cassettes or server.

The echo plays the user's audio back when the turn ends (``audio_stream_end``) and
answers typed text with the same text; it transcribes nothing and calls no tools, so it
claims only ``text`` and the scenarios about transcripts, tools, barge-in and reconnection
are skipped for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from realtalk_testing.conformance import (
    ConformanceTarget,
    conformance_tests,
    run_conformance,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "provider_plugin" / "src"


def _echo_target() -> ConformanceTarget:
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    from realtalk_echo.provider import EchoProvider

    return ConformanceTarget(
        name="echo",
        model="echo-1",
        provider=EchoProvider(),
        features=frozenset({"text"}),
        end_of_speech="stream_end",
    )


test_echo_conformance = conformance_tests(
    _echo_target(),
    scenarios=["basic_turn", "tool_round_trip", "barge_in", "drop_and_recover",
               "close_drains_reply", "text_modality", "bad_input"],
)  # fmt: skip


async def test_echo_outcomes() -> None:
    outcomes = {o.scenario: o for o in await run_conformance(_echo_target())}
    assert {name: o.status for name, o in outcomes.items()} == {
        "basic_turn": "passed",
        "tool_round_trip": "skipped",
        "barge_in": "skipped",
        "drop_and_recover": "skipped",
        "close_drains_reply": "passed",
        "text_modality": "passed",
        "bad_input": "passed",
    }
    assert outcomes["tool_round_trip"].detail == "target 'echo' does not claim tools"


def test_features_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        ConformanceTarget(name="x", model="x", features=frozenset({"telepathy"}))
    with pytest.raises(ValueError, match="replay"):
        ConformanceTarget(name="x", model="x", cassettes={"tool_call": "a.jsonl"})
