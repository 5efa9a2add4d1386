"""The behavioural scenarios every provider plugin must pass, run through the real runtime.

Each scenario builds the same application (an ``AudioAgent`` with a ``get_weather`` tool,
an in-memory checkpointer), replays one of the target's cassettes through the provider
found for the target's model, drives the input queue like a user would, and checks what
an application relies on: the neutral event stream, what was persisted, and that the
cassette played exactly. Nothing here knows a provider's wire protocol.

Cassette contract (what a target's cassettes must script): the user asks "What's the
weather in Paris?" by voice (the client sends at least 0.5 s of audio, 16 kHz speech
resampled to the provider's rate); ``tool_call`` calls ``get_weather`` with
``{"city": "Paris"}`` and expects the result ``{"sky": "sunny", "temp_c": 20}``;
``barge_in`` waits for user audio while the model speaks and then interrupts;
``drop_reconnect`` ends the first connection abnormally and answers on a later one (the
client sends audio after each reconnection); ``text_turn`` answers the typed "Say hi" in
TEXT modality.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig, VADConfig
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.events import (
    AudioDeltaEvent,
    ErrorEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    ReconnectedEvent,
    TextDeltaEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from realtalk.messages import Message

from .shape import event_shape
from .target import ConformanceTarget, Replay

__all__ = [
    "QUESTION",
    "SCENARIOS",
    "WEATHER",
    "ConformanceFailure",
    "Scenario",
    "ScenarioOutcome",
    "SessionRun",
    "run_conformance",
    "run_scenario",
    "run_session",
    "speak",
    "until_turns",
]

QUESTION = "What's the weather in Paris?"
WEATHER: dict[str, Any] = {"sky": "sunny", "temp_c": 20}
SECOND_16K = b"\x01\x00" * 16000
"""One second of 16 kHz PCM16: the runtime resamples it to the provider's rate."""

Driver = Callable[[RealtimeEvent, LiveInputQueue], None]


class ConformanceFailure(AssertionError):
    """A scenario's expectation failed; the message carries the stream's shape."""


@dataclass
class SessionRun:
    """What one scenario session produced."""

    events: list[RealtimeEvent]
    messages: list[Message]
    tool_calls: list[dict[str, Any]]
    shape: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[RealtimeEvent]:
        return [e for e in self.events if e.type == kind]

    def index(self, kind: str, start: int = 0) -> int:
        for i, event in enumerate(self.events[start:], start):
            if event.type == kind:
                return i
        return -1


def _check(condition: bool, message: str, run: SessionRun | None = None) -> None:
    if not condition:
        detail = "" if run is None else "\n  stream shape: " + "\n    ".join(["", *run.shape])
        raise ConformanceFailure(message + detail)


async def run_session(
    target: ConformanceTarget,
    cassette_key: str,
    drive: Driver,
    *,
    first_input: Callable[[LiveInputQueue], None] | None = None,
    limit: float = 20.0,
    thread_id: str = "conformance",
    **config: Any,
) -> SessionRun:
    """Replay one of the target's cassettes through a whole session (the same app code
    for every provider) and collect events, persisted messages and executed tool calls."""
    path = target.cassette(cassette_key)
    if path is None and target.replay is not None:
        raise LookupError(f"target {target.name!r} has no {cassette_key!r} cassette")
    replay_factory = target.replay or _no_replay
    if target.end_of_speech == "activity":
        config.setdefault("vad", VADConfig(enabled=False))
    calls: list[dict[str, Any]] = []

    def get_weather(city: str) -> dict[str, Any]:
        """Current weather for a city."""
        calls.append({"city": city})
        return dict(WEATHER)

    checkpointer = InMemoryCheckpointer()
    thread = {"thread_id": thread_id}
    events: list[RealtimeEvent] = []
    async with replay_factory(path or Path(cassette_key)) as replay:
        named = target.provider if isinstance(target.provider, str) else None
        instance = None if isinstance(target.provider, str) else target.provider
        realtime = RealtimeConfig(
            model=target.model,
            provider=named,
            provider_options={**replay.provider_options, **target.provider_options},
            reconnect=ReconnectConfig(base_delay=0.0, max_delay=0.0, jitter=0.0),
            **config,
        )
        app = AudioAgent(
            target.model, realtime_config=realtime, tools=[get_weather], provider=instance
        ).compile(checkpointer=checkpointer, shutdown_timeout=5.0)
        queue = LiveInputQueue()
        (first_input or (lambda q: speak(target, q)))(queue)

        async def consume() -> None:
            async for event in app.arealtime(queue, thread):
                events.append(event)
                drive(event, queue)

        try:
            await asyncio.wait_for(consume(), limit)  # a safety net, not a wait
        except TimeoutError:
            raise ConformanceFailure(
                f"the session did not end within {limit:g}s (a reply never came, or the "
                f"client never sent what the cassette waits for)\n  stream shape: "
                f"{event_shape(events)}"
            ) from None
        except Exception as exc:
            raise ConformanceFailure(
                f"the session raised {exc!r}\n  stream shape: {event_shape(events)}"
            ) from exc
        finally:
            await app.aclose()
        try:
            replay.assert_played()
        except AssertionError as exc:
            raise ConformanceFailure(
                f"the cassette did not play exactly:\n{exc}\n  stream shape: {event_shape(events)}"
            ) from None
    messages = list(await checkpointer.alist_messages(thread))
    return SessionRun(events, messages, calls, event_shape(events))


