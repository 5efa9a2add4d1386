"""Fuzzing the bridge's frame handling through its pure functions.

Any bytes, any text, any JSON (with the protocol's own keys mixed in, so the fuzzer
reaches deep branches): the result is a parsed frame or a :class:`ProtocolError` whose
code is one of the documented ones and whose message is short (a hostile client's value
is never echoed at length), and which turns into a JSON ``error`` event the bridge can
send. Nothing else may escape: in the server, another exception would end the session.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from realtalk.bridge.protocol import (
    DEFAULT_OVERRIDES,
    OVERRIDE_FIELDS,
    UPSTREAM_TYPES,
    ControlFrame,
    ImageFrame,
    ProtocolError,
    SessionRequest,
    TextFrame,
    check_audio_frame,
    parse_client_frame,
    parse_session_request,
)
from realtalk.events import event_from_json, event_to_json

from ._budget import TRIED, budget

CODES = {"bad_frame", "bad_override", "bad_field", "unknown_type", "bad_audio"}
KEYS = sorted(OVERRIDE_FIELDS | {"type", "text", "data", "mime_type", "x", ""})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=50)
    | st.sampled_from([*UPSTREAM_TYPES, "image/png", "image/jpeg", "AUDIO", "TEXT", "AA=="])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=16,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
typed = st.builds(
    lambda kind, rest: {"type": kind, **rest},
    st.sampled_from([*UPSTREAM_TYPES, "dance", ""]) | json_values,
    st.dictionaries(st.sampled_from(["text", "data", "mime_type", "x"]), json_values, max_size=3),
)
texts = st.one_of(
    st.text(max_size=300),
    json_values.map(json.dumps),
    objects.map(json.dumps),
    typed.map(json.dumps),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n),  # deep nesting
    # numbers no field needs (thousands of digits, out of float range, NaN) and lone
    # surrogate escapes, inside otherwise valid frames: refused, never a ValueError
    st.tuples(
        st.sampled_from(['{"type": "text", "text": "a", "n": @}', '{"vad": {"x": @}}', "[@]"]),
        st.one_of(
            st.integers(101, 6000).map(lambda n: "9" * n),
            st.sampled_from(["1e999", "-1e400", "NaN", "Infinity", "-Infinity"]),
            st.integers(0xD800, 0xDFFF).map(lambda c: f'"\\u{c:04x}"'),
        ),
    ).map(lambda t: t[0].replace("@", t[1])),
)


def _clean(exc: ProtocolError) -> None:
    assert exc.code in CODES, exc.code
    assert len(exc.message) < 400, exc.message
    event = event_from_json(event_to_json(exc.to_event()))
    assert event.type == "error" and not event.fatal


@budget(500)
@given(texts)
def test_any_text_frame_parses_or_is_refused_clearly(text: str) -> None:
    TRIED["bridge: text frames"] += 1
    try:
        frame = parse_client_frame(text)
    except ProtocolError as exc:
        _clean(exc)
        return
    assert isinstance(frame, TextFrame | ImageFrame | ControlFrame)
    if isinstance(frame, ImageFrame):
        assert frame.data and frame.mime_type in ("image/jpeg", "image/png")
    if isinstance(frame, TextFrame):
        assert frame.text
        frame.text.encode("utf-8")  # real Unicode: storable and sendable


@budget(500)
@given(texts, st.sets(st.sampled_from(sorted(OVERRIDE_FIELDS))))
def test_any_first_frame_parses_or_is_refused_clearly(text: str, allowed: set[str]) -> None:
    TRIED["bridge: first frames"] += 1
    try:
        request = parse_session_request(text, allowed or set(DEFAULT_OVERRIDES))
    except ProtocolError as exc:
        _clean(exc)
        return
    assert isinstance(request, SessionRequest)
    assert set(request.overrides) <= (allowed or set(DEFAULT_OVERRIDES))
    json.dumps(request.overrides, allow_nan=False).encode("utf-8")  # plain, finite JSON


@budget(500)
@given(st.binary(max_size=4096))
def test_any_binary_frame_is_audio_or_refused_clearly(data: bytes) -> None:
    TRIED["bridge: binary frames"] += 1
    try:
        check_audio_frame(data)
    except ProtocolError as exc:
        _clean(exc)
        assert not data or len(data) % 2
    else:
        assert data and len(data) % 2 == 0


def test_bug_image_frame_with_a_non_string_mime_type_raised_type_error() -> None:
    """Found by the fuzzer: ``{"type": "image", "mime_type": [...]}`` raised TypeError
    (unhashable) instead of a ProtocolError, escaping the bridge's error handling."""
    for mime in ([], {}, ["image/png"], {"a": 1}):
        frame: dict[str, Any] = {"type": "image", "mime_type": mime, "data": "AA=="}
        try:
            parse_client_frame(json.dumps(frame))
        except ProtocolError as exc:
            assert exc.code == "bad_field" and "mime_type" in exc.message
        else:
            raise AssertionError(f"accepted mime_type {mime!r}")
