"""One Gemini Live connection through google-genai's ``client.aio.live.connect``.

Thin on purpose: what to send and how to read what arrives is the codec's job. This module
owns the connection's lifetime and turns every way it can end into a
`ProviderDisconnected` classified by close code (and the provider
signals that go with it), never by exception class.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from typing import Any

import websockets
from google import genai
from google.genai import errors, types

from realtalk.events import GoAwayEvent, RealtimeEvent
from realtalk.inputs import AudioInput, InputItem
from realtalk.provider import (
    DisconnectKind,
    ProviderDisconnected,
    ProviderError,
    SessionSetup,
    classify_close_code,
)

from . import codec, frames
from .options import audio_fast_path, resolve_client_options, resolve_model

logger = logging.getLogger("realtalk_gemini")

_HANDLE_REFUSAL_CODES = frozenset({1007, 1008})
"""Close codes with which the server refuses a setup (invalid argument, policy)."""

_ABNORMAL = 1006


def _close_of(exc: BaseException) -> tuple[int | None, str]:
    """Close code and reason carried by an SDK or websockets exception, if any."""
    if isinstance(exc, errors.APIError):
        reason = exc.details if isinstance(exc.details, str) else (exc.message or "")
        return (int(exc.code) if exc.code is not None else None), str(reason or "")
    if isinstance(exc, websockets.ConnectionClosed):
        if exc.rcvd is not None:
            return exc.rcvd.code, exc.rcvd.reason
        return _ABNORMAL, "connection lost without a close frame"
    return None, ""


def _about_handle(reason: str) -> bool:
    """The server's close reason blames the resumption handle."""
    text = reason.lower()
    return "handle" in text or "resum" in text


_CLIENT_CACHE_SIZE = 16
_clients: OrderedDict[Hashable, genai.Client] = OrderedDict()


def _freeze(value: Any) -> Hashable:
    """A hashable key for client options; objects (an SSL context) count by identity."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return ("object", id(value))


def _client(kwargs: dict[str, Any]) -> genai.Client:
    """One ``genai.Client`` per distinct set of options, reused by every connection.

    Building a client loads a CA bundle into fresh SSL contexts (tens of milliseconds of
    CPU), which would otherwise be paid on every connect and reconnect. A Live connection
    uses the client only to open its socket, so sharing it changes nothing on the wire;
    the cache holds the options' objects alive, so identity keys stay unique.
    """
    key = _freeze(kwargs)
    client = _clients.get(key)
    if client is None:
        client = genai.Client(**kwargs)
        _clients[key] = client
        while len(_clients) > _CLIENT_CACHE_SIZE:
            _clients.popitem(last=False)
    else:
        _clients.move_to_end(key)
    return client


def _sdk_parser() -> Any:
    """google-genai's own frame -> ``LiveServerMessage`` conversion, if this SDK has it.

    The same steps ``AsyncSession._receive`` runs after reading a frame; looked up by name
    so an SDK that moved them makes the transport fall back to ``session.receive()``.
    """
    try:
        from google.genai import _live_converters as converters
    except ImportError:  # pragma: no cover - depends on the installed SDK
        return None
    convert = getattr(converters, "_LiveServerMessage_from_mldev", None)
    build = getattr(types.LiveServerMessage, "_from_response", None)
    if not callable(convert) or not callable(build):  # pragma: no cover - SDK dependent
        return None
    defaults = types.LiveServerMessage().model_dump()

    def parse(frame: dict[str, Any]) -> types.LiveServerMessage:
        converted = convert(frame)
        if not converted and frame:  # no field the SDK knows: an error payload
            code = frame.get("code")
            if isinstance(code, int):
                errors.APIError.raise_error(code, frame, None)
            raise ValueError(f"unrecognised server frame with keys {sorted(frame)[:8]}")
        message: types.LiveServerMessage = build(response=converted, kwargs=defaults)
        return message

    return parse


_parse_frame: Any = None


def _wire_of(session: Any) -> Any | None:
    """The SDK session's socket, when frames may be read and written on it directly.

    Only on the Gemini API (Vertex AI frames take other converters) and only when the SDK
    has what the fallback for non-audio frames needs; else ``None``: the SDK's methods.
    """
    global _parse_frame
    ws = getattr(session, "_ws", None)
    api = getattr(session, "_api_client", None)
    if ws is None or api is None or getattr(api, "vertexai", True) is not False:
        return None
    recv = getattr(ws, "recv", None)
    if not callable(recv) or not callable(getattr(ws, "send", None)):
        return None
    try:  # websockets < 13 (the legacy client) has no recv(decode=...)
        if "decode" not in inspect.signature(recv).parameters:
            return None
    except (TypeError, ValueError):  # pragma: no cover - an unintrospectable callable
        return None
    if _parse_frame is None:
        _parse_frame = _sdk_parser() or False
    return ws if _parse_frame else None


def clear_client_cache() -> int:
    """Forget every cached ``genai.Client`` (and the API keys they hold); returns how many.

    For key rotation or a process that should stop holding credentials: open sessions keep
    their sockets; the next connection builds a fresh client.
    """
    count = len(_clients)
    _clients.clear()
    return count


def _handshake_kind(exc: BaseException) -> DisconnectKind | None:
    """HTTP refusals of the WebSocket upgrade: 4xx (bad key, unknown path) cannot recover."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        return None
    if status in (408, 429) or status >= 500:
        return DisconnectKind.TRANSIENT
    return DisconnectKind.FATAL


