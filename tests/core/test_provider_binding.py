"""A per-session override never moves a session to another provider, so the agent's
``provider_options`` (credentials) only ever reach the provider they were written for.
Checked for every installed provider against every other one."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from realtalk import AudioAgent, RealtimeConfig
from realtalk.agent import resolve_session_config
from realtalk.plugins import get_registry
from realtalk.provider_binding import ProviderOverrideError
from realtalk.queue import LiveInputQueue
from realtalk_testing import emit, expect


def sample_models() -> dict[str, str]:
    """One concrete model name per installed provider (from its first model pattern)."""
    return {
        name: record.models[0].replace("*", "x")
        for name, record in sorted(get_registry().providers.items())
        if record.models
    }


MODELS = sample_models()
PAIRS = [(a, b) for a, b in itertools.permutations(MODELS, 2)]


def test_every_shipped_provider_is_covered() -> None:
    assert {"gemini", "openai", "fake"} <= set(MODELS)


def agent_for(provider: str, **extra: Any) -> AudioAgent:
    config = RealtimeConfig(
        model=MODELS[provider], provider_options={"api_key": f"secret-of-{provider}", **extra}
    )
    return AudioAgent(MODELS[provider], realtime_config=config)


@pytest.mark.parametrize(("own", "other"), PAIRS)
@pytest.mark.parametrize("named", [False, True], ids=["by-model", "by-name"])
def test_another_providers_model_is_refused(own: str, other: str, named: bool) -> None:
    agent = agent_for(own)
    if named:
        agent = AudioAgent(MODELS[own], realtime_config=agent.realtime_config.merged(provider=own))
    with pytest.raises(ProviderOverrideError, match=f"not served by '{own}'"):
        resolve_session_config(agent, {"model": MODELS[other]})
    with pytest.raises(ProviderOverrideError, match="cannot change the provider"):
        resolve_session_config(agent, {"provider": other})
    with pytest.raises(ProviderOverrideError):
        resolve_session_config(agent, {"realtime_config": {"model": MODELS[other]}})


@pytest.mark.parametrize("own", sorted(MODELS))
def test_a_model_of_the_same_provider_is_pinned_to_it(own: str) -> None:
    agent = agent_for(own)
    same = get_registry().providers[own].models[-1].replace("*", "other")
    realtime = resolve_session_config(agent, {"model": same})["realtime_config"]
    assert (realtime.model, realtime.provider) == (same, own)
    assert realtime.provider_options["api_key"] == f"secret-of-{own}"
    untouched = resolve_session_config(agent, {"voice": "Puck"})["realtime_config"]
    assert untouched.provider is None  # nothing to pin when the model stays


async def test_arealtime_refuses_before_any_provider_is_built() -> None:
    app = agent_for("gemini").compile()
    with pytest.raises(ProviderOverrideError):
        async for _ in app.arealtime(LiveInputQueue(), {"model": MODELS["openai"]}):
            pass


async def test_a_same_provider_session_gets_the_agents_options() -> None:
    script = [[expect.text("hi"), emit.speech("hello", seconds=0.1), emit.turn_complete()]]
    app = agent_for("fake", script=script).compile()
    queue = LiveInputQueue()
    queue.send_text("hi")
    kinds = []
    async for event in app.arealtime(queue, {"model": "fake-other"}):
        kinds.append(event.type)
        if event.type == "turn_complete":
            queue.close()
    assert "turn_complete" in kinds
