"""FakeProvider: a scripted, deterministic provider for offline tests.

The fake plays a script (see `realtalk_testing.script`): each ``connect`` opens the
next scripted connection, expectations are met by what the client sends, emissions are
queued the moment every earlier expectation was met, and an ending step ends the
connection the way a real provider would (drop, close code, refusal). Everything is
driven by the order of calls, never by time, so tests need no sleeps.

A mismatch is recorded, ends the connection with ``ProviderDisconnected(FATAL)`` whose
reason names the step, and is raised again by `FakeProvider.assert_done()`, which
also reports every step that was never played.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtalk.events import RealtimeEvent
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
    ProviderDisconnected,
    ProviderError,
    SessionSetup,
)

from .script import (
    Close,
    Drop,
    Emission,
    Expectation,
    ExpectClose,
    ExpectConnect,
    Matcher,
    PlayContext,
    Received,
    Refuse,
    ScriptLike,
    Step,
    ToolResult,
    describe_item,
    kind_of,
    normalize_script,
)

logger = logging.getLogger("realtalk_testing.fake_provider")

INPUT_TYPES = (AudioInput, TextInput, ImageInput, ActivityStart, ActivityEnd, AudioStreamEnd)

SCRIPT_ENV = "REALTALK_FAKE_SCRIPT"
"""Environment variable naming a JSON script file for a FakeProvider built without one."""

STREAMING_KINDS = frozenset({"audio", "audio_stream_end"})
"""Microphone-stream items accepted (and counted) when no expectation wants them,
unless the provider is strict: clients stream these continuously, not as scripted turns."""

DEFAULT_CAPABILITIES = ProviderCapabilities(
    images=True, resumption=True, manual_activity=True, tool_cancellation=True
)
"""The fake can do everything by default, so runtime code paths are all reachable."""


class ScriptFailed(AssertionError):
    """The script was not followed: mismatches and unplayed steps, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "FakeProvider script not followed:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass
