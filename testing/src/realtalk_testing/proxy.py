"""The recording proxy shared by CassetteRecorder and OpenAICassetteRecorder.

A `RecordingProxy` listens on 127.0.0.1 over TLS, opens one upstream connection
per client connection, forwards every message both ways and hands each JSON frame to a
provider's `ConnRecorder`, which turns it into cassette line dicts. It mirrors
the upstream's close (or abort) to the client, records it as ``close`` / ``drop``, and
scrubs every secret seen on the way from what it writes and reports. What differs per
provider (upstream URL and headers, the path check, the cassette header) are hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .cassette import Cassette
from .replay import serve_local
from .tls import LocalTLS, local_tls

__all__ = ["ConnRecorder", "RecordingProxy"]

_REDACTED = "<redacted>"


class ConnRecorder:
    """Turns one connection's traffic into cassette line dicts."""

    def __init__(self, rec: Any, conn: int) -> None:
        self.rec = rec
        self.conn = conn

    def add(self, **action: Any) -> None:
        self.rec._lines.append({"conn": self.conn, **action})

    def client_frame(self, raw: dict[str, Any]) -> None:
        """Record a frame the client sent (raw JSON object)."""
        raise NotImplementedError

    def server_frame(self, frame: dict[str, Any]) -> None:
        """Record a frame the upstream sent (raw JSON object)."""
        raise NotImplementedError

    def closing(self) -> None:
        """The upstream closed or dropped: record what is pending before that line."""


class RecordingProxy:
    """Record a cassette by proxying live sessions; subclasses supply the provider."""

    _name: ClassVar[str]
    _noun: ClassVar[str] = "frame"

    def __init__(
        self,
        path: str | Path,
        *,
        api_key: str | None,
        max_audio_bytes: int | None,
        header: dict[str, Any] | None,
        tls: LocalTLS | None,
    ) -> None:
        self.path = Path(path)
        self.api_key = api_key
        self.max_audio_bytes = max_audio_bytes
        self.model: str | None = None
        self.errors: list[str] = []
        self.cassette: Cassette | None = None
        self._extra_header = dict(header or {})
        self._tls = tls or local_tls()
        self._server: Server | None = None
        self._lines: list[dict[str, Any]] = []
        self._secrets: set[str] = {api_key} if api_key else set()
        self._conns = 0

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running; use `async with`")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def __aenter__(self) -> Self:
        self._server = await serve_local(self._handle, self._tls, self._check_request)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if exc is None:
            self.cassette = self.build()
            self.cassette.dump(self.path)

    def build(self) -> Cassette:
        """The cassette recorded so far (validated), secrets scrubbed."""
        header = self._header_start()
        if self.model:
            header["model"] = self.model
        header["recorded"] = f"recorded by {self._name} from {self._recorded_from()}"
        header.update(self._extra_header)
        lines = [self._scrub(line) for line in self._lines]
        return self._make_cassette(self._scrub(header), lines, str(self.path))

    # -- provider hooks ---------------------------------------------------------------

    def _header_start(self) -> dict[str, Any]:
        """The cassette header's first keys."""
        return {}

    def _recorded_from(self) -> str:
        """Where the header says the cassette was recorded from (no secrets)."""
        raise NotImplementedError

    def _make_cassette(
        self, header: dict[str, Any], lines: list[dict[str, Any]], source: str
    ) -> Cassette:
        raise NotImplementedError

    def _new_conn(self, conn: int) -> ConnRecorder:
        raise NotImplementedError

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a client handshake (None accepts it)."""
        return None

    def _upstream_target(self, ws: ServerConnection) -> tuple[str, ssl.SSLContext | None]:
        """The upstream URL for this client connection, and the TLS context to reach it."""
        raise NotImplementedError

    def _upstream_headers(self, ws: ServerConnection) -> dict[str, str]:
        """Headers for the upstream handshake; notes every credential as a secret."""
        raise NotImplementedError

    async def _refuse(self, ws: ServerConnection) -> None:
        """Tell the client the upstream could not be reached."""
        await ws.close(1011, "recorder could not reach the upstream")

    # -- proxying ---------------------------------------------------------------------

    def _scrub(self, obj: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(obj, ensure_ascii=False)
        secrets = [s for s in self._secrets if s and s != _REDACTED]
        if not any(s in text for s in secrets):
            return obj
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, _REDACTED)
        result: dict[str, Any] = json.loads(text)
        return result

    def _hide(self, exc: BaseException) -> str:
        text = str(exc)
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

    async def _handle(self, ws: ServerConnection) -> None:
        self._conns += 1
        conn = self._new_conn(self._conns)
        url, ssl_ctx = self._upstream_target(ws)
        try:
            upstream = await connect(
                url,
                additional_headers=self._upstream_headers(ws),
                ssl=ssl_ctx,
                max_size=None,
                compression=None,
                open_timeout=30,
                close_timeout=2,
            )
        except Exception as exc:  # any handshake failure: tell the client, record nothing
            self.errors.append(f"conn {conn.conn}: upstream connect failed: {self._hide(exc)}")
            with contextlib.suppress(ConnectionClosed):
                await self._refuse(ws)
            return
        async with upstream:
            up = asyncio.create_task(self._pump_up(ws, upstream, conn))
            down = asyncio.create_task(self._pump_down(ws, upstream, conn))
            try:
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (up, down):
                    task.cancel()
                await asyncio.gather(up, down, return_exceptions=True)

    async def _pump_up(
        self, ws: ServerConnection, upstream: ClientConnection, conn: ConnRecorder
    ) -> None:
        """Client -> upstream. The client leaving closes the upstream (nothing recorded)."""
        try:
            async for message in ws:
                try:
                    raw = json.loads(message)
                    if isinstance(raw, dict):
                        conn.client_frame(raw)
                except ValueError as exc:
                    self.errors.append(f"conn {conn.conn}: unrecorded client {self._noun}: {exc}")
                await upstream.send(message)
        except ConnectionClosed:
            pass
        with contextlib.suppress(ConnectionClosed):
            await upstream.close()

    async def _pump_down(
        self, ws: ServerConnection, upstream: ClientConnection, conn: ConnRecorder
    ) -> None:
        """Upstream -> client, mirroring the upstream's close code or abort."""
        try:
            while True:
                message = await upstream.recv()
                try:
                    frame = json.loads(message)
                    if isinstance(frame, dict):
                        conn.server_frame(frame)
                except ValueError as exc:
                    self.errors.append(f"conn {conn.conn}: unrecorded server {self._noun}: {exc}")
                await ws.send(message)
        except ConnectionClosed as closed:
            if ws.state.name != "OPEN":
                return  # the client left first; the upstream close is ours
            received = closed.rcvd
            conn.closing()
            if received is None:
                conn.add(drop=True)
                ws.transport.abort()
                return
            code = received.code if received.code not in (1005, 1006, 1015) else 1000
            conn.add(close={"code": code, "reason": received.reason})
            with contextlib.suppress(ConnectionClosed):
                await ws.close(code, received.reason)
