"""Regression tests for the bugs the soak found, each named after its bug.

Each one reproduces the failure in isolation (the soak seed that found it is named too),
so the fix stays covered even if the generator changes.
"""

from __future__ import annotations

from realtalk.events import InputTranscriptEvent, OutputTranscriptEvent, TurnCompleteEvent
from realtalk.messages import Message
from realtalk.runtime.transcripts import TranscriptTracker


def _texts(outputs: list[object]) -> list[tuple[str, str]]:
    return [(m.role, m.text_content) for m in outputs if isinstance(m, Message)]


def test_bug_utterance_split_by_a_resumed_reconnect_lost_its_start() -> None:
    """Soak seeds 1, 3, 4 (and many more): a connection dropped mid-utterance and the
    session resumed; the new connection's decoder only knew the fragments sent after the
    reconnect, and its whole-utterance text replaced everything heard before it, so the
    persisted transcript lost its start ("the weather" instead of "what is the weather")."""
    tracker = TranscriptTracker()
    out: list[object] = []
    out += tracker.on_event(InputTranscriptEvent(text="what is", finished=False))  # conn 1
    # conn 2 (resumed): its decoder finishes only what it saw itself
    out += tracker.on_event(InputTranscriptEvent(text=" the weather", finished=False))
    out += tracker.on_event(InputTranscriptEvent(text=" the weather", finished=True))
    out += tracker.on_event(OutputTranscriptEvent(text="it is", finished=False))
    # conn 3 (resumed again)
    out += tracker.on_event(OutputTranscriptEvent(text=" sunny", finished=False))
    out += tracker.on_event(OutputTranscriptEvent(text=" sunny", finished=True))
    out += tracker.on_event(TurnCompleteEvent())
    assert _texts(out) == [("user", "what is the weather"), ("assistant", "it is sunny")]


def test_bug_utterance_split_by_a_resumed_reconnect_keeps_a_providers_correction() -> None:
    """The fix only keeps the start when the provider's text is the tail of what was
    heard; a whole text that differs (a corrected transcript) still wins."""
    tracker = TranscriptTracker()
    out: list[object] = []
    out += tracker.on_event(InputTranscriptEvent(text="wat is the", finished=False))
    out += tracker.on_event(InputTranscriptEvent(text="what is the weather", finished=True))
    assert _texts(out) == [("user", "what is the weather")]
