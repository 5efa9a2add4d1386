"""The playground page in headless Chromium: a live session's timeline, meters, counters,
latency and reconnects, state that tells the truth, and screenshots kept as artifacts.

Screenshots go to ``$REALTALK_ARTIFACTS`` (or the test's tmp dir); the path is printed.
``REALTALK_DOCS_IMAGES=1`` also refreshes ``docs/images/playground.png``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from realtalk import AudioAgent
from realtalk.bridge import BridgeConfig, create_app
from realtalk.checkpoint import InMemoryCheckpointer
from realtalk.demo.main import BUNDLED_QUESTION, _data_file
from realtalk_testing import FakeProvider, emit, end, expect

from ._cdp import Page, chromium, write_tone
from ._support import offline_env, realtalk_api, serve

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "playground.png"
LONG_WORD = "x" * 600  # one unbreakable word: must wrap, not widen the page


pytestmark = pytest.mark.usefixtures("needs_chromium")


@pytest.fixture
def artifacts(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    root = os.environ.get("REALTALK_ARTIFACTS")
    folder = Path(root) / "playground" if root else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def shoot(page: Page, folder: Path, name: str) -> Path:
    path = await page.screenshot(folder / f"{name}.png")
    print(f"screenshot: {path}")
    return path


def weather(city: str) -> str:
    """Today's weather in a city."""
    return "sunny"


def app_for(provider: FakeProvider) -> Any:
    return AudioAgent("fake-live-model", provider=provider, tools=[weather]).compile(
        checkpointer=InMemoryCheckpointer()
    )


async def wait(page: Page, predicate: str) -> Any:
    """Wait for the first page event (or pseudo event) matching the JS ``predicate``."""
    return await page.evaluate(f"realtalk.until(e => {predicate})")


async def nth(page: Page, kind: str, count: int) -> None:
    """Wait until ``count`` events of ``kind`` arrived."""
    await page.evaluate(
        f"realtalk.until(() => realtalk.state.events.filter(e => e.type === {kind!r}).length "
        f">= {count})"
    )


async def text_of(page: Page, element: str) -> str:
    value = await page.evaluate(f"document.getElementById({element!r}).innerText")
    return str(value)


async def rows(page: Page) -> list[dict[str, Any]]:
    """The timeline as shown: type, text, class, hidden."""
    found = await page.evaluate(
        "[...document.querySelectorAll('#timeline li')].map(li => ({type: li.dataset.type, "
        "text: li.querySelector('.x').textContent, cls: li.className, hidden: li.hidden}))"
    )
    assert isinstance(found, list)
    return found


