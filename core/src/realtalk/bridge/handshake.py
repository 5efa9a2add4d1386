"""Connections that never become sessions are closed.

uvicorn arms no timer on a new connection before its first request: a TCP connection
that sends nothing, or half a request line, stays open for ever, and a few hundred of
them exhaust the process's file descriptors so that no real client gets in. The
`HandshakeGuard` gives every connection ``limits.handshake_timeout`` seconds to
complete a request head (an HTTP request, or the WebSocket upgrade the bridge then
authenticates at once), and holds at most ``limits.max_pending_connections`` such
connections: one more closes the oldest waiting one, so a flood of idle sockets cannot
lock real clients out. The same bound applies again while a kept-alive HTTP connection
waits for its next request.

`guarded_http_protocol()` wraps uvicorn's HTTP protocol class with the guard; it
relies on what uvicorn's HTTP protocols (h11, httptools) share: ``cycle`` is the request
being served, ``on_response_complete`` and ``handle_websocket_upgrade`` are called when
a response ends and when a connection turns into a WebSocket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("realtalk.bridge")


class HandshakeGuard:
    """Bounds the time and number of connections that have not sent a request head."""

    def __init__(self, timeout: float, max_pending: int) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: dict[Any, tuple[asyncio.BaseTransport, asyncio.TimerHandle]] = {}
        self.timed_out = 0
        """Connections closed because their request head did not arrive in time."""
        self.evicted = 0
        """Connections closed to make room under ``max_pending``."""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def stats(self) -> dict[str, int]:
        """For ``/healthz``: connections waiting now, closed for time, closed for room."""
        return {
            "pending_connections": self.pending,
            "handshakes_timed_out": self.timed_out,
            "pending_connections_closed": self.evicted,
        }

    def wait(self, conn: Any, transport: asyncio.BaseTransport) -> None:
        """``conn`` now waits for a request head: start its clock (closing the oldest
        waiting connection when ``max_pending`` are waiting already)."""
        self.done(conn)
        while len(self._pending) >= self.max_pending:
            oldest = next(iter(self._pending))
            self._close(oldest)
            self.evicted += 1
            if self.evicted == 1 or self.evicted % 1000 == 0:
                log.warning(
                    "%d connections waiting for a request (limits.max_pending_connections); "
                    "closed the oldest (%d so far)",
                    self.max_pending,
                    self.evicted,
                )
        timer = asyncio.get_running_loop().call_later(self.timeout, self._expire, conn)
        self._pending[conn] = (transport, timer)

    def done(self, conn: Any) -> None:
        """``conn`` sent its request head (or is gone): stop its clock."""
        entry = self._pending.pop(conn, None)
        if entry is not None:
            entry[1].cancel()

    def _expire(self, conn: Any) -> None:
        if conn in self._pending:
            self._close(conn)
            self.timed_out += 1

    def _close(self, conn: Any) -> None:
        transport, timer = self._pending.pop(conn)
        timer.cancel()
        transport.close()  # nothing was answered yet: no buffered response to flush


def guarded_http_protocol(base: type[asyncio.Protocol], guard: HandshakeGuard) -> type[Any]:
    """A subclass of uvicorn's HTTP protocol ``base`` whose connections ``guard`` bounds."""
    parent: Any = base

    class GuardedHTTPProtocol(parent):  # type: ignore[misc]
        handshake_guard = guard
        _guarded_cycle: Any = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._guarded_cycle = getattr(self, "cycle", None)
            guard.wait(self, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            guard.done(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if getattr(self, "cycle", None) is not self._guarded_cycle:
                guard.done(self)  # a request head arrived: the app serves it now

        def on_response_complete(self) -> None:
            super().on_response_complete()
            transport = getattr(self, "transport", None)
            if transport is not None and not transport.is_closing():
                self._guarded_cycle = getattr(self, "cycle", None)
                guard.wait(self, transport)  # kept alive: waits for its next request

        def handle_websocket_upgrade(self, *args: Any) -> None:
            guard.done(self)  # the connection leaves this protocol; the bridge authenticates
            super().handle_websocket_upgrade(*args)

    GuardedHTTPProtocol.__name__ = GuardedHTTPProtocol.__qualname__ = f"Guarded{base.__name__}"
    return GuardedHTTPProtocol


__all__ = ["HandshakeGuard", "guarded_http_protocol"]
