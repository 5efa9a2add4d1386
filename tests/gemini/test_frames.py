"""The audio fast path (``realtalk_gemini.frames``) gives exactly what google-genai gives.

Receive: for every frame the fast path accepts, its events equal the codec's events for the
SDK's own ``LiveServerMessage`` of the same frame (every shipped cassette frame, then
generated frames). Send: the text it writes equals, character for character, what the SDK
writes for ``send_realtime_input(audio=Blob(...))``. Then the transport: both paths give the
same events and the same client frames, the switch turns it off, odd frames stay errors.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types
from google.genai.live import AsyncSession
from hypothesis import given, settings
from hypothesis import strategies as st

import realtalk_testing
from realtalk.config import RealtimeConfig
from realtalk.events import RealtimeEvent
from realtalk.inputs import AudioInput, TextInput
from realtalk.provider import DisconnectKind, ProviderDisconnected, SessionSetup
from realtalk_gemini import codec, frames, transport
from realtalk_gemini.options import FAST_PATH_ENV, audio_fast_path
from realtalk_gemini.provider import GeminiProvider

from ._fakews import CloseWith, FakeServer

SHIPPED = Path(realtalk_testing.__file__).parent / "cassettes"
SETUP_COMPLETE: dict[str, Any] = {"setupComplete": {}}


def sdk_events(frame: dict[str, Any]) -> list[RealtimeEvent]:
    """What the codec makes of the SDK's own parse of ``frame``."""
    parse = transport._sdk_parser()
    assert parse is not None, "the installed google-genai lacks the converters"
    return codec.message_events(parse(json.loads(json.dumps(frame))))


def audio_frame(*parts: dict[str, Any], role: str | None = None) -> dict[str, Any]:
    turn: dict[str, Any] = {"parts": list(parts)}
    if role is not None:
        turn["role"] = role
    return {"serverContent": {"modelTurn": turn}}


def blob(data: str, mime: str = "audio/pcm;rate=24000") -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": data}}


def cassette_frames() -> list[dict[str, Any]]:
    found = []
    for path in sorted(SHIPPED.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if isinstance(item.get("recv"), dict):
                found.append(item["recv"])
    return found


def test_every_shipped_frame_agrees_with_the_sdk() -> None:
    taken = 0
    for frame in cassette_frames():
        fast = frames.audio_events(frame)
        if fast is not None:
            taken += 1
            assert fast == sdk_events(frame), frame
    assert taken >= 50  # the cassettes are mostly audio: the fast path is the common case


@pytest.mark.parametrize(
    "frame",
    [
        {"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}},
        {"serverContent": {"modelTurn": {"parts": []}}},
        {"serverContent": {"modelTurn": {}}},
        {"serverContent": {"turnComplete": True}},
        {"serverContent": {"modelTurn": {"parts": [blob("AAA=")]}, "turnComplete": True}},
        {**audio_frame(blob("AAA=")), "usageMetadata": {"totalTokenCount": 3}},
        audio_frame({**blob("AAA="), "thought": True}),
        audio_frame(blob("AAA=", mime="image/png")),
        audio_frame(blob("")),  # empty audio: the codec skips it
        audio_frame(blob("not base64!")),
        audio_frame(blob("AAA")),  # missing padding: the SDK decides
        audio_frame(blob("AAA\u00e9")),  # not ASCII
        audio_frame(blob("-A+A")),  # two alphabets in one string
        audio_frame(blob("AAB=")),  # stray bits before the padding
        audio_frame({"inlineData": {"mimeType": "audio/pcm", "data": 5}}),
        audio_frame({"inlineData": {"data": "AAA="}}),
        {"serverContent": "x"},
        {},
    ],
)
def test_anything_but_a_plain_audio_frame_is_left_to_the_sdk(frame: dict[str, Any]) -> None:
    assert frames.audio_events(frame) is None


def test_several_parts_a_role_and_a_missing_rate() -> None:
    frame = audio_frame(
        blob("AAECAw=="), blob("-_-_", mime="audio/pcm"), blob("+/+/"), role="model"
    )
    fast = frames.audio_events(frame)
    assert fast is not None and len(fast) == 3
    assert fast == sdk_events(frame)
    assert fast[1].data == fast[2].data == b"\xfb\xff\xbf"
    assert fast[1].sample_rate == 24000  # the codec's default for a rate-less mime type


def test_sample_rates_are_remembered_per_mime_type_within_a_bound() -> None:
    for rate in range(1000, 1200):  # a server inventing mime types cannot grow memory
        frame = audio_frame(blob("AAA=", mime=f"audio/pcm;rate={rate}"))
        fast = frames.audio_events(frame)
        assert fast is not None and fast[0].sample_rate == rate
    assert len(frames._rates) <= frames._RATE_CACHE_LIMIT


_B64 = st.binary(max_size=64).flatmap(
    lambda raw: st.sampled_from(
        [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    )
)
_TEXTISH = st.text(alphabet="AZaz09+/-_=. \u00e9", max_size=12)
_MIME = st.sampled_from(["audio/pcm;rate=24000", "audio/pcm;rate=16000", "audio/pcm", "audio/x"])


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.one_of(_B64, _TEXTISH), _MIME).map(lambda p: blob(p[0], p[1])),
        min_size=1,
        max_size=3,
    ),
    role=st.sampled_from([None, "model"]),
)
def test_generated_audio_frames_agree_with_the_sdk(
    parts: list[dict[str, Any]], role: str | None
) -> None:
    frame = audio_frame(*parts, role=role)
    fast = frames.audio_events(frame)
    if fast is not None:
        assert fast == sdk_events(frame)


