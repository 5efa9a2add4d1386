"""The runtime's sans-I/O parts on their own: backoff, transcripts, prompt, clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtalk import ReconnectConfig
from realtalk.events import (
    AudioDeltaEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    TextDeltaEvent,
    ToolCallEvent,
    TurnCompleteEvent,
)
from realtalk.messages import Message
from realtalk.runtime.clock import ManualClock
from realtalk.runtime.prompt import PromptError, build_system_instruction, render_memory
from realtalk.runtime.reconnect import ReconnectPolicy
from realtalk.runtime.transcripts import TranscriptTracker


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = ReconnectPolicy(
        ReconnectConfig(base_delay=0.5, max_delay=3.0, jitter=0.5, max_attempts=4), rng=lambda: 1.0
    )
    assert [policy.delay(n) for n in range(1, 6)] == [0.75, 1.5, 3.0, 4.5, 4.5]
    assert policy.allows(4) and not policy.allows(5) and not policy.allows(0)
    assert ReconnectPolicy(ReconnectConfig(enabled=False)).max_attempts == 0


async def test_policy_waits_on_its_clock() -> None:
    clock = ManualClock(auto_advance=True)
    policy = ReconnectPolicy(ReconnectConfig(base_delay=2, jitter=0), clock=clock)
    assert await policy.wait(2) == 4
    assert clock.sleeps == [4] and clock.monotonic() == 4


async def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = ManualClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 5)), asyncio.create_task(sleeper("early", 1))]
    await clock.wait_for_sleepers(2)
    await clock.advance(1)
    assert woke == ["early"]
    await clock.advance(4)
    assert woke == ["early", "late"]
    await asyncio.gather(*tasks)
    with pytest.raises(ValueError):
        await clock.advance(-1)


def _texts(outputs: list[object]) -> list[tuple[str, str]]:
    out = []
    for o in outputs:
        if isinstance(o, Message):
            out.append(("msg:" + o.role, o.text_content))
        else:
            out.append((o.type, getattr(o, "text", "")))  # type: ignore[attr-defined]
    return out


def test_tracker_closes_the_user_utterance_when_the_model_answers() -> None:
    t = TranscriptTracker()
    assert _texts(t.on_event(InputTranscriptEvent(text="hel"))) == [("input_transcript", "hel")]
    t.on_event(InputTranscriptEvent(text="lo"))
    out = t.on_event(AudioDeltaEvent(data=b"\0\0"))
    assert _texts(out) == [
        ("input_transcript", "hello"),
        ("msg:user", "hello"),
        ("audio_delta", ""),
    ]
    assert out[0].finished  # type: ignore[union-attr]


def test_tracker_uses_the_provider_finished_text_as_the_whole_utterance() -> None:
    t = TranscriptTracker()
    t.on_event(OutputTranscriptEvent(text="Hi the"))
    out = t.on_event(OutputTranscriptEvent(text="Hi there", finished=True))
    assert _texts(out) == [("output_transcript", "Hi there"), ("msg:assistant", "Hi there")]
    assert _texts(t.on_event(TurnCompleteEvent())) == [("turn_complete", "")]  # nothing left


def test_tracker_closes_everything_at_boundaries_user_first() -> None:
    t = TranscriptTracker()
    t.on_event(InputTranscriptEvent(text="weather?"))
    t.on_event(TextDeltaEvent(text="Let me "))
    t.on_event(TextDeltaEvent(text="check"))
    out = t.on_event(ToolCallEvent(id="c", name="w"))
    assert _texts(out) == [("msg:assistant", "Let me check"), ("tool_call", "")]
    t.on_event(OutputTranscriptEvent(text="Sunny"))
    out = t.on_event(InterruptedEvent())
    assert _texts(out) == [
        ("output_transcript", "Sunny"),
        ("msg:assistant", "Sunny"),
        ("interrupted", ""),
    ]
    assert out[1].metadata == {"modality": "audio", "interrupted": True}  # type: ignore[union-attr]
    assert _texts(t.on_event(InputTranscriptEvent(text="   ", finished=True))) == []


def test_prompt_parts_are_joined_in_order_and_none_when_empty() -> None:
    assert build_system_instruction() is None
    text = build_system_instruction(
        system_instruction="A {x}",
        system_prompt=["B", {"role": "system", "content": [{"type": "text", "text": "C"}]}],
        skills="D",
        memory=["E", "F"],
        state={"x": 1},
    )
    assert text == "A 1\n\nB\n\nC\n\nSkills you can use:\nD\n\nWhat you remember:\n- E\n- F"


def test_prompt_state_may_be_an_object_and_braces_escape() -> None:
    class State:
        name = "Ada"

    assert build_system_instruction(system_prompt="{name} {{literal}}", state=State()) == (
        "Ada {literal}"
    )
    with pytest.raises(PromptError, match="state fields: name"):
        build_system_instruction(system_prompt="{missing}", state={"name": 1})


def test_memory_shapes() -> None:
    assert render_memory({"a": 1}, None) == "- a: 1"
    assert render_memory(lambda s: "from state " + s["k"], {"k": "v"}) == "from state v"
    with pytest.raises(PromptError):
        render_memory(42, None)


def _event(kind: str, text: str) -> Any:
    if kind == "in":
        return InputTranscriptEvent(text=text)
    if kind == "out":
        return OutputTranscriptEvent(text=text)
    if kind == "text":
        return TextDeltaEvent(text=text)
    if kind == "audio":
        return AudioDeltaEvent(data=b"\0\0")
    if kind == "tool":
        return ToolCallEvent(id="c", name="n")
    return TurnCompleteEvent() if kind == "turn" else InterruptedEvent()


def test_tracker_persists_every_fragment_exactly_once_in_order() -> None:
    """Whatever the interleaving of fragments and boundaries, each role's persisted text
    is exactly its fragments in order, and each finished event matches a message."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    word = st.text(alphabet="abcxyz", min_size=1, max_size=4)
    step = st.one_of(
        st.tuples(st.just("in"), word),
        st.tuples(st.just("out"), word),
        st.tuples(st.just("text"), word),
        st.tuples(st.sampled_from(["audio", "tool", "turn", "interrupt"]), st.just("")),
    )

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(st.lists(step, max_size=30))
    def check(steps: list[tuple[str, str]]) -> None:
        t = TranscriptTracker()
        outputs: list[object] = []
        sent: dict[str, list[str]] = {"user": [], "assistant": []}
        for kind, text in steps:
            event = _event(kind, " " + text)
            if kind == "in":
                sent["user"].append(text)
            elif kind in ("out", "text"):
                sent["assistant"].append(text)
            outputs += t.on_event(event)
        outputs += t.finish_all()
        messages = [o for o in outputs if isinstance(o, Message)]
        for role in ("user", "assistant"):
            words = " ".join(m.text_content for m in messages if m.role == role).split()
            assert words == sent[role]
        finished = [
            o.text
            for o in outputs
            if isinstance(o, InputTranscriptEvent | OutputTranscriptEvent) and o.finished
        ]
        spoken = [m.text_content for m in messages if m.metadata["modality"] == "audio"]
        assert finished == spoken

    check()


