"""Drive the real google-genai SDK through a cassette from the client side.

For every connection the driver connects (presenting the handle the ``connect`` line
asks for), performs each ``send`` line with the SDK's public methods and checks that
each ``recv`` line arrives as the SDK's parsed message, that ``close`` surfaces as
``APIError.code`` = the recorded code and that ``drop`` surfaces as 1006.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from google import genai
from google.genai import _live_converters, errors, types

from realtalk_testing.cassette import Cassette, CloseLine, ConnectLine, DropLine, RecvLine, SendLine
from realtalk_testing.gemini_wire import decode_b64

MODEL = "gemini-live-2.5-flash-preview"


def expected_message(frame: dict[str, Any]) -> types.LiveServerMessage:
    """What the SDK should yield for a server frame (its own converter, independent bytes)."""
    converted = _live_converters._LiveServerMessage_from_mldev(frame)
    return types.LiveServerMessage._from_response(response=converted, kwargs={})


@dataclass
class Observed:
    """What the client saw, per connection: messages (dumped) and how it ended."""

    messages: list[list[dict[str, Any]]] = field(default_factory=list)
    ends: list[int | None] = field(default_factory=list)


async def _messages(session: Any) -> AsyncGenerator[types.LiveServerMessage, None]:
    while True:
        async for message in session.receive():
            yield message


def _audio_needed(line: SendLine, rate: int = 16000) -> int:
    need = 1
    if line.min_bytes is not None:
        need = max(need, line.min_bytes)
    if line.min_seconds is not None:
        need = max(need, int(line.min_seconds * rate * 2))
    return need


async def perform_send(session: Any, line: SendLine, audio: bytes) -> None:
    """Send what ``line`` expects using the SDK's public API."""
    frame = dict(line.frame or (line.match.subset or {}))
    kind = line.kind
    if kind == "realtime_input.audio":
        blob = (frame.get("realtimeInput") or {}).get("audio") or {}
        if "data" in blob and line.min_bytes is None and line.min_seconds is None:
            data = decode_b64(blob["data"])
            await session.send_realtime_input(
                audio=types.Blob(data=data, mime_type=blob.get("mimeType", "audio/pcm;rate=16000"))
            )
            return
        need, sent, pos = _audio_needed(line), 0, 0
        while sent < need:
            chunk = audio[pos : pos + 3200] or b"\0" * 3200
            pos += 3200
            await session.send_realtime_input(
                audio=types.Blob(data=chunk, mime_type="audio/pcm;rate=16000")
            )
            sent += len(chunk)
    elif kind == "realtime_input.video":
        blob = frame["realtimeInput"]["video"]
        await session.send_realtime_input(
            video=types.Blob(data=decode_b64(blob["data"]), mime_type=blob["mimeType"])
        )
    elif kind == "realtime_input.text":
        await session.send_realtime_input(text=frame["realtimeInput"]["text"])
    elif kind == "realtime_input.activity_start":
        await session.send_realtime_input(activity_start=types.ActivityStart())
    elif kind == "realtime_input.activity_end":
        await session.send_realtime_input(activity_end=types.ActivityEnd())
    elif kind == "realtime_input.audio_stream_end":
        await session.send_realtime_input(audio_stream_end=True)
    elif kind == "client_content":
        body = frame.get("clientContent", {})
        turns = [types.Content.model_validate(t) for t in body.get("turns", [])]
        await session.send_client_content(
            turns=turns, turn_complete=bool(body.get("turnComplete", True))
        )
    elif kind == "tool_response":
        responses = [
            types.FunctionResponse(
                id=r.get("id"), name=r.get("name"), response=r.get("response", {"ok": True})
            )
            for r in frame["toolResponse"]["functionResponses"]
        ]
        await session.send_tool_response(function_responses=responses)
    else:  # pragma: no cover - shipped cassettes do not use other kinds
        raise AssertionError(f"driver cannot send {kind}")


async def drive(
    cassette: Cassette,
    http_options: types.HttpOptionsDict,
    *,
    audio: bytes = b"",
    check: bool = True,
) -> Observed:
    """Play the client side of ``cassette``; assert each recv/close/drop when ``check``."""
    client = genai.Client(api_key="test-key", http_options=http_options)
    observed = Observed()
    for conn in cassette.conns:
        lines = cassette.lines_for(conn)
        handle = None
        if lines and isinstance(lines[0], ConnectLine) and lines[0].requires_handle:
            handle = lines[0].handle
        body = [ln for ln in lines if not isinstance(ln, ConnectLine)]
        if body and isinstance(body[0], SendLine) and body[0].kind == "setup":
            body = body[1:]
        if body and isinstance(body[0], RecvLine) and "setupComplete" in body[0].frame:
            body = body[1:]
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            session_resumption=types.SessionResumptionConfig(handle=handle),
        )
        seen: list[dict[str, Any]] = []
        observed.messages.append(seen)
        refused = bool(body) and isinstance(body[0], CloseLine | DropLine)
        if refused:
            try:
                async with client.aio.live.connect(model=MODEL, config=config):
                    raise AssertionError("setup should have been refused")
            except errors.APIError as exc:
                observed.ends.append(exc.code)
                if check:
                    want = body[0].code if isinstance(body[0], CloseLine) else 1006
                    assert exc.code == want, (exc.code, want)
            continue
        end: int | None = None
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            stream = _messages(session)
            for line in body:
                if isinstance(line, SendLine):
                    if not line.optional:
                        await perform_send(session, line, audio)
                elif isinstance(line, RecvLine):
                    message = await anext(stream)
                    seen.append(message.model_dump(exclude_none=True))
                    if check:
                        assert message == expected_message(dict(line.frame)), line.lineno
                        _check_audio_bytes(message, line.frame)
                elif isinstance(line, CloseLine | DropLine):
                    try:
                        extra = await anext(stream)
                        raise AssertionError(f"expected a close, got {extra}")
                    except errors.APIError as exc:
                        end = exc.code
                    if check:
                        want = line.code if isinstance(line, CloseLine) else 1006
                        assert end == want, (end, want, line.lineno)
            await stream.aclose()
        observed.ends.append(end)
    return observed


def _check_audio_bytes(message: types.LiveServerMessage, frame: Any) -> None:
    """Audio arrives byte-exact (independently of the SDK's own converter)."""
    parts = ((frame.get("serverContent") or {}).get("modelTurn") or {}).get("parts") or []
    for i, part in enumerate(parts):
        inline = part.get("inlineData")
        if inline:
            assert message.server_content is not None
            assert message.server_content.model_turn is not None
            got = message.server_content.model_turn.parts[i].inline_data  # type: ignore[index]
            assert got is not None and got.data == base64.b64decode(inline["data"])
