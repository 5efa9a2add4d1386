"""What the real google-genai SDK puts on the wire for our calls, compared to real frames.

``gemini-live-client-frames.jsonl`` holds frames google-genai 3.6.1 sent to a recording
server; here the provider drives the same SDK over an in-memory socket and the frames must
have the same shapes (exact where the inputs are the same).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from realtalk.config import RealtimeConfig, VADConfig
from realtalk.inputs import (
    ActivityEnd,
    ActivityStart,
    AudioInput,
    AudioStreamEnd,
    ImageInput,
    TextInput,
)
from realtalk.messages import Message
from realtalk.provider import SessionSetup
from realtalk.tools import ToolSpec
from realtalk_gemini.provider import GeminiProvider

from ._fakews import FakeServer

REFERENCE = Path("/work/shared/reference/gemini-live-client-frames.jsonl")
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
SETUP_COMPLETE: dict[str, Any] = {"setupComplete": {}}


def reference_frames() -> list[dict[str, Any]]:
    if not REFERENCE.exists():
        pytest.skip("reference frames not available")
    lines = [json.loads(line) for line in REFERENCE.read_text().splitlines() if line.strip()]
    return [line["frame"] for line in lines if line.get("event") == "client_frame"]


def b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def weather_spec() -> ToolSpec:
    return ToolSpec(
        name="get_weather",
        description="Get weather for a city.",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        func=lambda city: city,
        is_async=False,
    )


def reference_like_setup(**extra: Any) -> SessionSetup:
    config = RealtimeConfig(
        model=MODEL,
        voice="Kore",
        system_instruction="You are helpful.",
        vad=VADConfig(
            start_sensitivity="low",
            end_sensitivity="high",
            prefix_padding_ms=20,
            silence_duration_ms=500,
        ),
        context_window_compression=True,
        provider_options={
            "api_key": "test-key",
            "compression_trigger_tokens": 25600,
            "compression_target_tokens": 12800,
        },
    )
    return SessionSetup(
        config=config, tools=[weather_spec()], resumption_handle="prev-handle", **extra
    )


async def test_setup_frame_matches_the_reference(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server([SETUP_COMPLETE])
    session = await GeminiProvider().connect(reference_like_setup())
    await session.close()

    ours = server.setup_frame()
    ref = next(f for f in reference_frames() if "setup" in f)["setup"]
    assert ours["model"] == ref["model"] == f"models/{MODEL}"
    assert ours["systemInstruction"] == ref["systemInstruction"]
    assert ours["sessionResumption"] == ref["sessionResumption"] == {"handle": "prev-handle"}
    assert ours["inputAudioTranscription"] == ref["inputAudioTranscription"] == {}
    assert ours["outputAudioTranscription"] == ref["outputAudioTranscription"] == {}
    assert ours["contextWindowCompression"] == ref["contextWindowCompression"]
    assert (
        ours["realtimeInputConfig"]["automatic_activity_detection"]
        == ref["realtimeInputConfig"]["automatic_activity_detection"]
    )
    assert ours["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert (
        ours["generationConfig"]["speechConfig"]["voice_config"]
        == ref["generationConfig"]["speechConfig"]["voice_config"]
    )
    (our_tool,) = ours["tools"]
    ref_decl = ref["tools"][1]["functionDeclarations"][0]
    assert our_tool == {
        "functionDeclarations": [
            {
                "name": ref_decl["name"],
                "description": ref_decl["description"],
                "parameters_json_schema": ref_decl["parameters_json_schema"],
            }
        ]
    }
    # The Live socket is served on v1beta, with the key in a header, never in the URL.
    socket = server.sockets[0]
    assert socket.uri.endswith(
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    )
    assert socket.headers["x-goog-api-key"] == "test-key"
    assert "test-key" not in socket.uri


async def test_vad_disabled_and_text_modality_setup(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server([SETUP_COMPLETE])
    config = RealtimeConfig(
        model=MODEL,
        response_modalities=["TEXT"],
        vad=VADConfig(enabled=False),
        session_resumption=False,
        provider_options={"api_key": "k"},
    )
    session = await GeminiProvider().connect(SessionSetup(config=config))
    await session.close()
    setup = server.setup_frame()
    assert setup == {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["TEXT"]},
        "inputAudioTranscription": {},
        "realtimeInputConfig": {"automatic_activity_detection": {"disabled": True}},
    }


async def test_input_frames_match_the_reference_exactly(
    fake_server: Callable[..., FakeServer],
) -> None:
    frames = reference_frames()

    def ref(kind: str) -> dict[str, Any]:
        for frame in frames:
            body = frame.get("realtime_input", {})
            if kind in body:
                return frame
        raise AssertionError(kind)

    server = fake_server([SETUP_COMPLETE])
    config = RealtimeConfig(model=MODEL, provider_options={"api_key": "k"})
    session = await GeminiProvider().connect(SessionSetup(config=config))

    audio = ref("audio")["realtime_input"]["audio"]
    video = ref("video")["realtime_input"]["video"]
    await session.send(AudioInput(data=b64(audio["data"]), sample_rate=16000))
    await session.send(ImageInput(data=b64(video["data"]), mime_type="image/jpeg"))
    await session.send(TextInput(text="typed text"))
    await session.send(ActivityStart())
    await session.send(ActivityEnd())
    await session.send(AudioStreamEnd())
    await session.send_tool_result("fc-1", "get_weather", {"temp": 20})
    await session.close()

    sent = server.sockets[0].sent[1:]
    tool_ref = next(f for f in frames if "tool_response" in f)
    assert sent == [
        ref("audio"),
        ref("video"),
        ref("text"),
        ref("activityStart"),
        ref("activityEnd"),
        ref("audioStreamEnd"),
        tool_ref,
    ]


async def test_png_images_and_tool_errors(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server([SETUP_COMPLETE])
    config = RealtimeConfig(model=MODEL, provider_options={"api_key": "k"})
    session = await GeminiProvider().connect(SessionSetup(config=config))
    await session.send(ImageInput(data=b"\x89PNG", mime_type="image/png"))
    await session.send_tool_result("fc-9", "f", None, error="boom")
    await session.send_tool_result("fc-10", "g", [1, 2])
    await session.close()
    sent = server.sockets[0].sent[1:]
    assert sent[0]["realtime_input"]["video"]["mime_type"] == "image/png"
    assert sent[1] == {
        "tool_response": {
            "functionResponses": [{"id": "fc-9", "name": "f", "response": {"error": "boom"}}]
        }
    }
    assert sent[2]["tool_response"]["functionResponses"][0]["response"] == {"result": [1, 2]}


async def test_fresh_session_is_reseeded_without_a_reply(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server([SETUP_COMPLETE])
    config = RealtimeConfig(model=MODEL, provider_options={"api_key": "k"})
    history = [Message.text("user", "My name is Ada."), Message.text("assistant", "Hi Ada!")]
    session = await GeminiProvider().connect(SessionSetup(config=config, history=history))
    await session.close()
    assert server.sockets[0].sent[1] == {
        "client_content": {
            "turns": [
                {"role": "user", "parts": [{"text": "My name is Ada."}]},
                {"role": "model", "parts": [{"text": "Hi Ada!"}]},
            ],
            "turnComplete": False,
        }
    }


async def test_resumed_session_is_not_reseeded(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server([SETUP_COMPLETE])
    config = RealtimeConfig(model=MODEL, provider_options={"api_key": "k"})
    setup = SessionSetup(
        config=config, resumption_handle="h", history=[Message.text("user", "hello")]
    )
    session = await GeminiProvider().connect(setup)
    await session.close()
    assert len(server.sockets[0].sent) == 1
    assert server.setup_frame()["sessionResumption"] == {"handle": "h"}