class GeminiSession:
    """A live connection; implements `realtalk.provider.ProviderSession`."""

    def __init__(
        self,
        client: genai.Client,
        connection: contextlib.AbstractAsyncContextManager[Any],
        session: Any,
        *,
        presented_handle: bool,
        fast_path: bool = True,
    ) -> None:
        self._client = client
        self._connection = connection
        self._session = session
        self._wire = _wire_of(session) if fast_path else None
        self._presented_handle = presented_handle
        self._decoder = codec.Decoder()
        self._received = False
        self._go_away = False
        self._closing = False
        self._closed = False
        self._ended: ProviderDisconnected | None = None

    @property
    def session_id(self) -> str | None:
        """The server's id for this connection, when it sent one."""
        value = getattr(self._session, "session_id", None)
        return value if isinstance(value, str) else None

    def _disconnect(self, code: int | None, reason: str) -> ProviderDisconnected:
        """Classify the end of the connection; remembered so later calls agree."""
        if self._ended is not None:
            return self._ended
        if self._closing:
            kind = DisconnectKind.CLOSED
        elif (
            self._presented_handle
            and code in _HANDLE_REFUSAL_CODES
            and (not self._received or _about_handle(reason))
        ):
            kind = DisconnectKind.REJECTED_HANDLE
        else:
            kind = classify_close_code(code)
            if self._go_away and kind in (DisconnectKind.CLOSED, DisconnectKind.TRANSIENT):
                kind = DisconnectKind.ROTATION  # the server announced this close
        self._ended = ProviderDisconnected(kind, code=code, reason=reason)
        return self._ended

    def _check_open(self) -> None:
        """Raise the connection's end if it ended or the client is closing it."""
        if self._ended is not None:
            raise self._ended
        if self._closing:
            raise self._disconnect(1000, "connection closed by the client")

    async def _call(self, call: codec.SendCall) -> None:
        self._check_open()
        try:
            await getattr(self._session, call.method)(**call.kwargs)
        except (errors.APIError, websockets.ConnectionClosed) as exc:
            code, reason = _close_of(exc)
            raise self._disconnect(code, reason) from exc

    async def send(self, item: InputItem) -> None:
        if isinstance(item, AudioInput):
            codec.check_audio(item)  # bad items fail here, before touching the socket
            if not item.data:
                if self._ended is not None:
                    raise self._ended
                return  # nothing to say; an empty blob would only cost a frame
            wire = self._wire
            if wire is not None:  # a frame built by `frames`, on the SDK's socket
                self._check_open()
                text = frames.audio_input_text(item.data, item.sample_rate)
                try:
                    await wire.send(text)
                except websockets.ConnectionClosed as exc:
                    code, reason = _close_of(exc)
                    raise self._disconnect(code, reason) from exc
                return
        await self._call(codec.input_call(item))

    async def send_tool_result(
        self, call_id: str, name: str, result: Any, error: str | None = None
    ) -> None:
        await self._call(codec.tool_response_call(call_id, name, result, error))

    async def reseed(self, setup: SessionSetup) -> None:
        """Add persisted history as context without asking for a reply."""
        call = codec.reseed_call(setup.history)
        if call is not None:
            await self._call(call)

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        """Neutral events across turns (the SDK's ``receive()`` stops at each turn end)."""
        if self._ended is not None:
            raise self._ended
        try:
            if self._wire is not None:
                # the frame loop inline, not a nested generator: one generator frame per
                # event instead of two on the path every audio chunk takes
                decoder = self._decoder
                parse = _parse_frame
                recv = self._wire.recv
                audio_events = frames.audio_events
                audio_frame_events = frames.audio_frame_events
                while True:
                    raw = await recv(decode=False)
                    # the common frame (one part of model audio) read without json.loads
                    audio = audio_frame_events(raw) if type(raw) is bytes else None
                    if audio is None:
                        frame = json.loads(raw) if raw else {}
                        if type(frame) is not dict:
                            kind = type(frame).__name__
                            raise ValueError(f"a server frame must be a JSON object, got {kind}")
                        audio = audio_events(frame)
                    if audio is not None:
                        for event in decoder.decode_audio(audio):
                            yield event
                    else:
                        for event in decoder.decode(parse(frame)):
                            if isinstance(event, GoAwayEvent):
                                self._go_away = True
                            yield event
                    self._received = True
            else:
                while True:
                    async for message in self._session.receive():
                        for event in self._decoder.decode(message):
                            if isinstance(event, GoAwayEvent):
                                self._go_away = True
                            yield event
                        self._received = True
                    if self._ended is not None:
                        raise self._ended
        except (errors.APIError, websockets.ConnectionClosed) as exc:
            code, reason = _close_of(exc)
            raise self._disconnect(code, reason) from exc
        except (ValueError, TypeError) as exc:
            # An undecodable frame: this connection cannot be trusted any more.
            logger.warning("Gemini Live sent an unreadable frame: %s", exc)
            ended = self._disconnect(None, f"unreadable server frame: {exc}")
            await self._shutdown()
            raise ended from exc

    async def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._connection.__aexit__(None, None, None)
        except Exception as exc:  # closing a dead socket must not mask the real outcome
            logger.debug("closing the Gemini Live socket failed: %s", exc)
        # the client is shared (see _client) and holds no socket of this connection

    async def close(self) -> None:
        """Close the connection (idempotent); ``events()`` then ends with CLOSED."""
        self._closing = True
        await self._shutdown()


