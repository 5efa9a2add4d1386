"""Seeded fault-injection scenarios: one cassette per session plus what must happen.

A :class:`Plan` is generated from a seed alone, so a failing session is reproduced by its
seed. The cassette scripts every connection the client will open; the plan records what
the session must do against it (its outcome, its transcripts, its tool calls, the audio
the driver sends) so the soak can check the run against an independent model instead of
against itself.

How the script stays deterministic although the client is a real SDK over real sockets:

* the user's audio is sent only when the driver sees a ``session_update`` whose handle is
  ``talk-<n>-<bytes>``; the server then waits for exactly that many bytes (a ``send`` line
  with ``min_bytes``), so no audio is in flight when a fault strikes;
* audio that arrives while disconnected comes from the soak clock: each reconnect backoff
  sleep pushes a burst (sizes in :attr:`Plan.bursts`); the next connection waits for the
  part the offline buffer keeps (:class:`BufferModel` mirrors ``InputBuffer``);
* a rejected resumption handle (``1008`` on setup) is retried at once without a handle;
  the fresh connection must reseed with the persisted history and must not ask for a
  reply (``turnComplete: false``);
* a ``release`` tool waits until the driver sees ``reconnected`` (a fault follows the call
  at once), a ``hold`` tool waits until the server cancels it, a ``now`` tool answers at
  once (the server waits for its ``tool_response`` before anything else).
"""

from __future__ import annotations

import base64
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

MODEL = "gemini-live-2.5-flash-preview"
TALK_PREFIX = "talk-"
BURST_CHUNK = 3200  # 0.1 s of 16 kHz PCM16
BUFFER_SECONDS = 1.0
INPUT_RATE = 16000
TOOL_NAME = "lookup"
WORDS = (
    "what is the weather like in paris today please tell me about trains to lyon "
    "and the museum opening hours near the river it is sunny twenty degrees cloudy "
    "rain expected later open until six closed on mondays"
).split()
_PCM = base64.b64encode(b"\x01\x00" * 240).decode()  # 10 ms of 24 kHz model audio

ToolMode = Literal["now", "release", "hold"]
Outcome = Literal["closed", "reconnect_failed"]