class _NoReplay:
    """For targets without a replay server: nothing to point at, nothing to check."""

    provider_options: dict[str, Any] = {}  # noqa: RUF012 - read-only

    def assert_played(self) -> None:
        return None


@contextlib.asynccontextmanager
async def _no_replay(path: Path) -> AsyncIterator[Replay]:
    yield _NoReplay()


def speak(target: ConformanceTarget, queue: LiveInputQueue, audio: bytes = SECOND_16K) -> None:
    """The user says something: 16 kHz speech, its end marked as ``target`` needs."""
    if target.end_of_speech == "activity":
        queue.send_activity_start()
    queue.send_audio(audio, 16000)
    if target.end_of_speech == "activity":
        queue.send_activity_end()
    elif target.end_of_speech == "stream_end":
        queue.send_audio_stream_end()


def until_turns(
    n: int = 1,
    *,
    audio_after: Sequence[str] = (),
    target: ConformanceTarget | None = None,
) -> Driver:
    """Close the queue after ``n`` turn_complete events; the user speaks again (a second
    of audio, ended as ``target`` needs) after every event whose type is in
    ``audio_after``."""
    seen = {"turns": 0}

    def drive(event: RealtimeEvent, queue: LiveInputQueue) -> None:
        if event.type == "turn_complete":
            seen["turns"] += 1
            if seen["turns"] >= n:
                queue.close()
        if event.type in audio_after and not queue.closed:
            if target is None:
                queue.send_audio(SECOND_16K, 16000)
            else:
                speak(target, queue)

    return drive


def _common(run: SessionRun) -> None:
    """What holds for every scenario: framing events, no fatal error, sane audio."""
    _check(bool(run.events), "the session yielded no events")
    _check(run.events[0].type == "session_started", "the first event is not session_started", run)
    _check(run.events[-1].type == "session_ended", "the last event is not session_ended", run)
    fatal = [e for e in run.events if isinstance(e, ErrorEvent) and e.fatal]
    _check(not fatal, f"fatal errors: {[f'{e.code}: {e.message}' for e in fatal]}", run)
    for event in run.events:
        if isinstance(event, AudioDeltaEvent):
            _check(
                event.sample_rate > 0 and len(event.data) % 2 == 0,
                f"malformed audio delta: {event!r}",
                run,
            )


def _finished(run: SessionRun, cls: type[Any], start: int = 0) -> list[str]:
    return [
        e.text for e in run.events[start:] if isinstance(e, cls) and e.finished and e.text.strip()
    ]


def _texts(messages: Sequence[Message], role: str) -> list[str]:
    out = []
    for message in messages:
        if message.role != role:
            continue
        text = "".join(getattr(b, "text", "") for b in message.content)
        if text:
            out.append(text)
    return out


# --------------------------------------------------------------------------- scenarios


