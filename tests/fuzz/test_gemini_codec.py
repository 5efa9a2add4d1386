"""Fuzzing the Gemini codec with server messages of valid shape, unknown fields included.

Frames are built from the Live API's server message shapes with random contents, random
subsets of fields and unknown fields sprinkled at every level (servers add fields over
time). Each is parsed exactly as google-genai's ``receive()`` parses wire JSON, then
decoded. Properties: decoding never raises; every event is a valid neutral event that
survives JSON; a finished transcript is exactly the fragments emitted since the last one
(per speaker); tool calls always carry an id; audio carries a positive sample rate.
"""

from __future__ import annotations

import base64
from typing import Any

from google.genai import _live_converters, types
from hypothesis import given
from hypothesis import strategies as st

from realtalk.events import (
    AudioDeltaEvent,
    InputTranscriptEvent,
    OutputTranscriptEvent,
    ToolCallEvent,
    event_from_json,
    event_to_json,
)
from realtalk_gemini import codec

from ._budget import TRIED, budget

unknown_keys = st.sampled_from(["futureField", "x", "debugInfo", "groundingMetadata2"])
unknown_values = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
words = st.text(max_size=12)


def shaped(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any subset of ``fields`` plus, sometimes, unknown fields."""
    return st.builds(
        lambda known, extra: {**known, **extra},
        st.fixed_dictionaries({}, optional=fields),
        st.dictionaries(unknown_keys, unknown_values, max_size=2),
    )


b64 = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
mime = st.sampled_from(
    ["audio/pcm;rate=24000", "audio/pcm;rate=16000", "audio/pcm", "audio/pcm;rate=abc", "text/x"]
)
part = st.one_of(
    shaped({"inlineData": shaped({"mimeType": mime, "data": b64})}),
    shaped({"text": words, "thought": st.booleans()}),
)
transcription = shaped({"text": words, "finished": st.booleans()})
server_content = shaped(
    {
        "modelTurn": shaped({"parts": st.lists(part, max_size=3), "role": st.just("model")}),
        "inputTranscription": transcription,
        "outputTranscription": transcription,
        "turnComplete": st.booleans(),
        "generationComplete": st.booleans(),
        "interrupted": st.booleans(),
    }
)
json_args = st.dictionaries(
    st.text(max_size=6), st.none() | st.integers() | st.text(max_size=6), max_size=3
)
function_call = shaped({"id": st.text(max_size=6), "name": st.text(max_size=8), "args": json_args})
durations = st.sampled_from(["50s", "0s", "1.5s", "", "abc", "-3s", "1e400s"]) | words
messages = st.one_of(
    st.fixed_dictionaries({"serverContent": server_content}),
    st.fixed_dictionaries(
        {"toolCall": shaped({"functionCalls": st.lists(function_call, max_size=3)})}
    ),
    st.fixed_dictionaries(
        {"toolCallCancellation": shaped({"ids": st.lists(st.text(max_size=6), max_size=3)})}
    ),
    st.fixed_dictionaries({"goAway": shaped({"timeLeft": durations})}),
    st.fixed_dictionaries(
        {"sessionResumptionUpdate": shaped({"newHandle": words, "resumable": st.booleans()})}
    ),
    st.fixed_dictionaries(
        {
            "usageMetadata": shaped(
                {
                    "promptTokenCount": st.integers(0, 10**9),
                    "responseTokenCount": st.integers(0, 10**9),
                    "totalTokenCount": st.integers(0, 10**9),
                }
            )
        }
    ),
    st.fixed_dictionaries({"setupComplete": shaped({})}),
)


def parse(frame: dict[str, Any]) -> types.LiveServerMessage:
    """The SDK's own parsing of a wire frame (what ``session.receive()`` yields)."""
    converted = _live_converters._LiveServerMessage_from_mldev(frame)
    return types.LiveServerMessage._from_response(response=converted, kwargs={})


@budget(600)
@given(st.lists(messages, max_size=12))
def test_decoding_any_server_message_sequence_keeps_the_contract(
    frames: list[dict[str, Any]],
) -> None:
    TRIED["gemini codec: server messages"] += len(frames)
    decoder = codec.Decoder()
    pending = {"in": "", "out": ""}
    for frame in frames:
        for event in decoder.decode(parse(frame)):
            assert event_from_json(event_to_json(event)) == event
            if isinstance(event, AudioDeltaEvent):
                assert event.sample_rate > 0
            if isinstance(event, ToolCallEvent):
                assert event.id and isinstance(event.args, dict)
            if isinstance(event, InputTranscriptEvent | OutputTranscriptEvent):
                side = "in" if isinstance(event, InputTranscriptEvent) else "out"
                if event.finished:
                    assert event.text == pending[side]
                    pending[side] = ""
                else:
                    pending[side] += event.text
            if event.type == "interrupted":
                pending = {"in": "", "out": ""}
