"""The FakeProvider script: step types and the ``expect`` / ``emit`` / ``end`` builders.

A script is a list of connections; a connection is a list of steps played in order.
Expectations wait for something the client sends, emissions put events on the stream as
soon as every earlier expectation was met, and an ending step says how the connection
ends. Steps are immutable descriptions: the progress of a play lives in the connection
that plays them, so one script can drive several providers.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from realtalk.events import (
    AudioDeltaEvent,
    ErrorEvent,
    GenerationCompleteEvent,
    GoAwayEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    SessionUpdateEvent,
    TextDeltaEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TurnCompleteEvent,
    UsageEvent,
)
from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    InputItem,
    TextInput,
)
from realtalk.provider import (
    DisconnectKind,
    ProviderCapabilities,
    SessionSetup,
    classify_close_code,
)


class _Any:
    """Sentinel: "anything is fine" (distinct from ``None``, which is a value to match)."""

    _instance: _Any | None = None

    def __new__(cls) -> _Any:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
"""Matches any value (the default of most expectation fields)."""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class ToolResult:
    """A tool result the client sent (``ProviderSession.send_tool_result``)."""

    call_id: str
    name: str
    result: Any = None
    error: str | None = None


Received: TypeAlias = InputItem | ToolResult
"""Anything a client can send on a connection."""


def kind_of(item: Received) -> str:
    """The kind of a received thing: an input item's ``kind`` or ``"tool_result"``."""
    return "tool_result" if isinstance(item, ToolResult) else item.kind


def describe_item(item: Received) -> str:
    """A short human description of what the client sent, for failure messages."""
    if isinstance(item, AudioInput):
        return f"audio ({len(item.data)} bytes at {item.sample_rate} Hz)"
    if isinstance(item, TextInput):
        return f"text {_short(item.text)}"
    if isinstance(item, ImageInput):
        return f"image ({item.mime_type}, {len(item.data)} bytes)"
    if isinstance(item, ToolResult):
        out = f"tool result id={item.call_id!r} name={item.name!r} result={_short(item.result)}"
        return out + (f" error={item.error!r}" if item.error is not None else "")
    return item.kind


@dataclass(frozen=True)
class PlayContext:
    """What steps need to know about the provider playing them."""

    capabilities: ProviderCapabilities


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """The answer of an expectation to one received thing."""

    status: Literal["met", "partial", "mismatch", "not_mine"]
    detail: str = ""


MET = Verdict("met")
PARTIAL = Verdict("partial")
NOT_MINE = Verdict("not_mine")


def mismatch(detail: str) -> Verdict:
    return Verdict("mismatch", detail)


class Matcher:
    """The progress of one expectation during one play (holds e.g. the audio so far)."""

    def offer(self, item: Received) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError

    def progress(self) -> str:
        """What was received so far, for "not played" messages ("" when nothing)."""
        return ""


# --------------------------------------------------------------------------- step bases


class Step:
    """One step of a connection."""

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def __str__(self) -> str:
        return self.describe()


class Expectation(Step):
    """Waits for something the client sends."""

    def matcher(self, ctx: PlayContext) -> Matcher:  # pragma: no cover - interface
        raise NotImplementedError


class Emission(Step):
    """Puts events on the stream."""

    def events(self, ctx: PlayContext) -> list[RealtimeEvent]:  # pragma: no cover
        raise NotImplementedError


class Ending(Step):
    """Ends the connection; nothing may follow it."""


# --------------------------------------------------------------------------- connect