async def basic_turn(target: ConformanceTarget) -> SessionRun:
    """A spoken question gets a spoken answer with both transcripts, persisted once."""
    run = await run_session(target, "spoken_question", until_turns(1), thread_id="basic")
    _common(run)
    _check(bool(run.of("audio_delta")), "no model audio", run)
    _check(len(run.of("turn_complete")) == 1, "expected exactly one turn_complete", run)
    _check(
        run.index("turn_complete") > run.index("audio_delta"),
        "turn_complete came before the audio",
        run,
    )
    _check_transcripts(target, run)
    return run


def _check_transcripts(target: ConformanceTarget, run: SessionRun, start: int = 0) -> None:
    """The question and one answer were transcribed, each persisted once, as speech."""
    if target.claims("input_transcription"):
        users = _finished(run, InputTranscriptEvent, start)
        _check(users == [QUESTION], f"expected the user transcript {[QUESTION]}, got {users}", run)
        _check(_texts(run.messages, "user") == users, "the user transcript was not persisted", run)
    if target.claims("output_transcription"):
        agents = _finished(run, OutputTranscriptEvent, start)
        _check(len(agents) == 1, f"expected one finished agent transcript, got {agents}", run)
        _check(_texts(run.messages, "assistant") == agents, "the answer was not persisted", run)
    _check(
        all(m.metadata.get("modality") == "audio" for m in run.messages),
        "speech must be persisted with metadata modality=audio",
        run,
    )


async def tool_round_trip(target: ConformanceTarget) -> SessionRun:
    """The model calls get_weather; it runs once; its result goes back; the model answers."""
    run = await run_session(target, "tool_call", until_turns(1), thread_id="tool")
    _common(run)
    calls = [e for e in run.events if isinstance(e, ToolCallEvent)]
    results = [e for e in run.events if isinstance(e, ToolResultEvent)]
    _check(len(calls) == 1, f"expected one tool_call, got {len(calls)}", run)
    call = calls[0]
    _check(call.name == "get_weather" and call.args == {"city": "Paris"}, f"bad call {call}", run)
    _check(bool(call.id), "the tool call has no id", run)
    _check(run.tool_calls == [{"city": "Paris"}], f"the tool ran {run.tool_calls}", run)
    _check(len(results) == 1, f"expected one tool_result, got {len(results)}", run)
    result = results[0]
    _check(
        result.id == call.id and result.error is None and result.result == WEATHER,
        f"bad tool result {result}",
        run,
    )
    i_call, i_result = run.events.index(call), run.events.index(result)
    i_turn = run.index("turn_complete")
    _check(i_call < i_result < i_turn, "expected tool_call < tool_result < turn_complete", run)
    _check(
        any(isinstance(e, AudioDeltaEvent) for e in run.events[i_result:i_turn]),
        "no spoken answer after the tool result",
        run,
    )
    kinds = [b.type for m in run.messages for b in m.content]
    _check(
        "tool_call" in kinds and "tool_result" in kinds,
        f"tool call and result not persisted (blocks: {kinds})",
        run,
    )
    return run


async def barge_in(target: ConformanceTarget) -> SessionRun:
    """The user talks over the answer: interrupted, the model stops, the next turn runs."""
    sent = {"done": False}
    finish = until_turns(1)

    def drive(event: RealtimeEvent, queue: LiveInputQueue) -> None:
        if event.type == "audio_delta" and not sent["done"]:
            sent["done"] = True
            speak(target, queue)
        finish(event, queue)

    run = await run_session(target, "barge_in", drive, thread_id="barge")
    _common(run)
    i_int = run.index("interrupted")
    _check(i_int > 0, "no interrupted event", run)
    _check(run.index("audio_delta") < i_int, "interrupted came before any audio", run)
    _check(run.index("turn_complete", i_int) > i_int, "the next turn did not complete", run)
    if target.claims("input_transcription"):
        i_user = next(
            (
                i
                for i, e in enumerate(run.events)
                if i > i_int and isinstance(e, InputTranscriptEvent) and e.finished
            ),
            -1,
        )
        _check(i_user > i_int, "no user transcript after the interruption", run)
        _check(
            not any(isinstance(e, AudioDeltaEvent) for e in run.events[i_int:i_user]),
            "the interrupted answer kept streaming audio after interrupted",
            run,
        )
    if target.claims("output_transcription"):
        _check(
            any(m.role == "assistant" and m.metadata.get("interrupted") for m in run.messages),
            "the cut-off answer was not persisted marked interrupted",
            run,
        )
    return run


