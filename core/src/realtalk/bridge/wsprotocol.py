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

And one shortcut (`DirectIO`, offered as the ASGI extension ``DIRECT_IO``): a session
may take binary frames in the protocol's own callback while nothing waits in the ASGI
queue, and write a frame at once while the socket has room. Each chunk then costs
no ASGI message and no wake-up of the session's reader or writer task; anything else
(text frames, a full socket, a frame the session declines) takes the ASGI path, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState, PayloadTooBig
from websockets.frames import Close, CloseCode, Frame, Opcode

from . import protocol as p

URGENT = p.URGENT_SEND
log = logging.getLogger("realtalk.bridge")

BinaryHandler = Callable[[Any], bool]
"""Takes a binary frame's payload; False leaves the frame to the ASGI queue."""


class DirectIO:
    """The session's shortcut to its connection (``scope["extensions"][DIRECT_IO]``)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: BridgeWebSocketProtocol) -> None:
        self._protocol: BridgeWebSocketProtocol | None = protocol
        """None once the connection is lost: the protocol's scope holds this object, so
        holding the protocol after that would be a reference cycle keeping the ended
        connection (socket, buffers, session) until the collector runs."""

    def take_binary(self, handler: BinaryHandler | None) -> None:
        """Offer every binary frame to ``handler`` first while the ASGI queue is empty
        (so nothing received earlier is still unread); ``None`` stops it."""
        if self._protocol is not None:
            self._protocol.binary_handler = handler

    def write(self, data: str | bytes) -> bool:
        """Write one frame now (text for a str, binary for bytes); False (nothing written)
        when the socket is full, the connection is closing or the handshake is not done:
        send it the ASGI way."""
        protocol = self._protocol
        if (
            protocol is None
            or not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
        ):
            return False
        try:
            if isinstance(data, str):
                protocol.conn.send_text(data.encode())
            else:
                protocol.conn.send_binary(data)
        except InvalidState:
            return False
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        return True


class BridgeWebSocketProtocol(WebSocketsSansIOProtocol):
    """The WebSocket protocol ``realtalk api`` runs (see the module docstring)."""

    binary_handler: BinaryHandler | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][URGENT] = {}
            scope["extensions"][p.DIRECT_IO] = DirectIO(self)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.binary_handler = None  # the session's bound method (a cycle through it)
        direct = getattr(self, "scope", {}).get("extensions", {}).get(p.DIRECT_IO)
        if isinstance(direct, DirectIO):
            direct._protocol = None

    def handle_bytes(self, event: Frame) -> None:
        handler = self.binary_handler
        if handler is not None and event.fin and not self.close_sent and self.queue.empty():
            try:
                if handler(event.data):
                    return
            except Exception:  # a bug in the shortcut: the ASGI way reports it as usual
                log.exception("the binary frame shortcut failed; it is off now")
                self.binary_handler = None
        super().handle_bytes(event)

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


__all__ = ["URGENT", "BinaryHandler", "BridgeWebSocketProtocol", "DirectIO"]
