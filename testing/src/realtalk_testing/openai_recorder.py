"""OpenAICassetteRecorder: a recording TLS proxy between an OpenAI Realtime client and an
upstream (real OpenAI by default), writing an OpenAI cassette.

Point the provider at ``recorder.provider_options`` exactly as at a FakeOpenAIServer;
every event is forwarded both ways and written as cassette lines, so a scenario recorded
once with a key replays offline forever. Secrets never reach the file: headers are not
recorded and every line is scrubbed of the keys seen on the way.

What gets written, per connection: ``recv`` lines for server events (verbatim, model
audio optionally cut to ``max_audio_bytes`` per delta); ``send`` lines for client events:
``session.update`` (match ``key``), text messages (``exact``), images and tool outputs
(``subset`` of their type, role or call id), truncations (``subset`` of the item id),
other kinds (``key``). Client audio is never stored: the audio streamed before the server
reacts (speech started, buffer committed, response created) becomes one ``send`` line
with ``min_bytes``. The upstream's close becomes ``close``; an abort becomes ``drop``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .cassette import Cassette
from .openai_server import FAKE_API_KEY
from .openai_wire import audio_bytes, frame_kind, normalize_frame, openai_cassette_from_dicts
from .tls import LocalTLS, local_tls

__all__ = ["OPENAI_BASE_URL", "OpenAICassetteRecorder"]

OPENAI_BASE_URL = "wss://api.openai.com/v1"
_REDACTED = "<redacted>"
_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
_REACTIONS = frozenset(
    {"input_audio_buffer.speech_started", "input_audio_buffer.committed", "response.created"}
)


class _ConnRecorder:
    """Turns one connection's traffic into cassette line dicts."""

    def __init__(self, rec: OpenAICassetteRecorder, conn: int) -> None:
        self.rec = rec
        self.conn = conn
        self.audio = 0

    def add(self, **action: Any) -> None:
        self.rec._lines.append({"conn": self.conn, **action})

    def flush_audio(self) -> None:
        if self.audio:
            self.add(send="input_audio_buffer.append", min_bytes=self.audio)
            self.audio = 0

    def client_event(self, raw: dict[str, Any]) -> None:
        frame = normalize_frame(raw)
        kind = frame_kind(frame)
        if kind == "input_audio_buffer.append":
            self.audio += audio_bytes(frame)
            return
        self.flush_audio()
        if kind == "session.update":
            session = frame.get("session")
            if self.rec.model is None and isinstance(session, dict) and session.get("model"):
                self.rec.model = str(session["model"])
            self.add(send="session.update")
        elif kind == "conversation.item.create":
            raw_item = frame.get("item")
            item: dict[str, Any] = raw_item if isinstance(raw_item, dict) else {}
            raw_parts = item.get("content")
            parts: list[Any] = raw_parts if isinstance(raw_parts, list) else []
            if item.get("type") == "function_call_output":
                subset = {"item": {"type": item["type"], "call_id": item.get("call_id")}}
                self.add(send=kind, match={"subset": subset})
            elif any(isinstance(p, dict) and p.get("type") == "input_image" for p in parts):
                self.add(send=kind, match={"subset": {"item": {"role": item.get("role")}}})
            else:
                self.add(send=frame, match="exact")
        elif kind == "conversation.item.truncate":
            self.add(send=kind, match={"subset": {"item_id": frame.get("item_id")}})
        else:
            self.add(send=kind)

    def server_event(self, event: dict[str, Any]) -> None:
        if event.get("type") in _REACTIONS:
            self.flush_audio()
        limit = self.rec.max_audio_bytes
        delta = event.get("delta")
        if event.get("type") in _AUDIO_DELTAS and limit is not None and isinstance(delta, str):
            data = base64.b64decode(delta)
            if len(data) > limit:
                event = {**event, "delta": base64.b64encode(data[: limit - limit % 2]).decode()}
        self.add(recv=event)