async def drop_and_recover(target: ConformanceTarget) -> SessionRun:
    """An abnormal end of the connection reconnects; the conversation goes on."""
    run = await run_session(
        target,
        "drop_reconnect",
        until_turns(1, audio_after=("reconnected",), target=target),
        thread_id="drop",
    )
    _common(run)
    reconnects = run.of("reconnected")
    _check(bool(reconnects), "no reconnected event", run)
    last = max(i for i, e in enumerate(run.events) if e.type == "reconnected")
    answered = (
        bool(_finished(run, OutputTranscriptEvent, last))
        if target.claims("output_transcription")
        else any(isinstance(e, AudioDeltaEvent) for e in run.events[last:])
    )
    _check(answered, "no answer after reconnecting", run)
    if target.claims("input_transcription"):
        # a fresh (not resumed) session is reseeded; the model must not speak unprompted
        for i, event in enumerate(run.events):
            if not isinstance(event, ReconnectedEvent) or event.resumed:
                continue
            heard = next(
                (
                    j
                    for j in range(i, len(run.events))
                    if isinstance(run.events[j], InputTranscriptEvent)
                ),
                len(run.events),
            )
            _check(
                not any(isinstance(e, AudioDeltaEvent) for e in run.events[i:heard]),
                "the model spoke after a fresh reconnect before the user said anything",
                run,
            )
    _check(run.index("turn_complete", last) > last, "no turn_complete after reconnecting", run)
    return run


async def close_drains_reply(target: ConformanceTarget) -> SessionRun:
    """Closing the queue mid-answer ends input, not output: the reply finishes."""

    def drive(event: RealtimeEvent, queue: LiveInputQueue) -> None:
        if event.type == "audio_delta" and not queue.closed:
            queue.close()

    run = await run_session(target, "spoken_question", drive, thread_id="drain")
    _common(run)
    first_audio = run.index("audio_delta")
    _check(first_audio > 0, "no model audio", run)
    later = run.events[first_audio + 1 :]
    _check(any(isinstance(e, AudioDeltaEvent) for e in later), "audio stopped at the close", run)
    _check(run.index("turn_complete", first_audio) > 0, "the reply was not drained", run)
    if target.claims("output_transcription"):
        _check(
            bool(_finished(run, OutputTranscriptEvent, first_audio)),
            "the answer's transcript did not finish after the close",
            run,
        )
        _check(bool(_texts(run.messages, "assistant")), "the drained answer was not persisted", run)
    return run


async def text_modality(target: ConformanceTarget) -> SessionRun:
    """TEXT responses: text deltas, no audio, both sides persisted as text."""
    run = await run_session(
        target,
        "text_turn",
        until_turns(1),
        first_input=lambda queue: queue.send_text("Say hi"),
        response_modalities=["TEXT"],
        thread_id="text",
    )
    _common(run)
    text = "".join(e.text for e in run.events if isinstance(e, TextDeltaEvent))
    _check(bool(text), "no text deltas", run)
    _check(not run.of("audio_delta"), "audio in a TEXT session", run)
    _check(len(run.of("turn_complete")) == 1, "expected one turn_complete", run)
    _check(_texts(run.messages, "user") == ["Say hi"], "the typed text was not persisted", run)
    _check(_texts(run.messages, "assistant") == [text], "the text answer was not persisted", run)
    return run


