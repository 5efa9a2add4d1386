"""Run one soak :class:`~tests.soak.generator.Plan` through the whole stack and check it.

The stack is the real one: ``AudioAgent`` with a tool and a checkpointer, the runtime,
the Gemini plugin found through its entry point, google-genai over TLS WebSockets, and
``FakeGeminiServer`` replaying the plan's cassette. Nothing waits on the wall clock:
backoff runs on :class:`SoakClock` (short sleeps finish at once, long ones never do, so a
``goAway`` deadline or the shutdown timeout can never rescue a stuck session silently;
the soak's ``asyncio.timeout`` turns a stuck session into a failure instead).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig, ReconnectConfig
from realtalk.checkpoint import InMemoryCheckpointer, PgCheckpointer, SqliteCheckpointer
from realtalk.events import RealtimeEvent
from realtalk.messages import Message
from realtalk_testing import Cassette, FakeGeminiServer

from .generator import BUFFER_SECONDS, BURST_CHUNK, MODEL, TALK_PREFIX, TOOL_NAME, Plan

THREAD = {"thread_id": "soak"}
SESSION_LIMIT = float(
    os.environ.get("REALTALK_SOAK_SESSION_LIMIT", "20")
)  # a safety net for a stuck session, never a wait


class SoakClock:
    """Backoff sleeps (< 1 s) finish at once after pushing the plan's next burst of
    audio into the queue (the user keeps talking while the connection is down); longer
    sleeps (go_away deadlines, the shutdown drain) never finish by themselves."""

    def __init__(self, queue: LiveInputQueue, bursts: list[int]) -> None:
        self.queue = queue
        self.bursts = list(bursts)
        self.sleeps = 0
        self.pushed = 0

    def monotonic(self) -> float:
        return float(self.sleeps)

    async def sleep(self, seconds: float) -> None:
        if seconds >= 1.0:
            await asyncio.Future()  # cancelled when the session ends
        self.sleeps += 1
        size = self.bursts[self.sleeps - 1] if self.sleeps <= len(self.bursts) else 0
        for _ in range(size // BURST_CHUNK):
            self.queue.send_audio(b"\x02\x00" * (BURST_CHUNK // 2), 16000)
            self.pushed += BURST_CHUNK
        # let the input pump move the burst into the offline buffer before connecting
        for _ in range(50):
            await asyncio.sleep(0)
            if self.queue.qsize() == 0:
                break
        for _ in range(5):
            await asyncio.sleep(0)


@dataclass
class Result:
    plan: Plan
    events: list[RealtimeEvent]
    messages: list[Message]
    executions: Counter[int]
    talk_sent: int
    clock: SoakClock
    report: Any
    connections: int
    audio_received: int
    tool_responses: Counter[str]
    leaks: list[str] = field(default_factory=list)
    pg_connections_killed: int = 0


class PgKiller:
    """Terminates every PostgreSQL backend of one checkpointer (its application_name).

    PostgreSQL sessions of the soak lose their pooled connections at every reconnect and
    turn end; nothing may be lost or reported for it.
    """

    def __init__(self, url: str, admin: Any, name: str) -> None:
        self.url = f"{url}{'&' if '?' in url else '?'}application_name={name}"
        self.admin = admin
        self.name = name
        self.killed = 0

    @classmethod
    async def open(cls, url: str, name: str) -> PgKiller:
        import psycopg

        admin = await psycopg.AsyncConnection.connect(url, autocommit=True)
        return cls(url, admin, name)

    async def __call__(self) -> None:
        cur = await self.admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
            "FROM pg_stat_activity WHERE application_name = %s",
            (self.name,),
        )
        row = await cur.fetchone()
        self.killed += int(row[0]) if row else 0

    async def aclose(self) -> None:
        await self.admin.close()


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


def _threads() -> set[threading.Thread]:
    # the default executor's workers (asyncio_N) and the sync-tool pool's
    # (realtalk-tool_N) are reused across sessions by design
    return {
        t for t in threading.enumerate() if not t.name.startswith(("asyncio_", "realtalk-tool"))
    }


async def _extra_threads(before: set[threading.Thread]) -> list[str]:
    """Threads started since ``before`` that do not end (a worker told to stop while the
    session closed gets a moment to finish: joined, not slept on)."""
    extra = _threads() - before
    for thread in extra:
        await asyncio.to_thread(thread.join, 5.0)
    return sorted(t.name for t in extra if t.is_alive())


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def _tool(executions: Counter[int], waiting: list[asyncio.Event]) -> Any:
    async def lookup(mode: str, n: int) -> dict[str, Any]:
        """Look something up (answers at once, after the next reconnect, or never)."""
        executions[n] += 1
        if mode == "release":
            release = asyncio.Event()
            waiting.append(release)
            await release.wait()
        elif mode == "hold":
            await asyncio.Future()  # until the provider cancels the call
        return {"n": n, "answer": "ok"}

    lookup.__name__ = TOOL_NAME
    return lookup


async def run_plan(
    plan: Plan, *, db_dir: Path | None = None, pg: tuple[str, str] | None = None
) -> Result:
    """Run ``plan`` once: PostgreSQL when ``pg`` (url, schema) is given, SQLite when
    ``db_dir`` is, else in memory."""
    await _settle()
    tasks_before, sockets_before, threads_before = asyncio.all_tasks(), _sockets(), _threads()
    checkpointer: Any
    kill_pg: PgKiller | None = None
    if pg is not None:
        kill_pg = await PgKiller.open(pg[0], f"rt_soak_{plan.seed}_{os.getpid()}")
        checkpointer = PgCheckpointer(kill_pg.url, schema=pg[1])
    elif db_dir is not None:
        checkpointer = SqliteCheckpointer(db_dir / f"soak-{plan.seed}.db")
    else:
        checkpointer = InMemoryCheckpointer()
    executions: Counter[int] = Counter()
    waiting: list[asyncio.Event] = []
    queue = LiveInputQueue()
    clock = SoakClock(queue, plan.bursts)
    events: list[RealtimeEvent] = []
    talk = {"sent": 0, "turns": 0}
    header, lines = plan.cassette_dicts()
    async with FakeGeminiServer(Cassette.from_dicts(header, lines), strict=False) as server:
        config = RealtimeConfig(
            model=MODEL,
            provider_options={"api_key": "soak-key", "http_options": server.http_options},
            reconnect=ReconnectConfig(
                base_delay=0.01,
                max_delay=0.08,
                jitter=0.5,
                max_attempts=plan.max_attempts,
                buffer_seconds=BUFFER_SECONDS,
            ),
        )
        app = AudioAgent(MODEL, realtime_config=config, tools=[_tool(executions, waiting)]).compile(
            checkpointer=checkpointer, clock=clock, shutdown_timeout=30.0
        )

        def drive(event: RealtimeEvent) -> None:
            handle = getattr(event, "resumption_handle", None)
            if event.type == "session_update" and handle and handle.startswith(TALK_PREFIX):
                size = int(handle.rsplit("-", 1)[1])
                queue.send_audio(b"\x01\x00" * (size // 2), 16000)
                talk["sent"] += size
            elif event.type == "reconnected":
                while waiting:
                    waiting.pop().set()
            elif event.type == "turn_complete":
                talk["turns"] += 1
                if talk["turns"] == plan.turns:
                    queue.close()

        try:
            async with asyncio.timeout(SESSION_LIMIT):
                async for event in app.arealtime(queue, THREAD):
                    events.append(event)
                    drive(event)
                    if kill_pg is not None and event.type in ("reconnected", "turn_complete"):
                        await kill_pg()  # the store's connections die with the provider's
                # every line was sent before the session could end; frames in flight
                # (the client's last audio) are counted once the server has read them
                await server.wait_done()
        except TimeoutError:
            raise AssertionError(
                f"seed {plan.seed}: stuck after {[e.type for e in events][-12:]}\n"
                f"{server.report.summary()}"
            ) from None
        finally:
            await app.aclose()
        messages = list(await checkpointer.alist_messages(THREAD))
        await checkpointer.aclose()
        if kill_pg is not None:
            await kill_pg.aclose()
    report = server.report
    records = [server.connection(n + 1) for n in range(server.connections)]
    responses: Counter[str] = Counter()
    for record in records:
        for frame in record.frames:
            for response in frame.get("toolResponse", {}).get("functionResponses", []):
                responses[str(response.get("id"))] += 1
    await _settle()
    leaks = []
    extra_tasks = asyncio.all_tasks() - tasks_before
    if extra_tasks:
        leaks.append(f"tasks: {sorted(t.get_name() for t in extra_tasks)}")
    if _sockets() != sockets_before:
        leaks.append(f"sockets: {sockets_before} before, {_sockets()} after")
    extra_threads = await _extra_threads(threads_before)
    if extra_threads:
        leaks.append(f"threads: {extra_threads}")
    return Result(
        plan=plan,
        events=events,
        messages=messages,
        executions=executions,
        talk_sent=talk["sent"],
        clock=clock,
        report=report,
        connections=server.connections,
        audio_received=sum(r.audio_bytes for r in records),
        tool_responses=responses,
        leaks=leaks,
        pg_connections_killed=kill_pg.killed if kill_pg is not None else 0,
    )


def _persisted(messages: list[Message]) -> list[tuple[str, str]]:
    out = []
    for message in messages:
        for block in message.content:
            if block.type == "text":
                out.append((message.role, block.text))
            else:
                out.append((block.type, block.id))
    return out


def check(result: Result) -> list[str]:
    """Every invariant the soak promises, as a list of violations (empty: all held)."""
    plan, events = result.plan, result.events
    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    # the script was followed: every line played, nothing mismatched, no extra connection
    expect(result.report.ok, f"cassette: {result.report.summary()}")
    expect(result.connections == plan.connections, f"connections {result.connections}")
    # outcome: completes, or reconnect_failed after exactly max_attempts
    ended = events[-1] if events else None
    fatal = [e for e in events if e.type == "error" and e.fatal]
    if plan.outcome == "closed":
        expect(ended is not None and ended.reason == "closed", f"ended {ended!r}")
        expect(not fatal, f"fatal errors {fatal}")
    else:
        expect(ended is not None and ended.reason == "error", f"ended {ended!r}")
        expect(
            [e.code for e in fatal] == ["reconnect_failed"], f"fatal errors {fatal} (expected 1)"
        )
    expect(result.clock.sleeps == len(plan.bursts), f"backoff sleeps {result.clock.sleeps}")
    other_errors = [e for e in events if e.type == "error" and not e.fatal]
    expect(not other_errors, f"unexpected errors {other_errors}")
    # tools: each call id executed at most once and answered
    expect(all(n <= 1 for n in result.executions.values()), f"runs {result.executions}")
    expect(all(n <= 1 for n in result.tool_responses.values()), f"sent {result.tool_responses}")
    results = Counter(e.id for e in events if e.type == "tool_result")
    expect(all(n == 1 for n in results.values()), f"tool_result events {results}")
    if plan.outcome == "closed":
        for call_id, mode in plan.tools.items():
            number = int(call_id.split("-")[1])
            expect(results[call_id] == 1, f"{call_id} has {results[call_id]} results")
            if mode != "hold":  # a held call may be cancelled before it starts
                ran = result.executions[number]
                expect(ran == 1, f"{call_id} ran {ran}")
            sent = result.tool_responses[call_id]
            expect(sent == (0 if mode == "hold" else 1), f"{call_id} ({mode}) answered {sent}x")
    # transcripts: every finished one persisted exactly once, in order
    finished = [
        ("user" if e.type == "input_transcript" else "assistant", e.text)
        for e in events
        if e.type in ("input_transcript", "output_transcript") and e.finished
    ]
    persisted = _persisted(result.messages)
    spoken = [p for p in persisted if p[0] in ("user", "assistant")]
    expect(spoken == finished, f"persisted {spoken} != finished {finished}")
    if plan.outcome == "closed":
        expect(persisted == plan.transcripts, f"persisted {persisted} != plan {plan.transcripts}")
    # input audio: lost exactly what was reported; nothing when the buffer sufficed
    reported = sum(e.audio_bytes for e in events if e.type == "input_dropped")
    sent = result.talk_sent + result.clock.pushed
    expect(
        sent == result.audio_received + reported,
        f"audio sent {sent} != received {result.audio_received} + reported lost {reported}",
    )
    expect(
        reported == plan.expected_dropped,
        f"reported lost {reported}, model says {plan.expected_dropped}",
    )
    expect(not result.leaks, f"leaks: {result.leaks}")
    return problems


__all__ = ["Result", "SoakClock", "check", "run_plan"]
