"""FakeGeminiServer: replays a cassette over the Gemini Live WebSocket protocol.

The real google-genai SDK (and so the real Gemini provider) connects to it through
``http_options``; the server checks every frame the client sends against the cassette,
sends the recorded server frames, closes or aborts where the cassette says, and reports
what was played. It never waits on the wall clock: each connection's handler advances
only when a frame arrives, and it ends when its lines are done or the client leaves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .cassette import Cassette, CassetteLine, CloseLine, ConnectLine, DropLine, RecvLine
from .gemini_wire import (
    MARKER_KINDS,
    STREAMING_KINDS,
    MatchSpec,
    audio_rate,
    blob_bytes,
    frame_kind,
    match_frame,
    normalize_frame,
)
from .replay import ReplayServer, ReplayWire, redact_headers, redact_path

if TYPE_CHECKING:
    from google.genai.types import HttpOptionsDict

__all__ = ["LIVE_PATH_SUFFIX", "FakeGeminiServer", "redact_headers", "redact_path"]

LIVE_PATH_SUFFIX = "GenerativeService.BidiGenerateContent"


def _load(cassette: str | Path | Cassette) -> Cassette:
    return cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)


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


_WIRE = ReplayWire(
    load=_load,
    normalize=normalize_frame,
    kind=frame_kind,
    match=match_frame,
    blob_bytes=blob_bytes,
    audio_rate=audio_rate,
    streaming_kinds=STREAMING_KINDS,
    video_kinds=frozenset({"realtime_input.video"}),
    marker_kinds=MARKER_KINDS,
    first_kind="setup",
    first_wrong="expected setup first, got {}",
    check_connect=_check_connect,
    describe_connect=_describe_connect,
    label="cassette line",
    noun="frame",
    explain_strict_streaming=True,
)


class FakeGeminiServer(ReplayServer):
    """Serve a cassette to Gemini Live clients on ``127.0.0.1`` over TLS.

    ``strict`` (default True) makes ``__aexit__`` raise `CassetteMismatchError`
    when lines were left unplayed or frames mismatched; with ``strict=False`` inspect
    `report` yourself. ``exit_timeout`` bounds how long ``__aexit__`` lets a
    connection that is still in the middle of its lines finish (frames in flight).
    """

    _wire: ClassVar[ReplayWire] = _WIRE
    _name: ClassVar[str] = "FakeGeminiServer"

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

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if not path.endswith(LIVE_PATH_SUFFIX):
            return connection.respond(404, f"not a Gemini Live path: {path}\n")
        return None

    async def _answer(
        self, ws: ServerConnection, first: dict[str, Any], lines: list[CassetteLine]
    ) -> None:
        if _needs_implicit_setup_complete(lines):
            await self._send(ws, {"setupComplete": {}})