async def bad_input(target: ConformanceTarget) -> SessionRun:
    """Malformed input is refused with a clear error where it is sent, and loses nothing:
    the good input after it still gets its answer."""
    refused: list[str] = []

    def first(queue: LiveInputQueue) -> None:
        attempts: list[Callable[[], None]] = [
            lambda: queue.send_audio(b"\x01\x00\x02", 16000),  # half a sample
            lambda: queue.send_audio(SECOND_16K, 0),  # no such rate
            lambda: queue.send_text(""),
            lambda: queue.send_image(b"GIF89a", "image/gif"),
        ]
        for attempt in attempts:
            try:
                attempt()
            except ValueError as exc:
                refused.append(str(exc))
        speak(target, queue)

    run = await run_session(
        target, "spoken_question", until_turns(1), first_input=first, thread_id="bad"
    )
    _common(run)
    _check(len(refused) == 4, f"only {len(refused)} of 4 bad inputs were refused", run)
    _check(all(refused), "a refusal had no message", run)
    _check(len(run.of("turn_complete")) == 1, "the turn did not complete", run)
    _check(bool(run.of("audio_delta")), "no answer to the good audio", run)
    if target.claims("input_transcription"):
        heard = _finished(run, InputTranscriptEvent)
        _check(heard == [QUESTION], f"the good audio was lost (heard {heard})", run)
    return run


def _doc(func: Callable[..., Any]) -> str:
    return " ".join((func.__doc__ or "").split())


@dataclass(frozen=True)
class Scenario:
    """One behavioural check: its name, the cassette it replays and its coroutine."""

    name: str
    cassette: str
    run: Callable[[ConformanceTarget], Awaitable[SessionRun]]
    description: str = ""
    requires: frozenset[str] = frozenset()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("basic_turn", "spoken_question", basic_turn, _doc(basic_turn)),
        Scenario(
            "tool_round_trip",
            "tool_call",
            tool_round_trip,
            _doc(tool_round_trip),
            frozenset({"tools"}),
        ),
        Scenario("barge_in", "barge_in", barge_in, _doc(barge_in), frozenset({"barge_in"})),
        Scenario(
            "drop_and_recover",
            "drop_reconnect",
            drop_and_recover,
            _doc(drop_and_recover),
            frozenset({"reconnect"}),
        ),
        Scenario(
            "close_drains_reply", "spoken_question", close_drains_reply, _doc(close_drains_reply)
        ),
        Scenario(
            "text_modality", "text_turn", text_modality, _doc(text_modality), frozenset({"text"})
        ),
        Scenario("bad_input", "spoken_question", bad_input, _doc(bad_input)),
    )
}
"""Every scenario, by name, in the order they run."""


@dataclass
class ScenarioOutcome:
    """How one scenario went for one target: ``passed``, ``skipped`` or ``failed``."""

    target: str
    scenario: str
    status: str
    detail: str = ""
    run: SessionRun | None = None


def skip_reason(target: ConformanceTarget, scenario: Scenario) -> str | None:
    """Why ``scenario`` does not apply to ``target`` (None when it does)."""
    if scenario.name in target.skip:
        return target.skip[scenario.name]
    missing = sorted(scenario.requires - target.features)
    if missing:
        return f"target {target.name!r} does not claim {', '.join(missing)}"
    if target.replay is not None and target.cassette(scenario.cassette) is None:
        return f"target {target.name!r} has no {scenario.cassette!r} cassette"
    return None


async def run_scenario(target: ConformanceTarget, name: str) -> ScenarioOutcome:
    """Run one scenario; failures raise `ConformanceFailure` (skips do not)."""
    if name not in SCENARIOS:
        raise KeyError(f"no conformance scenario {name!r}; known: {sorted(SCENARIOS)}")
    scenario = SCENARIOS[name]
    reason = skip_reason(target, scenario)
    if reason is not None:
        return ScenarioOutcome(target.name, name, "skipped", reason)
    run = await scenario.run(target)
    return ScenarioOutcome(target.name, name, "passed", run=run)


async def run_conformance(
    target: ConformanceTarget, scenarios: Sequence[str] | None = None
) -> list[ScenarioOutcome]:
    """Run scenarios (default: all) for ``target``; failures are collected, not raised."""
    outcomes = []
    for name in scenarios or list(SCENARIOS):
        try:
            outcomes.append(await run_scenario(target, name))
        except ConformanceFailure as exc:
            outcomes.append(ScenarioOutcome(target.name, name, "failed", str(exc)))
    return outcomes
