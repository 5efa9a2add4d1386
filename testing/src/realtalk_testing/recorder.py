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

import base64
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .cassette import Cassette
from .gemini_server import LIVE_PATH_SUFFIX, redact_path
from .gemini_wire import blob_bytes, frame_kind, normalize_frame
from .proxy import ConnRecorder, RecordingProxy
from .tls import LocalTLS

if TYPE_CHECKING:
    from google.genai.types import HttpOptionsDict

__all__ = ["GEMINI_BASE_URL", "CassetteRecorder"]

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
_FORWARD_HEADERS = ("x-goog-api-key", "authorization", "x-goog-api-client", "user-agent")
_TRIGGERS = ("serverContent", "toolCall", "toolCallCancellation")


def _default_upstream_ssl() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi ships with google-genai
        return ssl.create_default_context()


class _ConnRecorder(ConnRecorder):
    """Turns one Gemini connection's traffic into cassette line dicts."""

    def __init__(self, rec: CassetteRecorder, conn: int) -> None:
        super().__init__(rec, conn)
        self.rec: CassetteRecorder = rec
        self.awaiting_reply = True
        self.audio_bytes = 0
        self.audio_mime = "audio/pcm;rate=16000"

    def _flush_audio(self) -> None:
        if self.audio_bytes:
            frame = {"realtimeInput": {"audio": {"mimeType": self.audio_mime}}}
            self.add(send=frame, min_bytes=self.audio_bytes)
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
                self.add(connect={"handle": handle})
            self.add(send="setup")
        elif kind in ("realtime_input.text", "client_content"):
            self.add(send=frame, match="exact")
        elif kind == "tool_response":
            calls = [
                {k: r[k] for k in ("id", "name") if k in r}
                for r in frame["toolResponse"].get("functionResponses", [])
            ]
            subset = {"toolResponse": {"functionResponses": calls}}
            self.add(send=frame, match={"subset": subset})
        elif kind == "realtime_input.video":
            video = frame["realtimeInput"].get("video") or {}
            self.add(send={"realtimeInput": {"video": {"mimeType": video.get("mimeType", "")}}})
        else:
            self.add(send=kind)

    def server_frame(self, frame: dict[str, Any]) -> None:
        content = frame.get("serverContent") or {}
        interrupted = isinstance(content, dict) and bool(content.get("interrupted"))
        if any(k in frame for k in _TRIGGERS) and (self.awaiting_reply or interrupted):
            self._flush_audio()
            self.awaiting_reply = False
        self.add(recv=self._truncate(frame))
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


class CassetteRecorder(RecordingProxy):
    """Record a cassette by proxying a live Gemini session.

    ``upstream`` is a base URL, an ``http_options``-style dict (``base_url`` plus
    optional ``async_client_args.ssl``, e.g. a FakeGeminiServer's) or None for the real
    Gemini API. ``api_key`` (e.g. from ``GEMINI_API_KEY``) replaces whatever key the
    client sent, so the client may use a dummy key. The cassette is written at exit.
    """

    _name: ClassVar[str] = "CassetteRecorder"

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
        super().__init__(
            path, api_key=api_key, max_audio_bytes=max_audio_bytes, header=header, tls=tls
        )
        if isinstance(upstream, Mapping):
            self.upstream_url = str(upstream["base_url"])
            args = upstream.get("async_client_args") or {}
            self.upstream_ssl: ssl.SSLContext | None = args.get("ssl")
        else:
            self.upstream_url = upstream or GEMINI_BASE_URL
            self.upstream_ssl = None
        self.upstream_url = self.upstream_url.rstrip("/")

    @property
    def http_options(self) -> HttpOptionsDict:
        """Same shape as ``FakeGeminiServer.http_options``."""
        return {
            "base_url": f"https://127.0.0.1:{self.port}",
            "api_version": "v1beta",
            "async_client_args": {"ssl": self._tls.client_context},
        }

    def _header_start(self) -> dict[str, Any]:
        return {"cassette": 1, "provider": "gemini"}

    def _recorded_from(self) -> str:
        return redact_path(self.upstream_url)

    def _make_cassette(
        self, header: dict[str, Any], lines: list[dict[str, Any]], source: str
    ) -> Cassette:
        return Cassette.from_dicts(header, lines, source=source)

    def _new_conn(self, conn: int) -> ConnRecorder:
        return _ConnRecorder(self, conn)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.split("?", 1)[0].endswith(LIVE_PATH_SUFFIX):
            return connection.respond(404, "not a Gemini Live path\n")
        return None

    def _upstream_target(self, ws: ServerConnection) -> tuple[str, ssl.SSLContext | None]:
        path = ws.request.path if ws.request else "/"
        url = self.upstream_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        ssl_ctx = self.upstream_ssl or (_default_upstream_ssl() if url.startswith("wss") else None)
        return url + path, ssl_ctx

    async def _refuse(self, ws: ServerConnection) -> None:
        await ws.recv()  # take the setup, so the client sees the close as an error
        await ws.close(1011, "recorder could not reach the upstream")

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
