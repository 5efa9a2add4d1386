"""FakeOpenAIServer: replays a cassette over the OpenAI Realtime WebSocket protocol.

The real OpenAI provider (or any Realtime client) connects to it with
``provider_options=server.provider_options``; the server checks every client event
against the cassette, sends the recorded server events, closes or aborts where the
cassette says, and reports what was played. It never waits on the wall clock: each
connection advances only when a client event arrives, and ends when its lines are done
or the client leaves. Served over TLS on 127.0.0.1 with a throw-away CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .cassette import Cassette, CloseLine, ConnectLine, DropLine, RecvLine, SendLine
from .gemini_server import redact_headers, redact_path
from .openai_wire import (
    AUDIO_RATE,
    STREAMING_KINDS,
    audio_bytes,
    frame_kind,
    load_openai_cassette,
    match_frame,
    normalize_frame,
)
from .report import CassetteMismatchError, CassetteReport, ConnectionRecord, Mismatch
from .tls import LocalTLS, local_tls

__all__ = ["FAKE_API_KEY", "FakeOpenAIServer"]

FAKE_API_KEY = "sk-fake-realtalk-test"
"""The key :attr:`FakeOpenAIServer.provider_options` carries (the server checks presence only)."""

_SECRET_HEADERS = ("api-key", "openai-organization", "openai-project")
_CLOSED = object()
_CLOSE_MISMATCH = 1008
_CLOSE_INVALID = 1007


def _close_reason(text: str) -> str:
    return text.encode("utf-8")[:123].decode("utf-8", errors="ignore")


class _Inbox:
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
    def __init__(self, record: ConnectionRecord) -> None:
        self.record = record
        self.script_done = False
        self.task: asyncio.Task[Any] | None = None


class FakeOpenAIServer:
    """Serve an OpenAI cassette to Realtime clients on ``127.0.0.1`` over TLS.

    ``cassette`` is a path, the name of a shipped OpenAI cassette or a loaded
    :class:`Cassette`. ``strict`` (default True) makes ``__aexit__`` raise
    :class:`CassetteMismatchError` when lines were left unplayed or events mismatched.
    ``session.created`` (on connect, unless the connection's lines list it) and
    ``session.updated`` (after the first ``session.update``, unless the next line answers
    it with ``session.updated`` or ``error`` or ends the connection) are sent implicitly.
    """

    def __init__(
        self,
        cassette: str | Path | Cassette,
        *,
        strict: bool = True,
        exit_timeout: float = 1.0,
        tls: LocalTLS | None = None,
    ) -> None:
        self.cassette = load_openai_cassette(cassette)
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
            f"FakeOpenAIServer({self.cassette.source!r}, port={self._port}, "
            f"connections={self.connections}, mismatches={len(self._mismatches)})"
        )

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeOpenAIServer is not running; use `async with`")
        return self._port

    @property
    def base_url(self) -> str:
        """The ``base_url`` provider option: ``wss://127.0.0.1:PORT/v1``."""
        return f"wss://127.0.0.1:{self.port}/v1"

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only this server's throw-away CA."""
        return self._tls.client_context

    @property
    def provider_options(self) -> dict[str, Any]:
        """Pass as ``RealtimeConfig(provider_options=...)``: base URL, TLS and a fake key."""
        return {"api_key": FAKE_API_KEY, "base_url": self.base_url, "ssl": self.ssl_context}

    @property
    def connections(self) -> int:
        return len(self._conns)

    def connection(self, conn: int) -> ConnectionRecord:
        """What connection ``conn`` (1-based) sent, normalised, with counters."""
        return self._conns[conn - 1].record

    def received(self, conn: int = 1) -> list[dict[str, Any]]:
        """Normalised client events connection ``conn`` sent."""
        return list(self.connection(conn).frames)

    @property
    def report(self) -> CassetteReport:
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
        return bool(self._mismatches) or not self.report.unplayed

    async def wait_done(self) -> None:
        """Return once every line played or a mismatch happened (no sleeping)."""
        while not self.done:
            if self._progress is None:
                self._progress = asyncio.Event()
            self._progress.clear()
            await self._progress.wait()

    def assert_played(self) -> None:
        report = self.report
        if not report.ok:
            raise CassetteMismatchError(report)

    def _notify(self) -> None:
        if self._progress is not None:
            self._progress.set()

    def _play_line(self, lineno: int) -> None:
        self._played.append(lineno)
        self._notify()

    def _mismatch(
        self, conn: int, line: int | None, reason: str, expected: str, actual: Any
    ) -> None:
        self._mismatches.append(Mismatch(conn, line, reason, expected, actual))
        self._notify()

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> FakeOpenAIServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            ssl=self._tls.server_context,
            process_request=self._check_request,
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

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if not path.endswith(("/v1/realtime", "/openai/realtime")):
            return connection.respond(404, f"not a Realtime path: {path}\n")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") and not request.headers.get("api-key"):
            return connection.respond(401, "missing API key\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        number = len(self._conns) + 1
        headers = redact_headers(ws.request.headers if ws.request else {})
        headers = {
            k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()
        }
        record = ConnectionRecord(
            conn=number, path=redact_path(ws.request.path if ws.request else ""), headers=headers
        )
        state = _Conn(record)
        state.task = asyncio.current_task()
        self._conns.append(state)
        inbox = _Inbox()
        reader = asyncio.create_task(self._read(ws, record, inbox))
        try:
            if number not in self.cassette.conns:
                await self._send(ws, _session_created(number))
                await inbox.get()
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
                    record.audio_frames += 1
                    record.audio_bytes += audio_bytes(frame)
                inbox.queue.put_nowait(("frame", kind, frame))
        except ConnectionClosed:
            pass
        finally:
            inbox.queue.put_nowait(_CLOSED)

    async def _send(self, ws: ServerConnection, event: dict[str, Any]) -> None:
        await ws.send(json.dumps(event, ensure_ascii=False))

    async def _close(
        self, ws: ServerConnection, record: ConnectionRecord, code: int, why: str
    ) -> None:
        if record.ended == "open":
            record.ended = (
                "mismatch" if code in (_CLOSE_MISMATCH, _CLOSE_INVALID) else f"close {code}"
            )
        with contextlib.suppress(ConnectionClosed):
            await ws.close(code, _close_reason(why))

    async def _play(self, conn: int, ws: ServerConnection, inbox: _Inbox, state: _Conn) -> None:
        record = state.record
        lines = list(self.cassette.lines_for(conn))
        connect: ConnectLine | None = None
        if lines and isinstance(lines[0], ConnectLine):
            connect = lines[0]
            lines.pop(0)
        listed = {ln.frame.get("type") for ln in lines if isinstance(ln, RecvLine)}
        refused = bool(lines) and isinstance(lines[0], CloseLine | DropLine)
        if "session.created" not in listed and not refused:
            await self._send(ws, _session_created(conn))
        update_line: SendLine | None = None
        if lines and isinstance(lines[0], SendLine) and lines[0].kind == "session.update":
            update_line = lines[0]
            lines.pop(0)
        if connect is not None or update_line is not None:
            item = await inbox.get()
            if item is _CLOSED:
                record.ended = "client left"
                return
            anchor = update_line or connect
            assert anchor is not None
            if item[0] == "invalid" or item[1] != "session.update":
                why = item[1] if item[0] == "invalid" else f"expected session.update, got {item[1]}"
                self._mismatch(conn, anchor.lineno, why, "session.update", item[2])
                await self._close(ws, record, _CLOSE_INVALID, f"line {anchor.lineno}: {why}")
                return
            update = item[2]
            if connect is not None:
                why = _check_connect(connect, update)
                if why is not None:
                    self._mismatch(conn, connect.lineno, why, "connect subset", update)
                    await self._close(ws, record, _CLOSE_MISMATCH, f"line {connect.lineno}: {why}")
                    return
                self._play_line(connect.lineno)
            if update_line is not None:
                why = match_frame(update_line.frame, "session.update", update_line.match, update)
                if why is not None:
                    self._mismatch(conn, update_line.lineno, why, update_line.describe(), update)
                    await self._close(
                        ws, record, _CLOSE_MISMATCH, f"line {update_line.lineno}: {why}"
                    )
                    return
                self._play_line(update_line.lineno)
            if _needs_implicit_updated(lines):
                await self._send(ws, {"type": "session.updated", "session": update["session"]})
        for line in lines:
            if isinstance(line, RecvLine):
                if line.delay_ms:
                    await asyncio.sleep(line.delay_ms / 1000)
                await self._send(ws, dict(line.frame))
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
                await self._close(ws, record, _CLOSE_INVALID, f"line {line.lineno}: {item[1]}")
                return False
            _, kind, frame = item
            if line.kind in STREAMING_KINDS and kind == line.kind:
                need = _needed_bytes(line)
                if need is not None:
                    got += audio_bytes(frame)
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
                    self._mismatch(conn, line.lineno, why, line.describe(), frame)
                    await self._close(ws, record, _CLOSE_MISMATCH, f"line {line.lineno}: {why}")
                    return False
            if strict:
                why = f"unlisted {kind} event in a strict cassette"
                self._mismatch(conn, line.lineno, why, line.describe(), frame)
                await self._close(ws, record, _CLOSE_MISMATCH, f"line {line.lineno}: {why}")
                return False
            record.unlisted_frames += 1
            record.unlisted_bytes += audio_bytes(frame)

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
                record.unlisted_bytes += audio_bytes(item[2])
                continue
            what = item[1] if item[0] == "frame" else f"invalid event ({item[1]})"
            why = f"{what} after the last line of conn {conn}"
            self._mismatch(conn, None, why, "nothing (the cassette's lines are done)", item[2])
            await self._close(ws, record, _CLOSE_MISMATCH, why)
            return


def _session_created(conn: int) -> dict[str, Any]:
    return {
        "type": "session.created",
        "event_id": f"event_created_{conn}",
        "session": {"type": "realtime", "id": f"sess_fake_{conn}", "object": "realtime.session"},
    }


def _needs_implicit_updated(lines: list[Any]) -> bool:
    """Answer the first session.update unless the cassette answers it itself (with
    ``session.updated`` or an ``error``) or ends the connection right away."""
    if not lines:
        return True
    first = lines[0]
    if isinstance(first, CloseLine | DropLine):
        return False
    return not (
        isinstance(first, RecvLine) and first.frame.get("type") in ("session.updated", "error")
    )


def _needed_bytes(line: SendLine) -> int | None:
    needs = []
    if line.min_bytes is not None:
        needs.append(line.min_bytes)
    if line.min_seconds is not None:
        needs.append(int(line.min_seconds * AUDIO_RATE * 2))
    return max(needs) if needs else None


def _check_connect(line: ConnectLine, update: dict[str, Any]) -> str | None:
    if line.subset is None:
        return None
    from .gemini_wire import MatchSpec

    spec = MatchSpec("subset", subset={"type": "session.update", "session": dict(line.subset)})
    return match_frame(None, "session.update", spec, update)
