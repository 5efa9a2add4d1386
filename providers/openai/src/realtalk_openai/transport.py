"""One OpenAI Realtime connection over a plain WebSocket (the ``websockets`` client).

Thin on purpose: what to send and how to read what arrives is the codec's job. This module
owns the socket's lifetime: the handshake (``session.created``, then ``session.update``
answered by ``session.updated``), reseeding, sends, the receive loop, and turning every way
the connection can end into a `ProviderDisconnected` classified
by close code, never by exception class. Credentials travel only in headers and never
appear in logs or errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from realtalk.events import RealtimeEvent
from realtalk.inputs import ActivityStart, InputItem
from realtalk.provider import (
    DisconnectKind,
    ProviderDisconnected,
    ProviderError,
    SessionSetup,
    classify_close_code,
)

from . import codec
from .options import ConnectOptions, resolve_connect_options, resolve_model

logger = logging.getLogger("realtalk_openai")

_ABNORMAL = 1006
_ROTATION_ERRORS = frozenset({"session_expired"})
"""Error codes after which the server closes on purpose: reconnect at once."""


def _close_of(exc: websockets.ConnectionClosed) -> tuple[int, str]:
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    return _ABNORMAL, "connection lost without a close frame"


def _handshake_kind(status: int) -> DisconnectKind:
    """HTTP refusals of the upgrade: 4xx (bad key, unknown model) cannot recover."""
    if status in (408, 429) or status >= 500:
        return DisconnectKind.TRANSIENT
    return DisconnectKind.FATAL


class OpenAISession:
    """A live connection; implements `realtalk.provider.ProviderSession`."""

    def __init__(self, ws: ClientConnection, decoder: codec.Decoder) -> None:
        self._ws = ws
        self._decoder = decoder
        self._lock = asyncio.Lock()
        self._closing = False
        self._ended: ProviderDisconnected | None = None
        self._last_error: str | None = None

    def _disconnect(self, code: int | None, reason: str) -> ProviderDisconnected:
        """Classify the end of the connection; remembered so later calls agree."""
        if self._ended is not None:
            return self._ended
        if self._closing:
            kind = DisconnectKind.CLOSED
        elif self._last_error in _ROTATION_ERRORS:
            kind = DisconnectKind.ROTATION
        else:
            kind = classify_close_code(code)
            if kind is DisconnectKind.CLOSED:
                kind = DisconnectKind.TRANSIENT  # the server ended a session we still wanted
        self._ended = ProviderDisconnected(kind, code=code, reason=reason)
        return self._ended

    async def _send(self, *frames: codec.Frame) -> None:
        if self._ended is not None:
            raise self._ended
        if self._closing:
            raise self._disconnect(1000, "connection closed by the client")
        async with self._lock:
            for frame in frames:
                try:
                    await self._ws.send(json.dumps(frame, ensure_ascii=False))
                except websockets.ConnectionClosed as exc:
                    raise self._disconnect(*_close_of(exc)) from exc

    async def send(self, item: InputItem) -> None:
        frames = codec.input_frames(item)  # bad items fail here, before touching the socket
        if isinstance(item, ActivityStart) and self._decoder.response_active:
            frames.insert(0, {"type": "response.cancel"})  # push to talk over the answer
        if not frames:
            if self._ended is not None:
                raise self._ended
            return
        await self._send(*frames)

    async def send_tool_result(
        self, call_id: str, name: str, result: Any, error: str | None = None
    ) -> None:
        if call_id not in self._decoder.known_calls:
            # a call from before a reconnect: this conversation has no such call id
            await self._send(codec.tool_note_frame(name, result, error), codec.RESPONSE_CREATE)
            return
        frames = [codec.tool_output_frame(call_id, result, error)]
        if self._decoder.answered(call_id):
            frames.append(dict(codec.RESPONSE_CREATE))
        await self._send(*frames)

    async def reseed(self, setup: SessionSetup) -> None:
        """Add persisted history as conversation items, asking for no reply."""
        frames = codec.reseed_frames(setup.history)
        if frames:
            await self._send(*frames)

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        """Neutral events until the connection ends (then ProviderDisconnected)."""
        if self._ended is not None:
            raise self._ended
        try:
            async for message in self._ws:
                try:
                    event = json.loads(message)
                    if not isinstance(event, dict):
                        raise ValueError("not a JSON object")
                    decoded = self._decoder.decode(event)
                except (ValueError, TypeError) as exc:
                    logger.warning("OpenAI Realtime sent an unreadable event: %s", exc)
                    ended = self._disconnect(None, f"unreadable server event: {exc}")
                    await self._shutdown()
                    raise ended from exc
                for out in decoded:
                    if out.type == "error":
                        self._last_error = out.code
                    yield out
                replies = self._decoder.take_outgoing()
                if replies:
                    with contextlib.suppress(ProviderDisconnected):
                        await self._send(*replies)  # the close itself is reported below
        except websockets.ConnectionClosed as exc:
            raise self._disconnect(*_close_of(exc)) from exc
        close = self._ws.close_code
        raise self._disconnect(
            close if close is not None else _ABNORMAL, self._ws.close_reason or ""
        )

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()

    async def close(self) -> None:
        """Close the connection (idempotent); ``events()`` then ends with CLOSED."""
        self._closing = True
        await self._shutdown()


async def _open_socket(options: ConnectOptions) -> ClientConnection:
    try:
        return await connect(
            options.url,
            additional_headers=options.headers,
            ssl=options.ssl,
            open_timeout=options.open_timeout,
            max_size=None,
            compression=None,
        )
    except websockets.InvalidStatus as exc:
        status = exc.response.status_code
        raise ProviderDisconnected(
            _handshake_kind(status), reason=f"WebSocket upgrade refused with HTTP {status}"
        ) from None
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        raise ProviderDisconnected(
            DisconnectKind.TRANSIENT, reason=f"cannot reach OpenAI Realtime: {exc}"
        ) from None


async def _expect(ws: ClientConnection, wanted: str, limit: float) -> dict[str, Any]:
    """Read until the ``wanted`` server event; an ``error`` first means a refused setup."""
    try:
        async with asyncio.timeout(limit):
            while True:
                event = json.loads(await ws.recv())
                if not isinstance(event, dict):
                    continue
                if event.get("type") == wanted:
                    return event
                if event.get("type") == "error":
                    error = codec.error_event(event)
                    raise ProviderError(
                        f"OpenAI Realtime refused the session ({error.code}): {error.message}"
                    )
    except websockets.ConnectionClosed as exc:
        code, reason = _close_of(exc)
        kind = classify_close_code(code)
        if kind is DisconnectKind.CLOSED:
            kind = DisconnectKind.TRANSIENT  # closed before the session ever started
        raise ProviderDisconnected(kind, code=code, reason=reason) from None
    except TimeoutError:
        raise ProviderDisconnected(
            DisconnectKind.TRANSIENT, reason=f"no {wanted} within {limit:g}s"
        ) from None
    except ValueError as exc:
        raise ProviderDisconnected(
            DisconnectKind.TRANSIENT, reason=f"unreadable server event: {exc}"
        ) from None


async def open_session(
    setup: SessionSetup,
    *,
    environ: Mapping[str, str] | None = None,
) -> OpenAISession:
    """Open one Realtime connection for ``setup``; reseed history (no reply asked)."""
    env = os.environ if environ is None else environ
    config = setup.config
    model = resolve_model(config.model, env)
    options = resolve_connect_options(config.provider_options, model, env)
    try:
        update = codec.session_update(setup, model)
    except ValueError as exc:
        raise ProviderError(f"invalid OpenAI Realtime settings: {exc}") from None
    truncate = config.provider_options.get("truncate_on_interrupt", True)
    decoder = codec.Decoder(
        truncate=bool(truncate), output_transcripts=config.output_audio_transcription
    )
    ws = await _open_socket(options)
    try:
        await _expect(ws, "session.created", options.open_timeout)
        await ws.send(json.dumps(update, ensure_ascii=False))
        await _expect(ws, "session.updated", options.open_timeout)
        live = OpenAISession(ws, decoder)
        if setup.history:
            await live.reseed(setup)
    except websockets.ConnectionClosed as exc:
        await ws.close()
        code, reason = _close_of(exc)
        raise ProviderDisconnected(DisconnectKind.TRANSIENT, code=code, reason=reason) from None
    except BaseException:
        await ws.close()
        raise
    return live


__all__ = ["OpenAISession", "open_session"]
