"""Fuzzing configuration: anything a user can write is a valid config or a clear error.

``RealtimeConfig`` (with nested ``vad`` / ``reconnect``) from arbitrary mappings, and the
bridge's ``realtalk.json`` from arbitrary file contents. A rejection is a ``ValueError``
(pydantic's ValidationError or the bridge's ConfigError), never another exception; an
accepted config round-trips and goes through the Gemini codec's setup translation.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from realtalk.bridge.config import ConfigError, load_config
from realtalk.config import RealtimeConfig
from realtalk.provider import SessionSetup
from realtalk_gemini import codec

from ._budget import TRIED, budget

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["AUDIO", "TEXT", "low", "high", "default", "gemini-live-x", " "])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
VAD = ["enabled", "start_sensitivity", "end_sensitivity", "prefix_padding_ms",
       "silence_duration_ms"]  # fmt: skip
RECONNECT = ["enabled", "base_delay", "max_delay", "max_attempts", "jitter", "buffer_seconds"]
FIELDS = [*sorted(RealtimeConfig.model_fields), "bogus"]

realtime_dicts = st.builds(
    lambda model, rest, vad, reconnect: {
        "model": model,
        **rest,
        **({"vad": vad} if vad is not None else {}),
        **({"reconnect": reconnect} if reconnect is not None else {}),
    },
    st.sampled_from(["gemini-live-2.5-flash-preview", "", "  ", "m"]) | values,
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=4),
    st.none() | st.dictionaries(st.sampled_from(VAD), values, max_size=3),
    st.none() | st.dictionaries(st.sampled_from(RECONNECT), values, max_size=3),
)


@budget(300)
@given(realtime_dicts)
def test_realtime_config_is_valid_or_a_value_error(data: dict[str, Any]) -> None:
    TRIED["config: RealtimeConfig"] += 1
    try:
        config = RealtimeConfig.model_validate(data)
    except ValueError as exc:
        assert str(exc)
        return
    assert RealtimeConfig.model_validate(config.model_dump()) == config
    for attempt in range(1, 8):
        assert 0 <= config.reconnect.delay(attempt) <= config.reconnect.max_delay
    codec.live_connect_config(SessionSetup(config=config))


BRIDGE_KEYS = ["agent", "checkpointer", "auth", "tokens", "limits", "overrides", "cors", "x"]
bridge_docs = st.one_of(
    st.dictionaries(st.sampled_from(BRIDGE_KEYS), values, max_size=4).map(json.dumps),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda n: "{" + '"a":[' * n),
)


@budget(150)
@given(bridge_docs | st.binary(max_size=60))
def test_bridge_config_file_is_valid_or_a_config_error(content: str | bytes) -> None:
    TRIED["config: realtalk.json"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "realtalk.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc)


def test_bug_bridge_config_not_utf8_or_nested_too_deeply_escaped_as_raw_errors(
    tmp_path: Path,
) -> None:
    """Found by the fuzzer: a realtalk.json that is not UTF-8 raised UnicodeDecodeError,
    and one nested past the JSON parser's recursion limit raised RecursionError, instead
    of a ConfigError naming the file (``realtalk api`` showed a traceback)."""
    path = tmp_path / "realtalk.json"
    for content, words in ((b"\x80{}", "UTF-8"), (b"[" * 100_000, "nested too deeply")):
        path.write_bytes(content)
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(path) in str(exc) and words in str(exc)
        else:
            raise AssertionError("accepted")