@dataclass(frozen=True)
class ExpectConnect(Step):
    """What the client's ``SessionSetup`` must say; checked when ``connect`` is called.

    ``handle``: ``ANY`` (default), ``None`` (a fresh session) or the exact handle.
    ``history``: ``ANY``, ``True`` (reseeded), ``False`` (not reseeded) or a message count.
    ``tools``: ``ANY`` or the exact set of advertised tool names.
    """

    handle: Any = ANY
    history: Any = ANY
    tools: Any = ANY
    system_contains: str | None = None
    check: Callable[[SessionSetup], Any] | None = None

    def describe(self) -> str:
        parts = []
        if self.handle is not ANY:
            parts.append(f"handle={self.handle!r}")
        if self.history is not ANY:
            parts.append(f"history={self.history!r}")
        if self.tools is not ANY:
            parts.append(f"tools={sorted(self.tools)!r}")
        if self.system_contains is not None:
            parts.append(f"system instruction contains {self.system_contains!r}")
        if self.check is not None:
            parts.append(f"check={getattr(self.check, '__name__', 'predicate')}")
        return "expect connect" + (" " + ", ".join(parts) if parts else "")

    def verify(self, setup: SessionSetup) -> str | None:
        """The reason the setup does not match, or ``None`` when it does."""
        if self.handle is not ANY and setup.resumption_handle != self.handle:
            return f"resumption handle {setup.resumption_handle!r}"
        if self.history is not ANY:
            count = len(setup.history)
            if isinstance(self.history, bool):
                if bool(count) != self.history:
                    return f"{count} history messages"
            elif count != self.history:
                return f"{count} history messages"
        if self.tools is not ANY:
            names = sorted(spec.name for spec in setup.tools)
            if set(names) != set(self.tools):
                return f"tools {names!r}"
        if self.system_contains is not None:
            instruction = setup.system_instruction
            if instruction is None:
                instruction = setup.config.system_instruction
            if instruction is None or self.system_contains not in instruction:
                return f"system instruction {_short(instruction)}"
        if self.check is not None and not self.check(setup):
            return "a setup the check rejected"
        return None


# --------------------------------------------------------------------------- expectations


def _bytes_for(seconds: float, rate: int) -> int:
    return round(seconds * rate) * 2


@dataclass(frozen=True)
class ExpectAudio(Expectation):
    """Audio from the client: at least ``min_bytes`` / ``min_seconds`` (loose), or ``exact``.

    Counting starts when this step becomes current; audio must come at the provider's
    input sample rate (the runtime resamples).
    """

    min_bytes: int | None = None
    min_seconds: float | None = None
    exact: bytes | None = None

    def describe(self) -> str:
        if self.exact is not None:
            return f"expect audio exactly {len(self.exact)} bytes"
        if self.min_seconds is not None:
            return f"expect audio >= {self.min_seconds:g} s"
        if self.min_bytes is not None:
            return f"expect audio >= {self.min_bytes} bytes"
        return "expect audio"

    def matcher(self, ctx: PlayContext) -> Matcher:
        need = 1
        if self.exact is not None:
            need = len(self.exact)
        elif self.min_seconds is not None:
            need = max(1, _bytes_for(self.min_seconds, ctx.capabilities.input_sample_rate))
        elif self.min_bytes is not None:
            need = max(1, self.min_bytes)
        return _AudioMatcher(self, need, ctx.capabilities.input_sample_rate)


class _AudioMatcher(Matcher):
    def __init__(self, step: ExpectAudio, need: int, rate: int) -> None:
        self.step = step
        self.need = need
        self.rate = rate
        self.got = 0
        self.buffer = bytearray()

    def offer(self, item: Received) -> Verdict:
        if not isinstance(item, AudioInput):
            return NOT_MINE
        if item.sample_rate != self.rate:
            return mismatch(f"audio at {item.sample_rate} Hz, the provider takes {self.rate} Hz")
        self.got += len(item.data)
        exact = self.step.exact
        if exact is not None:
            self.buffer += item.data
            n = min(len(self.buffer), len(exact))
            if bytes(self.buffer[:n]) != exact[:n]:
                at = next(i for i in range(n) if self.buffer[i] != exact[i])
                return mismatch(f"audio differing from the expected bytes at byte {at}")
        return MET if self.got >= self.need else PARTIAL

    def progress(self) -> str:
        return f"got {self.got} of {self.need} bytes" if self.got else ""


@dataclass(frozen=True)
class ExpectText(Expectation):
    """Typed text: exactly ``text``, or matching the regex ``pattern`` (``re.search``)."""

    text: str | None = None
    pattern: str | None = None

    def describe(self) -> str:
        if self.pattern is not None:
            return f"expect text matching {self.pattern!r}"
        if self.text is not None:
            return f"expect text {self.text!r}"
        return "expect text"

    def matcher(self, ctx: PlayContext) -> Matcher:
        return _FnMatcher(TextInput, self._check)

    def _check(self, item: Any) -> str | None:
        assert isinstance(item, TextInput)
        if self.text is not None and item.text != self.text:
            return f"text {_short(item.text)}"
        if self.pattern is not None and not re.search(self.pattern, item.text):
            return f"text {_short(item.text)}"
        return None