async def open_session(
    setup: SessionSetup,
    *,
    environ: Mapping[str, str] | None = None,
) -> GeminiSession:
    """Open one Live connection for ``setup``; reseed history when starting fresh."""
    env = os.environ if environ is None else environ
    options = resolve_client_options(setup.config.provider_options, env)
    try:
        client = _client(options.client_kwargs())
    except ValueError as exc:  # the SDK's own validation of options; never echoes keys
        raise ProviderError(f"cannot configure google-genai: {exc}") from None
    model = resolve_model(setup.config.model, env)
    try:
        config = codec.live_connect_config(setup)
    except ValueError as exc:
        raise ProviderError(f"invalid Gemini Live settings: {exc}") from None
    presented = bool(setup.resumption_handle) and setup.config.session_resumption
    connection = client.aio.live.connect(model=model, config=config)
    session = await _enter(connection, presented=presented)
    live = GeminiSession(
        client,
        connection,
        session,
        presented_handle=presented,
        fast_path=audio_fast_path(setup.config.provider_options, env),
    )
    if setup.history and not presented:
        try:
            await live.reseed(setup)
        except BaseException:
            await live.close()
            raise
    return live


async def _enter(
    connection: contextlib.AbstractAsyncContextManager[Any], *, presented: bool
) -> Any:
    """Open the socket and wait for ``setupComplete``, classifying every refusal."""
    try:
        return await connection.__aenter__()
    except (errors.APIError, websockets.ConnectionClosed) as exc:
        code, reason = _close_of(exc)
        if presented and code in _HANDLE_REFUSAL_CODES:
            kind = DisconnectKind.REJECTED_HANDLE
        else:
            kind = classify_close_code(code)
            if kind is DisconnectKind.CLOSED:
                kind = DisconnectKind.TRANSIENT  # closed before the session ever started
        raise ProviderDisconnected(kind, code=code, reason=reason) from exc
    except websockets.InvalidStatus as exc:
        refused = _handshake_kind(exc) or DisconnectKind.FATAL
        raise ProviderDisconnected(refused, reason=f"WebSocket upgrade refused: {exc}") from exc
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        raise ProviderDisconnected(
            DisconnectKind.TRANSIENT, reason=f"cannot reach Gemini Live: {exc}"
        ) from exc


__all__ = ["GeminiSession", "clear_client_cache", "open_session"]
