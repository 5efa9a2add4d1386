"""CassetteRecorder: a recording TLS proxy between a Gemini Live client and an upstream.

Point the client at ``recorder.http_options`` exactly as at a FakeGeminiServer; every
frame is forwarded both ways to the upstream endpoint (real Gemini by default) and
written as cassette lines, so a scenario recorded once with an API key replays offline
forever. Secrets never reach the file: headers are not recorded, and every line is
scrubbed of the API key, bearer tokens and ``key=`` query values seen on the way.

What gets written, per connection:

- ``connect`` with the resumption handle when the client presented one;
- ``send`` lines for client frames: ``setup`` (match ``key``), text and client content
  (``exact``), tool responses (``subset`` of call ids and names), other kinds (``key``).
  Client audio is never stored: the audio the client streams before the server starts
  a reply (or interrupts) becomes one ``send`` line with ``min_bytes`` = its size;
- ``recv`` lines for server frames, verbatim, model audio optionally cut to
  ``max_audio_bytes`` per frame;
- ``close`` with the upstream's code and reason, or ``drop`` when the upstream went
  away without a close frame (the client then sees 1006 too).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .cassette import Cassette
from .gemini_server import LIVE_PATH_SUFFIX, redact_path
from .gemini_wire import blob_bytes, frame_kind, normalize_frame
from .tls import LocalTLS, local_tls

if TYPE_CHECKING:
    from google.genai.types import HttpOptionsDict

__all__ = ["GEMINI_BASE_URL", "CassetteRecorder"]

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
_REDACTED = "<redacted>"
_FORWARD_HEADERS = ("x-goog-api-key", "authorization", "x-goog-api-client", "user-agent")
_TRIGGERS = ("serverContent", "toolCall", "toolCallCancellation")


def _default_upstream_ssl() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi ships with google-genai
        return ssl.create_default_context()


class _ConnRecorder:
    """Turns one connection's traffic into cassette line dicts."""

    def __init__(self, rec: CassetteRecorder, conn: int) -> None:
        self.rec = rec
        self.conn = conn
        self.awaiting_reply = True
        self.audio_bytes = 0
        self.audio_mime = "audio/pcm;rate=16000"

    def _add(self, **action: Any) -> None:
        self.rec._lines.append({"conn": self.conn, **action})

    def _flush_audio(self) -> None:
        if self.audio_bytes:
            frame = {"realtimeInput": {"audio": {"mimeType": self.audio_mime}}}
            self._add(send=frame, min_bytes=self.audio_bytes)
            self.audio_bytes = 0

    def client_frame(self, raw: dict[str, Any]) -> None:
        frame = normalize_frame(raw)
        kind = frame_kind(frame)
        if kind == "realtime_input.audio":
            self.audio_bytes += blob_bytes(frame)
            audio = frame["realtimeInput"].get("audio") or {}
            self.audio_mime = str(audio.get("mimeType", self.audio_mime))
            return
        self._flush_audio()
        if kind == "setup":
            if self.rec.model is None:
                model = str(frame["setup"].get("model", ""))
                self.rec.model = model.removeprefix("models/") or None
            resumption = frame["setup"].get("sessionResumption") or {}
            handle = resumption.get("handle") if isinstance(resumption, dict) else None
            if handle:
                self._add(connect={"handle": handle})
            self._add(send="setup")
        elif kind in ("realtime_input.text", "client_content"):
            self._add(send=frame, match="exact")
        elif kind == "tool_response":
            calls = [
                {k: r[k] for k in ("id", "name") if k in r}
                for r in frame["toolResponse"].get("functionResponses", [])
            ]
            subset = {"toolResponse": {"functionResponses": calls}}
            self._add(send=frame, match={"subset": subset})
        elif kind == "realtime_input.video":
            video = frame["realtimeInput"].get("video") or {}
            self._add(send={"realtimeInput": {"video": {"mimeType": video.get("mimeType", "")}}})
        else:
            self._add(send=kind)

    def server_frame(self, frame: dict[str, Any]) -> None:
        content = frame.get("serverContent") or {}
        interrupted = isinstance(content, dict) and bool(content.get("interrupted"))
        if any(k in frame for k in _TRIGGERS) and (self.awaiting_reply or interrupted):
            self._flush_audio()
            self.awaiting_reply = False
        self._add(recv=self._truncate(frame))
        turn_over = isinstance(content, dict) and (
            content.get("turnComplete") or content.get("interrupted")
        )
        if "setupComplete" in frame or "toolCall" in frame or turn_over:
            self.awaiting_reply = True

    def _truncate(self, frame: dict[str, Any]) -> dict[str, Any]:
        limit = self.rec.max_audio_bytes
        content = frame.get("serverContent")
        if limit is None or not isinstance(content, dict):
            return frame
        parts = (content.get("modelTurn") or {}).get("parts") or []
        for part in parts:
            inline = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(inline, dict) and isinstance(inline.get("data"), str):
                data = base64.b64decode(inline["data"])
                if len(data) > limit:
                    inline["data"] = base64.b64encode(data[: limit - limit % 2]).decode("ascii")
        return frame