def test_input_buffer_drops_oldest_audio_never_control_items() -> None:
    from realtalk.inputs import AudioInput, TextInput
    from realtalk.runtime.input import InputBuffer

    buffer = InputBuffer(seconds=0.1, rate=16000)  # 3200 bytes of audio
    chunks = [AudioInput(data=bytes([i]) * 1600, sample_rate=16000) for i in range(4)]
    buffer.append(chunks[0])
    buffer.append(TextInput("keep me"))
    for chunk in chunks[1:]:
        buffer.append(chunk)
    assert list(buffer) == [TextInput("keep me"), chunks[2], chunks[3]]
    assert buffer.take_drops() == (2, 3200) and buffer.take_drops() == (0, 0)
    assert buffer.ends_a_turn() and buffer.audio_bytes == 3200
    buffer.popleft()
    assert not buffer.ends_a_turn()


def test_audio_adapter_passes_matching_audio_through_untouched() -> None:
    from realtalk.inputs import AudioInput
    from realtalk.runtime.input import AudioAdapter

    adapter = AudioAdapter(16000)
    item = AudioInput(data=b"\x01\x00" * 160, sample_rate=16000)
    assert adapter.adapt(item) is item
    assert adapter.flush() is None
    with pytest.raises(ValueError, match="even number"):
        adapter.adapt(AudioInput(data=b"\x01", sample_rate=16000))
