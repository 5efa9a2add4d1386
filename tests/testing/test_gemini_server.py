"""FakeGeminiServer against the real google-genai SDK (and a raw websockets client)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest
import websockets
from google import genai
from google.genai import errors, types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect as ws_connect

from realtalk_testing.cassette import (
    QUESTION_WAV,
    Cassette,
    CloseLine,
    DropLine,
    RecvLine,
    shipped_cassette_names,
    shipped_cassette_path,
)
from realtalk_testing.gemini_server import FakeGeminiServer
from realtalk_testing.report import CassetteMismatchError

from ._sdk_driver import MODEL, drive

HEADER = {"cassette": 1, "provider": "gemini", "model": MODEL}
PCM = base64.b64encode(b"\x01\x00\xff\xff" * 1200).decode()


def cassette(*lines: dict[str, Any], **header: Any) -> Cassette:
    return Cassette.from_dicts({**HEADER, **header}, lines)


def audio_frame(n: int = 3200) -> types.Blob:
    return types.Blob(data=b"\x00\x01" * (n // 2), mime_type="audio/pcm;rate=16000")


QUESTION = cassette(
    {"conn": 1, "send": {"setup": {}}, "match": "key"},
    {"conn": 1, "recv": {"setupComplete": {}}},
    {"conn": 1, "send": "realtime_input.audio", "min_bytes": 6400},
    {
        "conn": 1,
        "recv": {"serverContent": {"inputTranscription": {"text": "Hi?", "finished": True}}},
    },
    {
        "conn": 1,
        "recv": {
            "serverContent": {
                "modelTurn": {
                    "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": PCM}}]
                }
            }
        },
    },
    {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}},
)


async def test_sdk_receives_cassette_frames_and_server_counts_audio() -> None:
    async with FakeGeminiServer(QUESTION) as server:
        await drive(QUESTION, server.http_options)
    report = server.report
    assert report.ok and report.unplayed == []
    assert report.played == [2, 3, 4, 5, 6, 7]
    record = server.connection(1)
    assert server.connections == 1
    assert record.kinds[0] == "setup" and record.audio_bytes >= 6400
    assert record.headers["x-goog-api-key"] == "<redacted>"
    assert server.received(1)[0]["setup"]["model"] == f"models/{MODEL}"


async def test_http_options_shape() -> None:
    async with FakeGeminiServer(QUESTION, strict=False) as server:
        opts = server.http_options
        assert opts["base_url"] == f"https://127.0.0.1:{server.port}"
        assert opts["api_version"] == "v1beta"
        assert "ssl" in opts["async_client_args"]


async def test_close_surfaces_recorded_code_and_drop_surfaces_1006() -> None:
    c = cassette(
        {"conn": 1, "recv": {"setupComplete": {}}},
        {"conn": 1, "close": {"code": 1011, "reason": "Internal error"}},
        {"conn": 2, "connect": {"handle": None}},
        {"conn": 2, "drop": True},
        {"conn": 3, "connect": {"handle": "h-1"}},
        {"conn": 3, "close": {"code": 1000, "reason": "bye"}},
    )
    client_obs = None
    async with FakeGeminiServer(c) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            with pytest.raises(errors.APIError) as info:
                async for _ in session.receive():
                    pass
            assert info.value.code == 1011
        # conn 2 aborts during setup: the SDK's connect raises 1006
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL):
                pass
        assert info.value.code == 1006
        config = types.LiveConnectConfig(
            session_resumption=types.SessionResumptionConfig(handle="h-1")
        )
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL, config=config):
                pass
        assert info.value.code == 1000
        client_obs = server.report
    assert client_obs.ok
    assert [c.ended for c in client_obs.connections] == ["close 1011", "drop", "close 1000"]


async def test_unexpected_frame_fails_fast_with_line_number() -> None:
    async with FakeGeminiServer(QUESTION, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_realtime_input(text="typed instead of spoken")
            with pytest.raises(errors.APIError) as info:
                async for _ in session.receive():
                    pass
        assert info.value.code == 1008
        assert "line 4" in str(info.value)
    [mismatch] = server.report.mismatches
    assert mismatch.line == 4
    assert "expected realtime_input.audio, got realtime_input.text" in mismatch.reason
    assert mismatch.actual == {"realtimeInput": {"text": "typed instead of spoken"}}
    with pytest.raises(CassetteMismatchError, match="line 4"):
        server.assert_played()


async def test_exit_raises_on_mismatch_when_strict() -> None:
    with pytest.raises(CassetteMismatchError) as info:
        async with FakeGeminiServer(QUESTION) as server:
            client = genai.Client(api_key="k", http_options=server.http_options)
            async with client.aio.live.connect(model=MODEL) as session:
                await session.send_client_content(
                    turns=[{"role": "user", "parts": [{"text": "x"}]}]
                )
                with pytest.raises(errors.APIError):
                    async for _ in session.receive():
                        pass
    text = str(info.value)
    assert "conn 1, line 4" in text and "client_content" in text
    assert "unplayed lines: 4-7" in text


async def test_unplayed_lines_fail_at_exit() -> None:
    with pytest.raises(CassetteMismatchError, match=r"unplayed lines: 4-7"):
        async with FakeGeminiServer(QUESTION) as server:
            client = genai.Client(api_key="k", http_options=server.http_options)
            async with client.aio.live.connect(model=MODEL):
                pass  # leaves before sending the question


async def test_unplayed_connection_fails_at_exit() -> None:
    c = cassette(
        {"conn": 1, "recv": {"setupComplete": {}}},
        {"conn": 2, "connect": {"handle": "h"}},
    )
    async with FakeGeminiServer(c, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL):
            pass
    assert server.report.unplayed == [3]


async def test_wrong_resumption_handle_is_refused_with_1008() -> None:
    c = cassette({"conn": 1, "connect": {"handle": "h-2"}})
    async with FakeGeminiServer(c, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        config = types.LiveConnectConfig(
            session_resumption=types.SessionResumptionConfig(handle="h-1")
        )
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL, config=config):
                pass
        assert info.value.code == 1008
    [m] = server.report.mismatches
    assert m.line == 2 and "'h-2'" in m.reason and "'h-1'" in m.reason


async def test_connect_subset_of_setup() -> None:
    c = cassette(
        {"conn": 1, "connect": {"subset": {"generation_config": {"responseModalities": ["TEXT"]}}}}
    )
    async with FakeGeminiServer(c, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL):  # default modality AUDIO
                pass
        assert info.value.code == 1008
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    assert server.report.mismatches[0].line == 2
    async with FakeGeminiServer(c) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            assert session.setup_complete is not None  # implicit setupComplete


async def test_extra_connection_is_refused_and_reported() -> None:
    c = cassette({"conn": 1, "recv": {"setupComplete": {}}})
    async with FakeGeminiServer(c, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL):
            pass
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL):
                pass
        assert info.value.code == 1008
    assert "connection 2 is not in the cassette" in server.report.mismatches[0].reason


async def test_unlisted_audio_is_counted_but_strict_header_rejects_it() -> None:
    lines = (
        {"conn": 1, "recv": {"setupComplete": {}}},
        {"conn": 1, "send": {"realtimeInput": {"text": "hello"}}, "match": "exact"},
        {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}},
    )
    for strict in (False, True):
        c = cassette(*lines, strict=strict)
        async with FakeGeminiServer(c, strict=False) as server:
            client = genai.Client(api_key="k", http_options=server.http_options)
            async with client.aio.live.connect(model=MODEL) as session:
                await session.send_realtime_input(audio=audio_frame(3200))
                await session.send_realtime_input(audio=audio_frame(1600))
                await session.send_realtime_input(text="hello")
                try:
                    async for _ in session.receive():
                        pass
                    code = None
                except errors.APIError as exc:
                    code = exc.code
        record = server.connection(1)
        if strict:
            assert code == 1008 and "strict" in server.report.mismatches[0].reason
        else:
            assert code is None and server.report.ok
            assert (record.unlisted_frames, record.unlisted_bytes) == (2, 4800)
            assert record.audio_frames == 2


async def test_audio_stream_end_is_streaming_input_like_audio() -> None:
    """A client sends audio_stream_end whenever its microphone pauses: where no line waits
    for it (here: before a text turn; after the last line: the demo's replays, tests/demo)
    it is tolerated and counted as unlisted input, never as audio; a line that names it
    still matches it; a strict cassette refuses it unlisted, as it refuses unlisted audio."""
    lines = (
        {"conn": 1, "recv": {"setupComplete": {}}},
        {"conn": 1, "send": {"realtimeInput": {"text": "hello"}}, "match": "exact"},
        {"conn": 1, "send": "realtime_input.audio_stream_end"},
        {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}},
    )
    for strict in (False, True):
        c = cassette(*lines, strict=strict)
        async with FakeGeminiServer(c, strict=False) as server:
            client = genai.Client(api_key="k", http_options=server.http_options)
            async with client.aio.live.connect(model=MODEL) as session:
                await session.send_realtime_input(audio_stream_end=True)  # nobody waits
                await session.send_realtime_input(text="hello")
                await session.send_realtime_input(audio_stream_end=True)  # the listed one
                code = None
                try:
                    async for message in session.receive():
                        if message.server_content and message.server_content.turn_complete:
                            break
                except errors.APIError as exc:
                    code = exc.code
        record = server.connection(1)
        if strict:
            assert code == 1008 and "strict" in server.report.mismatches[0].reason
        else:
            assert code is None and server.report.ok, server.report.summary()
            assert record.audio_frames == 0 and record.unlisted_bytes == 0
            assert record.unlisted_frames >= 1


async def test_audio_line_met_by_first_frame_or_min_seconds() -> None:
    c = cassette(
        {"conn": 1, "send": "realtime_input.audio"},
        {"conn": 1, "recv": {"serverContent": {"inputTranscription": {"text": "a"}}}},
        {"conn": 1, "send": "realtime_input.audio", "min_seconds": 0.5},
        {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}},
    )
    async with FakeGeminiServer(c) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_realtime_input(audio=audio_frame(320))
            stream = session.receive()
            first = await anext(stream)
            assert first.server_content.input_transcription.text == "a"
            for _ in range(5):  # 5 x 3200 bytes = 0.5 s at 16 kHz
                await session.send_realtime_input(audio=audio_frame(3200))
            last = await anext(stream)
            assert last.server_content.turn_complete
    assert server.connection(1).audio_bytes == 320 + 16000


async def test_optional_send_line_is_skipped_when_absent() -> None:
    c = cassette(
        {"conn": 1, "send": "client_content", "optional": True},
        {"conn": 1, "send": {"realtimeInput": {"text": "hi"}}, "match": "exact"},
        {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}},
    )
    async with FakeGeminiServer(c) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_realtime_input(text="hi")
            async for _ in session.receive():
                pass
    assert server.report.skipped == [2] and server.report.played == [3, 4]


async def test_snake_and_camel_keys_and_both_base64_alphabets_match() -> None:
    data = bytes(range(250, 256)) * 4  # encodes with '+' and '/' in standard base64
    c = cassette(
        {"conn": 1, "recv": {"setupComplete": {}}},
        {
            "conn": 1,
            "send": {
                "realtimeInput": {
                    "audio": {
                        "mimeType": "audio/pcm;rate=16000",
                        "data": base64.b64encode(data).decode(),
                    }
                }
            },
            "match": "exact",
        },
        {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}},
    )
    async with FakeGeminiServer(c) as server:
        url = server.base_url.replace("https", "wss") + (
            "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        )
        async with ws_connect(url, ssl=server.http_options["async_client_args"]["ssl"]) as ws:
            await ws.send(json.dumps({"setup": {"model": "models/x"}}))
            assert json.loads(await ws.recv()) == {"setupComplete": {}}
            urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
            await ws.send(
                json.dumps(
                    {
                        "realtime_input": {
                            "audio": {"mime_type": "audio/pcm;rate=16000", "data": urlsafe}
                        }
                    }
                )
            )
            assert json.loads(await ws.recv()) == {"serverContent": {"turnComplete": True}}


async def test_wrong_path_gets_404() -> None:
    async with FakeGeminiServer(QUESTION, strict=False) as server:
        url = server.base_url.replace("https", "wss") + "/ws/other"
        ssl_ctx = server.http_options["async_client_args"]["ssl"]
        with pytest.raises(websockets.InvalidStatus) as info:
            async with ws_connect(url, ssl=ssl_ctx):
                pass
        assert info.value.response.status_code == 404
        assert server.connections == 0


async def test_invalid_json_closes_with_1007() -> None:
    async with FakeGeminiServer(QUESTION, strict=False) as server:
        url = server.base_url.replace("https", "wss") + (
            "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        )
        async with ws_connect(url, ssl=server.http_options["async_client_args"]["ssl"]) as ws:
            await ws.send("not json")
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    assert server.report.mismatches[0].line == 2


async def test_frame_after_last_line_is_a_mismatch() -> None:
    c = cassette({"conn": 1, "recv": {"setupComplete": {}}})
    async with FakeGeminiServer(c, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_realtime_input(audio=audio_frame())  # streaming: fine
            await session.send_realtime_input(text="more?")
            with pytest.raises(errors.APIError) as info:
                async for _ in session.receive():
                    pass
            assert info.value.code == 1008
    [m] = server.report.mismatches
    assert "after the last line of conn 1" in m.reason and m.line is None
    assert server.connection(1).unlisted_frames == 1


async def test_delay_ms_on_recv_line() -> None:
    c = cassette(
        {"conn": 1, "recv": {"setupComplete": {}}},
        {"conn": 1, "recv": {"serverContent": {"turnComplete": True}}, "delay_ms": 1},
    )
    async with FakeGeminiServer(c) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            async for message in session.receive():
                assert message.server_content.turn_complete


async def test_client_still_connected_at_exit_does_not_hang() -> None:
    async with FakeGeminiServer(QUESTION, strict=False, exit_timeout=0.05) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        session_cm = client.aio.live.connect(model=MODEL)
        session = await session_cm.__aenter__()
        await server.aclose()  # server ends while the client waits mid-script
        with pytest.raises(errors.APIError) as info:
            async for _ in session.receive():
                pass
        assert info.value.code == 1001
        await session_cm.__aexit__(None, None, None)
    assert server.report.unplayed == [4, 5, 6, 7]
    assert server.connection(1).ended == "server exit"


def _question_pcm() -> bytes:
    import wave

    with wave.open(str(QUESTION_WAV), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        return wav.readframes(wav.getnframes())


@pytest.mark.parametrize("name", shipped_cassette_names())
async def test_shipped_cassette_drives_real_sdk(name: str) -> None:
    """The SDK receives exactly what each shipped cassette says (codes included)."""
    c = Cassette.shipped(name)
    async with FakeGeminiServer(c) as server:
        observed = await drive(c, server.http_options, audio=_question_pcm())
    assert server.report.ok, server.report.summary()
    assert server.connections == len(c.conns)
    recv_lines = [ln for ln in c.lines if isinstance(ln, RecvLine)]
    setup_completes = sum("setupComplete" in ln.frame for ln in recv_lines)
    assert sum(len(m) for m in observed.messages) == len(recv_lines) - setup_completes
    expected_ends = []
    for conn in c.conns:
        last = c.lines_for(conn)[-1]
        expected_ends.append(
            last.code
            if isinstance(last, CloseLine)
            else 1006
            if isinstance(last, DropLine)
            else None
        )
    assert observed.ends == expected_ends


def test_all_documented_scenarios_are_shipped() -> None:
    assert set(shipped_cassette_names()) >= {
        "spoken_question", "tool_call", "goaway_resume", "drop_and_abort",
        "non_resumable_update", "tool_cancellation", "barge_in", "stale_handle",
    }  # fmt: skip
    for name in shipped_cassette_names():
        assert shipped_cassette_path(name).stat().st_size < 300_000


async def test_wait_done_returns_when_every_line_played() -> None:
    async with FakeGeminiServer(QUESTION) as server:
        assert "port=" in repr(server)
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            assert not server.done
            for _ in range(2):
                await session.send_realtime_input(audio=audio_frame(3200))
            await server.wait_done()  # every recv line sent; nothing read yet
            assert server.done and server.report.unplayed == []
            messages = [m async for m in session.receive()]
            assert messages[-1].server_content.turn_complete


async def test_wait_done_returns_on_mismatch() -> None:
    async with FakeGeminiServer(QUESTION, strict=False) as server:
        client = genai.Client(api_key="k", http_options=server.http_options)
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_realtime_input(text="nope")
            await server.wait_done()
            assert server.report.mismatches[0].line == 4


ACTIONS = st.lists(
    st.sampled_from(["audio", "text", "tool_response", "client_content", "activity_start"]),
    max_size=6,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS)
async def test_any_client_behaviour_ends_promptly_with_a_consistent_report(
    actions: list[str],
) -> None:
    """Whatever the client sends, the server neither hangs nor loses track of lines, and
    the cassette is played exactly when the client followed it (audio, then the tool
    response; streaming audio tolerated anywhere)."""
    c = Cassette.shipped("tool_call")
    follows = re.fullmatch(r"(audio )+tool_response( audio)*", " ".join(actions)) is not None
    async with asyncio.timeout(10):
        async with FakeGeminiServer(c, strict=False) as server:
            client = genai.Client(api_key="k", http_options=server.http_options)
            async with client.aio.live.connect(model=MODEL) as session:
                try:
                    for action in actions:
                        if action == "audio":
                            await session.send_realtime_input(audio=audio_frame(32000))
                        elif action == "text":
                            await session.send_realtime_input(text="hi")
                        elif action == "tool_response":
                            response = types.FunctionResponse(
                                id="call-1", name="get_weather", response={"ok": 1}
                            )
                            await session.send_tool_response(function_responses=[response])
                        elif action == "client_content":
                            await session.send_client_content(turns=[], turn_complete=True)
                        else:
                            await session.send_realtime_input(activity_start=types.ActivityStart())
                except websockets.ConnectionClosed:
                    assert not follows  # only a mismatch closes the connection early
                if follows:  # read the turn: a client that never reads stalls the sender
                    async for _ in session.receive():
                        pass
                    await server.wait_done()
    report = server.report
    total = {ln.lineno for ln in c.lines}
    assert set(report.played) | set(report.unplayed) | set(report.skipped) == total
    assert report.ok == follows, report.summary()
