"""uvicorn's WebSocket protocol with what the bridge promises its clients on the way out.

Two gaps of the stock protocol (``websockets`` sans-I/O) are closed here:

- **Oversized frames get ``frame_too_big`` before 1009.** The library's ``max_size``
  (``ws_max_size``, set to ``limits.max_frame_bytes`` exactly) refuses a frame from its
  header, before buffering its payload, and closes with 1009 at once. The bridge's own
  check sees only frames under that limit, so without this class a frame far over the
  limit got a bare 1009. Now the error event is written just before the close frame.
- **Final frames are written even to a client that stopped reading.** A send waits until
  the socket drains; for a client that stopped reading it never does, so the bridge's
  ``slow_consumer`` event and 4410 close were never written. Messages that carry
  ``URGENT`` (offered to the app as the ASGI extension ``URGENT``) skip that wait: the
  frames join the socket's buffer after what is already there, and reach the client
  when it reads again. A connection whose buffer still has not drained ``close_timeout``
  seconds after the close is aborted, so a client that never reads again cannot hold a
  file descriptor for ever.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.frames import Close, CloseCode, Frame, Opcode

from . import protocol as p

URGENT = p.URGENT_SEND


class BridgeWebSocketProtocol(WebSocketsSansIOProtocol):
    """The WebSocket protocol ``realtalk api`` runs (see the module docstring)."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][URGENT] = {}

    def handle_parser_exception(self) -> None:
        exc = self.conn.parser_exc
        if isinstance(exc, PayloadTooBig) and self.handshake_complete and not self.close_sent:
            self.conn.data_to_send()  # the library's close frame: replaced by ours below
            size = exc.size if exc.size is None else exc.size + (exc.current_size or 0)
            limit = self.config.ws_max_size
            event = p.error_frame("frame_too_big", p.frame_too_big_message(size, limit), fatal=True)
            frames = (
                Frame(Opcode.TEXT, event.encode()),
                Frame(Opcode.CLOSE, Close(CloseCode.MESSAGE_TOO_BIG, "frame too big").serialize()),
            )
            for frame in frames:
                self.transport.write(frame.serialize(mask=False, extensions=self.conn.extensions))
        super().handle_parser_exception()

    async def send(self, message: Any) -> None:
        if message.get(URGENT) and self.handshake_complete and not self.writable.is_set():
            waiting, self.writable = self.writable, _open_event()
            try:
                await super().send(message)  # writes at once: the wait is its only await
            finally:
                self.writable = waiting
        else:
            await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self._close_or_abort)

    def _close_or_abort(self) -> None:
        if self.transport.get_write_buffer_size():
            self.transport.abort()  # the client never read its close: free the socket
        else:
            self.transport.close()


def _open_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


__all__ = ["URGENT", "BridgeWebSocketProtocol"]
