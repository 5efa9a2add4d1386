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

import base64
import ssl
from pathlib import Path
from typing import Any, ClassVar

from websockets.asyncio.server import ServerConnection

from .cassette import Cassette
from .openai_server import FAKE_API_KEY
from .openai_wire import audio_bytes, frame_kind, normalize_frame, openai_cassette_from_dicts
from .proxy import ConnRecorder, RecordingProxy
from .tls import LocalTLS

__all__ = ["OPENAI_BASE_URL", "OpenAICassetteRecorder"]

OPENAI_BASE_URL = "wss://api.openai.com/v1"
_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
_REACTIONS = frozenset(
    {"input_audio_buffer.speech_started", "input_audio_buffer.committed", "response.created"}
)


class _ConnRecorder(ConnRecorder):
    """Turns one OpenAI connection's traffic into cassette line dicts."""

    def __init__(self, rec: OpenAICassetteRecorder, conn: int) -> None:
        super().__init__(rec, conn)
        self.rec: OpenAICassetteRecorder = rec
        self.audio = 0

    def flush_audio(self) -> None:
        if self.audio:
            self.add(send="input_audio_buffer.append", min_bytes=self.audio)
            self.audio = 0

    def client_frame(self, raw: dict[str, Any]) -> None:
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

    def server_frame(self, event: dict[str, Any]) -> None:
        if event.get("type") in _REACTIONS:
            self.flush_audio()
        limit = self.rec.max_audio_bytes
        delta = event.get("delta")
        if event.get("type") in _AUDIO_DELTAS and limit is not None and isinstance(delta, str):
            data = base64.b64decode(delta)
            if len(data) > limit:
                event = {**event, "delta": base64.b64encode(data[: limit - limit % 2]).decode()}
        self.add(recv=event)

    def closing(self) -> None:
        self.flush_audio()


class OpenAICassetteRecorder(RecordingProxy):
    """Record an OpenAI cassette by proxying a live Realtime session.

    ``upstream`` is the Realtime base URL (default ``wss://api.openai.com/v1``; a
    FakeOpenAIServer's ``base_url`` works too, with ``upstream_ssl``). ``api_key`` (e.g.
    from ``OPENAI_API_KEY``) replaces whatever key the client sent, so the client may use a
    dummy key. The cassette is written at exit.
    """

    _name: ClassVar[str] = "OpenAICassetteRecorder"
    _noun: ClassVar[str] = "event"

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
        super().__init__(
            path, api_key=api_key, max_audio_bytes=max_audio_bytes, header=header, tls=tls
        )
        self.upstream = upstream.rstrip("/")
        self.upstream_ssl = upstream_ssl

    @property
    def provider_options(self) -> dict[str, Any]:
        """Same shape as ``FakeOpenAIServer.provider_options`` (with a dummy key)."""
        return {
            "api_key": FAKE_API_KEY,
            "base_url": f"wss://127.0.0.1:{self.port}/v1",
            "ssl": self._tls.client_context,
        }

    def _recorded_from(self) -> str:
        return self.upstream

    def _make_cassette(
        self, header: dict[str, Any], lines: list[dict[str, Any]], source: str
    ) -> Cassette:
        return openai_cassette_from_dicts(header, lines, source=source)

    def _new_conn(self, conn: int) -> ConnRecorder:
        return _ConnRecorder(self, conn)

    def _upstream_target(self, ws: ServerConnection) -> tuple[str, ssl.SSLContext | None]:
        path = ws.request.path if ws.request else "/realtime"
        query = path.split("?", 1)[1] if "?" in path else ""
        url = f"{self.upstream}/realtime" + (f"?{query}" if query else "")
        ssl_ctx = self.upstream_ssl or (
            ssl.create_default_context() if url.startswith("wss") else None
        )
        return url, ssl_ctx

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