async def test_playground_shows_a_live_session(tmp_path: Path, artifacts: Path) -> None:
    wav = tmp_path / "mic.wav"
    write_tone(wav, 30.0)  # still talking while the replies play: both meters move
    provider = FakeProvider(
        [
            [
                expect.audio(min_seconds=1.2),
                emit.input_transcript("what is the weather in Oslo"),
                emit.tool_call("c1", "weather", {"city": "Oslo"}),
                expect.tool_result("c1", result="sunny"),
                emit.speech("It is sunny in Oslo.", seconds=1.5, chunks=15),
                emit.turn_complete(),
                emit.session_update("h1"),
                emit.go_away(time_left=0),
                expect.close(),
            ],
            [
                expect.connect(handle="h1"),
                expect.text(LONG_WORD),
                emit.output_transcript("a very long answer " + "y" * 500, finished=True),
                emit.audio(seconds=3.0, chunks=30),
                emit.turn_complete(),
                expect.audio_stream_end(),
                emit.turn_complete(),
                expect.close(),
            ],
        ]
    )
    async with serve(create_app(BridgeConfig(), app=app_for(provider))) as addr:
        async with chromium(wav, tmp_path / "profile") as page:
            await page.navigate(f"http://{addr}/")
            assert await page.evaluate("realtalk.connect({threadId: 'play-1'})") == "play-1"
            await page.evaluate("realtalk.startMic()")
            # Counters move with the audio, before any event re-renders the page.
            await wait(page, "e.type === '__sent' && e.bytes >= 0.8 * 32000")
            # the counters are drawn by the page's 50 ms tick, which then says __levels
            await wait(page, "e.type === '__levels'")
            sent_shown = await text_of(page, "sent")
            mic_bar = await page.evaluate("document.getElementById('micbar').style.width")
            events_so_far = await page.evaluate("realtalk.state.events.map(e => e.type)")
            await nth(page, "turn_complete", 1)
            await wait(page, "e.type === 'reconnected'")
            await page.evaluate(f"realtalk.sendText({LONG_WORD!r})")
            await nth(page, "turn_complete", 2)
            await wait(page, "e.type === '__levels' && e.speaker > 0.02 && e.mic > 0.02")
            shot = await shoot(page, artifacts, "live-session")
            shown = await rows(page)
            figures = {k: await text_of(page, k) for k in ("received", "latency", "reconnects")}
            widths = await page.evaluate(
                "({page: document.documentElement.scrollWidth, view: innerWidth, "
                "overflowing: [...document.querySelectorAll('#transcript li, #timeline li')]"
                ".filter(li => li.scrollWidth > li.clientWidth + 1).length})"
            )
            await page.click('#filters label[data-type="audio"] input')
            audio_hidden = [r["hidden"] for r in await rows(page) if r["type"] == "audio"]
            await shoot(page, artifacts, "audio-filtered-out")
            state = await page.evaluate(
                "({latencies: realtalk.state.latencies, reconnects: realtalk.state.reconnects, "
                "micPeak: realtalk.state.micPeak, speakerPeak: realtalk.state.speakerPeak})"
            )
            closing = await page.evaluate(
                "(realtalk.hangUp(), document.getElementById('status').textContent)"
            )
            await page.evaluate("realtalk.until(e => e.type === '__closed')")
            final = await text_of(page, "status")
            responses = list(page.responses)
            console = list(page.console)
    print("responses:", responses)
    assert console == [], console
    assert events_so_far == ["session_started"], events_so_far
    assert float(sent_shown.split()[0]) >= 0.8, sent_shown
    assert float(mic_bar.rstrip("%")) > 10, mic_bar
    kinds = [r["type"] for r in shown]
    for kind in ("client", "session_started", "input_transcript", "tool_call", "tool_result"):
        assert kind in kinds, kinds
    assert {"audio", "output_transcript", "turn_complete", "go_away", "reconnected"} <= set(kinds)
    call = next(r for r in shown if r["type"] == "tool_call")
    result = next(r for r in shown if r["type"] == "tool_result")
    assert "weather" in call["text"] and " ran " in call["text"] and call["text"].endswith(" ms")
    assert result["text"].startswith('weather → "sunny" in ') and result["text"].endswith(" ms")
    go_away = next(r for r in shown if r["type"] == "go_away")
    reconnected = next(r for r in shown if r["type"] == "reconnected")
    assert go_away["cls"] == "warn" and "rotate" in go_away["text"]
    assert reconnected["text"] == "resumed the provider session (attempt 1)"
    assert any(r["type"] == "latency" for r in shown)
    measured = [r["text"] for r in shown if r["type"] == "metrics"]  # the runtime's figures
    print("metrics rows:", measured)
    assert measured[0].startswith("turn 1 · first audio ") and "weather" in measured[0]
    assert audio_hidden and all(audio_hidden)  # the filter hides one type
    assert figures["reconnects"] == "1 (provider 1, bridge 0)"
    assert figures["received"].startswith("4.5 s")  # 1.5 s + 3 s of model audio
    assert "ms" in figures["latency"] and len(state["latencies"]) == 2
    assert " · server " in figures["latency"], figures
    assert state["micPeak"] > 0.1 and state["speakerPeak"] > 0.05
    assert widths["page"] <= widths["view"] and widths["overflowing"] == 0, widths
    assert closing == "closing"
    assert final == "ended"
    assert [r for r in responses if r[0] >= 400] == [], responses
    assert shot.stat().st_size > 10_000
    provider.assert_done()


async def test_a_fatal_error_shows_as_an_error(tmp_path: Path, artifacts: Path) -> None:
    wav = tmp_path / "mic.wav"
    write_tone(wav, 0.5)
    provider = FakeProvider([[end.provider_error("quota exhausted")]])
    async with serve(create_app(BridgeConfig(), app=app_for(provider))) as addr:
        async with chromium(wav, tmp_path / "profile") as page:
            await page.navigate(f"http://{addr}/")
            await page.evaluate("realtalk.connect({threadId: 'fatal-1'})")
            await page.evaluate("realtalk.until(e => e.type === '__closed')")
            status = await page.evaluate(
                "({text: document.getElementById('status').textContent, "
                "cls: document.getElementById('status').className})"
            )
            await shoot(page, artifacts, "fatal-error")
            shown = await rows(page)
    assert status["cls"] == "status error", status
    assert status["text"].startswith("error: "), status
    assert "1000 session ended" not in status["text"]
    assert any(r["type"] == "error" and r["cls"] == "bad" for r in shown), shown