class _FnMatcher(Matcher):
    """Matches one item of a type with a check returning a mismatch reason or None."""

    def __init__(self, cls: type | tuple[type, ...], check: Callable[[Any], str | None]) -> None:
        self.cls = cls
        self.check = check

    def offer(self, item: Received) -> Verdict:
        if not isinstance(item, self.cls):
            return NOT_MINE
        reason = self.check(item)
        return MET if reason is None else mismatch(reason)


@dataclass(frozen=True)
class ExpectImage(Expectation):
    """An image (or video frame), optionally of a MIME type or with exact bytes."""

    mime_type: str | None = None
    data: bytes | None = None

    def describe(self) -> str:
        return "expect image" + (f" {self.mime_type}" if self.mime_type else "")

    def matcher(self, ctx: PlayContext) -> Matcher:
        return _FnMatcher(ImageInput, self._check)

    def _check(self, item: Any) -> str | None:
        assert isinstance(item, ImageInput)
        if self.mime_type is not None and item.mime_type != self.mime_type:
            return describe_item(item)
        if self.data is not None and item.data != self.data:
            return f"{describe_item(item)} with different bytes"
        return None


@dataclass(frozen=True)
class ExpectControl(Expectation):
    """A control item: ``activity_start``, ``activity_end`` or ``audio_stream_end``."""

    kind: Literal["activity_start", "activity_end", "audio_stream_end"]

    def describe(self) -> str:
        return f"expect {self.kind}"

    def matcher(self, ctx: PlayContext) -> Matcher:
        cls = {
            "activity_start": ActivityStart,
            "activity_end": ActivityEnd,
            "audio_stream_end": AudioStreamEnd,
        }[self.kind]
        return _FnMatcher(cls, lambda item: None)


def _matches(expected: Any, actual: Any) -> bool:
    if expected is ANY:
        return True
    if callable(expected):
        return bool(expected(actual))
    return bool(expected == actual)


@dataclass(frozen=True)
class ExpectToolResult(Expectation):
    """The client answers tool call ``call_id``.

    ``result``: ``ANY``, a value (compared with ``==``) or a predicate.
    ``error``: ``ANY``, ``None`` (must succeed), a substring of the error, or a predicate.
    """

    call_id: str
    name: str | None = None
    result: Any = ANY
    error: Any = ANY

    def describe(self) -> str:
        out = f"expect tool result {self.call_id!r}"
        if self.name is not None:
            out += f" from {self.name!r}"
        if self.result is not ANY:
            shown = "predicate" if callable(self.result) else _short(self.result, 40)
            out += f" result={shown}"
        if self.error is not ANY:
            shown = "predicate" if callable(self.error) else repr(self.error)
            out += f" error={shown}"
        return out

    def matcher(self, ctx: PlayContext) -> Matcher:
        return _FnMatcher(ToolResult, self._check)

    def _check(self, item: Any) -> str | None:
        assert isinstance(item, ToolResult)
        if item.call_id != self.call_id or (self.name is not None and item.name != self.name):
            return describe_item(item)
        if not _matches(self.result, item.result):
            return describe_item(item)
        if self.error is ANY:
            return None
        if self.error is None:
            ok = item.error is None
        elif isinstance(self.error, str):
            ok = item.error is not None and self.error in item.error
        else:
            ok = bool(self.error(item.error))
        return None if ok else describe_item(item)


@dataclass(frozen=True)
class ExpectAnyOrder(Expectation):
    """Several expectations met in any order (e.g. results of tools that ran concurrently)."""

    steps: tuple[Expectation, ...]

    def describe(self) -> str:
        return "expect in any order [" + "; ".join(s.describe() for s in self.steps) + "]"

    def matcher(self, ctx: PlayContext) -> Matcher:
        return _AnyOrderMatcher([s.matcher(ctx) for s in self.steps])


class _AnyOrderMatcher(Matcher):
    def __init__(self, matchers: list[Matcher]) -> None:
        self.pending = matchers
        self.active: Matcher | None = None  # a member that took part of its input

    def offer(self, item: Received) -> Verdict:
        # the member that took part of its input (e.g. audio so far) gets first refusal
        candidates = list(self.pending)
        if self.active is not None:
            candidates.remove(self.active)
            candidates.insert(0, self.active)
        reasons: list[str] = []
        for m in candidates:
            verdict = m.offer(item)
            if verdict.status == "not_mine":
                continue
            if verdict.status == "mismatch":
                if m is self.active:
                    return verdict
                reasons.append(verdict.detail)
                continue
            if verdict.status == "met":
                self.pending.remove(m)
                self.active = None
                return MET if not self.pending else PARTIAL
            self.active = m
            return PARTIAL
        if reasons:
            return mismatch(reasons[0])
        return NOT_MINE


