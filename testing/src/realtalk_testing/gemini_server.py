"""FakeGeminiServer: replays a cassette over the Gemini Live WebSocket protocol.

The real google-genai SDK (and so the real Gemini provider) connects to it through
``http_options``; the server checks every frame the client sends against the cassette,
sends the recorded server frames, closes or aborts where the cassette says, and reports
what was played. It never waits on the wall clock: each connection's handler advances
only when a frame arrives, and it ends when its lines are done or the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .cassette import Cassette, CloseLine, ConnectLine, DropLine, RecvLine, SendLine
from .gemini_wire import (
    STREAMING_KINDS,
    MatchSpec,
    audio_rate,
    blob_bytes,
    frame_kind,
    match_frame,
    normalize_frame,
)
from .report import CassetteMismatchError, CassetteReport, ConnectionRecord, Mismatch
from .tls import LocalTLS, local_tls

if TYPE_CHECKING:
    from google.genai.types import HttpOptionsDict

__all__ = ["LIVE_PATH_SUFFIX", "FakeGeminiServer", "redact_headers", "redact_path"]

LIVE_PATH_SUFFIX = "GenerativeService.BidiGenerateContent"
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization", "proxy-authorization", "cookie"})
_CLOSED = object()
_CLOSE_MISMATCH = 1008
_CLOSE_INVALID = 1007


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


def _close_reason(text: str) -> str:
    data = text.encode("utf-8")[:123]
    return data.decode("utf-8", errors="ignore")


class _Inbox:
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

    def __init__(self, record: ConnectionRecord, ws: ServerConnection) -> None:
        self.record = record
        self.ws = ws
        self.script_done = False
        self.task: asyncio.Task[Any] | None = None


class FakeGeminiServer:
    """Serve a cassette to Gemini Live clients on ``127.0.0.1`` over TLS.

    ``strict`` (default True) makes ``__aexit__`` raise :class:`CassetteMismatchError`
    when lines were left unplayed or frames mismatched; with ``strict=False`` inspect
    :attr:`report` yourself. ``exit_timeout`` bounds how long ``__aexit__`` lets a
    connection that is still in the middle of its lines finish (frames in flight).
    """

    def __init__(
        self,
        cassette: str | Path | Cassette,
        *,
        strict: bool = True,
        exit_timeout: float = 1.0,
        tls: LocalTLS | None = None,
    ) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
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
            f"FakeGeminiServer({self.cassette.source!r}, port={self._port}, "
            f"connections={self.connections}, mismatches={len(self._mismatches)})"
        )

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeGeminiServer is not running; use `async with`")
        return self._port

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def http_options(self) -> HttpOptionsDict:
        """Pass as ``google.genai.Client(http_options=...)`` or as
        ``RealtimeConfig(provider_options={"http_options": ...})``."""
        return {
            "base_url": self.base_url,
            "api_version": "v1beta",
            "async_client_args": {"ssl": self._tls.client_context},
        }

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
        """Return once :attr:`done` is true: lets a test wait for the end of a scenario
        without sleeping (wrap it in ``asyncio.timeout`` if the client may stall)."""
        while not self.done:
            if self._progress is None:
                self._progress = asyncio.Event()
            self._progress.clear()
            await self._progress.wait()

    def _notify(self) -> None:
        if self._progress is not None:
            self._progress.set()

    def _play_line(self, lineno: int) -> None:
        self._played.append(lineno)
        self._notify()

    def assert_played(self) -> None:
        """Raise :class:`CassetteMismatchError` unless every line played without mismatch."""
        report = self.report
        if not report.ok:
            raise CassetteMismatchError(report)

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> FakeGeminiServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            ssl=self._tls.server_context,
            process_request=self._check_path,
            compression=None,
            ping_interval=None,
            max_size=None,
            close_timeout=2,
        )
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

    # -- connection handling ----------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if not path.endswith(LIVE_PATH_SUFFIX):
            return connection.respond(404, f"not a Gemini Live path: {path}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        number = len(self._conns) + 1
        record = ConnectionRecord(
            conn=number,
            path=redact_path(ws.request.path if ws.request else ""),
            headers=redact_headers(ws.request.headers if ws.request else {}),
        )
        state = _Conn(record, ws)
        state.task = asyncio.current_task()
        self._conns.append(state)
        inbox = _Inbox()
        reader = asyncio.create_task(self._read(ws, record, inbox))
        try:
            if number not in self.cassette.conns:
                await inbox.get()  # let the client send its setup, so it sees the close
                self._mismatch(
                    number,
                    None,
                    f"connection {number} is not in the cassette "
                    f"(it has {len(self.cassette.conns)})",
                    "no further connection",
                    {"path": record.path},
                )
                await self._close(ws, record, _CLOSE_MISMATCH, "unexpected connection")
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

    async def _read(self, ws: ServerConnection, record: ConnectionRecord, inbox: _Inbox) -> None:
        try:
            async for message in ws:
                try:
                    raw = json.loads(message)
                    if not isinstance(raw, dict):
                        raise ValueError("not a JSON object")
                    frame = normalize_frame(raw)
                    kind = frame_kind(frame)
                except ValueError as exc:
                    text = message if isinstance(message, str) else repr(message[:200])
                    inbox.queue.put_nowait(("invalid", str(exc), text))
                    continue
                record.frames.append(frame)
                record.kinds.append(kind)
                if kind in STREAMING_KINDS:
                    size = blob_bytes(frame)
                    if kind == "realtime_input.audio":
                        record.audio_frames += 1
                        record.audio_bytes += size
                    else:
                        record.video_frames += 1
                        record.video_bytes += size
                inbox.queue.put_nowait(("frame", kind, frame))
        except ConnectionClosed:
            pass
        finally:
            inbox.queue.put_nowait(_CLOSED)

    async def _close(
        self, ws: ServerConnection, record: ConnectionRecord, code: int, why: str
    ) -> None:
        if record.ended == "open":
            record.ended = (
                "mismatch" if code in (_CLOSE_MISMATCH, _CLOSE_INVALID) else f"close {code}"
            )
        with contextlib.suppress(ConnectionClosed):
            await ws.close(code, _close_reason(why))

    def _mismatch(
        self, conn: int, line: int | None, reason: str, expected: str, actual: Any
    ) -> None:
        self._mismatches.append(Mismatch(conn, line, reason, expected, actual))
        self._notify()

    async def _play(self, conn: int, ws: ServerConnection, inbox: _Inbox, state: _Conn) -> None:
        record = state.record
        lines = list(self.cassette.lines_for(conn))
        connect: ConnectLine | None = None
        setup_line: SendLine | None = None
        if lines and isinstance(lines[0], ConnectLine):
            connect = lines[0]
            lines.pop(0)
        if lines and isinstance(lines[0], SendLine) and lines[0].kind == "setup":
            setup_line = lines[0]
            lines.pop(0)
        item = await inbox.get()
        if item is _CLOSED:
            record.ended = "client left"
            return
        anchor = setup_line or connect
        anchor_no = anchor.lineno if anchor else None
        if item[0] == "invalid" or item[1] != "setup":
            actual = item[2]
            why = item[1] if item[0] == "invalid" else f"expected setup first, got {item[1]}"
            self._mismatch(conn, anchor_no, why, "setup", actual)
            await self._close(ws, record, _CLOSE_INVALID, f"cassette line {anchor_no}: {why}")
            return
        setup = item[2]
        if connect is not None:
            why = _check_connect(connect, setup)
            if why is not None:
                self._mismatch(conn, connect.lineno, why, _describe_connect(connect), setup)
                await self._close(
                    ws, record, _CLOSE_MISMATCH, f"cassette line {connect.lineno}: {why}"
                )
                return
            self._play_line(connect.lineno)
        if setup_line is not None:
            why = match_frame(setup_line.frame, "setup", setup_line.match, setup)
            if why is not None:
                self._mismatch(conn, setup_line.lineno, why, setup_line.describe(), setup)
                await self._close(
                    ws, record, _CLOSE_MISMATCH, f"cassette line {setup_line.lineno}: {why}"
                )
                return
            self._play_line(setup_line.lineno)
        if _needs_implicit_setup_complete(lines):
            await ws.send(json.dumps({"setupComplete": {}}))
        for line in lines:
            if isinstance(line, RecvLine):
                if line.delay_ms:
                    await asyncio.sleep(line.delay_ms / 1000)
                await ws.send(json.dumps(line.frame, ensure_ascii=False))
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
        inbox: _Inbox,
        line: SendLine,
        record: ConnectionRecord,
    ) -> bool:
        """Wait until ``line`` is met; False when the connection ended instead."""
        strict = self.cassette.strict
        got = 0
        while True:
            item = await inbox.get()
            if item is _CLOSED:
                if record.ended == "open":
                    record.ended = "client left"
                if line.optional:
                    self._skipped.append(line.lineno)
                    self._notify()
                return False
            if item[0] == "invalid":
                self._mismatch(conn, line.lineno, item[1], line.describe(), item[2])
                await self._close(
                    ws, record, _CLOSE_INVALID, f"cassette line {line.lineno}: {item[1]}"
                )
                return False
            _, kind, frame = item
            if line.streaming and kind == line.kind:
                need = _needed_bytes(line, frame)
                if need is not None:
                    got += blob_bytes(frame)
                    if got >= need:
                        self._play_line(line.lineno)
                        return True
                    continue
                if match_frame(line.frame, line.kind, line.match, frame) is None:
                    self._play_line(line.lineno)
                    return True
            else:
                why = match_frame(line.frame, line.kind, line.match, frame)
                if why is None:
                    self._play_line(line.lineno)
                    return True
                if line.optional:
                    self._skipped.append(line.lineno)
                    self._notify()
                    inbox.push_back(item)
                    return True
                if kind not in STREAMING_KINDS or strict:
                    if kind in STREAMING_KINDS:
                        why = f"unlisted {kind} frame in a strict cassette ({why})"
                    self._mismatch(conn, line.lineno, why, line.describe(), frame)
                    await self._close(
                        ws, record, _CLOSE_MISMATCH, f"cassette line {line.lineno}: {why}"
                    )
                    return False
            if strict:
                why = f"unlisted {kind} frame in a strict cassette"
                self._mismatch(conn, line.lineno, why, line.describe(), frame)
                await self._close(
                    ws, record, _CLOSE_MISMATCH, f"cassette line {line.lineno}: {why}"
                )
                return False
            record.unlisted_frames += 1
            record.unlisted_bytes += blob_bytes(frame)

    async def _drain(
        self, conn: int, ws: ServerConnection, inbox: _Inbox, record: ConnectionRecord
    ) -> None:
        """After the last line: count streaming input until the client leaves."""
        while True:
            item = await inbox.get()
            if item is _CLOSED:
                if record.ended == "open":
                    record.ended = "client left"
                return
            if item[0] == "frame" and item[1] in STREAMING_KINDS and not self.cassette.strict:
                record.unlisted_frames += 1
                record.unlisted_bytes += blob_bytes(item[2])
                continue
            what = item[1] if item[0] == "frame" else f"invalid frame ({item[1]})"
            why = f"{what} after the last line of conn {conn}"
            self._mismatch(conn, None, why, "nothing (the cassette's lines are done)", item[2])
            await self._close(ws, record, _CLOSE_MISMATCH, why)
            return


def _needed_bytes(line: SendLine, frame: dict[str, Any]) -> int | None:
    needs = []
    if line.min_bytes is not None:
        needs.append(line.min_bytes)
    if line.min_seconds is not None:
        needs.append(int(line.min_seconds * audio_rate(frame) * 2))
    return max(needs) if needs else None


def _needs_implicit_setup_complete(lines: list[Any]) -> bool:
    """Answer setup automatically unless the cassette lists ``setupComplete`` itself or
    refuses the setup (its first line after setup is a close or drop)."""
    for line in lines:
        if isinstance(line, RecvLine) and "setupComplete" in line.frame:
            return False
    return not (lines and isinstance(lines[0], CloseLine | DropLine))


def _check_connect(line: ConnectLine, setup: dict[str, Any]) -> str | None:
    body = setup.get("setup", {})
    if line.requires_handle:
        resumption = body.get("sessionResumption") if isinstance(body, dict) else None
        presented = resumption.get("handle") if isinstance(resumption, dict) else None
        if presented != line.handle:
            return f"expected resumption handle {line.handle!r}, client presented {presented!r}"
    if line.subset is not None:
        spec = MatchSpec("subset", subset={"setup": line.subset})
        why = match_frame(None, "setup", spec, setup)
        if why is not None:
            return why
    return None


def _describe_connect(line: ConnectLine) -> str:
    parts = []
    if line.requires_handle:
        parts.append(f"handle {line.handle!r}")
    if line.subset is not None:
        parts.append(f"setup subset {json.dumps(line.subset, sort_keys=True)}")
    return "connect with " + ", ".join(parts)
