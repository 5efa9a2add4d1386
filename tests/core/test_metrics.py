"""realtalk.metrics: scripted input and event sequences at scripted times give exact figures
(the session-level wiring on a ManualClock is tests/runtime/test_metrics.py)."""

from __future__ import annotations

from typing import Any

from pytest import approx

from realtalk import events as ev
from realtalk.inputs import ActivityEnd, AudioInput, AudioStreamEnd, TextInput
from realtalk.metrics import SessionMetrics

AUDIO = ev.AudioDeltaEvent(data=b"\x00\x00" * 240)


class Script:
    """Feeds a tracker at scripted times and keeps what it asked to emit."""

    def __init__(self) -> None:
        self.now = 0.0
        self.metrics = SessionMetrics(provider="fake", model="fake-live")
        self.emitted: list[Any] = []
        self.event(ev.SessionStartedEvent(thread_id="t"))

    def at(self, seconds: float) -> Script:
        """Move to ``seconds`` after the session start."""
        self.now = seconds
        return self

    def send(self, item: Any) -> Script:
        self.metrics.on_input(item, self.now)
        return self

    def event(self, *events: ev._Event) -> Script:
        for event in events:
            self.emitted += self.metrics.on_event(event, self.now)  # type: ignore[arg-type]
        return self

    def lost(self) -> Script:
        self.metrics.on_connection_lost(self.now)
        return self

    def finish(self) -> ev.SessionMetricsEvent:
        out = self.metrics.finish(self.now)
        self.emitted += out[:-1]
        summary = out[-1]
        assert isinstance(summary, ev.SessionMetricsEvent)
        return summary

    @property
    def turns(self) -> list[ev.MetricsEvent]:
        return [e for e in self.emitted if isinstance(e, ev.MetricsEvent)]


def test_text_turn_latencies_run_from_the_text_sent() -> None:
    s = Script().at(1.0).send(TextInput("hi")).at(1.4).event(AUDIO).at(1.5).event(AUDIO)
    s.at(3.0).event(ev.TurnCompleteEvent())
    assert s.emitted == []  # waits for the usage report that may follow
    s.event(ev.UsageEvent(prompt_tokens=10, response_tokens=20, total_tokens=30))
    (turn,) = s.turns
    assert turn.turn == 1 and turn.provider == "fake" and turn.model == "fake-live"
    assert turn.input_end == "text"
    assert turn.started_at == 1.4 and turn.ended_at == 3.0
    assert turn.time_to_first_audio == approx(0.4)
    assert turn.time_to_turn_end == approx(2.0)
    assert (turn.input_tokens, turn.output_tokens) == (10, 20)
    assert not turn.interrupted
    summary = s.at(5.0).finish()
    assert summary.turns == 1 and summary.duration == 5.0
    assert summary.time_to_first_audio == approx([0.4])
    assert (summary.input_tokens, summary.output_tokens, summary.total_tokens) == (10, 20, 30)


def test_a_turn_without_usage_is_reported_at_the_next_event() -> None:
    s = Script().send(ActivityEnd()).at(0.5).event(AUDIO).at(1.0).event(ev.TurnCompleteEvent())
    s.at(1.1).event(ev.SessionUpdateEvent(resumption_handle="h"))
    (turn,) = s.turns
    assert turn.input_end == "activity_end" and turn.time_to_first_audio == 0.5
    assert turn.input_tokens is None


def test_the_summary_flushes_a_turn_still_waiting_for_usage() -> None:
    s = Script().send(AudioStreamEnd()).at(0.2).event(AUDIO).at(0.3).event(ev.TurnCompleteEvent())
    summary = s.finish()
    assert [t.input_end for t in s.turns] == ["audio_stream_end"]
    assert summary.turns == 1


def test_explicit_input_end_wins_over_the_transcript_closed_when_the_model_answers() -> None:
    s = Script().event(ev.InputTranscriptEvent(text="what's", finished=False))
    s.at(1.0).send(AudioStreamEnd())
    s.at(1.6).event(ev.InputTranscriptEvent(text="what's up", finished=True))
    s.event(ev.ToolCallEvent(id="c1", name="get_weather", args={}))
    s.at(1.9).event(ev.ToolResultEvent(id="c1", name="get_weather", result={"t": 1}))
    s.at(2.5).event(AUDIO).at(3.0).event(ev.TurnCompleteEvent()).event(ev.UsageEvent())
    (turn,) = s.turns
    assert turn.input_end == "audio_stream_end"
    assert turn.started_at == 1.6  # the tool call started the turn
    assert turn.time_to_first_audio == approx(1.5)
    (tool,) = turn.tool_calls
    assert (tool.id, tool.name, tool.outcome) == ("c1", "get_weather", "ok")
    assert tool.started_at == 1.6 and tool.duration == approx(0.3)


def test_a_provider_finished_transcript_marks_the_end_of_speech() -> None:
    s = Script().send(AudioInput(b"\x00\x00" * 160, 16000)).at(2.0)
    s.event(ev.InputTranscriptEvent(text="hello", finished=True))
    s.at(2.7).event(AUDIO).at(4.0).event(ev.TurnCompleteEvent()).event(ev.UsageEvent())
    (turn,) = s.turns
    assert turn.input_end == "transcript" and turn.time_to_first_audio == approx(0.7)


