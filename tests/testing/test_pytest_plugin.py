"""The realtalk pytest plugin: fixtures used directly, and in isolated pytester runs."""

from __future__ import annotations

import subprocess
import sys
import wave

import pytest
from google import genai
from google.genai import types

from realtalk_testing.cassette import QUESTION_WAV
from realtalk_testing.gemini_server import FakeGeminiServer

pytest_plugins = ["pytester"]

ASYNC = ("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function")

MODEL = "gemini-live-2.5-flash-preview"


@pytest.mark.cassette("spoken_question")
async def test_fake_gemini_server_fixture_replays_shipped_cassette(
    fake_gemini_server: FakeGeminiServer,
) -> None:
    assert isinstance(fake_gemini_server, FakeGeminiServer)
    client = genai.Client(api_key="test", http_options=fake_gemini_server.http_options)
    with wave.open(str(QUESTION_WAV), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    async with client.aio.live.connect(model=MODEL) as session:
        for i in range(0, len(pcm), 3200):
            blob = types.Blob(data=pcm[i : i + 3200], mime_type="audio/pcm;rate=16000")
            await session.send_realtime_input(audio=blob)
        heard = ""
        audio = 0
        async for message in session.receive():
            content = message.server_content
            if content and content.input_transcription:
                heard += content.input_transcription.text or ""
            if message.data:
                audio += len(message.data)
    assert heard == "What's the weather in Paris?"
    assert audio > 24000  # more than half a second of 24 kHz speech


def test_record_mode_defaults_to_none(cassette_record_mode: str) -> None:
    assert cassette_record_mode == "none"


def test_fake_provider_factory(fake_provider: object) -> None:
    from realtalk_testing import FakeProvider

    provider = fake_provider()  # type: ignore[operator]
    assert isinstance(provider, FakeProvider)


CONFTEST_FREE_TEST = """
import pytest
from google import genai

@pytest.mark.cassette({name!r})
async def test_it(fake_gemini_server):
    client = genai.Client(api_key="k", http_options=fake_gemini_server.http_options)
    async with client.aio.live.connect(model="m"):
        pass
"""


def test_missing_cassette_says_how_to_record(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CONFTEST_FREE_TEST.format(name="not_recorded_yet"))
    result = pytester.runpytest(*ASYNC)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*CassetteNotFound: cassette 'not_recorded_yet' not found*"
            "GEMINI_API_KEY=... pytest --cassette-record-mode=once*",
        ]
    )


def test_local_cassette_dir_wins_and_unplayed_lines_fail(pytester: pytest.Pytester) -> None:
    pytester.mkdir("cassettes")
    (pytester.path / "cassettes" / "mine.jsonl").write_text(
        '{"cassette": 1, "provider": "gemini"}\n'
        '{"conn": 1, "recv": {"setupComplete": {}}}\n'
        '{"conn": 1, "send": {"realtimeInput": {"text": "hi"}}, "match": "exact"}\n'
    )
    pytester.makepyfile(CONFTEST_FREE_TEST.format(name="mine"))
    result = pytester.runpytest(*ASYNC)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*CassetteMismatchError*", "*unplayed lines: 3"])


def test_record_mode_once_without_key_fails_clearly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    pytester.makepyfile(CONFTEST_FREE_TEST.format(name="new_one"))
    result = pytester.runpytest(*ASYNC, "--cassette-record-mode=once")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*recording cassette 'new_one' needs GEMINI_API_KEY*"])


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers", *ASYNC)
    result.stdout.fnmatch_lines(["*cassette(name, **options)*"])


def test_fake_provider_unplayed_script_fails_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from realtalk_testing import emit

        def test_it(fake_provider):
            fake_provider([emit.turn_complete()])
        """
    )
    result = pytester.runpytest(*ASYNC)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ScriptFailed*"])


def test_fixture_without_marker_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        async def test_it(fake_gemini_server):
            pass
        """
    )
    result = pytester.runpytest(*ASYNC)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(['*fake_gemini_server needs @pytest.mark.cassette("name")*'])


def test_marker_takes_a_relative_path_and_server_options(pytester: pytest.Pytester) -> None:
    pytester.mkdir("data")
    (pytester.path / "data" / "x.jsonl").write_text(
        '{"cassette": 1, "provider": "gemini"}\n{"conn": 1, "connect": {"handle": "h"}}\n'
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.cassette("data/x.jsonl", strict=False)
        async def test_it(fake_gemini_server):
            assert fake_gemini_server.strict is False
            assert fake_gemini_server.cassette.source.endswith("data/x.jsonl")
        """
    )
    result = pytester.runpytest(*ASYNC)
    result.assert_outcomes(passed=1)  # unplayed line 2, but strict=False


def test_importing_the_plugin_stays_light() -> None:
    code = (
        "import sys, realtalk_testing.pytest_plugin\n"
        "heavy = [m for m in ('websockets', 'google.genai', 'trustme',"
        " 'realtalk_testing.gemini_server', 'realtalk_testing.recorder') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.cassette("text_turn")
async def test_fake_openai_server_fixture_replays_a_shipped_openai_cassette(
    fake_openai_server: object,
) -> None:
    from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig
    from realtalk_testing.openai_server import FakeOpenAIServer

    assert isinstance(fake_openai_server, FakeOpenAIServer)
    config = RealtimeConfig(
        model="gpt-realtime",
        response_modalities=["TEXT"],
        provider_options=fake_openai_server.provider_options,
    )
    app = AudioAgent("gpt-realtime", realtime_config=config).compile()
    queue = LiveInputQueue()
    queue.send_text("Say hi")
    text = ""
    async for event in app.arealtime(queue, {"thread_id": "fixture-openai"}):
        if event.type == "text_delta":
            text += event.text
        elif event.type == "turn_complete":
            queue.close()
    await app.aclose()
    assert text == "Hi there!"


MISSING_OPENAI_CASSETTE_TEST = """
import pytest

@pytest.mark.cassette("no_such_openai_cassette")
async def test_missing(fake_openai_server):
    pass
"""


def test_missing_openai_cassette_says_how_to_record_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MISSING_OPENAI_CASSETTE_TEST)
    result = pytester.runpytest_subprocess(*ASYNC)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*OPENAI_API_KEY=... pytest --cassette-record-mode=once*"])
