# ruff: noqa: E501  (tables of literal wire frames read better unwrapped)
"""Cassette format (loader, validation errors with line numbers, writer) and wire helpers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtalk_testing.cassette import (
    Cassette,
    CassetteFormatError,
    CloseLine,
    ConnectLine,
    RecvLine,
    SendLine,
    shipped_cassette_names,
    shipped_cassette_path,
)
from realtalk_testing.gemini_wire import (
    decode_b64,
    frame_kind,
    match_frame,
    normalize_frame,
    parse_match,
    to_camel,
)

HEADER = '{"cassette": 1, "provider": "gemini", "model": "m"}'

# Frames as google-genai 3.6.1 sends them (mixed key styles, URL-safe base64).
SDK_FRAMES = [
    ({"setup": {"model": "models/m", "generationConfig": {"responseModalities": ["AUDIO"]}}}, "setup"),
    ({"client_content": {"turns": [{"parts": [{"text": "Hello"}], "role": "user"}], "turnComplete": True}}, "client_content"),
    ({"realtime_input": {"audio": {"data": "-__7__v_-__7__v_-__7_w==", "mime_type": "audio/pcm;rate=16000"}}}, "realtime_input.audio"),
    ({"realtime_input": {"video": {"data": "_9j_4A==", "mime_type": "image/jpeg"}}}, "realtime_input.video"),
    ({"realtime_input": {"text": "typed text"}}, "realtime_input.text"),
    ({"realtime_input": {"activityStart": {}}}, "realtime_input.activity_start"),
    ({"realtime_input": {"activityEnd": {}}}, "realtime_input.activity_end"),
    ({"realtime_input": {"audioStreamEnd": True}}, "realtime_input.audio_stream_end"),
    ({"tool_response": {"functionResponses": [{"id": "fc-1", "name": "w", "response": {"temp": 20}}]}}, "tool_response"),
    ({"realtime_input": {"mediaChunks": [{"data": "AAE=", "mime_type": "audio/pcm"}]}}, "realtime_input.audio"),
    ({"contextUpdate": {"systemInstruction": {"parts": [{"text": "x"}]}}}, "context_update"),
]  # fmt: skip


def load(*lines: str) -> Cassette:
    return Cassette.loads("\n".join([HEADER, *lines]) + "\n", source="t.jsonl")


def errors_of(*lines: str) -> list[tuple[int, str]]:
    with pytest.raises(CassetteFormatError) as info:
        load(*lines)
    return info.value.errors


# -- loading ----------------------------------------------------------------------------


def test_loads_every_action_with_line_numbers() -> None:
    c = load(
        '{"conn": 1, "connect": {"handle": null}}',
        '{"conn": 1, "send": {"setup": {}}, "match": "key"}',
        "",
        '{"conn": 1, "recv": {"setupComplete": {}}, "delay_ms": 5}',
        '{"conn": 1, "send": "realtime_input.audio", "min_seconds": 0.5, "note": "question"}',
        '{"conn": 1, "close": {"code": 1011, "reason": "x"}}',
        '{"conn": 2, "connect": {"handle": "h"}}',
        '{"conn": 2, "drop": true}',
    )
    assert [ln.lineno for ln in c.lines] == [2, 3, 5, 6, 7, 8, 9]
    assert c.conns == [1, 2] and c.model == "m" and not c.strict
    connect = c.lines[0]
    assert isinstance(connect, ConnectLine) and connect.requires_handle and connect.handle is None
    assert isinstance(c.lines[2], RecvLine) and c.lines[2].delay_ms == 5
    audio = c.lines[3]
    assert isinstance(audio, SendLine) and audio.streaming and audio.min_seconds == 0.5
    assert isinstance(c.lines[4], CloseLine) and c.lines[4].code == 1011
    no_handle = Cassette.from_dicts(
        {"cassette": 1, "provider": "gemini"}, [{"conn": 1, "connect": {}}]
    )
    assert not no_handle.lines[0].requires_handle  # type: ignore[union-attr]


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    original = Cassette.shipped("goaway_resume")
    path = original.dump(tmp_path / "sub" / "copy.jsonl")
    again = Cassette.load(path)
    assert again.header == original.header
    assert again.lines == original.lines
    assert path.read_text() == original.dumps()
    assert all(len(json.loads(line)) > 0 for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    ("lines", "lineno", "needle"),
    [
        (['{"conn": 1, "recv": {"setupComplete": {}}', "{oops"], 3, "not valid JSON"),
        (['{"conn": 1, "recv": {"setup_complete": {}}}'], 2, "unknown server message key"),
        (['{"conn": 1, "recv": {"serverContent": {}}, "mtach": "key"}'], 2, "unknown key(s) ['mtach']"),
        (['{"conn": 1, "send": {"realtimeInput": {"audio": {}}}, "match": "fuzzy"}'], 2, "match must be"),
        (['{"conn": 1, "send": "realtime_input.txt"}'], 2, "unknown message kind"),
        (['{"conn": 1, "send": {"hello": {}}}'], 2, "unknown client message"),
        (['{"conn": 1, "send": "tool_response", "match": "exact"}'], 2, "needs a full frame"),
        (['{"conn": 1, "send": "tool_response", "min_bytes": 10}'], 2, "only apply to realtime"),
        (['{"conn": 1, "send": "realtime_input.audio", "min_bytes": 0}'], 2, "positive integer"),
        (['{"conn": 1, "close": {"code": 1006}}'], 2, "use drop for 1006"),
        (['{"conn": 1, "close": {"code": 99}}'], 2, "1000-4999"),
        (['{"conn": 1, "close": {"code": 1000, "reason": "' + "x" * 124 + '"}}'], 2, "123 bytes"),
        (['{"conn": 1, "drop": "yes"}'], 2, "drop"),
        (['{"conn": 2, "drop": true}'], 2, "conn 2 appears before conn 1"),
        (['{"conn": 0, "drop": true}'], 2, "connection number"),
        (['{"conn": 1, "drop": true, "close": {"code": 1000}}'], 2, "exactly one of"),
        (['{"conn": 1, "drop": true}', '{"conn": 1, "recv": {"goAway": {}}}'], 3, "already ended"),
        (['{"conn": 1, "recv": {"goAway": {}}}', '{"conn": 1, "connect": {}}'], 3, "first line"),
        (['{"conn": 1, "connect": {"handel": "h"}}'], 2, "unknown connect expectation"),
        (['{"conn": 1, "send": "client_content", "optional": true}', '{"conn": 1, "recv": {"goAway": {}}}'], 2, "optional send"),
        (['{"conn": 1, "recv": {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "@@@"}}]}}}}'], 2, "not valid base64"),
        (['{"conn": 1, "recv": {"setupComplete": {}}}', '{"conn": 1, "send": "setup"}'], 3, "first send"),
        (['[1, 2]'], 2, "JSON object"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_line(lines: list[str], lineno: int, needle: str) -> None:
    errors = errors_of(*lines)
    assert any(n == lineno and needle in msg for n, msg in errors), errors


def test_all_errors_are_reported_at_once_with_source() -> None:
    with pytest.raises(CassetteFormatError) as info:
        load('{"conn": 1, "recv": {"nope": 1}}', '{"conn": 1, "close": {"code": 1005}}')
    assert [n for n, _ in info.value.errors] == [2, 3]
    assert "t.jsonl:2:" in str(info.value) and "t.jsonl:3:" in str(info.value)


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ('{"provider": "gemini"}', '"cassette": 1'),
        ('{"cassette": 1, "provider": "openai"}', "unsupported provider"),
        ('{"cassette": 1, "strict": "yes"}', '"strict"'),
        ("[]", "header"),
    ],
)
def test_header_is_validated(header: str, needle: str) -> None:
    with pytest.raises(CassetteFormatError, match=needle):
        Cassette.loads(header + "\n")


def test_empty_cassette_is_an_error() -> None:
    with pytest.raises(CassetteFormatError, match="empty cassette"):
        Cassette.loads("\n\n")


def test_shipped_cassettes_load_and_say_they_are_authored() -> None:
    for name in shipped_cassette_names():
        c = Cassette.load(shipped_cassette_path(name))
        assert c.header["provider"] == "gemini"
        assert "not captured from Google" in c.header["authored"]
    with pytest.raises(FileNotFoundError, match="available: barge_in"):
        shipped_cassette_path("nope")


# -- wire normalisation -----------------------------------------------------------------


def test_to_camel() -> None:
    assert to_camel("inline_data") == "inlineData"
    assert to_camel("inlineData") == "inlineData"
    assert to_camel("mime_type") == "mimeType"
    assert to_camel("_private") == "_private"


@pytest.mark.parametrize(("frame", "kind"), SDK_FRAMES)
def test_frame_kinds_of_real_sdk_frames(frame: dict[str, object], kind: str) -> None:
    assert frame_kind(frame) == kind
    assert frame_kind(normalize_frame(frame)) == kind


def test_frame_kind_rejects_unknown_frames() -> None:
    for bad in ({}, {"a": 1, "b": 2}, {"realtimeInput": {}}, {"realtimeInput": {"foo": 1}}):
        with pytest.raises(ValueError):
            frame_kind(bad)


def test_normalise_keys_and_base64_but_not_user_data() -> None:
    frame = {
        "tool_response": {
            "function_responses": [{"id": "1", "response": {"temp_c": 20, "sky_cover": "low"}}]
        },
    }
    assert normalize_frame(frame) == {
        "toolResponse": {"functionResponses": [{"id": "1", "response": {"temp_c": 20, "sky_cover": "low"}}]}
    }  # fmt: skip
    setup = {"setup": {"tools": [{"function_declarations": [{"parameters": {"properties": {"city_name": {"any_of": []}}}}]}]}}  # fmt: skip
    norm = normalize_frame(setup)
    props = norm["setup"]["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]
    assert props == {"city_name": {"anyOf": []}}
    audio = normalize_frame({"realtime_input": {"audio": {"data": "-__7__v_-__7__v_-__7_w"}}})
    assert audio["realtimeInput"]["audio"]["data"] == "+//7//v/+//7//v/+//7/w=="


@given(st.binary(max_size=64))
def test_both_base64_alphabets_decode_the_same(data: bytes) -> None:
    std = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert decode_b64(std) == decode_b64(url) == data
    a = normalize_frame({"realtimeInput": {"audio": {"data": std}}})
    b = normalize_frame({"realtime_input": {"audio": {"data": url}}})
    assert a == b == normalize_frame(a)


def test_decode_b64_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        decode_b64("@@@")
    with pytest.raises(ValueError):
        decode_b64("A")


# -- match modes ------------------------------------------------------------------------


def test_match_modes() -> None:
    expected = normalize_frame(
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                "turnComplete": True,
            }
        }
    )
    same = normalize_frame(
        {
            "client_content": {
                "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                "turn_complete": True,
            }
        }
    )
    other = normalize_frame(
        {"client_content": {"turns": [{"role": "user", "parts": [{"text": "yo"}]}], "turn_complete": True}}
    )  # fmt: skip
    key, exact = parse_match("key"), parse_match("exact")
    assert match_frame(expected, "client_content", key, other) is None
    assert match_frame(expected, "client_content", exact, same) is None
    assert "differs" in (match_frame(expected, "client_content", exact, other) or "")
    ignore = parse_match({"ignore": ["client_content.turns.*.parts"]})
    assert match_frame(expected, "client_content", ignore, other) is None
    ignore_other = parse_match({"ignore": ["clientContent.turnComplete"]})
    assert match_frame(expected, "client_content", ignore_other, other) is not None
    subset = parse_match({"subset": {"clientContent": {"turns": [{"parts": [{"text": "hi"}]}]}}})
    assert match_frame(None, "client_content", subset, same) is None
    assert match_frame(None, "client_content", subset, other) is not None
    longer = parse_match({"subset": {"clientContent": {"turns": [{}, {}]}}})
    assert match_frame(None, "client_content", longer, same) is not None
    assert match_frame(None, "tool_response", key, same) == (
        "expected tool_response, got client_content"
    )


@pytest.mark.parametrize("raw", ["fuzzy", {"ignore": "a"}, {"subset": 1}, {"a": 1, "b": 2}, 3])
def test_parse_match_rejects_malformed(raw: object) -> None:
    with pytest.raises(ValueError, match=r"match|ignore|subset"):
        parse_match(raw)


def test_line_ranges() -> None:
    from realtalk_testing.report import line_ranges

    assert line_ranges([]) == ""
    assert line_ranges([4]) == "4"
    assert line_ranges([9, 5, 6, 7, 11, 12]) == "5-7, 9, 11-12"
