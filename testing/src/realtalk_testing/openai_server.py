"""FakeOpenAIServer: replays a cassette over the OpenAI Realtime WebSocket protocol.

The real OpenAI provider (or any Realtime client) connects to it with
``provider_options=server.provider_options``; the server checks every client event
against the cassette, sends the recorded server events, closes or aborts where the
cassette says, and reports what was played. It never waits on the wall clock: each
connection advances only when a client event arrives, and ends when its lines are done
or the client leaves. Served over TLS on 127.0.0.1 with a throw-away CA.
"""

from __future__ import annotations

import ssl
from typing import Any, ClassVar

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .cassette import CassetteLine, CloseLine, ConnectLine, DropLine, RecvLine
from .openai_wire import (
    AUDIO_RATE,
    STREAMING_KINDS,
    audio_bytes,
    frame_kind,
    load_openai_cassette,
    match_frame,
    normalize_frame,
)
from .replay import ReplayServer, ReplayWire, redact_headers

__all__ = ["FAKE_API_KEY", "FakeOpenAIServer"]

FAKE_API_KEY = "sk-fake-realtalk-test"
"""The key `FakeOpenAIServer.provider_options` carries (the server checks presence only)."""

_SECRET_HEADERS = ("api-key", "openai-organization", "openai-project")


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


def _check_connect(line: ConnectLine, update: dict[str, Any]) -> str | None:
    if line.subset is None:
        return None
    from .gemini_wire import MatchSpec

    spec = MatchSpec("subset", subset={"type": "session.update", "session": dict(line.subset)})
    return match_frame(None, "session.update", spec, update)


_WIRE = ReplayWire(
    load=load_openai_cassette,
    normalize=normalize_frame,
    kind=frame_kind,
    match=match_frame,
    blob_bytes=audio_bytes,
    audio_rate=lambda frame: AUDIO_RATE,
    streaming_kinds=STREAMING_KINDS,
    first_kind="session.update",
    first_wrong="expected session.update, got {}",
    check_connect=_check_connect,
    describe_connect=lambda line: "connect subset",
    first_always=False,
    label="line",
    noun="event",
    explain_strict_streaming=False,
)


class FakeOpenAIServer(ReplayServer):
    """Serve an OpenAI cassette to Realtime clients on ``127.0.0.1`` over TLS.

    ``cassette`` is a path, the name of a shipped OpenAI cassette or a loaded
    `Cassette`. ``strict`` (default True) makes ``__aexit__`` raise
    `CassetteMismatchError` when lines were left unplayed or events mismatched.
    ``session.created`` (on connect, unless the connection's lines list it) and
    ``session.updated`` (after the first ``session.update``, unless the next line answers
    it with ``session.updated`` or ``error`` or ends the connection) are sent implicitly.
    """

    _wire: ClassVar[ReplayWire] = _WIRE
    _name: ClassVar[str] = "FakeOpenAIServer"

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

    def received(self, conn: int = 1) -> list[dict[str, Any]]:
        """Normalised client events connection ``conn`` sent."""
        return super().received(conn)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if not path.endswith(("/v1/realtime", "/openai/realtime")):
            return connection.respond(404, f"not a Realtime path: {path}\n")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") and not request.headers.get("api-key"):
            return connection.respond(401, "missing API key\n")
        return None

    def _headers(self, headers: Headers | dict[str, str]) -> dict[str, str]:
        return {
            k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v)
            for k, v in redact_headers(headers).items()
        }

    async def _before_refusal(self, ws: ServerConnection, conn: int) -> None:
        await self._send(ws, _session_created(conn))

    async def _greet(self, ws: ServerConnection, conn: int, lines: list[CassetteLine]) -> None:
        listed = {ln.frame.get("type") for ln in lines if isinstance(ln, RecvLine)}
        refused = bool(lines) and isinstance(lines[0], CloseLine | DropLine)
        if "session.created" not in listed and not refused:
            await self._send(ws, _session_created(conn))

    async def _answer(
        self, ws: ServerConnection, first: dict[str, Any], lines: list[CassetteLine]
    ) -> None:
        if _needs_implicit_updated(lines):
            await self._send(ws, {"type": "session.updated", "session": first["session"]})