class OpenAICassetteRecorder:
    """Record an OpenAI cassette by proxying a live Realtime session.

    ``upstream`` is the Realtime base URL (default ``wss://api.openai.com/v1``; a
    FakeOpenAIServer's ``base_url`` works too, with ``upstream_ssl``). ``api_key`` (e.g.
    from ``OPENAI_API_KEY``) replaces whatever key the client sent, so the client may use a
    dummy key. The cassette is written at exit.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        upstream: str = OPENAI_BASE_URL,
        upstream_ssl: ssl.SSLContext | None = None,
        api_key: str | None = None,
        max_audio_bytes: int | None = None,
        header: dict[str, Any] | None = None,
        tls: LocalTLS | None = None,
    ) -> None:
        self.path = Path(path)
        self.upstream = upstream.rstrip("/")
        self.upstream_ssl = upstream_ssl
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
            raise RuntimeError("OpenAICassetteRecorder is not running; use `async with`")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def provider_options(self) -> dict[str, Any]:
        """Same shape as ``FakeOpenAIServer.provider_options`` (with a dummy key)."""
        return {
            "api_key": FAKE_API_KEY,
            "base_url": f"wss://127.0.0.1:{self.port}/v1",
            "ssl": self._tls.client_context,
        }

    async def __aenter__(self) -> OpenAICassetteRecorder:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            ssl=self._tls.server_context,
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
        header: dict[str, Any] = {}
        if self.model:
            header["model"] = self.model
        header["recorded"] = f"recorded by OpenAICassetteRecorder from {self.upstream}"
        header.update(self._extra_header)
        lines = [self._scrub(line) for line in self._lines]
        return openai_cassette_from_dicts(self._scrub(header), lines, source=str(self.path))

    def _scrub(self, obj: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(obj, ensure_ascii=False)
        secrets = sorted((s for s in self._secrets if s), key=len, reverse=True)
        if not any(s in text for s in secrets):
            return obj
        for secret in secrets:
            text = text.replace(secret, _REDACTED)
        result: dict[str, Any] = json.loads(text)
        return result

    def _hide(self, exc: BaseException) -> str:
        text = str(exc)
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def _upstream_headers(self, ws: ServerConnection) -> dict[str, str]:
        headers: dict[str, str] = {}
        request = ws.request
        for name in ("authorization", "api-key", "openai-organization", "openai-project"):
            value = request.headers.get(name) if request is not None else None
            if value:
                headers[name] = value
                self._secrets.add(value)
                self._secrets.add(value.removeprefix("Bearer ").strip())
        if self.api_key:
            headers.pop("api-key", None)
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    async def _handle(self, ws: ServerConnection) -> None:
        self._conns += 1
        conn = _ConnRecorder(self, self._conns)
        path = ws.request.path if ws.request else "/realtime"
        query = path.split("?", 1)[1] if "?" in path else ""
        url = f"{self.upstream}/realtime" + (f"?{query}" if query else "")
        ssl_ctx = self.upstream_ssl or (
            ssl.create_default_context() if url.startswith("wss") else None
        )
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

    async def _pump_up(
        self, ws: ServerConnection, upstream: ClientConnection, conn: _ConnRecorder
    ) -> None:
        """Client -> upstream. The client leaving closes the upstream (nothing recorded)."""
        try:
            async for message in ws:
                try:
                    raw = json.loads(message)
                    if isinstance(raw, dict):
                        conn.client_event(raw)
                except ValueError as exc:
                    self.errors.append(f"conn {conn.conn}: unrecorded client event: {exc}")
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
                    event = json.loads(message)
                    if isinstance(event, dict):
                        conn.server_event(event)
                except ValueError as exc:
                    self.errors.append(f"conn {conn.conn}: unrecorded server event: {exc}")
                await ws.send(message)
        except ConnectionClosed as closed:
            if ws.state.name != "OPEN":
                return  # the client left first; the upstream close is ours
            received = closed.rcvd
            conn.flush_audio()
            if received is None:
                conn.add(drop=True)
                ws.transport.abort()
                return
            code = received.code if received.code not in (1005, 1006, 1015) else 1000
            conn.add(close={"code": code, "reason": received.reason})
            with contextlib.suppress(ConnectionClosed):
                await ws.close(code, received.reason)