# --------------------------------------------------------------------------- emissions


@dataclass(frozen=True)
class Emit(Emission):
    """Emit one ready-made event."""

    event: RealtimeEvent

    def describe(self) -> str:
        fields = self.event.model_dump(exclude={"type"})
        shown = ", ".join(f"{k}={_short(v, 40)}" for k, v in fields.items())
        return f"emit {self.event.type}" + (f" ({shown})" if shown else "")

    def events(self, ctx: PlayContext) -> list[RealtimeEvent]:
        return [self.event]


def tone(seconds: float, sample_rate: int, frequency: float = 440.0) -> bytes:
    """PCM16 mono sine tone (deterministic; half amplitude so it never clips)."""
    n = round(seconds * sample_rate)
    amp = 16383
    step = 2 * math.pi * frequency / sample_rate
    return struct.pack(f"<{n}h", *(int(amp * math.sin(step * i)) for i in range(n)))


@dataclass(frozen=True)
class EmitAudio(Emission):
    """Model audio: given bytes, or ``seconds`` of a tone, at the provider's output rate,
    split into ``chunks`` events."""

    data: bytes | None = None
    seconds: float | None = None
    frequency: float = 440.0
    chunks: int = 1

    def describe(self) -> str:
        if self.data is not None:
            return f"emit audio ({len(self.data)} bytes)"
        return f"emit audio ({self.seconds:g} s tone)"

    def events(self, ctx: PlayContext) -> list[RealtimeEvent]:
        rate = ctx.capabilities.output_sample_rate
        data = (
            self.data if self.data is not None else tone(self.seconds or 0.0, rate, self.frequency)
        )
        n = max(1, self.chunks)
        # split on sample boundaries so every chunk is valid PCM16
        samples = len(data) // 2
        bounds = [2 * (samples * i // n) for i in range(n)] + [len(data)]
        return [AudioDeltaEvent.of(data[bounds[i] : bounds[i + 1]], rate) for i in range(n)]


# --------------------------------------------------------------------------- endings


@dataclass(frozen=True)
class Drop(Ending):
    """The transport dies without a close frame (code 1006, transient)."""

    reason: str = "connection dropped"

    def describe(self) -> str:
        return "drop (1006)"


@dataclass(frozen=True)
class Close(Ending):
    """The server closes with ``code``; the kind follows ``classify_close_code``
    unless ``kind`` is given (a provider signal can override a code)."""

    code: int = 1000
    reason: str = ""
    kind: DisconnectKind | None = None

    def describe(self) -> str:
        return f"close {self.code}" + (f" {self.reason!r}" if self.reason else "")

    @property
    def disconnect_kind(self) -> DisconnectKind:
        return self.kind if self.kind is not None else classify_close_code(self.code)


@dataclass(frozen=True)
class Refuse(Ending):
    """``connect`` raises ``ProviderDisconnected(kind, code, reason)``: the server refused
    the setup (by default a rejected resumption handle). ``kind=None`` raises
    ``ProviderError(reason)`` instead: a configuration problem (credentials, model)."""

    kind: DisconnectKind | None = DisconnectKind.REJECTED_HANDLE
    code: int | None = 1008
    reason: str = "resumption handle rejected"

    def describe(self) -> str:
        if self.kind is None:
            return f"refuse connect (provider error {self.reason!r})"
        return f"refuse connect ({self.kind.value}, code={self.code})"


@dataclass(frozen=True)
class ExpectClose(Ending):
    """The client closes the connection (``ProviderSession.close()``)."""

    def describe(self) -> str:
        return "expect client close"


# --------------------------------------------------------------------------- builders


@dataclass(frozen=True)
class Steps:
    """Several steps built by one helper (e.g. ``emit.speech``); flattened into the script."""

    steps: tuple[Step, ...] = field(default_factory=tuple)


class expect:
    """Builders of expectations (what the client must send)."""

    @staticmethod
    def connect(
        *,
        handle: Any = ANY,
        history: Any = ANY,
        tools: Iterable[str] | Any = ANY,
        system_contains: str | None = None,
        check: Callable[[SessionSetup], Any] | None = None,
    ) -> ExpectConnect:
        """Expectations on ``SessionSetup`` (only as the first step of a connection)."""
        if tools is not ANY:
            tools = frozenset(tools)
        return ExpectConnect(handle, history, tools, system_contains, check)

    @staticmethod
    def audio(
        *,
        min_seconds: float | None = None,
        min_bytes: int | None = None,
        exact: bytes | None = None,
    ) -> ExpectAudio:
        """Audio: any (no argument), at least ``min_seconds``/``min_bytes``, or ``exact``."""
        if sum(x is not None for x in (min_seconds, min_bytes, exact)) > 1:
            raise ValueError("expect.audio takes one of min_seconds, min_bytes, exact")
        if exact is not None and not exact:
            raise ValueError("expect.audio(exact=...) needs at least one byte")
        return ExpectAudio(min_bytes=min_bytes, min_seconds=min_seconds, exact=exact)

    @staticmethod
    def text(text: str | None = None, *, pattern: str | None = None) -> ExpectText:
        """Typed text: exactly ``text``, or matching the regex ``pattern``."""
        if text is not None and pattern is not None:
            raise ValueError("expect.text takes text or pattern, not both")
        if pattern is not None:
            re.compile(pattern)
        return ExpectText(text=text, pattern=pattern)

    @staticmethod
    def image(mime_type: str | None = None, *, data: bytes | None = None) -> ExpectImage:
        return ExpectImage(mime_type=mime_type, data=data)

    @staticmethod
    def activity_start() -> ExpectControl:
        return ExpectControl("activity_start")

    @staticmethod
    def activity_end() -> ExpectControl:
        return ExpectControl("activity_end")

    @staticmethod
    def audio_stream_end() -> ExpectControl:
        return ExpectControl("audio_stream_end")

    @staticmethod
    def tool_result(
        call_id: str, *, name: str | None = None, result: Any = ANY, error: Any = ANY
    ) -> ExpectToolResult:
        """The result of tool call ``call_id`` (``error=None`` requires success)."""
        return ExpectToolResult(call_id=call_id, name=name, result=result, error=error)

    @staticmethod
    def any_order(*steps: Expectation) -> ExpectAnyOrder:
        """All of ``steps``, in whatever order the client sends them."""
        if not steps:
            raise ValueError("expect.any_order needs at least one expectation")
        for s in steps:
            if not isinstance(s, Expectation):
                raise TypeError(f"expect.any_order takes expectations, got {s.describe()!r}")
        return ExpectAnyOrder(tuple(steps))

    @staticmethod
    def close() -> ExpectClose:
        """The client closes the connection (last step of a connection)."""
        return ExpectClose()


class emit:
    """Builders of emissions (events the fake puts on the stream)."""

    @staticmethod
    def event(event: RealtimeEvent) -> Emit:
        return Emit(event)

    @staticmethod
    def input_transcript(text: str, *, finished: bool = True) -> Emit:
        return Emit(InputTranscriptEvent(text=text, finished=finished))

    @staticmethod
    def output_transcript(text: str, *, finished: bool = True) -> Emit:
        return Emit(OutputTranscriptEvent(text=text, finished=finished))

    @staticmethod
    def audio(
        data: bytes | None = None,
        *,
        seconds: float | None = None,
        frequency: float = 440.0,
        chunks: int = 1,
    ) -> EmitAudio:
        """Model audio: ``data`` bytes, or ``seconds`` of a tone; in ``chunks`` events."""
        if (data is None) == (seconds is None):
            raise ValueError("emit.audio takes data or seconds (exactly one)")
        if data is not None and len(data) % 2:
            raise ValueError(f"PCM16 audio has an even byte count, got {len(data)} bytes")
        if seconds is not None and seconds < 0:
            raise ValueError("emit.audio(seconds=...) must not be negative")
        if chunks < 1:
            raise ValueError("emit.audio(chunks=...) must be at least 1")
        return EmitAudio(data=data, seconds=seconds, frequency=frequency, chunks=chunks)

    @staticmethod
    def text(text: str) -> Emit:
        """A model text delta (TEXT modality)."""
        return Emit(TextDeltaEvent(text=text))

    @staticmethod
    def tool_call(call_id: str, name: str, args: dict[str, Any] | None = None) -> Emit:
        return Emit(ToolCallEvent(id=call_id, name=name, args=dict(args or {})))

    @staticmethod
    def tool_call_cancelled(*ids: str) -> Emit:
        return Emit(ToolCallCancelledEvent(ids=list(ids)))

    @staticmethod
    def interrupted() -> Emit:
        return Emit(InterruptedEvent())

    @staticmethod
    def generation_complete() -> Emit:
        return Emit(GenerationCompleteEvent())

    @staticmethod
    def turn_complete() -> Emit:
        return Emit(TurnCompleteEvent())

    @staticmethod
    def usage(
        prompt_tokens: int | None = None,
        response_tokens: int | None = None,
        total_tokens: int | None = None,
        **details: Any,
    ) -> Emit:
        return Emit(
            UsageEvent(
                prompt_tokens=prompt_tokens,
                response_tokens=response_tokens,
                total_tokens=total_tokens,
                details=details,
            )
        )

    @staticmethod
    def session_update(handle: str | None, *, resumable: bool = True) -> Emit:
        return Emit(SessionUpdateEvent(resumption_handle=handle, resumable=resumable))

    @staticmethod
    def go_away(time_left: float | None = None) -> Emit:
        return Emit(GoAwayEvent(time_left=time_left))

    @staticmethod
    def error(code: str, message: str, *, fatal: bool = False) -> Emit:
        return Emit(ErrorEvent(code=code, message=message, fatal=fatal))

    @staticmethod
    def speech(text: str, *, seconds: float = 0.2, chunks: int = 1, partial: bool = True) -> Steps:
        """A spoken model reply: audio, then the transcript (a partial fragment per word
        when ``partial``, then the finished utterance). Does not complete the turn."""
        steps: list[Step] = [emit.audio(seconds=seconds, chunks=chunks)]
        if partial:
            words = text.split(" ")
            steps += [
                emit.output_transcript(w if i == 0 else " " + w, finished=False)
                for i, w in enumerate(words)
            ]
        steps.append(emit.output_transcript(text, finished=True))
        return Steps(tuple(steps))


class end:
    """Builders of connection endings (the last step of a connection)."""

    @staticmethod
    def drop(reason: str = "connection dropped") -> Drop:
        """Abort without a close frame: ``ProviderDisconnected(TRANSIENT, code=1006)``."""
        return Drop(reason)

    @staticmethod
    def close(code: int = 1000, reason: str = "", *, kind: DisconnectKind | None = None) -> Close:
        """Server close with ``code`` (kind from ``classify_close_code`` unless given)."""
        return Close(code, reason, kind)

    @staticmethod
    def refuse(
        kind: DisconnectKind = DisconnectKind.REJECTED_HANDLE,
        *,
        code: int | None = 1008,
        reason: str = "resumption handle rejected",
    ) -> Refuse:
        """``connect`` raises (only right after the connect expectations)."""
        return Refuse(kind, code, reason)

    @staticmethod
    def provider_error(message: str = "invalid provider configuration") -> Refuse:
        """``connect`` raises ``ProviderError(message)`` (bad credentials, unknown model)."""
        return Refuse(None, None, message)


# --------------------------------------------------------------------------- normalising

StepLike: TypeAlias = Step | Steps
ConnectionScript: TypeAlias = Sequence[StepLike]
ScriptLike: TypeAlias = Sequence[StepLike] | Sequence[Sequence[StepLike]]


def _flatten(items: Iterable[Any], where: str) -> list[Step]:
    out: list[Step] = []
    for item in items:
        if isinstance(item, Steps):
            out.extend(item.steps)
        elif isinstance(item, Step):
            out.append(item)
        else:
            raise TypeError(
                f"{where}: {item!r} is not a script step (build steps with expect.*, emit.*, end.*)"
            )
    return out


def _validate(steps: list[Step], where: str) -> None:
    for i, step in enumerate(steps, start=1):
        label = f"{where} step {i} ({step.describe()})"
        if isinstance(step, ExpectConnect) and any(
            not isinstance(s, ExpectConnect) for s in steps[: i - 1]
        ):
            raise ValueError(f"{label}: connect expectations must come first")
        if isinstance(step, Ending) and i != len(steps):
            nxt = steps[i]
            raise ValueError(
                f"{label} ends the connection, but step {i + 1} ({nxt.describe()}) follows"
            )
        if isinstance(step, Refuse) and any(
            not isinstance(s, ExpectConnect) for s in steps[: i - 1]
        ):
            raise ValueError(f"{label}: a refusal may only follow connect expectations")


def normalize_script(script: ScriptLike | Step | Steps | None) -> list[list[Step]]:
    """Turn a flat list (one connection) or a list of lists into validated connections."""
    if script is None:
        return []
    if isinstance(script, (Step, Steps)):
        script = [script]
    items: list[Any] = list(script)
    if items and all(isinstance(x, (list, tuple)) for x in items):
        connections = [_flatten(conn, f"connection {n}") for n, conn in enumerate(items, start=1)]
    else:
        connections = [_flatten(items, "connection 1")]
    for n, steps in enumerate(connections, start=1):
        _validate(steps, f"connection {n}")
    return connections


# --------------------------------------------------------------------------- JSON scripts

_BUILDERS: dict[str, Any] = {"expect": expect, "emit": emit, "end": end}


def _step_from_data(data: Any, where: str) -> Step | Steps:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a step is a JSON object, got {data!r}")
    heads = [k for k in ("expect", "emit", "end") if k in data]
    if len(heads) != 1:
        raise ValueError(f"{where}: a step has exactly one of 'expect', 'emit', 'end': {data!r}")
    head = heads[0]
    name = data[head]
    builder = getattr(_BUILDERS[head], str(name), None)
    if builder is None or str(name).startswith("_"):
        raise ValueError(f"{where}: unknown step {head}.{name}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == head:
            continue
        if key.endswith("_b64"):
            kwargs[key[:-4]] = base64.b64decode(value)
        else:
            kwargs[key] = value
    args: list[Any] = []
    if head == "emit" and name == "tool_call_cancelled":
        args = list(kwargs.pop("ids", []))
    if head == "expect" and name == "any_order":
        args = [
            _step_from_data(s, f"{where} any_order[{i}]")
            for i, s in enumerate(kwargs.pop("steps", []))
        ]
    if head == "end" and kwargs.get("kind") is not None:
        kwargs["kind"] = DisconnectKind(kwargs["kind"])
    try:
        step: Step | Steps = builder(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {head}.{name}: {exc}") from None
    return step


def script_from_data(data: Any, source: str = "script") -> list[list[Step]]:
    """Build a script from JSON data: a list of steps (one connection), a list of such
    lists, or ``{"connections": [...]}``. Steps are objects such as
    ``{"expect": "audio", "min_seconds": 1}``, ``{"emit": "turn_complete"}`` or
    ``{"end": "close", "code": 1011}``; keys ending in ``_b64`` carry base64 bytes."""
    if isinstance(data, dict) and "connections" in data:
        data = data["connections"]
    if not isinstance(data, list):
        raise ValueError(f"{source}: a script is a list of steps or of connections")
    if data and all(isinstance(c, list) for c in data):
        conns = [
            [
                _step_from_data(s, f"{source} connection {n} step {i}")
                for i, s in enumerate(conn, start=1)
            ]
            for n, conn in enumerate(data, start=1)
        ]
        return normalize_script(conns)
    steps = [_step_from_data(s, f"{source} step {i}") for i, s in enumerate(data, start=1)]
    return normalize_script(steps)


def load_script(path: str | os.PathLike[str]) -> list[list[Step]]:
    """Load a JSON script file (see `script_from_data()`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"FakeProvider script {p} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON: {exc}") from None
    return script_from_data(data, str(p))


__all__ = [
    "ANY",
    "Close",
    "Drop",
    "Emission",
    "Emit",
    "EmitAudio",
    "Ending",
    "ExpectAnyOrder",
    "ExpectAudio",
    "ExpectClose",
    "ExpectConnect",
    "ExpectControl",
    "ExpectImage",
    "ExpectText",
    "ExpectToolResult",
    "Expectation",
    "Matcher",
    "PlayContext",
    "Received",
    "Refuse",
    "Step",
    "Steps",
    "ToolResult",
    "Verdict",
    "describe_item",
    "emit",
    "end",
    "expect",
    "kind_of",
    "load_script",
    "normalize_script",
    "script_from_data",
    "tone",
]
