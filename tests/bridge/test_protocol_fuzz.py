"""Property tests of the pure protocol layer: any client input yields a frame or a
ProtocolError (never another exception), errors stay short whatever the input, and what
is accepted is plain JSON (finite numbers of bounded length, real Unicode text)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtalk.bridge.protocol import (
    DEFAULT_OVERRIDES,
    MAX_NUMBER_CHARS,
    ProtocolError,
    TextFrame,
    encode_event,
    parse_client_frame,
    parse_session_request,
)
from realtalk.events import AudioDeltaEvent, OutputTranscriptEvent

ALLOWED = frozenset(DEFAULT_OVERRIDES)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.text(st.characters(codec=None, categories=["Cs"]), min_size=1, max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.dictionaries(
        st.sampled_from(["type", "text", "data", "mime_type", "x", "thread_id", "vad"]),
        json_values,
        max_size=4,
    ).map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "close", "activity_start", "dance"])},
        optional={"text": json_values, "data": st.text(max_size=40), "mime_type": st.text()},
    ).map(json.dumps),
)

# The hostile class: numbers far over any field's needs (thousands of digits, exponents
# out of float range, NaN/Infinity literals), lone surrogates as JSON escapes, and deep
# nesting, anywhere in a frame.
huge_numbers = st.one_of(
    st.integers(min_value=MAX_NUMBER_CHARS + 1, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=5000).map(lambda n: "-1" + "0" * (MAX_NUMBER_CHARS + n)),
    st.integers(min_value=309, max_value=10**6).map(lambda e: f"1e{e}"),
    st.integers(min_value=1, max_value=200).map(lambda n: "0." + "1" * (MAX_NUMBER_CHARS + n)),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]),
)
surrogates = st.integers(min_value=0xD800, max_value=0xDFFF).map(lambda c: f'"\\u{c:04x}"')
hostile_values = st.one_of(
    huge_numbers,
    surrogates,
    st.tuples(surrogates, st.text(max_size=5)).map(lambda t: t[0][:-1] + json.dumps(t[1])[1:]),
    st.integers(min_value=1, max_value=100_000).map(lambda d: "[" * d + "]" * d),
    st.integers(min_value=1, max_value=100_000).map(lambda d: '{"a":' * d + "1" + "}" * d),
)
HOSTILE_TEMPLATES = (
    "@",
    '{"type": "text", "text": @}',
    '{"type": "text", "text": "hi", "extra": @}',
    '{"type": "image", "data": @}',
    '{"type": @}',
    '{"vad": {"silence_duration_ms": @}}',
    '{"input_sample_rate": @}',
    '{"thread_id": @}',
    '{"thread_id": "a", "x": [1, @]}',
    "{@: 1}",
    "[1, @]",
)
"""Where a hostile value sits in a frame (``@``)."""
hostile_frames = st.tuples(st.sampled_from(HOSTILE_TEMPLATES), hostile_values).map(
    lambda t: t[0].replace("@", t[1])
)


def _assert_plain(value: Any) -> None:
    """Accepted values survive what later layers do with them: encode, store, send on."""
    json.dumps(value, allow_nan=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(hostile_frames)
def test_hostile_frames_are_refused_never_another_error(text: str) -> None:
    for parse in (parse_client_frame, lambda t: parse_session_request(t, ALLOWED)):
        try:
            parse(text)
        except ProtocolError as exc:
            assert exc.code in {"bad_frame", "bad_field", "bad_override", "unknown_type"}
            assert len(exc.message) < 400
        else:
            raise AssertionError(f"accepted {text[:80]!r}")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1" * 5000, "number of 5000 characters"),
        ('{"type": "text", "text": "hi", "n": %s}' % ("1" * 5000), "number of 5000 characters"),
        ('{"vad": {"prefix_padding_ms": %s}}' % ("2" * 5000), "number of 5000 characters"),
        ('{"type": "text", "text": "\\ud800"}', "lone surrogate"),
        ('{"type": "text", "text": "a\\udfffb"}', "lone surrogate"),
        ('{"thread_id": "\\ud800"}', "lone surrogate"),
        ('{"\\ud800": 1}', "lone surrogate"),
        ('{"vad": {"silence_duration_ms": 1e999}}', "out of range"),
        ('{"vad": {"silence_duration_ms": NaN}}', "NaN"),
    ],
)
def test_numbers_and_surrogates_are_refused_as_bad_frame(text: str, why: str) -> None:
    for parse in (parse_client_frame, lambda t: parse_session_request(t, ALLOWED)):
        with pytest.raises(ProtocolError) as info:
            parse(text)
        assert info.value.code == "bad_frame" and why in info.value.message


def test_escaped_surrogate_pairs_are_text() -> None:
    frame = parse_client_frame('{"type": "text", "text": "smile \\ud83d\\ude00"}')
    assert frame == TextFrame(text="smile \U0001f600")


@settings(max_examples=300, deadline=None)
@given(frames)
def test_client_frames_parse_or_fail_cleanly(text: str) -> None:
    try:
        frame = parse_client_frame(text)
    except ProtocolError as exc:
        assert exc.code in {"bad_frame", "unknown_type", "bad_field"}
        assert len(exc.message) < 400
    else:
        if isinstance(frame, TextFrame):
            _assert_plain(frame.text)


@settings(max_examples=300, deadline=None)
@given(frames)
def test_first_frames_parse_or_fail_cleanly(text: str) -> None:
    try:
        request = parse_session_request(text, ALLOWED)
    except ProtocolError as exc:
        assert exc.code in {"bad_frame", "bad_override"}
        assert len(exc.message) < 400
    else:
        assert set(request.overrides) <= ALLOWED
        _assert_plain(request.overrides)


def test_long_client_values_are_not_echoed() -> None:
    huge = "x" * 100_000
    for text in (
        json.dumps({"type": huge}),
        json.dumps({"type": "text", "text": "a", huge: 1}),
        json.dumps({huge: 1}),
    ):
        try:
            parse_client_frame(text) if '"type"' in text else parse_session_request(text, ALLOWED)
        except ProtocolError as exc:
            assert len(exc.message) < 400
        else:
            raise AssertionError("accepted")


def test_encode_event_sends_audio_as_bytes_and_the_rest_as_json() -> None:
    assert encode_event(AudioDeltaEvent(data=b"\x01\x02")) == b"\x01\x02"
    assert json.loads(encode_event(OutputTranscriptEvent(text="hi"))) == {  # type: ignore[arg-type]
        "type": "output_transcript",
        "text": "hi",
        "finished": False,
    }