def test_a_transcript_finished_while_the_model_answers_does_not_mark_the_next_turn() -> None:
    s = Script().at(1.0).event(AUDIO)
    s.at(1.5).event(ev.InputTranscriptEvent(text="late transcription", finished=True))
    s.at(2.0).event(ev.TurnCompleteEvent()).event(ev.UsageEvent())
    s.at(5.0).event(AUDIO).at(6.0).event(ev.TurnCompleteEvent()).event(ev.UsageEvent())
    assert [(t.input_end, t.time_to_first_audio) for t in s.turns] == [(None, None), (None, None)]


def test_interruptions_end_the_turn_and_are_counted() -> None:
    s = Script().send(TextInput("tell me a story")).at(0.5).event(AUDIO)
    s.at(2.0).event(ev.InterruptedEvent()).event(ev.InterruptedEvent())  # the second: no turn
    s.at(2.1).send(TextInput("stop")).at(2.4).event(AUDIO).at(3.0).event(ev.TurnCompleteEvent())
    summary = s.finish()
    assert [t.interrupted for t in s.turns] == [True, False]
    assert summary.interruptions == 2 and summary.turns == 2
    assert s.turns[1].time_to_first_audio == approx(0.3)


def test_reconnect_after_go_away_measures_the_gap_from_the_lost_connection() -> None:
    s = Script().at(1.0).event(ev.GoAwayEvent(time_left=10.0)).at(1.2).lost()
    s.at(1.45).event(ev.ReconnectedEvent(attempt=1, resumed=True))
    s.at(2.0).event(ev.SessionUpdateEvent())
    s.at(3.0).lost().at(4.0).event(ev.ReconnectedEvent(attempt=3, resumed=False))
    summary = s.finish()
    first, second = summary.reconnects
    assert (first.cause, first.resumed, first.attempt, first.lost_at) == ("go_away", True, 1, 1.2)
    assert first.gap == approx(0.25)
    assert (second.cause, second.resumed, second.attempt, second.gap) == (
        "disconnect",
        False,
        3,
        1.0,
    )
    assert summary.go_aways == 1


def test_reconnect_without_a_reported_loss_falls_back_to_the_go_away() -> None:
    s = (
        Script()
        .at(1.0)
        .event(ev.GoAwayEvent())
        .at(1.5)
        .event(ev.ReconnectedEvent(attempt=1, resumed=True))
    )
    (reconnect,) = s.finish().reconnects
    assert (reconnect.cause, reconnect.lost_at, reconnect.gap) == ("go_away", 1.0, 0.5)


def test_a_turn_reports_the_tools_and_reconnects_finished_since_the_previous_one() -> None:
    s = Script().send(TextInput("weather?")).at(1.0).event(ev.ToolCallEvent(id="a", name="slow"))
    s.event(ev.ToolCallEvent(id="b", name="broken"))
    s.at(1.5).event(ev.ToolResultEvent(id="b", name="broken", error="ValueError: no"))
    s.at(1.6).event(ev.ToolCallCancelledEvent(ids=["a"]))
    s.at(1.7).event(ev.ToolResultEvent(id="a", name="slow", error="cancelled by the provider"))
    s.at(1.8).event(ev.GoAwayEvent()).lost().at(2.0).event(
        ev.ReconnectedEvent(attempt=1, resumed=True)
    )
    s.at(2.5).event(AUDIO).at(3.0).event(ev.TurnCompleteEvent()).event(ev.UsageEvent())
    s.at(4.0).send(TextInput("thanks")).at(4.5).event(AUDIO).at(5.0).event(ev.TurnCompleteEvent())
    s.event(ev.UsageEvent())
    first, second = s.turns
    assert [(t.name, t.outcome) for t in first.tool_calls] == [
        ("broken", "error"),
        ("slow", "cancelled"),
    ]
    assert [r.resumed for r in first.reconnects] == [True]
    assert second.tool_calls == [] and second.reconnects == []
    summary = s.finish()
    assert [t.id for t in summary.tool_calls] == ["b", "a"]


def test_dropped_input_is_summed() -> None:
    s = Script().event(ev.InputDroppedEvent(audio_chunks=3, audio_bytes=960, reason="queue full"))
    s.event(ev.InputDroppedEvent(audio_chunks=2, audio_bytes=640))
    summary = s.finish()
    assert (summary.input_dropped_chunks, summary.input_dropped_bytes) == (5, 1600)


def test_audio_after_the_first_chunk_of_a_turn_is_a_type_check() -> None:
    s = Script().at(0.5).event(AUDIO)
    assert not s.metrics.wants_audio  # the runtime's hot path may skip the call now
    s.at(1.0).event(AUDIO)
    s.at(2.0).event(ev.TurnCompleteEvent())
    assert s.metrics.wants_audio  # the next turn's first chunk matters again


def test_every_figure_round_trips_through_json() -> None:
    s = Script().send(TextInput("hi")).at(0.5).event(AUDIO).at(1.0).event(ev.TurnCompleteEvent())
    s.event(ev.UsageEvent(prompt_tokens=1))
    summary = s.finish()
    for event in [*s.turns, summary]:
        assert ev.event_from_json(ev.event_to_json(event)) == event