class CassetteRecorder:
    """Record a cassette by proxying a live Gemini session.

    ``upstream`` is a base URL, an ``http_options``-style dict (``base_url`` plus
    optional ``async_client_args.ssl``, e.g. a FakeGeminiServer's) or None for the real
    Gemini API. ``api_key`` (e.g. from ``GEMINI_API_KEY``) replaces whatever key the
    client sent, so the client may use a dummy key. The cassette is written at exit.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        upstream: str | Mapping[str, Any] | None = None,
        api_key: str | None = None,
        max_audio_bytes: int | None = None,
        header: dict[str, Any] | None = None,
        tls: LocalTLS | None = None,
    ) -> None:
        self.path = Path(path)
        if isinstance(upstream, Mapping):
            self.upstream_url = str(upstream["base_url"])
            args = upstream.get("async_client_args") or {}
            self.upstream_ssl: ssl.SSLContext | None = args.get("ssl")
        else:
            self.upstream_url = upstream or GEMINI_BASE_URL
            self.upstream_ssl = None
        self.upstream_url = self.upstream_url.rstrip("/")
        self.api_key = api_key
        self.max_audio_bytes = max_audio_bytes
        self.model: str | None = None
        self.errors: list[str] = []
        self.cassette: Cassette | None = None
        self._extra_header = dict(header or {})
        self._tls = tls or local_tls()
        self._server: Server | None = None
        self._lines: list[dict[str, Any]] = []
        self._secrets: set[str] = set()
        self._conns = 0
        if api_key:
            self._secrets.add(api_key)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("CassetteRecorder is not running; use `async with`")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def http_options(self) -> HttpOptionsDict:
        """Same shape as ``FakeGeminiServer.http_options``."""
        return {
            "base_url": f"https://127.0.0.1:{self.port}",
            "api_version": "v1beta",
            "async_client_args": {"ssl": self._tls.client_context},
        }

    async def __aenter__(self) -> CassetteRecorder:
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
        header: dict[str, Any] = {"cassette": 1, "provider": "gemini"}
        if self.model:
            header["model"] = self.model
        header["recorded"] = f"recorded by CassetteRecorder from {redact_path(self.upstream_url)}"
        header.update(self._extra_header)
        lines = [self._scrub(line) for line in self._lines]
        return Cassette.from_dicts(self._scrub(header), lines, source=str(self.path))

    def _scrub(self, obj: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(obj, ensure_ascii=False)
        secrets = [s for s in self._secrets if s and s != _REDACTED]
        if not any(s in text for s in secrets):
            return obj
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, _REDACTED)
        result: dict[str, Any] = json.loads(text)
        return result

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.split("?", 1)[0].endswith(LIVE_PATH_SUFFIX):
            return connection.respond(404, "not a Gemini Live path\n")
        return None

    def _upstream_headers(self, ws: ServerConnection) -> dict[str, str]:
        headers: dict[str, str] = {}
        request = ws.request
        if request is not None:
            for name in _FORWARD_HEADERS:
                value = request.headers.get(name)
                if value:
                    headers[name] = value
            if "?" in request.path:
                for item in request.path.split("?", 1)[1].split("&"):
                    name, _, value = item.partition("=")
                    if name.lower() in ("key", "access_token") and value:
                        self._secrets.add(value)
        for name in ("x-goog-api-key", "authorization"):
            if name in headers:
                self._secrets.add(headers[name])
                self._secrets.add(headers[name].removeprefix("Bearer ").strip())
        if self.api_key:
            headers["x-goog-api-key"] = self.api_key
            headers.pop("authorization", None)
        return headers

    async def _handle(self, ws: ServerConnection) -> None:
        self._conns += 1
        conn = _ConnRecorder(self, self._conns)
        path = ws.request.path if ws.request else "/"
        url = self.upstream_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        ssl_ctx = self.upstream_ssl or (_default_upstream_ssl() if url.startswith("wss") else None)
        try:
            upstream = await connect(
                url + path,
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
                await ws.recv()  # take the setup, so the client sees the close as an error
                await ws.close(1011, "recorder could not reach the upstream")
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

    def _hide(self, exc: BaseException) -> str:
        text = str(exc)
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

    async def _pump_up(
        self, ws: ServerConnection, upstream: ClientConnection, conn: _ConnRecorder
    ) -> None:
        """Client -> upstream. The client leaving closes the upstream (nothing recorded)."""
        try:
            async for message in ws:
                try:
                    raw = json.loads(message)
                    if isinstance(raw, dict):
                        conn.client_frame(raw)
                except ValueError as exc:
                    self.errors.append(f"conn {conn.conn}: unrecorded client frame: {exc}")
                await upstream.send(message)
        except ConnectionClosed:
            pass
        with contextlib.suppress(ConnectionClosed):
            await upstream.close()

    async def _pump_down(
        self, ws: ServerConnection, upstream: ClientConnection, conn: _ConnRecorder
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
                    self.errors.append(f"conn {conn.conn}: unrecorded server frame: {exc}")
                await ws.send(message)
        except ConnectionClosed as closed:
            if ws.state.name != "OPEN":
                return  # the client left first; the upstream close is ours
            received = closed.rcvd
            if received is None:
                conn._add(drop=True)
                ws.transport.abort()
                return
            code = received.code if received.code not in (1005, 1006, 1015) else 1000
            conn._add(close={"code": code, "reason": received.reason})
            with contextlib.suppress(ConnectionClosed):
                await ws.close(code, received.reason)