# --------------------------------------------------------------------------- raw frames


def layouts(frame: dict[str, Any]) -> list[bytes]:
    """``frame`` as a server may write it: compact, spaced, indented, keys reversed."""
    reversed_ = json.loads(json.dumps(frame))
    for part in reversed_.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
        if isinstance(part, dict) and isinstance(part.get("inlineData"), dict):
            part["inlineData"] = dict(reversed(list(part["inlineData"].items())))
    return [
        json.dumps(frame).encode(),
        json.dumps(frame, separators=(",", ":")).encode(),
        json.dumps(frame, indent=2).encode(),
        (" \r\n" + json.dumps(reversed_, indent="\t") + "\n ").encode(),
        json.dumps(reversed_, ensure_ascii=False).encode(),
    ]


def raw_agrees(raw: bytes) -> list[RealtimeEvent] | None:
    """`audio_frame_events` of ``raw``, checked against json.loads + `audio_events`."""
    fast = frames.audio_frame_events(raw)
    try:
        frame = json.loads(raw)
    except ValueError:
        assert fast is None, raw  # never accepts what JSON refuses
        return None
    if fast is not None:
        assert isinstance(frame, dict) and fast == frames.audio_events(frame), raw
    return fast  # type: ignore[return-value]


def test_shipped_audio_frames_are_read_without_json_in_any_layout() -> None:
    taken = 0
    for frame in cassette_frames():
        plain_audio = (
            frames.audio_events(frame) is not None
            and len(frame["serverContent"]["modelTurn"]["parts"]) == 1
            and "role" not in frame["serverContent"]["modelTurn"]
        )
        for raw in layouts(frame):
            fast = raw_agrees(raw)
            assert (fast is not None) == plain_audio, raw[:200]
            taken += fast is not None
    assert taken >= 5 * 50


@pytest.mark.parametrize(
    "raw",
    [
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AA\\/A"}}]}}}',  # an escape: JSON decides
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AAAA"}}]}}} x',  # trailing garbage
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AAAA"}}]}}',  # unclosed
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AAAA"}}], "role": "model"}}}',  # role
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AAAA"}}, {"text": "x"}]}}}',  # two parts
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AAAA", "x": 1}}]}}}',  # another key
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"image/png", "data": "AAAA"}}]}}}',  # not audio
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": ""}}]}}}',  # empty audio
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AA\xc3\xa9A"}}]}}}',  # not ASCII
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AAAA", '
        b'"mimeType": "audio/pcm;rate=24000", "data": "AAAA"}}]}}}',  # a key twice
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": '
        b'"audio/pcm;rate=24000", "data": "AA\nA"}}]}}}',  # a raw control character
        b"",
        b"[]",
    ],
)
def test_raw_frames_of_any_other_shape_are_left_to_json(raw: bytes) -> None:
    assert frames.audio_frame_events(raw) is None
    raw_agrees(raw)


_JSON_SPACE = st.text(alphabet=" \t\r\n", max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(_B64, _TEXTISH),
    mime=_MIME,
    data_first=st.booleans(),
    spaces=st.lists(_JSON_SPACE, min_size=40, max_size=40),
    cut=st.integers(min_value=0, max_value=400),
    junk=st.sampled_from(["", "x", "\\", '"', "}", "\u00e9", "\u0000"]),
)
def test_generated_raw_frames_agree_with_json(
    data: str, mime: str, data_first: bool, spaces: list[str], cut: int, junk: str
) -> None:
    members = [f'"mimeType": {json.dumps(mime)}', f'"data": {json.dumps(data)}']
    if data_first:
        members.reverse()
    tokens = [
        "{", '"serverContent"', ":", "{", '"modelTurn"', ":", "{", '"parts"', ":", "[",
        "{", '"inlineData"', ":", "{", members[0], ",", members[1],
        "}", "}", "]", "}", "}", "}",
    ]  # fmt: skip
    text = "".join(space + token for space, token in zip(spaces, tokens, strict=False))
    raw = text.encode()
    fast = raw_agrees(raw)
    plain = frames.audio_events(json.loads(raw))
    assert (fast is None) == (plain is None)  # every well-formed layout is taken
    mutated = raw[:cut] + junk.encode() + raw[cut:]  # and a broken one never wrongly
    raw_agrees(mutated)


