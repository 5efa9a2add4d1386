"""An in-memory stand-in for the WebSocket google-genai opens, for transport unit tests.

The real SDK code runs unchanged; only ``google.genai.live.ws_connect`` is replaced, so the
frames recorded here are exactly what the SDK would put on the wire. Scripted, no clocks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.frames import Close


@dataclass(frozen=True)
class CloseWith:
    """Server closes with ``code`` (``None``: the TCP connection dies, no close frame)."""

    code: int | None
    reason: str = ""


class FakeWebSocket:
    def __init__(self, frames: list[dict[str, Any] | CloseWith]) -> None:
        self.sent: list[dict[str, Any]] = []
        self.uri = ""
        self.headers: dict[str, str] = {}
        self._incoming: asyncio.Queue[dict[str, Any] | CloseWith] = asyncio.Queue()
        self._closed: ConnectionClosedInfo | None = None
        for frame in frames:
            self._incoming.put_nowait(frame)

    def push(self, frame: dict[str, Any] | CloseWith) -> None:
        self._incoming.put_nowait(frame)

    def kill(self, code: int | None = None) -> None:
        """The connection dies; nobody is reading yet, the next send finds out."""
        self._closed = ConnectionClosedInfo(code, "", by_client=False)

    @property
    def closed_by_client(self) -> bool:
        return self._closed is not None and self._closed.by_client

    def _error(self) -> websockets.ConnectionClosed:
        assert self._closed is not None
        return self._closed.error()

    async def send(self, data: str) -> None:
        if self._closed is not None:
            raise self._error()
        self.sent.append(json.loads(data))

    async def recv(self, decode: bool | None = None) -> bytes:
        if self._closed is not None:
            raise self._error()
        item = await self._incoming.get()
        if self._closed is not None:
            raise self._error()
        if isinstance(item, CloseWith):
            self._closed = ConnectionClosedInfo(item.code, item.reason, by_client=False)
            raise self._error()
        return json.dumps(item).encode()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is None:
            self._closed = ConnectionClosedInfo(code, reason, by_client=True)
            self._incoming.put_nowait(CloseWith(code, reason))


@dataclass
class ConnectionClosedInfo:
    code: int | None
    reason: str
    by_client: bool = False

    def error(self) -> websockets.ConnectionClosed:
        if self.code is None:
            return websockets.ConnectionClosedError(None, None)
        close = Close(self.code, self.reason)
        if self.by_client:
            return websockets.ConnectionClosedOK(close, close, False)
        if self.code in (1000, 1001):
            return websockets.ConnectionClosedOK(close, close, True)
        return websockets.ConnectionClosedError(close, close, True)


@dataclass
class FakeServer:
    """Hands out one scripted FakeWebSocket per connection, in order."""

    scripts: list[list[dict[str, Any] | CloseWith]]
    sockets: list[FakeWebSocket] = field(default_factory=list)

    @asynccontextmanager
    async def connect(
        self, uri: str, additional_headers: Any = None, **_: Any
    ) -> AsyncIterator[FakeWebSocket]:
        if len(self.sockets) >= len(self.scripts):
            raise AssertionError(f"unexpected connection number {len(self.sockets) + 1}")
        ws = FakeWebSocket(self.scripts[len(self.sockets)])
        ws.uri = uri
        ws.headers = dict(additional_headers or {})
        self.sockets.append(ws)
        try:
            yield ws
        finally:
            await ws.close()

    def setup_frame(self, conn: int = 0) -> dict[str, Any]:
        frame = self.sockets[conn].sent[0]
        assert set(frame) == {"setup"}, frame
        setup: dict[str, Any] = frame["setup"]
        return setup
