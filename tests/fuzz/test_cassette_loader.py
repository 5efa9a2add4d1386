"""Fuzzing the cassette loader: any text is a cassette or a CassetteFormatError.

Inputs range from arbitrary text to JSONL whose lines use the format's own keys with
values of every JSON type, so the fuzzer reaches each line parser. A loaded cassette
writes back to text that loads to the same cassette.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from realtalk_testing import Cassette
from realtalk_testing.cassette import CassetteFormatError

from ._budget import TRIED, budget

KEYS = [
    "conn", "send", "recv", "close", "drop", "connect", "match", "min_bytes", "min_seconds",
    "optional", "delay_ms", "note", "handle", "subset", "code", "reason", "ignore",
]  # fmt: skip
FRAMES = [
    "setup", "tool_response", "realtime_input.audio", "client_content", "exact", "key",
    {"setupComplete": {}}, {"serverContent": {"turnComplete": True}}, {"goAway": {}},
    {"toolResponse": {"functionResponses": [{"id": "c"}]}}, {"bogus": 1},
    {"realtimeInput": {"audio": {"data": "AA==", "mimeType": "audio/pcm"}}},
    {"realtimeInput": {"audio": {"data": "!!", "mimeType": "audio/pcm"}}},
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 5000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(FRAMES)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
line = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)
conn_line = st.builds(lambda n, rest: {"conn": n, **rest}, st.integers(0, 3), line)
header = st.fixed_dictionaries(
    {"cassette": st.sampled_from([1, 1, 1, 2, "1"]), "provider": st.sampled_from(["gemini", "x"])},
    optional={"strict": st.booleans() | st.integers(0, 1)},
)
documents = st.one_of(
    st.text(max_size=400),
    st.builds(
        lambda h, ls: "\n".join(json.dumps(x) for x in [h, *ls]),
        header,
        st.lists(conn_line | line, max_size=8),
    ),
    st.builds(lambda h, n: json.dumps(h) + "\n" + "[" * n + "]" * n, header, st.integers(1, 1500)),
)


@budget(400)
@given(documents)
def test_any_text_loads_or_is_refused_with_line_numbers(text: str) -> None:
    TRIED["cassette loader: documents"] += 1
    try:
        cassette = Cassette.loads(text, source="fuzz.jsonl")
    except CassetteFormatError as exc:
        assert exc.errors, "a refusal names at least one problem"
        assert all(isinstance(n, int) and n >= 1 for n, _ in exc.errors)
        assert "fuzz.jsonl" in str(exc)
        return
    again = Cassette.loads(cassette.dumps(), source="again.jsonl")
    assert again.to_dicts() == cassette.to_dicts()


def test_bug_deeply_nested_cassette_line_raised_recursion_error() -> None:
    """Found by the fuzzer: a line nested deeper than the JSON parser's recursion limit
    raised RecursionError instead of a CassetteFormatError naming the line."""
    text = json.dumps({"cassette": 1, "provider": "gemini"}) + "\n" + "[" * 100_000
    try:
        Cassette.loads(text, source="deep.jsonl")
    except CassetteFormatError as exc:
        assert [n for n, _ in exc.errors] == [2]
    else:
        raise AssertionError("accepted")
