"""Property tests of the pure protocol layer: any client input yields a frame or a
ProtocolError (never another exception), and errors stay short whatever the input."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from realtalk.bridge.protocol import (
    DEFAULT_OVERRIDES,
    ProtocolError,
    encode_event,
    parse_client_frame,
    parse_session_request,
)
from realtalk.events import AudioDeltaEvent, OutputTranscriptEvent

ALLOWED = frozenset(DEFAULT_OVERRIDES)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
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


@settings(max_examples=300, deadline=None)
@given(frames)
def test_client_frames_parse_or_fail_cleanly(text: str) -> None:
    try:
        parse_client_frame(text)
    except ProtocolError as exc:
        assert exc.code in {"bad_frame", "unknown_type", "bad_field"}
        assert len(exc.message) < 400


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
