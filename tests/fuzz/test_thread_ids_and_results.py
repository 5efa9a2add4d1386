"""Fuzzing thread ids and tool results: the classes behind issue 16's items 3, 4 and 12.

Thread ids: any text is accepted exactly when an independent spelling of the documented
rule accepts it, by the validator, the runtime's config check and the bridge's first
frame alike, and a refusal is a short ValueError / ``bad_override``. Tool results: any
nesting of containers, dataclasses, models and binary data becomes JSON data, with every
byte string recoverable from its base64.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from realtalk import AudioAgent
from realtalk.agent import resolve_session_config
from realtalk.bridge.config import DEFAULT_OVERRIDES
from realtalk.bridge.protocol import ProtocolError, parse_session_request
from realtalk.runtime.tool_runner import jsonable
from realtalk.thread_ids import THREAD_ID_MAX_LENGTH, is_valid_thread_id
from realtalk_testing import FakeProvider

from ._budget import TRIED, budget

FIRST = set(string.ascii_letters + string.digits)
REST = FIRST | set("._:@-")
AGENT = AudioAgent("fake-live", provider=FakeProvider([]))


def documented_rule(value: str) -> bool:
    """docs/sessions.md#thread-ids, spelled without a regex."""
    return (
        1 <= len(value) <= THREAD_ID_MAX_LENGTH
        and value[0] in FIRST
        and all(c in REST for c in value)
    )


near_valid = st.builds(
    lambda head, tail, extra, at: (head + tail)[:at] + extra + (head + tail)[at:],
    st.sampled_from(sorted(FIRST)),
    st.text(alphabet=sorted(REST), max_size=300),
    st.text(max_size=2),  # any character, controls and line separators included
    st.integers(0, 301),
)
thread_ids = near_valid | st.text(max_size=40) | st.text(alphabet=sorted(REST), max_size=300)


@budget(500)
@given(thread_ids)
def test_one_rule_for_the_validator_the_runtime_and_the_bridge(value: str) -> None:
    TRIED["thread_id_rule"] += 1
    expected = documented_rule(value)
    assert is_valid_thread_id(value) is expected
    try:
        resolved = resolve_session_config(AGENT, {"thread_id": value})
    except ValueError as exc:
        assert not expected, exc
        assert len(str(exc)) < 300
    else:
        assert expected and resolved["config"]["thread_id"] == value
    try:
        text = json.dumps({"thread_id": value})
    except UnicodeEncodeError:  # a lone surrogate: not something a frame can carry
        return
    try:
        request = parse_session_request(text, set(DEFAULT_OVERRIDES))
    except ProtocolError as exc:
        assert not expected and exc.code == "bad_override"
        assert len(exc.message) < 400
    else:
        assert expected and request.thread_id == value


class Model(BaseModel):
    blob: bytes
    items: list[Any] = []


@dataclasses.dataclass
class Record:
    blob: bytes
    inner: Any


binary = st.binary(max_size=24)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | binary
    | binary.map(bytearray)
    | binary.map(memoryview)
)
results = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        | st.dictionaries(binary, inner, max_size=3)  # apart: b"" and "" would be one key
        | st.builds(Record, binary, inner)
        | st.builds(lambda b, xs: Model(blob=b, items=xs), binary, st.lists(inner, max_size=2))
    ),
    max_leaves=10,
)


def _bytes_in(value: Any) -> list[bytes]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [bytes(value)]
    if isinstance(value, BaseModel):
        return [value.blob, *_bytes_in(value.items)]
    if isinstance(value, Record):
        return [value.blob, *_bytes_in(value.inner)]
    if isinstance(value, dict):
        return [b for k, v in value.items() for b in (*_bytes_in(k), *_bytes_in(v))]
    if isinstance(value, (list, tuple)):
        return [b for item in value for b in _bytes_in(item)]
    return []


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings_in(k), *_strings_in(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings_in(item)]
    return []


@budget(300)
@given(results)
def test_any_result_becomes_json_with_its_bytes_as_base64(value: Any) -> None:
    TRIED["tool_result_json"] += 1
    converted = jsonable(value)
    json.dumps(converted, allow_nan=False)  # plain JSON data, whatever went in
    strings = set(_strings_in(converted))
    for raw in _bytes_in(value):
        assert base64.b64encode(raw).decode("ascii") in strings


@pytest.mark.parametrize("value", [b"", bytearray(), memoryview(b"")])
def test_empty_binary_is_an_empty_string(value: Any) -> None:
    assert jsonable(value) == ""