class BufferModel:
    """Mirror of ``realtalk.runtime.input.InputBuffer`` for audio only: the newest
    ``limit`` bytes survive, whole chunks are dropped oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: deque[int] = deque()
        self.dropped = 0

    def add(self, size: int) -> None:
        self.chunks.append(size)
        while sum(self.chunks) > self.limit and self.chunks:
            self.dropped += self.chunks.popleft()

    def flush(self) -> int:
        kept = sum(self.chunks)
        self.chunks.clear()
        return kept


@dataclass
class Plan:
    """One session: its cassette and what the session must do against it."""

    seed: int
    max_attempts: int
    header: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome = "closed"
    turns: int = 0
    connections: int = 0
    bursts: list[int] = field(default_factory=list)  # bytes pushed per backoff sleep
    talk_bytes: int = 0
    expected_dropped: int = 0
    transcripts: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    tools: dict[str, ToolMode] = field(default_factory=dict)  # call id -> mode
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def burst_bytes(self) -> int:
        return sum(self.bursts)

    def cassette_dicts(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self.header, self.lines


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.plan = Plan(
            seed=seed,
            max_attempts=self.rng.randint(2, 4),
            header={"cassette": 1, "provider": "gemini", "model": MODEL, "seed": seed},
        )
        self.conn = 0
        self.handle: str | None = None
        self.handles = 0
        self.buffer = BufferModel(int(BUFFER_SECONDS * INPUT_RATE) * 2)
        self.failed = False
        self.go_away_pending = False  # this connection ends after the current turn
        self.release_pending: str | None = None  # tool call answered after reconnecting
        self.heard: dict[str, list[str]] = {"user": [], "assistant": []}  # open utterances

    # -- lines ------------------------------------------------------------------------

    def line(self, **item: Any) -> None:
        self.plan.lines.append({"conn": self.conn, **item})

    def recv(self, frame: dict[str, Any]) -> None:
        item: dict[str, Any] = {"recv": frame}
        if self.rng.random() < 0.04:
            item["delay_ms"] = self.rng.randint(1, 15)
            self.plan.faults["slow_frame"] += 1
        self.line(**item)

    def new_handle(self, prefix: str = "h-") -> str:
        self.handles += 1
        return f"{prefix}{self.handles}"

    # -- connections ------------------------------------------------------------------

    def open(self, *, after: Literal["start", "transient", "rotation"]) -> None:
        """Connect (after refusals, maybe), or mark the session failed."""
        m = self.plan.max_attempts
        # attempts allowed: the first one of a start/rotation is immediate and free
        allowed = m if after == "transient" else m + 1
        backoffs_before = 0 if after == "transient" else 1  # attempts made without a sleep
        if self.rng.random() < 0.07:
            refusals = allowed
        else:
            refusals = min(self.rng.choice([0, 0, 0, 0, 1, 1, 2]), allowed - 1)
        for attempt in range(1, refusals + 1):
            self.backoff_sleep(attempt > backoffs_before)
            self.conn += 1
            self.line(connect={"handle": self.handle})
            self.line(close={"code": 1011, "reason": "Internal error encountered."})
            self.plan.faults["setup_refusal"] += 1
        if refusals == allowed:
            self.failed = True
            self.plan.outcome = "reconnect_failed"
            self.plan.expected_dropped += self.buffer.flush()  # never delivered
            return
        self.backoff_sleep(refusals + 1 > backoffs_before)
        if after == "transient" and refusals == 0 and self.rng.random() < 0.15:
            # the handle is refused: the session retries at once, fresh, reseeded from
            # the persisted history (a client_content that asks for no reply)
            self.conn += 1
            self.line(connect={"handle": self.handle})
            self.line(close={"code": 1008, "reason": "Invalid session resumption handle."})
            self.plan.faults["handle_rejected"] += 1
            self.handle = None
        self.conn += 1
        self.line(connect={"handle": self.handle})
        if self.handle is None and self.plan.transcripts:
            self.line(
                send="client_content",
                match={"subset": {"clientContent": {"turnComplete": False}}},
            )
        self.handle = self.new_handle()
        self.recv({"sessionResumptionUpdate": {"newHandle": self.handle, "resumable": True}})
        kept = self.buffer.flush()
        if kept:
            self.line(send="realtime_input.audio", min_bytes=kept)
        if self.release_pending is not None:
            call_id = self.release_pending
            self.release_pending = None
            self.line(
                send={"toolResponse": {"functionResponses": [{"id": call_id}]}},
                match={"subset": {"toolResponse": {"functionResponses": [{"id": call_id}]}}},
            )
        self.go_away_pending = False

    def backoff_sleep(self, sleeps: bool) -> None:
        if not sleeps:
            return
        size = BURST_CHUNK * self.rng.choice([0, 0, 1, 2, 4, 6])
        self.plan.bursts.append(size)
        for _ in range(size // BURST_CHUNK):
            self.buffer.add(BURST_CHUNK)
        self.plan.expected_dropped += self.buffer.dropped
        self.buffer.dropped = 0

    def maybe_fault(self, *, allow_go_away: bool) -> None:
        """At a point where nothing is in flight: perhaps break the connection."""
        if self.failed or self.go_away_pending:
            return
        roll = self.rng.random()
        if roll < 0.10:
            self.transient_fault()
        elif roll < 0.15 and allow_go_away:
            self.go_away()

    def finish(self, role: str) -> None:
        """Close ``role``'s open utterance: it is persisted as far as it was heard."""
        if self.heard[role]:
            self.plan.transcripts.append((role, " ".join(self.heard[role])))
            self.heard[role] = []

    def transient_fault(self) -> None:
        # what was heard so far is kept as heard (the next connection starts afresh)
        self.finish("user")
        self.finish("assistant")
        kind = self.rng.choice(["close_1011", "drop"])
        self.plan.faults[kind] += 1
        if kind == "drop":
            self.line(drop=True)
        else:
            self.line(close={"code": 1011, "reason": "Internal error encountered."})
        self.open(after="transient")

    def go_away(self) -> None:
        self.plan.faults["go_away"] += 1
        self.recv({"goAway": {"timeLeft": "50s"}})
        self.go_away_pending = True

    # -- turns ------------------------------------------------------------------------

    def words(self, n: int) -> list[str]:
        return [self.rng.choice(WORDS) for _ in range(n)]

    def turn(self, number: int, *, last: bool) -> None:
        """One user turn; the last turn ends the session, so nothing breaks after it."""
        rng = self.rng
        talk = 2 * rng.randint(1600, 8000)
        self.handle = f"{TALK_PREFIX}{number}-{talk}"
        self.recv({"sessionResumptionUpdate": {"newHandle": self.handle, "resumable": True}})
        self.line(send="realtime_input.audio", min_bytes=talk)
        self.plan.talk_bytes += talk
        mode: ToolMode | None = None
        if rng.random() < 0.45:
            mode = rng.choice(["now", "now", "release", "hold"])
        user = self.words(rng.randint(2, 6))
        for word in user:
            self.recv({"serverContent": {"inputTranscription": {"text": f" {word}"}}})
            self.heard["user"].append(word)
            self.maybe_fault(allow_go_away=mode is None and not last)
            if self.failed:
                return
        self.finish("user")  # closed by the tool call or the model's answer
        if mode is not None:
            self.tool_call(number, mode)
            if self.failed:
                return
        agent = self.words(rng.randint(2, 6))
        for word in agent:
            self.recv(
                {
                    "serverContent": {
                        "modelTurn": {
                            "parts": [
                                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _PCM}}
                            ]
                        },
                        "outputTranscription": {"text": f" {word}"},
                    }
                }
            )
            self.heard["assistant"].append(word)
            self.maybe_fault(allow_go_away=mode is None and not last)
            if self.failed:
                return
        self.recv({"serverContent": {"turnComplete": True}})
        self.finish("assistant")
        if self.go_away_pending:
            self.open(after="rotation")
        elif not last:
            self.maybe_fault(allow_go_away=False)

    def tool_call(self, number: int, mode: ToolMode) -> None:
        call_id = f"call-{number}"
        self.plan.tools[call_id] = mode
        self.plan.faults[f"tool_{mode}"] += 1
        call = {"id": call_id, "name": TOOL_NAME, "args": {"mode": mode, "n": number}}
        self.recv({"toolCall": {"functionCalls": [call]}})
        self.plan.transcripts.append(("tool_call", call_id))
        if mode == "now":
            self.line(
                send={"toolResponse": {"functionResponses": [{"id": call_id}]}},
                match={"subset": {"toolResponse": {"functionResponses": [{"id": call_id}]}}},
            )
            self.plan.transcripts.append(("tool_result", call_id))
            self.maybe_fault(allow_go_away=False)
            return
        if mode == "release":
            self.release_pending = call_id
            self.transient_fault()  # answered on the next connection
            if not self.failed:
                self.plan.transcripts.append(("tool_result", call_id))
            return
        # hold: cancelled by the server, perhaps after a fault or two
        self.maybe_fault(allow_go_away=False)
        if self.failed:
            return
        self.recv({"toolCallCancellation": {"ids": [call_id]}})
        self.plan.faults["cancellation"] += 1
        self.plan.transcripts.append(("tool_result", call_id))
        self.maybe_fault(allow_go_away=False)

    def build(self) -> Plan:
        self.open(after="start")
        self.plan.turns = self.rng.randint(2, 5)
        for number in range(1, self.plan.turns + 1):
            if self.failed:
                break
            self.turn(number, last=number == self.plan.turns)
        self.plan.connections = self.conn
        return self.plan


def generate(seed: int) -> Plan:
    """The plan for ``seed`` (same seed, same plan, byte for byte)."""
    return _Builder(seed).build()


__all__ = ["BURST_CHUNK", "MODEL", "TALK_PREFIX", "TOOL_NAME", "BufferModel", "Plan", "generate"]
