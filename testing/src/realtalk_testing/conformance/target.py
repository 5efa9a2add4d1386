"""What the conformance suite runs against: a provider, its cassettes and its replay server.

A target says which model name routes to the provider (through the plugin registry, as
an application would), which cassette plays each scenario, and how to serve a cassette
so the provider connects to it offline. Built-in targets exist for Gemini and OpenAI;
a third-party plugin builds its own `ConformanceTarget` in a few lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from realtalk.provider import Provider

__all__ = [
    "CASSETTE_KEYS",
    "FEATURES",
    "ConformanceTarget",
    "Replay",
    "ReplayFactory",
    "gemini_target",
    "openai_target",
]

CASSETTE_KEYS = (
    "spoken_question",
    "tool_call",
    "barge_in",
    "drop_reconnect",
    "text_turn",
)
"""Cassettes a target may provide; a scenario whose cassette is missing is skipped."""

_HERE = Path(__file__).parent

FEATURES = frozenset(
    {"input_transcription", "output_transcription", "tools", "barge_in", "reconnect", "text"}
)
"""What a provider may claim. Scenarios needing an unclaimed feature are skipped, and
checks of an unclaimed feature (e.g. transcripts) are left out; claimed ones must hold."""

EndOfSpeech = Literal["vad", "stream_end", "activity"]


@runtime_checkable
class Replay(Protocol):
    """A running replay of one cassette (e.g. ``FakeOpenAIServer`` inside ``async with``)."""

    @property
    def provider_options(self) -> dict[str, Any]:
        """Options that point the provider at this replay (URL, TLS, a fake key...)."""
        ...

    def assert_played(self) -> None:
        """Raise AssertionError (or a subclass) unless the cassette played exactly."""
        ...


ReplayFactory = Callable[[Path], contextlib.AbstractAsyncContextManager[Replay]]
"""Serve one cassette: ``async with factory(path) as replay: ...``."""


@dataclass(frozen=True)
class ConformanceTarget:
    """One provider under test.

    ``model`` must route to the provider through the installed plugins (unless
    ``provider`` names it or is an instance). ``cassettes`` maps the keys of
    `CASSETTE_KEYS` to cassette paths, served by ``replay``; a provider that needs no
    server (it runs in-process, or scripts itself) leaves both out. ``features`` are the
    `FEATURES` it claims. ``end_of_speech`` says how the user's turn ends: server
    ``"vad"`` hears the silence, ``"stream_end"`` sends ``audio_stream_end`` after the
    speech, ``"activity"`` disables VAD and wraps the speech in activity start/end.
    ``provider_options`` are merged over the replay's. ``skip`` maps scenario names to the
    reason they do not apply.
    """

    name: str
    model: str
    cassettes: Mapping[str, str | Path] = field(default_factory=dict)
    replay: ReplayFactory | None = None
    provider: str | Provider | None = None
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    features: frozenset[str] = FEATURES
    end_of_speech: EndOfSpeech = "vad"
    skip: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.features) - FEATURES
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; known: {sorted(FEATURES)}")
        if self.cassettes and self.replay is None:
            raise ValueError("cassettes need a replay factory to serve them")

    def cassette(self, key: str) -> Path | None:
        value = self.cassettes.get(key)
        return Path(value) if value is not None else None

    def claims(self, feature: str) -> bool:
        return feature in self.features


# --------------------------------------------------------------------------- built-ins


class _GeminiReplay:
    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def provider_options(self) -> dict[str, Any]:
        return {"api_key": "test-key", "http_options": self.server.http_options}

    def assert_played(self) -> None:
        self.server.assert_played()


@contextlib.asynccontextmanager
async def _gemini_replay(path: Path) -> AsyncIterator[Replay]:
    from ..gemini_server import FakeGeminiServer

    async with FakeGeminiServer(path, strict=False) as server:
        yield _GeminiReplay(server)


@contextlib.asynccontextmanager
async def _openai_replay(path: Path) -> AsyncIterator[Replay]:
    from ..openai_server import FakeOpenAIServer

    async with FakeOpenAIServer(path, strict=False) as server:
        yield server


def gemini_target(model: str = "gemini-live-2.5-flash-preview") -> ConformanceTarget:
    """The Gemini plugin against the shipped Gemini cassettes and FakeGeminiServer."""
    from ..cassette import SHIPPED_DIR

    return ConformanceTarget(
        name="gemini",
        model=model,
        cassettes={
            "spoken_question": SHIPPED_DIR / "spoken_question.jsonl",
            "tool_call": SHIPPED_DIR / "tool_call.jsonl",
            "barge_in": SHIPPED_DIR / "barge_in.jsonl",
            "drop_reconnect": SHIPPED_DIR / "drop_and_abort.jsonl",
            "text_turn": _HERE / "cassettes" / "gemini_text_turn.jsonl",
        },
        replay=_gemini_replay,
    )


def openai_target(model: str = "gpt-realtime") -> ConformanceTarget:
    """The OpenAI plugin against the shipped OpenAI cassettes and FakeOpenAIServer."""
    from ..openai_wire import OPENAI_SHIPPED_DIR

    return ConformanceTarget(
        name="openai",
        model=model,
        cassettes={key: OPENAI_SHIPPED_DIR / f"{key}.jsonl" for key in CASSETTE_KEYS},
        replay=_openai_replay,
    )