class ConnectionRecord:
    """What happened on one connection, for assertions in tests."""

    index: int
    """1-based number of the connection (connect call)."""
    setup: SessionSetup
    items: list[InputItem] = field(default_factory=list)
    """Every input item received, in order (audio included)."""
    tool_results: list[ToolResult] = field(default_factory=list)
    events: list[RealtimeEvent] = field(default_factory=list)
    """Every event emitted (queued) on this connection."""
    delivered: int = 0
    """How many of the emitted events the client has read."""
    items_received: int = 0
    """How many input items were received (kept even when the provider does not record)."""
    events_emitted: int = 0
    """How many events were emitted (kept even when the provider does not record)."""
    audio_bytes: int = 0
    audio_chunks: int = 0
    audio_sample_rate: int = 0
    unmatched_audio_bytes: int = 0
    """Audio received while no audio expectation was current (accepted unless strict)."""
    unmatched_audio_chunks: int = 0
    unmatched_items: list[Received] = field(default_factory=list)
    """Other tolerated items nobody expected (``audio_stream_end``, ``tolerate`` kinds)."""
    sent_after_end: list[Received] = field(default_factory=list)
    """Sends refused because the server had ended the connection (they raised)."""
    steps_played: int = 0
    closed_by_client: bool = False
    delivered_at_close: int | None = None
    """How many events the client had read when it called ``close()`` (e.g. to check that
    a rotation waited for the end of the turn)."""
    ended: ProviderDisconnected | None = None
    """How the connection ended (``None`` while open)."""

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio received (PCM16 mono at the provider's input rate)."""
        if not self.audio_sample_rate:
            return 0.0
        return self.audio_bytes / 2 / self.audio_sample_rate

    @property
    def delivered_events(self) -> list[RealtimeEvent]:
        """The events the client has read so far."""
        return self.events[: self.delivered]

    @property
    def texts(self) -> list[str]:
        """Typed text received, in order."""
        return [item.text for item in self.items if item.kind == "text"]

    @property
    def kinds(self) -> list[str]:
        """The kinds of the items received, consecutive audio chunks collapsed into one."""
        out: list[str] = []
        for item in self.items:
            if not (item.kind == "audio" and out and out[-1] == "audio"):
                out.append(item.kind)
        return out


def _copy(exc: ProviderDisconnected) -> ProviderDisconnected:
    """A fresh exception with the same classification (never re-raise one instance twice)."""
    return ProviderDisconnected(exc.kind, code=exc.code, reason=exc.reason)


class FakeSession:
    """One scripted connection; implements ``realtalk.provider.ProviderSession``."""

    def __init__(self, provider: FakeProvider, record: ConnectionRecord, steps: list[Step]) -> None:
        self._provider = provider
        self.record = record
        self._steps = steps
        self._ctx = PlayContext(provider.capabilities)
        self._pos = 0
        self._matcher: Matcher | None = None
        self._queue: deque[RealtimeEvent | ProviderDisconnected] = deque()
        self._wake = asyncio.Event()
        self._end: ProviderDisconnected | None = None
        self._closed = False

    # ----------------------------------------------------------------- bookkeeping

    @property
    def index(self) -> int:
        return self.record.index

    @property
    def unplayed(self) -> list[tuple[int, Step]]:
        """(1-based step number, step) of every step not played yet."""
        return [(i + 1, s) for i, s in enumerate(self._steps) if i >= self._pos]

    @property
    def matcher_progress(self) -> str:
        return self._matcher.progress() if self._matcher is not None else ""

    def _label(self) -> str:
        if self._pos < len(self._steps):
            step = self._steps[self._pos]
            return f"connection {self.index} step {self._pos + 1} ({step.describe()})"
        return f"connection {self.index} (after its last step, {len(self._steps)})"

    def _played(self) -> None:
        self._pos += 1
        self.record.steps_played = self._pos
        self._matcher = None

    def _finish(self, exc: ProviderDisconnected) -> None:
        if self._end is None and not self._closed:
            self._end = exc
            self.record.ended = exc
            self._queue.append(exc)
            self._wake.set()

    def _fail(self, message: str) -> None:
        self._provider._record_failure(message)
        self._finish(ProviderDisconnected(DisconnectKind.FATAL, reason=message))

    def _advance(self) -> None:
        """Play emissions and endings up to the next expectation."""
        while self._pos < len(self._steps) and self._end is None and not self._closed:
            step = self._steps[self._pos]
            if isinstance(step, ExpectConnect):
                self._played()  # checked by connect()
            elif isinstance(step, Emission):
                events = step.events(self._ctx)
                self._queue.extend(events)
                self.record.events_emitted += len(events)
                if self._provider.record:
                    self.record.events.extend(events)
                self._wake.set()
                self._played()
            elif isinstance(step, Expectation):
                if self._matcher is None:
                    self._matcher = step.matcher(self._ctx)
                break
            elif isinstance(step, ExpectClose):
                break
            elif isinstance(step, Drop):
                self._played()
                self._finish(
                    ProviderDisconnected(DisconnectKind.TRANSIENT, code=1006, reason=step.reason)
                )
            elif isinstance(step, Close):
                self._played()
                self._finish(
                    ProviderDisconnected(step.disconnect_kind, code=step.code, reason=step.reason)
                )
            else:  # Refuse is handled by connect; validation keeps it first
                raise AssertionError(f"unplayable step {step.describe()}")
        self._provider._notify()

    # ----------------------------------------------------------------- receiving

    def _check_capabilities(self, item: Received) -> str | None:
        caps = self._provider.capabilities
        kind = kind_of(item)
        if kind == "audio":
            assert isinstance(item, AudioInput)
            if not caps.audio_input:
                return "audio, but capabilities.audio_input is False"
            if len(item.data) % 2:
                return f"audio with an odd byte count ({len(item.data)}), not PCM16"
            if item.sample_rate != caps.input_sample_rate:
                return (
                    f"audio at {item.sample_rate} Hz, the provider takes "
                    f"{caps.input_sample_rate} Hz"
                )
        if kind == "image" and not caps.images:
            return "an image, but capabilities.images is False"
        if kind in ("activity_start", "activity_end") and not caps.manual_activity:
            return f"{kind}, but capabilities.manual_activity is False"
        return None

    def _receive(self, item: Received) -> None:
        if self._closed:
            self.record.sent_after_end.append(item)
            if kind_of(item) not in self._provider.tolerated:
                self._provider._record_failure(
                    f"connection {self.index}: {describe_item(item)} sent after close()"
                )
            raise ProviderDisconnected(
                DisconnectKind.CLOSED, code=1000, reason="the connection was closed by the client"
            )
        if self._end is not None:
            self.record.sent_after_end.append(item)
            raise _copy(self._end)
        if isinstance(item, ToolResult):
            if self._provider.record:
                self.record.tool_results.append(item)
        else:
            self.record.items_received += 1
            if self._provider.record:
                self.record.items.append(item)
        if isinstance(item, AudioInput):
            self.record.audio_bytes += len(item.data)
            self.record.audio_chunks += 1
            self.record.audio_sample_rate = self._provider.capabilities.input_sample_rate
        problem = self._check_capabilities(item)
        if problem is not None:
            self._fail(f"{self._label()}: got {problem}")
            return
        if self._matcher is not None:
            verdict = self._matcher.offer(item)
            if verdict.status == "met":
                self._played()
                self._advance()
                return
            if verdict.status == "partial":
                return
            if verdict.status == "mismatch":
                self._fail(f"{self._label()}: got {verdict.detail}")
                return
        if kind_of(item) in self._provider.tolerated:
            if isinstance(item, AudioInput):
                self.record.unmatched_audio_bytes += len(item.data)
                self.record.unmatched_audio_chunks += 1
            elif self._provider.record:
                self.record.unmatched_items.append(item)
            return
        self._fail(f"{self._label()}: got unexpected {describe_item(item)}")

    # ----------------------------------------------------------------- ProviderSession

    async def send(self, item: InputItem) -> None:
        """Offer one input item to the script (raises ProviderDisconnected once ended).

        Yields to the event loop once (unless the provider has ``yield_on_send=False``),
        so a client that sends in a tight loop cannot starve its own receive task.
        """
        if not isinstance(item, INPUT_TYPES):
            raise TypeError(
                f"send() takes an input item ({', '.join(t.__name__ for t in INPUT_TYPES)}), "
                f"got {type(item).__name__}"
            )
        self._receive(item)
        if self._provider.yield_on_send:
            await asyncio.sleep(0)

    async def send_tool_result(
        self, call_id: str, name: str, result: Any, error: str | None = None
    ) -> None:
        """Offer a tool result to the script (raises ProviderDisconnected once ended)."""
        self._receive(ToolResult(call_id=call_id, name=name, result=result, error=error))
        await asyncio.sleep(0)

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        """Emitted events in order; then ``ProviderDisconnected`` saying how it ended."""
        while True:
            if self._closed:
                raise ProviderDisconnected(
                    DisconnectKind.CLOSED, code=1000, reason="closed by the client"
                )
            if self._queue:
                head = self._queue[0]
                if isinstance(head, ProviderDisconnected):
                    raise _copy(head)  # stays queued: a later events() raises it again
                self._queue.popleft()
                self.record.delivered += 1
                yield head
                continue
            self._wake.clear()
            await self._wake.wait()

    async def close(self) -> None:
        """Close the connection (idempotent); meets a pending ``expect.close()``."""
        if self._closed:
            return
        if (
            self._end is None
            and self._pos < len(self._steps)
            and isinstance(self._steps[self._pos], ExpectClose)
        ):
            self._played()
        self._closed = True
        self.record.closed_by_client = True
        self.record.delivered_at_close = self.record.delivered
        if self.record.ended is None:
            self.record.ended = ProviderDisconnected(
                DisconnectKind.CLOSED, code=1000, reason="closed by the client"
            )
        self._wake.set()
        self._provider._notify()


def _capabilities(value: ProviderCapabilities | Mapping[str, Any] | None) -> ProviderCapabilities:
    if value is None:
        return DEFAULT_CAPABILITIES
    if isinstance(value, ProviderCapabilities):
        return value
    return DEFAULT_CAPABILITIES.model_copy(update=dict(value))


class FakeProvider:
    """A scripted provider (``realtalk.provider.Provider``) for deterministic tests.

    ``script`` is a list of steps (one connection) or a list of such lists (one per
    ``connect``). ``None`` means "load it at the first connect" from
    ``config.provider_options["script"]`` or the JSON file named by
    ``REALTALK_FAKE_SCRIPT`` (that is how the registered ``fake`` provider gets one).
    Streaming input nobody expects (audio chunks and ``audio_stream_end``) is accepted
    and counted unless ``strict``; item kinds in ``tolerate`` (e.g. ``{"image"}`` for a
    video stream) are accepted the same way.

    ``record=False`` keeps only counters in each `ConnectionRecord` (``items_received``,
    ``events_emitted``, ``delivered``, the audio counts), not the items and events
    themselves: for load tests and long runs, where keeping everything would make memory
    (and the garbage collector's work) grow with every chunk, as no real provider does.

    ``yield_on_send=False`` makes ``send`` return without giving the event loop a turn,
    as a socket write does while its buffer has room (the WebSocket sends of the real
    plugins do): for load tests of the path a real provider takes, where a chunk can go
    out inside ``send_audio`` (docs/architecture.md, "One audio chunk out"). The default yields once
    per send, so a script that sends in a tight loop cannot starve its own receive task.
    """

    name = "fake"

    def __init__(
        self,
        script: ScriptLike | None = None,
        *,
        capabilities: ProviderCapabilities | Mapping[str, Any] | None = None,
        strict: bool = False,
        tolerate: frozenset[str] | set[str] | tuple[str, ...] = (),
        record: bool = True,
        yield_on_send: bool = True,
    ) -> None:
        self.capabilities = _capabilities(capabilities)
        self.strict = strict
        self.record = record
        self.yield_on_send = yield_on_send
        self.tolerated = frozenset(tolerate) | (frozenset() if strict else STREAMING_KINDS)
        self._script: list[list[Step]] | None = (
            normalize_script(script) if script is not None else None
        )
        self.sessions: list[FakeSession] = []
        self.failures: list[str] = []
        self._waiters: list[asyncio.Future[None]] = []

    # ----------------------------------------------------------------- inspection

    @property
    def connections(self) -> list[ConnectionRecord]:
        """One record per ``connect`` call (refused ones included), in order."""
        return [s.record for s in self.sessions]

    @property
    def script(self) -> list[list[Step]]:
        """The normalised script: one list of steps per connection."""
        return self._script or []

    def __repr__(self) -> str:
        return (
            f"FakeProvider({len(self.script)} connection(s) scripted, "
            f"{len(self.sessions)} opened, {len(self.failures)} failure(s))"
        )

    def _record_failure(self, message: str) -> None:
        # logged too, so a failure the client swallowed still shows in captured logs
        logger.error("FakeProvider script failure: %s", message)
        self.failures.append(message)
        self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def unplayed(self) -> list[str]:
        """Every step not played yet, one description each."""
        out: list[str] = []
        script = self.script
        for session in self.sessions:
            for number, step in session.unplayed:
                note = "not played"
                if isinstance(step, ExpectClose):
                    note += " (the client never closed the connection)"
                if number == session.record.steps_played + 1 and session.matcher_progress:
                    note += f" ({session.matcher_progress})"
                out.append(f"connection {session.index} step {number} ({step.describe()}): {note}")
        for n in range(len(self.sessions) + 1, len(script) + 1):
            out.append(f"connection {n} ({len(script[n - 1])} steps): never connected")
        return out

    @property
    def done(self) -> bool:
        """Every step played, or a failure recorded."""
        return bool(self.failures) or not self.unplayed()

    async def wait_done(self) -> None:
        """Return once every scripted step was played or a failure was recorded."""
        while not self.done:
            # a future per wait, on the running loop: a provider built at import time
            # (outside any loop) still works under asyncio.run and pytest-asyncio
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def assert_done(self) -> None:
        """Raise `ScriptFailed` naming every mismatch and every unplayed step."""
        problems = self.failures + self.unplayed()
        if problems:
            raise ScriptFailed(problems)

    # ----------------------------------------------------------------- Provider

    def _load_script(self, setup: SessionSetup) -> list[list[Step]]:
        if self._script is None:
            source: Any = setup.config.provider_options.get("script")
            if source is None and os.environ.get(SCRIPT_ENV):
                source = Path(os.environ[SCRIPT_ENV])
            if isinstance(source, (str, Path)):
                from .script import load_script

                source = load_script(source)
            self._script = normalize_script(source) if source is not None else []
        return self._script

    async def connect(self, setup: SessionSetup) -> FakeSession:
        """Open the next scripted connection (raises ProviderDisconnected when refused)."""
        script = self._load_script(setup)
        index = len(self.sessions) + 1
        steps = script[index - 1] if index <= len(script) else []
        session = FakeSession(self, ConnectionRecord(index=index, setup=setup), steps)
        self.sessions.append(session)
        if index > len(script):
            message = (
                f"connect #{index}: the script has only {len(script)} connection(s)"
                if script
                else f"connect #{index}: the FakeProvider has no script (pass FakeProvider(script)"
                f" or provider_options={{'script': ...}} or set {SCRIPT_ENV})"
            )
            self._record_failure(message)
            session.record.ended = ProviderDisconnected(DisconnectKind.FATAL, reason=message)
            raise _copy(session.record.ended)
        if setup.resumption_handle is not None and not self.capabilities.resumption:
            session._fail(
                f"connection {index}: got resumption handle {setup.resumption_handle!r}, "
                "but capabilities.resumption is False"
            )
        for number, step in enumerate(steps, start=1):
            if session._end is not None or not isinstance(step, ExpectConnect):
                break
            reason = step.verify(setup)
            if reason is not None:
                session._fail(f"connection {index} step {number} ({step.describe()}): got {reason}")
                break
            session._played()
        if session._end is not None:
            raise _copy(session._end)
        if session._pos < len(steps) and isinstance(steps[session._pos], Refuse):
            refuse = steps[session._pos]
            assert isinstance(refuse, Refuse)
            session._played()
            exc = ProviderDisconnected(
                refuse.kind or DisconnectKind.FATAL, code=refuse.code, reason=refuse.reason
            )
            session.record.ended = exc
            session._end = exc
            self._notify()
            if refuse.kind is None:
                raise ProviderError(refuse.reason)
            raise _copy(exc)
        session._advance()
        return session


__all__ = [
    "DEFAULT_CAPABILITIES",
    "SCRIPT_ENV",
    "STREAMING_KINDS",
    "ConnectionRecord",
    "FakeProvider",
    "FakeSession",
    "ScriptFailed",
]