class _Recorder:
    """Just enough of a socket for ``AsyncSession`` to send on."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(min_size=2, max_size=600).filter(lambda b: len(b) % 2 == 0),
    rate=st.sampled_from([8000, 16000, 24000, 48000]),
)
async def test_sent_audio_frames_are_the_sdks_to_the_character(data: bytes, rate: int) -> None:
    client = genai.Client(api_key="test-key")
    socket = _Recorder()
    session = AsyncSession(api_client=client._api_client, websocket=socket)  # type: ignore[arg-type]
    blob_ = types.Blob(data=data, mime_type=codec.audio_mime_type(rate))
    await session.send_realtime_input(audio=blob_)
    assert socket.sent == [frames.audio_input_text(data, rate)]


# --------------------------------------------------------------------------- transport

TURN: list[dict[str, Any] | CloseWith] = [
    {"serverContent": {"inputTranscription": {"text": "Hello"}}},
    audio_frame(blob(base64.b64encode(b"\x01\x00" * 240).decode())),
    {"serverContent": {"outputTranscription": {"text": "Hi"}}},
    audio_frame(blob(base64.urlsafe_b64encode(b"\xff\xfe" * 240).decode()), role="model"),
    {"goAway": {"timeLeft": "5s"}},
    {"serverContent": {"turnComplete": True}},
    {"sessionResumptionUpdate": {"newHandle": "h-2", "resumable": True}},
    CloseWith(1000, "done"),
]


def setup(**options: Any) -> SessionSetup:
    config = RealtimeConfig(
        model="gemini-live-2.5-flash-preview", provider_options={"api_key": "k", **options}
    )
    return SessionSetup(config=config)


async def run(
    fake_server: Callable[..., FakeServer], script: list[dict[str, Any] | CloseWith], **opts: Any
) -> tuple[list[RealtimeEvent], ProviderDisconnected, list[dict[str, Any]]]:
    server = fake_server([SETUP_COMPLETE, *script])
    session = await GeminiProvider().connect(setup(**opts))
    await session.send(AudioInput(data=b"\x02\x00" * 160, sample_rate=16000))
    await session.send(TextInput(text="typed"))
    events: list[RealtimeEvent] = []
    with pytest.raises(ProviderDisconnected) as ended:
        async for event in session.events():
            events.append(event)
    await session.close()
    return events, ended.value, server.sockets[0].sent[1:]


async def test_both_paths_give_the_same_events_and_frames(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    real = types.LiveServerMessage._from_response

    def counting(**kwargs: Any) -> types.LiveServerMessage:
        built.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(types.LiveServerMessage, "_from_response", counting)
    monkeypatch.setattr(transport, "_parse_frame", None)  # resolved again, with the spy
    fast = await run(fake_server, TURN)
    fast_parses = len(built)
    built.clear()
    slow = await run(fake_server, TURN, audio_fast_path=False)
    assert fast[0] == slow[0]
    assert [e.type for e in fast[0]].count("audio_delta") == 2
    assert fast[1].kind is slow[1].kind is DisconnectKind.ROTATION  # goAway, then a close
    assert fast[2] == slow[2]  # same client frames on the wire
    assert fast_parses == len(built) - 2  # the two audio frames skipped the SDK's models


def test_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert audio_fast_path({}, {}) is True
    assert audio_fast_path({}, {FAST_PATH_ENV: "0"}) is False
    assert audio_fast_path({"audio_fast_path": True}, {FAST_PATH_ENV: "0"}) is True
    assert audio_fast_path({"audio_fast_path": "off"}, {}) is False


def test_vertex_and_legacy_sockets_use_the_sdk() -> None:
    class Api:
        vertexai = True

    class Session:
        _api_client = Api()
        _ws = _Recorder()

    assert transport._wire_of(Session()) is None
    Api.vertexai = False
    Session._ws.recv = lambda: None  # type: ignore[attr-defined]
    assert transport._wire_of(Session()) is None  # a legacy socket: no recv(decode=...)
    Session._ws.recv = lambda decode=None: None  # type: ignore[attr-defined]
    assert transport._wire_of(Session()) is Session._ws


@pytest.mark.parametrize(
    ("frame", "fast", "code"),
    [
        ([1, 2], True, None),  # (the SDK's own path does not survive a non-object frame)
        ({"somethingNew": {}}, True, None),
        ({"somethingNew": {}}, False, None),
        ({"code": 1011, "message": "internal"}, True, 1011),
        ({"code": 1011, "message": "internal"}, False, 1011),
    ],
)
async def test_odd_frames_end_the_connection_clearly(
    fake_server: Callable[..., FakeServer], frame: Any, fast: bool, code: int | None
) -> None:
    events, ended, _ = await run(fake_server, [frame, CloseWith(1000)], audio_fast_path=fast)
    assert ended.kind is DisconnectKind.TRANSIENT and events == []
    assert ended.code == code
    if code is None:
        assert "unreadable server frame" in ended.reason
