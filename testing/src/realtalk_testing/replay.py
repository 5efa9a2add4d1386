"""The cassette replay engine shared by FakeGeminiServer and FakeOpenAIServer.

One `ReplayServer` serves a cassette over TLS on 127.0.0.1: it accepts
connections, reads and normalises client frames, plays the recorded server frames,
waits for the client frames a line expects, counts streaming input, closes or drops
where the cassette says, and keeps the report. What differs per provider (frame
normalisation, kinds, streaming input, wording) lives in a `ReplayWire`; the
opening handshake and the path check are hooks a subclass overrides. It never waits on
the wall clock: each connection advances only when a frame arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .cassette import Cassette, CassetteLine, CloseLine, ConnectLine, DropLine, RecvLine, SendLine
from .gemini_wire import MatchSpec
from .report import CassetteMismatchError, CassetteReport, ConnectionRecord, Mismatch
from .tls import LocalTLS, local_tls

__all__ = [
    "CLOSED",
    "Inbox",
    "ReplayServer",
    "ReplayWire",
    "redact_headers",
    "redact_path",
    "serve_local",
]

CLOSED = object()
"""What an `Inbox` yields once the client has gone."""
CLOSE_MISMATCH = 1008
CLOSE_INVALID = 1007
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization", "proxy-authorization", "cookie"})


def redact_headers(headers: Headers | dict[str, str]) -> dict[str, str]:
    """Headers with API keys and credentials replaced by ``<redacted>``."""
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def redact_path(path: str) -> str:
    """A request path with any ``key=`` / ``access_token=`` query value redacted."""
    if "?" not in path:
        return path
    base, query = path.split("?", 1)
    parts = []
    for item in query.split("&"):
        name = item.split("=", 1)[0]
        secret = name.lower() in ("key", "access_token")
        parts.append(f"{name}=<redacted>" if secret else item)
    return base + "?" + "&".join(parts)


async def serve_local(
    handler: Callable[[ServerConnection], Awaitable[None]],
    tls: LocalTLS,
    process_request: Callable[[ServerConnection, Request], Response | None],
) -> Server:
    """A WebSocket server on ``127.0.0.1`` (any free port) over ``tls``, set up as the
    fakes and recorders need it: no compression, no pings, no message size limit."""
    return await serve(
        handler,
        "127.0.0.1",
        0,
        ssl=tls.server_context,
        process_request=process_request,
        compression=None,
        ping_interval=None,
        max_size=None,
        close_timeout=2,
    )


def _close_reason(text: str) -> str:
    return text.encode("utf-8")[:123].decode("utf-8", errors="ignore")


@dataclass(frozen=True)
class ReplayWire:
    """What one provider's wire format means to the replay engine.

    ``label`` prefixes close reasons (``"cassette line"`` / ``"line"``) and ``noun``
    names a client frame in messages (``"frame"`` / ``"event"``);
    ``explain_strict_streaming`` says whether a mismatching streaming frame in a strict
    cassette is reported as "unlisted". ``first_kind`` is the frame that opens a
    connection (``first_wrong`` formats the complaint about another kind);
    ``first_always`` waits for it even when no line checks it.
    """

    load: Callable[[str | Path | Cassette], Cassette]
    normalize: Callable[[Mapping[str, Any]], dict[str, Any]]
    kind: Callable[[Mapping[str, Any]], str]
    match: Callable[[Mapping[str, Any] | None, str, MatchSpec, Mapping[str, Any]], str | None]
    blob_bytes: Callable[[Mapping[str, Any]], int]
    audio_rate: Callable[[Mapping[str, Any]], int]
    streaming_kinds: frozenset[str]
    first_kind: str
    first_wrong: str
    check_connect: Callable[[ConnectLine, dict[str, Any]], str | None]
    describe_connect: Callable[[ConnectLine], str]
    first_always: bool = True
    video_kinds: frozenset[str] = frozenset()
    marker_kinds: frozenset[str] = frozenset()
    """Streaming kinds without media (Gemini's ``audio_stream_end``): tolerated like
    audio where no line waits for them, but not counted as audio frames."""
    label: str = "line"
    noun: str = "frame"
    explain_strict_streaming: bool = False

    def needed_bytes(self, line: SendLine, frame: Mapping[str, Any]) -> int | None:
        """Bytes of streaming input that satisfy ``line`` (None: match the frame)."""
        needs = []
        if line.min_bytes is not None:
            needs.append(line.min_bytes)
        if line.min_seconds is not None:
            needs.append(int(line.min_seconds * self.audio_rate(frame) * 2))
        return max(needs) if needs else None


class Inbox:
    """Frames read from one client, with push-back for optional lines."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.pushed: deque[Any] = deque()

    async def get(self) -> Any:
        if self.pushed:
            return self.pushed.popleft()
        return await self.queue.get()

    def push_back(self, item: Any) -> None:
        self.pushed.appendleft(item)


class _Conn:
    """State of one live connection (used to end it cleanly at exit)."""

    def __init__(self, record: ConnectionRecord) -> None:
        self.record = record
        self.script_done = False
        self.task: asyncio.Task[Any] | None = None


class ReplayServer:
    """Serve a cassette on ``127.0.0.1`` over TLS; subclasses supply the wire.

    ``strict`` (default True) makes ``__aexit__`` raise `CassetteMismatchError`
    when lines were left unplayed or frames mismatched; with ``strict=False`` inspect
    `report` yourself. ``exit_timeout`` bounds how long ``__aexit__`` lets a
    connection that is still in the middle of its lines finish (frames in flight).
    """

    _wire: ClassVar[ReplayWire]
    _name: ClassVar[str]

    def __init__(
        self,
        cassette: str | Path | Cassette,
        *,
        strict: bool = True,
        exit_timeout: float = 1.0,
        tls: LocalTLS | None = None,
    ) -> None:
        self.cassette = self._wire.load(cassette)
        self.strict = strict
        self.exit_timeout = exit_timeout
        self._tls = tls or local_tls()
        self._server: Server | None = None
        self._conns: list[_Conn] = []
        self._played: list[int] = []
        self._skipped: list[int] = []
        self._mismatches: list[Mismatch] = []
        self._closed = False
        self._port: int | None = None
        self._progress: asyncio.Event | None = None

    # -- public surface ---------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"{self._name}({self.cassette.source!r}, port={self._port}, "
            f"connections={self.connections}, mismatches={len(self._mismatches)})"
        )

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self._name} is not running; use `async with`")
        return self._port

    @property
    def connections(self) -> int:
        """How many client connections were accepted so far."""
        return len(self._conns)

    def connection(self, conn: int) -> ConnectionRecord:
        """What connection ``conn`` (1-based) sent, normalised, with counters."""
        return self._conns[conn - 1].record

    def received(self, conn: int = 1) -> list[dict[str, Any]]:
        """Normalised frames connection ``conn`` sent (setup included)."""
        return list(self.connection(conn).frames)

    @property
    def report(self) -> CassetteReport:
        """Played / skipped / unplayed lines, mismatches and per-connection traffic."""
        done = set(self._played) | set(self._skipped)
        return CassetteReport(
            cassette=self.cassette.source,
            played=sorted(self._played),
            skipped=sorted(self._skipped),
            unplayed=[ln.lineno for ln in self.cassette.lines if ln.lineno not in done],
            mismatches=list(self._mismatches),
            connections=[c.record for c in self._conns],
        )

    @property
    def done(self) -> bool:
        """Every line played (or skipped), or a mismatch happened."""
        return bool(self._mismatches) or not self.report.unplayed

    async def wait_done(self) -> None:
        """Return once `done` is true: lets a test wait for the end of a scenario
        without sleeping (wrap it in ``asyncio.timeout`` if the client may stall)."""
        while not self.done:
            if self._progress is None:
                self._progress = asyncio.Event()
            self._progress.clear()
            await self._progress.wait()

    def assert_played(self) -> None:
        """Raise `CassetteMismatchError` unless every line played without mismatch."""
        report = self.report
        if not report.ok:
            raise CassetteMismatchError(report)

    def _notify(self) -> None:
        if self._progress is not None:
            self._progress.set()

    def _play_line(self, lineno: int) -> None:
        self._played.append(lineno)
        self._notify()

    def _skip_line(self, lineno: int) -> None:
        self._skipped.append(lineno)
        self._notify()

    def _mismatch(
        self, conn: int, line: int | None, reason: str, expected: str, actual: Any
    ) -> None:
        self._mismatches.append(Mismatch(conn, line, reason, expected, actual))
        self._notify()

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._server = await serve_local(self._handle, self._tls, self._check_request)
        self._port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
        report = self.report
        if report.ok or not self.strict:
            return
        if exc is None:
            raise CassetteMismatchError(report)
        exc.add_note(report.summary())

    async def aclose(self) -> None:
        """Stop serving; lets connections mid-script finish for up to ``exit_timeout``."""
        if self._server is None or self._closed:
            return
        self._closed = True
        busy = [c.task for c in self._conns if c.task is not None and not c.script_done]
        if busy:
            await asyncio.wait(busy, timeout=self.exit_timeout)
        for c in self._conns:
            if c.record.ended == "open":
                c.record.ended = "server exit"
        self._server.close()
        await self._server.wait_closed()

    # -- provider hooks ---------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a handshake on a wrong path (or without credentials)."""
        raise NotImplementedError

    def _headers(self, headers: Headers | dict[str, str]) -> dict[str, str]:
        """The request headers as the connection record keeps them (secrets redacted)."""
        return redact_headers(headers)

    async def _before_refusal(self, ws: ServerConnection, conn: int) -> None:
        """What a connection the cassette does not list is sent before it is closed."""

    async def _greet(self, ws: ServerConnection, conn: int, lines: list[CassetteLine]) -> None:
        """What the server sends on connect, before the client's first frame."""

    async def _answer(
        self, ws: ServerConnection, first: dict[str, Any], lines: list[CassetteLine]
    ) -> None:
        """The implicit answer to the client's accepted first frame."""

    async def _handshake(
        self,
        conn: int,
        ws: ServerConnection,
        inbox: Inbox,
        record: ConnectionRecord,
        lines: list[CassetteLine],
    ) -> list[CassetteLine] | None:
        """Check the client's first frame against the connect and first send lines and
        answer it; the lines left to play, or None when the connection ended."""
        wire = self._wire
        connect: ConnectLine | None = None
        first_line: SendLine | None = None
        if lines and isinstance(lines[0], ConnectLine):
            connect = lines[0]
            lines.pop(0)
        await self._greet(ws, conn, lines)
        if lines and isinstance(lines[0], SendLine) and lines[0].kind == wire.first_kind:
            first_line = lines[0]
            lines.pop(0)
        if connect is None and first_line is None and not wire.first_always:
            return lines
        item = await inbox.get()
        if item is CLOSED:
            record.ended = "client left"
            return None
        anchor = first_line or connect
        anchor_no = anchor.lineno if anchor else None
        if item[0] == "invalid" or item[1] != wire.first_kind:
            why = item[1] if item[0] == "invalid" else wire.first_wrong.format(item[1])
            self._mismatch(conn, anchor_no, why, wire.first_kind, item[2])
            await self._close(ws, record, CLOSE_INVALID, f"{wire.label} {anchor_no}: {why}")
            return None
        first = item[2]
        if connect is not None:
            why = wire.check_connect(connect, first)
            if why is not None:
                self._mismatch(conn, connect.lineno, why, wire.describe_connect(connect), first)
                await self._close(
                    ws, record, CLOSE_MISMATCH, f"{wire.label} {connect.lineno}: {why}"
                )
                return None
            self._play_line(connect.lineno)
        if first_line is not None:
            why = wire.match(first_line.frame, wire.first_kind, first_line.match, first)
            if why is not None:
                self._mismatch(conn, first_line.lineno, why, first_line.describe(), first)
                await self._close(
                    ws, record, CLOSE_MISMATCH, f"{wire.label} {first_line.lineno}: {why}"
                )
                return None
            self._play_line(first_line.lineno)
        await self._answer(ws, first, lines)
        return lines

    # -- connection handling ----------------------------------------------------------

    async def _send(self, ws: ServerConnection, event: Mapping[str, Any]) -> None:
        await ws.send(json.dumps(dict(event), ensure_ascii=False))

    async def _handle(self, ws: ServerConnection) -> None:
        number = len(self._conns) + 1
        record = ConnectionRecord(
            conn=number,
            path=redact_path(ws.request.path if ws.request else ""),
            headers=self._headers(ws.request.headers if ws.request else {}),
        )
        state = _Conn(record)
        state.task = asyncio.current_task()
        self._conns.append(state)
        inbox = Inbox()
        reader = asyncio.create_task(self._read(ws, record, inbox))
        try:
            if number not in self.cassette.conns:
                await self._before_refusal(ws, number)
                await inbox.get()  # let the client send its first frame, so it sees the close
                self._mismatch(
                    number,
                    None,
                    f"connection {number} is not in the cassette "
                    f"(it has {len(self.cassette.conns)})",
                    "no further connection",
                    {"path": record.path},
                )
                await self._close(ws, record, CLOSE_MISMATCH, "unexpected connection")
                return
            await self._play(number, ws, inbox, state)
        except ConnectionClosed:
            if record.ended == "open":
                record.ended = "client left"
        finally:
            state.script_done = True
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _count(self, record: ConnectionRecord, kind: str, frame: dict[str, Any]) -> None:
        size = self._wire.blob_bytes(frame)
        if kind in self._wire.video_kinds:
            record.video_frames += 1
            record.video_bytes += size
        else:
            record.audio_frames += 1
            record.audio_bytes += size

    async def _read(self, ws: ServerConnection, record: ConnectionRecord, inbox: Inbox) -> None:
        wire = self._wire
        try:
            async for message in ws:
                try:
                    raw = json.loads(message)
                    if not isinstance(raw, dict):
                        raise ValueError("not a JSON object")
                    frame = wire.normalize(raw)
                    kind = wire.kind(frame)
                except ValueError as exc:
                    text = message if isinstance(message, str) else repr(message[:200])
                    inbox.queue.put_nowait(("invalid", str(exc), text))
                    continue
                record.frames.append(frame)
                record.kinds.append(kind)
                if kind in wire.streaming_kinds and kind not in wire.marker_kinds:
                    self._count(record, kind, frame)
                inbox.queue.put_nowait(("frame", kind, frame))
        except ConnectionClosed:
            pass
        finally:
            inbox.queue.put_nowait(CLOSED)

    async def _close(
        self, ws: ServerConnection, record: ConnectionRecord, code: int, why: str
    ) -> None:
        if record.ended == "open":
            record.ended = (
                "mismatch" if code in (CLOSE_MISMATCH, CLOSE_INVALID) else f"close {code}"
            )
        with contextlib.suppress(ConnectionClosed):
            await ws.close(code, _close_reason(why))

    async def _play(self, conn: int, ws: ServerConnection, inbox: Inbox, state: _Conn) -> None:
        record = state.record
        lines = await self._handshake(conn, ws, inbox, record, list(self.cassette.lines_for(conn)))
        if lines is None:
            return
        for line in lines:
            if isinstance(line, RecvLine):
                if line.delay_ms:
                    await asyncio.sleep(line.delay_ms / 1000)
                await self._send(ws, line.frame)
                self._play_line(line.lineno)
            elif isinstance(line, SendLine):
                if not await self._await_send(conn, ws, inbox, line, record):
                    return
            elif isinstance(line, CloseLine):
                record.ended = f"close {line.code}"
                self._play_line(line.lineno)
                with contextlib.suppress(ConnectionClosed):
                    await ws.close(line.code, line.reason)
                return
            elif isinstance(line, DropLine):
                record.ended = "drop"
                self._play_line(line.lineno)
                ws.transport.abort()
                return
        state.script_done = True
        await self._drain(conn, ws, inbox, record)

    async def _await_send(
        self,
        conn: int,
        ws: ServerConnection,
        inbox: Inbox,
        line: SendLine,
        record: ConnectionRecord,
    ) -> bool:
        """Wait until ``line`` is met; False when the connection ended instead."""
        wire = self._wire
        strict = self.cassette.strict
        where = f"{wire.label} {line.lineno}"
        got = 0
        while True:
            item = await inbox.get()
            if item is CLOSED:
                if record.ended == "open":
                    record.ended = "client left"
                if line.optional:
                    self._skip_line(line.lineno)
                return False
            if item[0] == "invalid":
                self._mismatch(conn, line.lineno, item[1], line.describe(), item[2])
                await self._close(ws, record, CLOSE_INVALID, f"{where}: {item[1]}")
                return False
            _, kind, frame = item
            if line.kind in wire.streaming_kinds and kind == line.kind:
                need = wire.needed_bytes(line, frame)
                if need is not None:
                    got += wire.blob_bytes(frame)
                    if got >= need:
                        self._play_line(line.lineno)
                        return True
                    continue
                if wire.match(line.frame, line.kind, line.match, frame) is None:
                    self._play_line(line.lineno)
                    return True
            else:
                why = wire.match(line.frame, line.kind, line.match, frame)
                if why is None:
                    self._play_line(line.lineno)
                    return True
                if line.optional:
                    self._skip_line(line.lineno)
                    inbox.push_back(item)
                    return True
                if kind not in wire.streaming_kinds or strict:
                    if kind in wire.streaming_kinds and wire.explain_strict_streaming:
                        why = f"unlisted {kind} {wire.noun} in a strict cassette ({why})"
                    self._mismatch(conn, line.lineno, why, line.describe(), frame)
                    await self._close(ws, record, CLOSE_MISMATCH, f"{where}: {why}")
                    return False
            if strict:
                why = f"unlisted {kind} {wire.noun} in a strict cassette"
                self._mismatch(conn, line.lineno, why, line.describe(), frame)
                await self._close(ws, record, CLOSE_MISMATCH, f"{where}: {why}")
                return False
            record.unlisted_frames += 1
            record.unlisted_bytes += wire.blob_bytes(frame)

    async def _drain(
        self, conn: int, ws: ServerConnection, inbox: Inbox, record: ConnectionRecord
    ) -> None:
        """After the last line: count streaming input until the client leaves."""
        wire = self._wire
        while True:
            item = await inbox.get()
            if item is CLOSED:
                if record.ended == "open":
                    record.ended = "client left"
                return
            if item[0] == "frame" and item[1] in wire.streaming_kinds and not self.cassette.strict:
                record.unlisted_frames += 1
                record.unlisted_bytes += wire.blob_bytes(item[2])
                continue
            what = item[1] if item[0] == "frame" else f"invalid {wire.noun} ({item[1]})"
            why = f"{what} after the last line of conn {conn}"
            self._mismatch(conn, None, why, "nothing (the cassette's lines are done)", item[2])
            await self._close(ws, record, CLOSE_MISMATCH, why)
            return
