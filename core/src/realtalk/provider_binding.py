"""A session runs on its agent's provider, and only that provider sees the agent's options.

``provider_options`` hold credentials written for one provider (a Gemini ``api_key``, an
OpenAI ``base_url``...). If a per-session ``model`` override could pick the provider anew
(``RealtimeConfig(provider=None)`` resolves by model name), ``{"model": "gpt-realtime"}``
on a Gemini agent would hand the Gemini key to the OpenAI plugin. So the provider is
fixed when the agent is built: a session may change the model only to one its provider
serves, and the session config is pinned to that provider by name.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from .config import RealtimeConfig
from .hookspecs import ProviderRecord


class ProviderOverrideError(ValueError):
    """A session override would move the session to another provider (refused)."""


def _claims(record: ProviderRecord, model: str) -> bool:
    return any(fnmatchcase(model, pattern) for pattern in record.models)


def pin_session_provider(agent_config: RealtimeConfig, session: RealtimeConfig) -> RealtimeConfig:
    """``session`` pinned to the provider of ``agent_config``; refuses a cross-provider move.

    Accepted: the agent's provider (by name, or the one claiming the agent's model) claims
    the session's model, or that provider lists no model patterns, or it was named for a
    model outside its patterns and no other installed provider claims the session's model.
    Raises `ProviderOverrideError` otherwise, and when ``session.provider`` names
    another provider. Raises `ProviderError` when the agent's
    own provider is not installed (the session could not start either way).
    """
    if session.provider == agent_config.provider and session.model == agent_config.model:
        return session
    from .plugins import get_registry

    registry = get_registry()
    own = registry.resolve_provider(agent_config.model, agent_config.provider)
    if session.provider not in (None, own.name):
        raise ProviderOverrideError(
            f"a session cannot change the provider: this agent runs on {own.name!r}, the "
            f"session asked for {session.provider!r}"
        )
    model = session.model
    others = [
        r.name for r in registry.providers.values() if r.name != own.name and _claims(r, model)
    ]
    allowed = (
        not own.models
        or _claims(own, model)
        or (not _claims(own, agent_config.model) and not others)
    )
    if not allowed:
        owner = f"; it belongs to provider {others[0]!r}" if others else ""
        raise ProviderOverrideError(
            f"model {_short(model)} is not served by {own.name!r}, this agent's provider"
            f"{owner} (a session cannot change provider)"
        )
    return session if session.provider == own.name else session.merged(provider=own.name)


def _short(value: str, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


__all__ = ["ProviderOverrideError", "pin_session_provider"]