async def test_a_draining_server_1012_reconnects_by_itself_to_the_same_thread(
    tmp_path: Path, artifacts: Path
) -> None:
    wav = tmp_path / "mic.wav"
    write_tone(wav, 0.5)
    provider = FakeProvider(
        [
            [expect.text("one"), emit.output_transcript("first"), emit.turn_complete()],
            [expect.text("two"), emit.output_transcript("second"), emit.turn_complete()],
        ]
    )
    asgi = create_app(BridgeConfig(), app=app_for(provider))
    async with serve(asgi) as addr:
        async with chromium(wav, tmp_path / "profile") as page:
            await page.navigate(f"http://{addr}/")
            await page.evaluate("realtalk.connect({threadId: 'drain-1'})")
            await page.evaluate("realtalk.sendText('one')")
            await nth(page, "turn_complete", 1)
            await page.evaluate(
                "(window.again = realtalk.waitFor(e => e.type === 'session_started'), 0)"
            )
            for session in list(asgi.state.bridge.sessions):
                session.shutdown()  # what SIGTERM does: the reply finishes, then 1012
            again = await page.evaluate("window.again")
            await page.evaluate("realtalk.sendText('two')")
            await nth(page, "turn_complete", 2)
            shown = await rows(page)
            reconnects = await page.evaluate("realtalk.state.reconnects")
            await page.evaluate("(realtalk.hangUp(), realtalk.until(e => e.type === '__closed'))")
            await shoot(page, artifacts, "reconnected-after-1012")
            # A reload offers the stored thread, visibly; one click starts a new one.
            await page.navigate(f"http://{addr}/")
            stored = await page.evaluate("document.getElementById('thread').value")
            hint = await text_of(page, "threadhint")
            await page.click("#newthread")
            cleared = await page.evaluate("document.getElementById('thread').value")
            fresh = await page.evaluate("realtalk.connect()")
            await page.evaluate("(realtalk.hangUp(), realtalk.until(e => e.type === '__closed'))")
    assert again == {"type": "session_started", "thread_id": "drain-1"}
    assert reconnects == {"provider": 0, "bridge": 1}
    closed = next(r for r in shown if "1012" in r["text"])
    assert "reconnecting" in closed["text"] and closed["cls"] == "warn"
    finals = [r["text"] for r in shown if r["type"] == "output_transcript"]
    assert finals == ["✓ first", "✓ second"]
    assert stored == "drain-1" and "resumes your last thread" in hint
    assert cleared == "" and fresh not in ("drain-1", None)


async def test_offline_demo_in_the_browser(tmp_path: Path, artifacts: Path) -> None:
    """``realtalk api`` with no key and no config: the page says so and the demo answers
    the bundled question, spoken by the fake microphone."""
    wav = tmp_path / "question.wav"
    shutil.copy(_data_file(BUNDLED_QUESTION), wav)
    async with realtalk_api(tmp_path, config=False, env=offline_env()) as (addr, _, _):
        async with chromium(wav, tmp_path / "profile") as page:
            await page.navigate(f"http://{addr}/")
            badge = await page.evaluate(
                "({text: document.getElementById('badge').innerText, "
                "shown: document.getElementById('badge').offsetWidth > 0, "
                "notice: document.getElementById('notice').innerText})"
            )
            await page.evaluate("realtalk.connect()")
            await page.evaluate("realtalk.startMic()")
            await nth(page, "turn_complete", 1)  # the answer is still playing
            await wait(page, "e.type === '__levels' && e.speaker > 0.05")
            await shoot(page, artifacts, "offline-demo")
            for noisy in ("audio", "input_transcript", "output_transcript"):
                await page.evaluate(f"realtalk.setFilter({noisy!r}, false)")
            shot = await shoot(page, artifacts, "offline-demo-filtered")
            shown = await rows(page)
            transcript = await text_of(page, "transcript")
            await page.evaluate("(realtalk.hangUp(), realtalk.until(e => e.type === '__closed'))")
            final = await text_of(page, "status")
    assert badge["text"] == "offline demo" and badge["shown"], badge
    assert "No API key" in badge["notice"]
    assert "What's the weather like in Paris right now?" in transcript
    kinds = {r["type"] for r in shown}
    assert {"tool_call", "tool_result", "go_away", "reconnected", "latency"} <= kinds, kinds
    assert final == "ended"
    if os.environ.get("REALTALK_DOCS_IMAGES") == "1":
        DOCS_IMAGE.parent.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS_IMAGE)
        print(f"docs image: {DOCS_IMAGE}")
    print(json.dumps([r["type"] for r in shown]))
