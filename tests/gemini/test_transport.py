"""How a connection ends, as the runtime sees it: classified by close code and signals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from realtalk.config import RealtimeConfig
from realtalk.events import RealtimeEvent
from realtalk.inputs import TextInput
from realtalk.provider import (
    DisconnectKind,
    ProviderDisconnected,
    ProviderError,
    ProviderSession,
    SessionSetup,
)
from realtalk_gemini.provider import GeminiProvider

from ._fakews import CloseWith, FakeServer

MODEL = "gemini-live-2.5-flash-preview"
SETUP_COMPLETE: dict[str, Any] = {"setupComplete": {}}
TURN = [
    {"serverContent": {"outputTranscription": {"text": "Hi"}}},
    {"serverContent": {"turnComplete": True}},
]


def setup(handle: str | None = None, **options: Any) -> SessionSetup:
    config = RealtimeConfig(model=MODEL, provider_options={"api_key": "k", **options})
    return SessionSetup(config=config, resumption_handle=handle)


async def drain(session: ProviderSession) -> tuple[list[RealtimeEvent], ProviderDisconnected]:
    events: list[RealtimeEvent] = []
    with pytest.raises(ProviderDisconnected) as info:
        async for event in session.events():
            events.append(event)
    return events, info.value


async def test_one_receive_loop_across_turns(fake_server: Callable[..., FakeServer]) -> None:
    fake_server([SETUP_COMPLETE, *TURN, *TURN, CloseWith(1011, "internal")])
    session = await GeminiProvider().connect(setup())
    events, end = await drain(session)
    assert [e.type for e in events].count("turn_complete") == 2
    assert end.kind is DisconnectKind.TRANSIENT and end.code == 1011
    assert end.reason == "internal"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1000, DisconnectKind.CLOSED),
        (1001, DisconnectKind.ROTATION),
        (None, DisconnectKind.TRANSIENT),
        (1011, DisconnectKind.TRANSIENT),
        (1007, DisconnectKind.FATAL),
        (1008, DisconnectKind.FATAL),
        (4003, DisconnectKind.FATAL),
    ],
)
async def test_server_close_codes(
    fake_server: Callable[..., FakeServer], code: int | None, kind: DisconnectKind
) -> None:
    fake_server([SETUP_COMPLETE, *TURN, CloseWith(code, "bye")])
    session = await GeminiProvider().connect(setup())
    _, end = await drain(session)
    assert end.kind is kind
    assert end.code == (1006 if code is None else code)
    # Once ended, every later call reports the same end.
    with pytest.raises(ProviderDisconnected) as again:
        await session.send(TextInput(text="x"))
    assert again.value.kind is kind


async def test_own_close_ends_events_with_closed(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server([SETUP_COMPLETE])
    session = await GeminiProvider().connect(setup())
    reading = asyncio.ensure_future(drain(session))
    await asyncio.sleep(0)  # let the reader block in recv
    await session.close()
    await session.close()  # idempotent
    events, end = await reading
    assert events == []
    assert end.kind is DisconnectKind.CLOSED
    assert server.sockets[0].closed_by_client
    with pytest.raises(ProviderDisconnected) as after:
        await session.send(TextInput(text="late"))
    assert after.value.kind is DisconnectKind.CLOSED


async def test_send_after_server_close_is_provider_disconnected(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server([SETUP_COMPLETE, CloseWith(1011)])
    session = await GeminiProvider().connect(setup())
    _, end = await drain(session)
    with pytest.raises(ProviderDisconnected) as info:
        await session.send_tool_result("c", "f", 1)
    assert info.value is end


async def test_send_on_a_socket_that_died_unnoticed(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server([SETUP_COMPLETE])
    session = await GeminiProvider().connect(setup())
    server.sockets[0].kill()
    with pytest.raises(ProviderDisconnected) as info:
        await session.send(TextInput(text="x"))
    assert info.value.kind is DisconnectKind.TRANSIENT and info.value.code == 1006


async def test_go_away_then_close_is_rotation(fake_server: Callable[..., FakeServer]) -> None:
    fake_server([SETUP_COMPLETE, {"goAway": {"timeLeft": "5s"}}, CloseWith(1000)])
    session = await GeminiProvider().connect(setup())
    events, end = await drain(session)
    assert [e.type for e in events] == ["go_away"]
    assert end.kind is DisconnectKind.ROTATION and end.code == 1000


@pytest.mark.parametrize("code", [1007, 1008])
async def test_handle_refused_at_setup_is_rejected_handle(
    fake_server: Callable[..., FakeServer], code: int
) -> None:
    fake_server([CloseWith(code, "invalid handle")])
    with pytest.raises(ProviderDisconnected) as info:
        await GeminiProvider().connect(setup(handle="stale"))
    assert info.value.kind is DisconnectKind.REJECTED_HANDLE and info.value.code == code


async def test_handle_refused_right_after_setup_complete(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server([SETUP_COMPLETE, CloseWith(1008, "invalid handle")])
    session = await GeminiProvider().connect(setup(handle="stale"))
    _, end = await drain(session)
    assert end.kind is DisconnectKind.REJECTED_HANDLE


async def test_policy_close_later_in_a_resumed_session_is_fatal(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server([SETUP_COMPLETE, *TURN, CloseWith(1008, "policy")])
    session = await GeminiProvider().connect(setup(handle="good"))
    _, end = await drain(session)
    assert end.kind is DisconnectKind.FATAL


async def test_fresh_setup_refused_is_fatal_not_rejected_handle(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server([CloseWith(1007, "bad model")])
    with pytest.raises(ProviderDisconnected) as info:
        await GeminiProvider().connect(setup())
    assert info.value.kind is DisconnectKind.FATAL


async def test_drop_during_setup_is_transient(fake_server: Callable[..., FakeServer]) -> None:
    fake_server([CloseWith(None)])
    with pytest.raises(ProviderDisconnected) as info:
        await GeminiProvider().connect(setup(handle="h"))
    assert info.value.kind is DisconnectKind.TRANSIENT and info.value.code == 1006


async def test_unreadable_frame_ends_the_connection_transiently(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server([SETUP_COMPLETE, {"somethingUnknown": {}}])
    session = await GeminiProvider().connect(setup())
    _, end = await drain(session)
    assert end.kind is DisconnectKind.TRANSIENT and end.code is None
    assert server.sockets[0].closed_by_client


async def test_missing_key_fails_before_connecting(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server()
    config = RealtimeConfig(model=MODEL)
    with pytest.raises(ProviderError, match="GEMINI_API_KEY") as info:
        await GeminiProvider().connect(SessionSetup(config=config))
    assert "GOOGLE_API_KEY" in str(info.value)
    assert server.sockets == []


async def test_key_from_environment(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "env-secret")
    server = fake_server([SETUP_COMPLETE])
    session = await GeminiProvider().connect(SessionSetup(config=RealtimeConfig(model=MODEL)))
    await session.close()
    assert server.sockets[0].headers["x-goog-api-key"] == "env-secret"


async def test_model_alias_uses_gemini_live_model(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_LIVE_MODEL", "gemini-live-custom")
    server = fake_server([SETUP_COMPLETE])
    config = RealtimeConfig(model="gemini", provider_options={"api_key": "k"})
    session = await GeminiProvider().connect(SessionSetup(config=config))
    await session.close()
    assert server.setup_frame()["model"] == "models/gemini-live-custom"


async def test_invalid_image_is_a_clear_error_and_the_session_goes_on(
    fake_server: Callable[..., FakeServer],
) -> None:
    from realtalk.inputs import ImageInput

    server = fake_server([SETUP_COMPLETE])
    session = await GeminiProvider().connect(setup())
    with pytest.raises(ValueError, match="image/jpeg or image/png"):
        await session.send(ImageInput(data=b"GIF89a", mime_type="image/gif"))
    await session.send(TextInput(text="still here"))
    await session.close()
    assert server.sockets[0].sent[-1] == {"realtime_input": {"text": "still here"}}


async def test_empty_audio_is_not_sent(fake_server: Callable[..., FakeServer]) -> None:
    from realtalk.inputs import AudioInput

    server = fake_server([SETUP_COMPLETE])
    session = await GeminiProvider().connect(setup())
    await session.send(AudioInput(data=b"", sample_rate=16000))
    with pytest.raises(ValueError, match="even number of bytes"):
        await session.send(AudioInput(data=b"\x00", sample_rate=16000))
    await session.close()
    assert server.sockets[0].sent[1:] == []


def test_provider_is_exported_lazily() -> None:
    import realtalk_gemini

    assert realtalk_gemini.GeminiProvider is GeminiProvider


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        ("http-401", DisconnectKind.FATAL),
        ("http-404", DisconnectKind.FATAL),
        ("http-429", DisconnectKind.TRANSIENT),
        ("http-503", DisconnectKind.TRANSIENT),
        ("refused", DisconnectKind.TRANSIENT),
    ],
)
async def test_refused_upgrades_and_unreachable_servers(
    monkeypatch: pytest.MonkeyPatch, failure: str, kind: DisconnectKind
) -> None:
    import contextlib

    import websockets
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    @contextlib.asynccontextmanager
    async def refuse(uri: str, **_: Any) -> Any:
        if failure == "refused":
            raise ConnectionRefusedError(111, "Connection refused")
        status = int(failure.removeprefix("http-"))
        raise websockets.InvalidStatus(Response(status, "refused", Headers(), b""))
        yield  # pragma: no cover

    monkeypatch.setattr("google.genai.live.ws_connect", refuse)
    with pytest.raises(ProviderDisconnected) as info:
        await GeminiProvider().connect(setup(api_key="AIza-secret-123"))
    assert info.value.kind is kind
    assert "AIza-secret-123" not in str(info.value)


async def test_handle_blamed_by_the_close_reason_later_is_rejected_handle(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server(
        [
            SETUP_COMPLETE,
            {"sessionResumptionUpdate": {"resumable": False}},
            CloseWith(1007, "Invalid session resumption handle"),
        ]
    )
    session = await GeminiProvider().connect(setup(handle="old"))
    _, end = await drain(session)
    assert end.kind is DisconnectKind.REJECTED_HANDLE
